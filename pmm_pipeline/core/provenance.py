"""What a release records about the code that made it (the package version and the git commit), and what a
reuse key records of it (the digest of the package's files)."""

import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent.parent


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


@functools.cache
def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 of every file of the package (its path and bytes; compiled bytecode left out).

    A reuse key's code: the version string cannot tell two checkouts with different uncommitted changes apart
    (`-dirty` says only that there are some), nor an installed copy edited in place. The package's texts,
    templates and catalogues count as code: they shape what is written.
    """
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(package_dir).as_posix().encode() + b"\x00")
            digest.update(path.read_bytes() + b"\x00")
    return digest.hexdigest()
