"""Quarantine: a rejected file's copy kept apart, with a machine-readable reason file beside it.

The reason (`<stem>.reason.json`) holds the code, the one-line message and the problems, bounded as
stages/ingestion/problem_lists.py says; it is rewritten only when it changes.
"""

import json
import os
import re
import shutil
from pathlib import Path

from pmm_pipeline.stages.ingestion.archive import sha256_of, write_verified
from pmm_pipeline.stages.ingestion.arrivals import LANDING
from pmm_pipeline.stages.ingestion.outcomes import ReceivedFile
from pmm_pipeline.stages.ingestion.problem_lists import bounded_problems, problems_message
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import storable_text


def _write_if_changed(path: Path, data: bytes) -> None:
    from pmm_pipeline.core.files import write_atomically

    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    write_atomically(path, data)


def quarantine_stem(sha256: str | None, file_name: str) -> str:
    """The name of a rejected file's quarantined copy; its reason is `<stem>.reason.json` beside it."""
    prefix = sha256[:16] if sha256 else "not-a-file"
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9._-]', '_', file_name)[:100]}"


def quarantine(
    data: bytes | None,
    received: ReceivedFile,
    problems: list[Problem],
    quarantine_dir: Path,
    linked_copy: Path | None = None,
) -> Path:
    """Copy a rejected file with a `.reason.json` beside it (code, message, the problems, how many were left out).

    Without `data` (an entry that is no regular file, or a file too large to hold in memory), only the
    reason is written, and `linked_copy` (the archive's bounded record of a too large file) is linked
    beside it.
    """
    stem = quarantine_stem(received.sha256, received.file_name)
    path = quarantine_dir / stem
    if data is not None:
        write_verified(path, data, sha256_of(data))
    elif linked_copy is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(linked_copy, path)
        except OSError:
            shutil.copyfile(linked_copy, path)
    kept, left_out = bounded_problems(problems)
    reason = {
        "file": storable_text(received.file_name),
        "sha256": received.sha256,
        "received_at": received.received_at.isoformat(),
        "reason_code": problems[0].code,
        "message": problems_message(problems),
        "problems": [p.as_dict() for p in kept],
        "problems_left_out": left_out,
    }
    if received.channel != LANDING:  # a hand-copied file's reason stays as it always was
        reason.update(channel=received.channel, account=received.account)
    _write_if_changed(quarantine_dir / f"{stem}.reason.json", json.dumps(reason, indent=2).encode())
    return path
