"""A published folder other than a tier's release (profiles, series): built aside, listed, checked, switched in.

The same guarantee as a release (release.py): readers see the old folder or the new one whole, every
file is listed in the folder's `manifest.json` with its SHA-256 and row count, and the built folder
is read back and checked before it is switched in; a problem refuses it and leaves the old one.
"""

import fcntl
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pmm_pipeline.core.files import building_folder, recover_folder, switch_folder_in
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError, sha256_file

MANIFEST = "manifest.json"


def write_folder(
    target: Path,
    token: str,
    write: Callable[[Path], Mapping[str, int]],
    header: Mapping[str, object],
    verify: Callable[[Path], Sequence[str]] | None = None,
) -> dict:
    """Build `target` aside with `write` (returns rows per file, by path relative to the folder), list every
    file in `manifest.json` (`header` first), `verify` it, and switch it in; returns the manifest."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs building the same folder take turns
        recover_folder(target)
        building = building_folder(target, token)
        if building.exists():
            shutil.rmtree(building)
        building.mkdir(parents=True)
        try:
            rows = dict(write(building))
            files = {name: {"sha256": sha256_file(building / name), "rows": n} for name, n in sorted(rows.items())}
            manifest = {**header, "files": files}
            (building / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
            problems = list(verify(building)) if verify else []
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        if problems:
            shutil.rmtree(building, ignore_errors=True)
            raise ReleaseRefusedError(target, problems)
        switch_folder_in(building, target)
        return manifest


def check_listed(folder: Path) -> tuple[dict, list[str]]:
    """The folder's manifest and what is amiss: a file unlisted, missing, or whose bytes differ from its SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return {}, [f"{folder / MANIFEST}: no readable manifest ({err})"]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    problems = [f"{folder / n}: not listed in {MANIFEST}" for n in sorted(present - set(listed))]
    problems += [f"{folder / n}: listed in {MANIFEST} but missing" for n in sorted(set(listed) - present)]
    problems += [
        f"{folder / n}: bytes differ from the SHA-256 in {MANIFEST}"
        for n in sorted(present & set(listed))
        if sha256_file(folder / n) != listed[n].get("sha256")
    ]
    return manifest, problems
