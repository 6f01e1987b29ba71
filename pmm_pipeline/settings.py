"""Every `PMM_` setting in one place, read from the environment only when asked (never at import)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.reference.load import PACKAGED_REFERENCE_DIR

CHECKOUT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    specs_dir: Path
    reference_dir: Path
    cycles_file: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        reference_dir = Path(env.get("PMM_REFERENCE_DIR") or PACKAGED_REFERENCE_DIR)
        return cls(
            data_dir=Path(env.get("PMM_DATA_DIR") or CHECKOUT_DIR / "data").resolve(),
            specs_dir=Path(env.get("PMM_KPI_SPECS_DIR") or CHECKOUT_DIR / "kpi_specs").resolve(),
            reference_dir=reference_dir.resolve(),
            cycles_file=Path(env.get("PMM_CYCLES_FILE") or reference_dir / "cycles.yaml").resolve(),
        )

    @property
    def layout(self) -> "DataLayout":
        return DataLayout(self.data_dir)


@dataclass(frozen=True)
class DataLayout:
    """The folders below PMM_DATA_DIR, as ../shared/contract.md names them."""

    data_dir: Path

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    def landing_dir(self, cycle: str) -> Path:
        return self.data_dir / "landing" / cycle

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    def quarantine_dir(self, cycle: str) -> Path:
        return self.data_dir / "quarantine" / cycle

    def quality_dir(self, cycle: str) -> Path:
        return self.data_dir / "quality" / cycle

    def published_dir(self, cycle: str) -> Path:
        return self.data_dir / "published" / cycle
