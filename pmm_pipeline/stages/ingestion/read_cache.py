"""Reuse of file reads by content: a file accepted before is not parsed again while nothing it depends on changed.

Parsing is most of the intake's time (an Excel questionnaire takes about 17 ms, BENCHMARKS.md), and every run reads
every version of the cycle again, from landing or from the archive. A read's key is the SHA-256 of everything
`read_file` depends on: the bytes (by their hash), the file's name, its receipt time, its platform arrival note,
the validation context (the cycle, the members in force and known, the catalogue's items, the KPIs, the members'
languages, the questionnaire's digest, the time zone), the intake limits and the code (its version and the digest
of the package's files). Only accepted reads are kept (a submission and no problem): a rejected file is read again,
so that its reasons are today's code's.

The cache is one JSON file per cycle (no pickle: it is data, read back field by field), rewritten after each intake
with that intake's reads only, so it never holds more than the cycle's versions. A cache that cannot be read is
ignored (every file is then read), never trusted in part.
"""

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.core.provenance import code_version, source_digest
from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.stages.ingestion.arrivals import Arrival
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.submission import Answer, Location, Submission

CACHE_FORMAT = "pmm-intake-reads"
CACHE_FORMAT_VERSION = 1


def context_digest(ctx: ValidationContext, limits: IntakeLimits) -> str:
    """One digest of the validation context, the limits and the code: what every read of a cycle shares."""
    return digest_text(
        code_version(),
        source_digest(),
        ctx.cycle.model_dump_json(),
        sorted(ctx.members_in_force),
        sorted(ctx.known_members),
        [(code, item.model_dump_json()) for code, item in sorted(ctx.items.items())],
        sorted(ctx.kpi_ids),
        sorted(ctx.member_languages.items()),
        ctx.questionnaire_digest,
        str(ctx.timezone),
        repr(limits),
    )


def read_key(shared: str, sha256: str, file_name: str, received_at: dt.datetime, arrival: Arrival | None) -> str:
    """The key of one read: the shared digest, then what is the file's own."""
    note = arrival.as_line().decode() if arrival is not None else ""
    return digest_text(shared, sha256, file_name, received_at.isoformat(), note)


def encode_submission(submission: Submission, member_code: str | None) -> dict:
    body = dataclasses.asdict(submission)
    body["submitted_at"] = submission.submitted_at.isoformat()
    return {"member_code": member_code, "submission": body}


def decode_submission(entry: Mapping) -> tuple[Submission, str | None]:
    body = dict(entry["submission"])
    answers = [Answer(**{**a, "location": Location(**a["location"])}) for a in body.pop("answers")]
    submitted_at = dt.datetime.fromisoformat(body.pop("submitted_at"))
    return Submission(**body, answers=answers, submitted_at=submitted_at), entry["member_code"]


class ReadCache:
    """The accepted reads of a cycle's last intake (`previous`), and those of this one as it goes (`kept`)."""

    def __init__(self, shared: str, previous: Mapping[str, dict] | None = None):
        self.shared = shared
        self.previous = dict(previous or {})
        self.kept: dict[str, dict] = {}
        self.reused = 0
        self.read = 0

    def key(self, sha256: str, file_name: str, received_at: dt.datetime, arrival: Arrival | None) -> str:
        return read_key(self.shared, sha256, file_name, received_at, arrival)

    def get(self, key: str) -> tuple[Submission, str | None] | None:
        entry = self.previous.get(key)
        if entry is None:
            return None
        try:
            found = decode_submission(entry)
        except (KeyError, TypeError, ValueError):
            return None
        self.kept[key] = entry
        self.reused += 1
        return found

    def put(self, key: str, submission: Submission, member_code: str | None) -> None:
        self.read += 1
        self.kept[key] = encode_submission(submission, member_code)

    def missed(self) -> None:
        self.read += 1


def load_cache(path: Path, shared: str) -> ReadCache:
    """The cache at `path` when it is one made under the same shared digest; else an empty one."""
    try:
        body = json.loads(path.read_text())
        if (
            body.get("format") == CACHE_FORMAT
            and body.get("format_version") == CACHE_FORMAT_VERSION
            and body.get("shared") == shared
            and isinstance(body.get("reads"), dict)
        ):
            return ReadCache(shared, body["reads"])
    except (OSError, ValueError, AttributeError):
        pass
    return ReadCache(shared)


def save_cache(path: Path, cache: ReadCache) -> None:
    """Write this intake's reads; a re-run that read nothing new leaves the file as it is (about 1.5 MB a cycle)."""
    if cache.kept == cache.previous and path.exists():
        return
    body = {"format": CACHE_FORMAT, "format_version": CACHE_FORMAT_VERSION, "shared": cache.shared, "reads": cache.kept}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not sort_keys: the order of a submission's choices and contact fields is kept as read.
    write_atomically(path, json.dumps(body, separators=(",", ":")).encode())
