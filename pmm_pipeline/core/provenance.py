"""What a release records about how it was made: the code version and the catalogue's exact content."""

import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

from pmm_pipeline.specs.catalogue.load import Catalogue

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
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{commit}" if commit else version


def catalogue_digest(catalogue: Catalogue) -> str:
    """SHA-256 over the spec files' names and bytes (KPIs and items): any edit to a rule gives a new digest."""
    digest = hashlib.sha256()
    for name, path in catalogue.source_files():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
