"""Every `PMM_` setting in one place, read from the environment only when asked (never at import)."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent
# The reference data shipped with the package (members, groups, cycles): PMM_REFERENCE_DIR's default.
PACKAGED_REFERENCE_DIR = Path(__file__).resolve().parent.parent / "specs" / "reference"
# Read here, and also by Dagster when a run starts if the URL holds a password (orchestration/resources/sql_target.py).
PUBLISH_SQL_URL_VAR = "PMM_PUBLISH_SQL_URL"


def publish_sql_url_in_environment() -> str | None:
    """PMM_PUBLISH_SQL_URL as the process environment has it (what Dagster's EnvVar will read at run start)."""
    return os.environ.get(PUBLISH_SQL_URL_VAR) or None


# DuckDB's own default is 80 % of the machine's memory, and it keeps what it may: 4.6 GiB for the KPI stage at
# 10^7 answers. With 1 GiB the stage peaks at 1.3 GiB, spilling to <warehouse>.tmp/ instead (BENCHMARKS.md).
DEFAULT_WAREHOUSE_MEMORY_LIMIT = "1GiB"
# What DuckDB's memory_limit accepts: a number and a unit (K, KB, KiB, ..., T, TB, TiB) or a share of memory.
_MEMORY_LIMIT = re.compile(r"(?P<amount>\d+(\.\d+)?)\s*([KMGT](i?B)?|%)", re.IGNORECASE)


# The Dagster UI's port: `make dev` serves on PMM_UI_PORT (the Makefile exports it with this default) and `pmm run`
# prints links to it; PMM_UI_URL replaces the whole address where the UI is served elsewhere (the prod profile).
DEFAULT_UI_PORT = 3000
# Where members send a correction, named in every feedback report: the member platform (`pmm portal` serves on
# this address by default, or on PMM_PORTAL_PORT; PMM_PLATFORM_URL in production) and, if set, the Secretariat's address
# (PMM_SECRETARIAT_EMAIL; unset, the report says to contact the WCO Secretariat).
DEFAULT_PLATFORM_URL = "http://127.0.0.1:8080"


MIB = 1024 * 1024


@dataclass(frozen=True)
class ReleaseTerms:
    """What every report says about re-use, citation and contact: declared here once, shown in every language.

    The citation is a pattern of placeholders and punctuation only, so that it reads the same in each language:
    {publisher}, {year} (of publication), {title} (the report's title in the reader's language), {version}
    (catalogue version and release id) and {url}. These are the WCO defaults; the Secretariat confirms them.
    """

    publisher: str = "World Customs Organization (WCO)"
    licence_name: str = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
    licence_url: str = "https://creativecommons.org/licenses/by/4.0/"
    citation: str = "{publisher} ({year}). {title}. {version}. {url}"
    url: str = "https://pmm.wcoomd.org"
    contact: str = "pmm@wcoomd.org"


DEFAULT_RELEASE_TERMS = ReleaseTerms()


@dataclass(frozen=True)
class IntakeLimits:
    """How big and how complex a received file may be (PMM_MAX_* settings; see docs/operators.md, "Settings")."""

    max_file_bytes: int = 20 * MIB
    max_uncompressed_bytes: int = 16 * MIB  # sum of the declared sizes of a workbook's parts
    max_compression_ratio: int = 100  # per part larger than RATIO_FLOOR_BYTES
    max_zip_entries: int = 1000
    max_sheets: int = 20
    max_rows: int = 10_000  # rows of a sheet or CSV file, answers of a JSON file
    max_columns: int = 50
    max_file_name_length: int = 200
    max_files_per_run: int = 1000  # new landing files taken in by one run; the rest wait for the next
    # Non-empty cells read from a workbook: a full flat export (10 columns of max_rows rows) is
    # 100 000; openpyxl reads ~100 000 cells a second, so this also bounds the time of one file.
    max_cells: int = 200_000
    # Problems listed for one file; readers stop reading once there are more (a file with 10 000
    # broken rows gets 100 messages and one saying the list was cut, not a 40 MB reason file).
    max_problems: int = 100
    # Characters of any one text value (a comment, a contact field, a code): over it, text_too_long.
    max_text_length: int = 2000


DEFAULT_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    specs_dir: Path
    reference_dir: Path
    cycles_file: Path
    intake_limits: IntakeLimits = DEFAULT_LIMITS  # PMM_MAX_FILE_BYTES, PMM_MAX_ROWS, ...: see _intake_limits
    min_group_size: int = 3  # PMM_MIN_GROUP_SIZE: fewest reporting members behind a published group statistic
    coalition_size: int = (
        1  # PMM_COALITION_SIZE: k, the most members an attack pools (docs/auditors.md, "Disclosure tiers")
    )
    publish_sql_url: str | None = None  # PMM_PUBLISH_SQL_URL: SQLAlchemy URL releases are also copied to (prod)
    # PMM_WAREHOUSE_MEMORY_LIMIT: DuckDB's memory_limit on every warehouse connection (e.g. 1GiB, 4GB, 50%)
    warehouse_memory_limit: str = DEFAULT_WAREHOUSE_MEMORY_LIMIT
    ui_url: str = f"http://127.0.0.1:{DEFAULT_UI_PORT}"  # PMM_UI_URL, else http://127.0.0.1:<PMM_UI_PORT>
    platform_url: str = DEFAULT_PLATFORM_URL  # PMM_PLATFORM_URL: the member platform, for corrections
    secretariat_email: str | None = None  # PMM_SECRETARIAT_EMAIL: named in feedback reports for questions

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
            coalition_size=_coalition_size(env),
            publish_sql_url=env.get(PUBLISH_SQL_URL_VAR) or None,
            warehouse_memory_limit=_warehouse_memory_limit(env),
            ui_url=_ui_url(env),
            platform_url=_platform_url(env),
            secretariat_email=_secretariat_email(env),
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


def _coalition_size(env: Mapping[str, str]) -> int:
    text = env.get("PMM_COALITION_SIZE") or "1"
    # Above 3 the attack analysis (every coalition of k members) grows too costly to run on every release.
    if not text.strip().isdigit() or not 1 <= int(text) <= 3:
        raise ValueError(f"PMM_COALITION_SIZE must be 1, 2 or 3, got {text!r}")
    return int(text)


def _warehouse_memory_limit(env: Mapping[str, str]) -> str:
    text = (env.get("PMM_WAREHOUSE_MEMORY_LIMIT") or DEFAULT_WAREHOUSE_MEMORY_LIMIT).strip()
    match = _MEMORY_LIMIT.fullmatch(text)
    if not match or float(match["amount"]) <= 0:
        raise ValueError(
            "PMM_WAREHOUSE_MEMORY_LIMIT must be an amount of memory above zero such as 1GiB, 512MB or 50%,"
            f" got {text!r}"
        )
    return text


def _platform_url(env: Mapping[str, str]) -> str:
    port = (env.get("PMM_PORTAL_PORT") or "").strip()
    default = f"http://127.0.0.1:{int(port)}" if port.isdigit() else DEFAULT_PLATFORM_URL
    url = (env.get("PMM_PLATFORM_URL") or default).strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError(f"PMM_PLATFORM_URL must be an http:// or https:// address, got {url!r}")
    return url.rstrip("/")


def _secretariat_email(env: Mapping[str, str]) -> str | None:
    address = (env.get("PMM_SECRETARIAT_EMAIL") or "").strip()
    if address and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        raise ValueError(f"PMM_SECRETARIAT_EMAIL must be an e-mail address, got {address!r}")
    return address or None


def _ui_url(env: Mapping[str, str]) -> str:
    url = (env.get("PMM_UI_URL") or "").strip()
    if url:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError(f"PMM_UI_URL must be an http:// or https:// address, got {url!r}")
        return url.rstrip("/")
    text = (env.get("PMM_UI_PORT") or str(DEFAULT_UI_PORT)).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"PMM_UI_PORT must be a port number from 1 to 65535, got {text!r}")
    return f"http://127.0.0.1:{int(text)}"


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
