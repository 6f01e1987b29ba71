"""The file-system resource: where landing, archive, quarantine, quality and published folders live."""

from pathlib import Path

import dagster as dg

from pmm_pipeline.core.settings import DEFAULT_LIMITS, DEFAULT_PLATFORM_URL, DataLayout, IntakeLimits


class PmmStorage(dg.ConfigurableResource):
    """Root of the pipeline's folders (PMM_DATA_DIR); paths below it follow ../shared/contract.md.

    Also how big and complex a file received in the landing folder may be (PMM_MAX_* settings).
    """

    data_dir: str
    max_file_bytes: int = DEFAULT_LIMITS.max_file_bytes
    max_uncompressed_bytes: int = DEFAULT_LIMITS.max_uncompressed_bytes
    max_compression_ratio: int = DEFAULT_LIMITS.max_compression_ratio
    max_zip_entries: int = DEFAULT_LIMITS.max_zip_entries
    max_sheets: int = DEFAULT_LIMITS.max_sheets
    max_rows: int = DEFAULT_LIMITS.max_rows
    max_columns: int = DEFAULT_LIMITS.max_columns
    max_file_name_length: int = DEFAULT_LIMITS.max_file_name_length
    max_files_per_run: int = DEFAULT_LIMITS.max_files_per_run
    max_cells: int = DEFAULT_LIMITS.max_cells
    max_problems: int = DEFAULT_LIMITS.max_problems
    max_text_length: int = DEFAULT_LIMITS.max_text_length
    # Where members send corrections, as the feedback reports name it (PMM_PLATFORM_URL, PMM_SECRETARIAT_EMAIL).
    platform_url: str = DEFAULT_PLATFORM_URL
    secretariat_email: str | None = None

    @classmethod
    def from_limits(cls, data_dir: str, limits: IntakeLimits, **contact: str | None) -> "PmmStorage":
        return cls(data_dir=data_dir, **limits.__dict__, **contact)

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir))

    @property
    def intake_limits(self) -> IntakeLimits:
        return IntakeLimits(**{name: getattr(self, name) for name in IntakeLimits.__dataclass_fields__})
