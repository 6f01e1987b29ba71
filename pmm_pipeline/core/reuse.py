"""Reuse by content: a step's key is a digest of exactly what it depends on, and a re-run with the same key reuses.

A step's inputs are named digests: `table:<schema.table>` (the content of the rows it reads, warehouse/digests.py),
`folder:<path>` (a published folder it reads, by its manifest), `code_version`, `catalogue_digest`, `setting:<name>`
and the like. The key is the SHA-256 of those names and digests; what was compared and what changed is said by
name, so the step's metadata tells an auditor why a result was reused or made again. The record of a step's last
computation (its key, its inputs, the digests of its outputs and the events it reported) is a small JSON file;
this module reads, writes and compares it and knows nothing of Dagster.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.files import write_atomically

RECORD_FORMAT = "pmm-reuse-record"
RECORD_FORMAT_VERSION = 1


def digest_text(*parts: object) -> str:
    """SHA-256 of the parts' text, each part ended so that ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def step_key(inputs: Mapping[str, str]) -> str:
    """The key of a step: one digest of every named input digest (order-free: the names are sorted)."""
    return digest_text(json.dumps(dict(sorted(inputs.items())), separators=(",", ":")))


def changed(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Names whose digest differs between two sets of inputs (or outputs), or that only one of them has."""
    return sorted(name for name in previous.keys() | current.keys() if previous.get(name) != current.get(name))


@dataclass(frozen=True)
class ReuseRecord:
    """The last computation of a step for a cycle: what it depended on, what it left, what it reported."""

    step: str
    key: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    run_id: str
    # The step's events as they were reported, serialized by the wiring (orchestration/reuse.py).
    events: list[dict]

    def to_json(self) -> bytes:
        body = {"format": RECORD_FORMAT, "format_version": RECORD_FORMAT_VERSION, **self.__dict__}
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def read_record(path: Path) -> ReuseRecord | None:
    """The record at `path`, or None when there is none or it is not one (then the step computes)."""
    try:
        body = json.loads(path.read_text())
        if body.get("format") != RECORD_FORMAT or body.get("format_version") != RECORD_FORMAT_VERSION:
            return None
        return ReuseRecord(
            step=str(body["step"]),
            key=str(body["key"]),
            inputs=dict(body["inputs"]),
            outputs=dict(body["outputs"]),
            run_id=str(body["run_id"]),
            events=list(body["events"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_record(path: Path, record: ReuseRecord) -> None:
    write_atomically(path, record.to_json())


@dataclass(frozen=True)
class Decision:
    """Whether a step reuses its last result, and why, in words an auditor reads."""

    reuse: bool
    why: str
    changed_inputs: list[str]
    changed_outputs: list[str]


def decide(previous: ReuseRecord | None, key: str, inputs: Mapping[str, str], outputs: Mapping[str, str]) -> Decision:
    """Reuse only when the key is the last computation's and every output it left is still there, intact."""
    if previous is None:
        return Decision(False, "no earlier result of this step for this cycle", sorted(inputs), [])
    if previous.key != key:
        moved = changed(previous.inputs, inputs)
        return Decision(False, f"inputs changed: {', '.join(moved)}", moved, [])
    altered = changed(previous.outputs, outputs)
    if altered:
        return Decision(False, f"same inputs, but outputs altered or missing: {', '.join(altered)}", [], altered)
    return Decision(
        True, f"same {len(inputs)} inputs as run {previous.run_id}, outputs intact ({len(outputs)} checked)", [], []
    )
