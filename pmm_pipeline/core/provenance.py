"""What a release records about the code that made it: the package version and the git commit."""

import functools
import subprocess
from importlib import metadata
from pathlib import Path

CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent


@functools.cache
def code_version() -> str:
    """Package version, plus the git commit (and `-dirty`) when running from a checkout."""
    try:
        version = metadata.version("pmm_pipeline")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    if not (CHECKOUT_DIR / ".git").exists():
        return version
    try:
        commit = subprocess.run(
            ["git", "-C", str(CHECKOUT_DIR), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{commit}" if commit else version
