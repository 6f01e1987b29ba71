"""The file-system resource: where landing, archive, quarantine, quality and published folders live."""

from pathlib import Path

import dagster as dg

from pmm_pipeline.settings import DataLayout


class PmmStorage(dg.ConfigurableResource):
    """Root of the pipeline's folders (PMM_DATA_DIR); paths below it follow ../shared/contract.md."""

    data_dir: str

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir))
