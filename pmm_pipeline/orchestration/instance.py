"""The local Dagster instance shared by `pmm run` and `make dev`: one DAGSTER_HOME, telemetry off."""

import os
from pathlib import Path

from pmm_pipeline.settings import CHECKOUT_DIR

# No machine here reaches the internet: Dagster must never try to upload telemetry.
INSTANCE_SETTINGS = """\
# Written by pmm_pipeline when missing; edit freely (see README, "Dagster instance").
telemetry:
  enabled: false
"""


def ensure_dagster_home(env: dict[str, str] | None = None) -> Path:
    """Set DAGSTER_HOME (default `.dagster_home/` in the checkout) and write its dagster.yaml if missing."""
    env = os.environ if env is None else env
    home = Path(env.get("DAGSTER_HOME") or CHECKOUT_DIR / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(INSTANCE_SETTINGS)
    env["DAGSTER_HOME"] = str(home)
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home
