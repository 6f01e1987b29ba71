"""Every `PMM_` setting in one place, read from the environment only when asked (never at import)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from pmm_pipeline.ingestion.limits import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.reference.load import PACKAGED_REFERENCE_DIR

CHECKOUT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    specs_dir: Path
    reference_dir: Path
    cycles_file: Path
    intake_limits: IntakeLimits = DEFAULT_LIMITS  # PMM_MAX_FILE_BYTES, PMM_MAX_ROWS, ...: see _intake_limits
    min_group_size: int = 3  # PMM_MIN_GROUP_SIZE: fewest reporting members behind a published group statistic
    publish_sql_url: str | None = None  # PMM_PUBLISH_SQL_URL: SQLAlchemy URL releases are also copied to (prod)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        reference_dir = Path(env.get("PMM_REFERENCE_DIR") or PACKAGED_REFERENCE_DIR)
        return cls(
            data_dir=Path(env.get("PMM_DATA_DIR") or CHECKOUT_DIR / "data").resolve(),
            specs_dir=Path(env.get("PMM_KPI_SPECS_DIR") or CHECKOUT_DIR / "kpi_specs").resolve(),
            reference_dir=reference_dir.resolve(),
            cycles_file=Path(env.get("PMM_CYCLES_FILE") or reference_dir / "cycles.yaml").resolve(),
            intake_limits=_intake_limits(env),
            min_group_size=_min_group_size(env),
            publish_sql_url=env.get("PMM_PUBLISH_SQL_URL") or None,
        )

    @property
    def layout(self) -> "DataLayout":
        return DataLayout(self.data_dir)


def _intake_limits(env: Mapping[str, str]) -> IntakeLimits:
    """Each IntakeLimits field from `PMM_<FIELD>` (e.g. max_rows from PMM_MAX_ROWS), a positive whole number."""
    values = {}
    for limit in fields(IntakeLimits):
        name = f"PMM_{limit.name.upper()}"
        text = env.get(name)
        if not text:
            continue
        if not text.strip().isdigit() or int(text) < 1:
            raise ValueError(f"{name} must be a positive whole number, got {text!r}")
        values[limit.name] = int(text)
    return IntakeLimits(**values)


def _min_group_size(env: Mapping[str, str]) -> int:
    text = env.get("PMM_MIN_GROUP_SIZE") or "3"
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"PMM_MIN_GROUP_SIZE must be a positive whole number, got {text!r}")
    return int(text)


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
