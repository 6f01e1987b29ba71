"""One upload from the member platform, through the intake's own code, and the verdict shown at once.

The order is what makes the verdict and the record one:
1. the bytes are archived first, content-addressed, exactly as the intake archives a landing file;
2. they are judged by the intake's own `judge_file` under the name they will have in landing, with the arrival
   note the intake will read (so the platform's reasons, `cycle_closed` and `wrong_member`, and the receipt time
   as `submitted_at` apply in both), and an accepted file's answers go through the quality gate alone, in memory;
3. under the cycle's delivery lock (fcntl: threads and processes): the records are read (receipt ledger, notes,
   landing) to find an earlier file with the same bytes and the version number the intake will give, the note
   is appended and flushed, a rejected file's quarantined copy and reason are written as the intake writes them,
   and the file, already written and flushed under a hidden name the intake skips, is renamed into
   landing/<cycle>/ under a name no other file has. The landing sensor's run takes it in from there.

Nothing here opens the DuckDB warehouse.
"""

import datetime as dt
import os
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from pmm_pipeline.core.files import sync_folder
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.delivery.errors import DeliveryError
from pmm_pipeline.stages.delivery.inputs import load_inputs
from pmm_pipeline.stages.delivery.records import cycle_records, version_among
from pmm_pipeline.stages.delivery.verdict import ACCEPTED, REJECTED, UploadVerdict
from pmm_pipeline.stages.feedback.report import problem_words, rows_from_findings, rows_from_rejections
from pmm_pipeline.stages.ingestion.archive import safe_suffix, sha256_of, store_copy
from pmm_pipeline.stages.ingestion.arrivals import PLATFORM, Arrival, append_arrival, delivery_lock, notes_path
from pmm_pipeline.stages.ingestion.landing import Delivered
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.ingestion.outcomes import Accepted, Duplicate, IntakeResult, ReceivedFile, duplicate_problem
from pmm_pipeline.stages.ingestion.problem_lists import listed_problems
from pmm_pipeline.stages.ingestion.quarantine import quarantine
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import ReadOutcome, judge_file
from pmm_pipeline.stages.ingestion.versions import version_order
from pmm_pipeline.stages.quality.findings import source_place
from pmm_pipeline.stages.quality.offline import OFFLINE_LIMITS, gate_findings_of_file, no_findings

MAX_ACCOUNT_LENGTH = 150
RECEIPT_STEP = dt.timedelta(microseconds=1)  # the finest step of a receipt time (TIMESTAMPTZ keeps microseconds)
_STEM_LENGTH = 80


def landing_name_for(file_name: str, received_at: dt.datetime, sha256: str) -> str:
    """A landing name no other file has, kept readable: the sender's stem (safe characters only), then when and
    what: `KEN_2027--20261202T101500123456Z-1a2b3c4d5e6f7a.xlsx`.

    The sender's name is never used as a path: only letters, digits, `_` and `-` of its stem are kept (so a
    name starting with a member code still names that member, and `member_mismatch` applies as in landing),
    and its suffix only when plain (it decides which reader reads the file, as in landing).
    """
    stem = Path(display_name(file_name or "")).stem if file_name else ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem)[:_STEM_LENGTH].strip("-_") or "upload"
    moment = received_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    # A random part: two uploads of the same bytes in the same microsecond still get two names.
    return f"{stem}--{moment}-{sha256[:8]}{secrets.token_hex(3)}{safe_suffix(file_name or '')}"


def _problem_dicts(problems: list, lang: str, file_name: str = "") -> list[dict]:
    """The recorded problems (raw.rejections.problems) with their place, title and what to do in `lang` (fitted to
    the format of `file_name`, the file sent)."""
    listed = listed_problems(problems)
    frame = pd.DataFrame(
        [{"problems": None, "reason_code": p["code"], "message": p["message"], "file_name": file_name} for p in listed]
    )
    words = rows_from_rejections(frame)
    shown = []
    for problem, row in zip(listed, words, strict=True):
        title, action = problem_words(row, lang)
        shown.append({**problem, "place": problem.get("location") or "(file)", "title": title, "what_to_do": action})
    return shown


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value


def _finding_dicts(findings: pd.DataFrame, lang: str) -> list[dict]:
    shown = []
    for finding, row in zip(findings.to_dict("records"), rows_from_findings(findings), strict=True):
        title, action = problem_words(row, lang)
        shown.append(
            {
                "rule": finding["rule"],
                "severity": finding["severity"],
                "item": _plain(finding.get("item")),
                "year": _plain(finding.get("year")),
                "message": finding["message"],
                "place": source_place(finding),
                "kpi_id": _plain(finding.get("kpi_id")),
                "title": title,
                "what_to_do": action,
            }
        )
    return shown


def _check_call(account: str, received_at: dt.datetime, lang: str) -> dt.datetime:
    if not isinstance(account, str) or not account.strip() or len(account) > MAX_ACCOUNT_LENGTH:
        raise DeliveryError("account must be the login of the account that sent the file")
    if display_name(account) != account:
        raise DeliveryError("account holds control characters")
    if not isinstance(received_at, dt.datetime) or received_at.tzinfo is None:
        raise DeliveryError("received_at must be a time-zone aware datetime (UTC)")
    if lang not in LANGUAGES:
        raise DeliveryError(f"lang must be one of {', '.join(LANGUAGES)}")
    return received_at.astimezone(dt.UTC)


def _stage_file(landing_dir: Path, data: bytes) -> Path:
    """The file's bytes under a hidden name in landing (skipped by the intake and the sensor), flushed to disk."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    staged = landing_dir / f".delivering-{secrets.token_hex(8)}"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        staged.unlink(missing_ok=True)
        raise
    os.close(fd)
    return staged


def deliver_upload(
    settings: Settings,
    cycle: str,
    file_name: str,
    data: bytes,
    *,
    account: str,
    member: str | None,
    received_at: dt.datetime,
    lang: str = "en",
) -> UploadVerdict:
    """Take one uploaded file in for `cycle` and give the verdict the pipeline's record of it will hold.

    `member` is the member an NCP account is bound to (None for a Secretariat account sending on a member's
    behalf: the file's own member is used); `received_at` is when the platform received the file (its
    `submitted_at`); the verdict's `received_at` is what is recorded: the same, or a microsecond after the
    cycle's last recorded delivery when this one waited behind it, so that versions follow the order of the
    verdicts given and a version number once shown never changes. Raises DeliveryError for a wrong call
    (unknown cycle or member); a bad FILE is never an error but a rejected verdict, recorded like any rejection.
    """
    received_at = _check_call(account, received_at, lang)
    inputs = load_inputs(settings)
    try:
        cycle_spec = inputs.reference.cycles.get(cycle)
    except KeyError as err:
        raise DeliveryError(str(err.args[0])) from None
    ctx = inputs.context(cycle)
    if member is not None and member not in ctx.known_members:
        raise DeliveryError(f"unknown member {member!r}")
    data = bytes(data)
    layout, limits = settings.layout, settings.intake_limits
    landing_dir = layout.landing_dir(cycle)
    sha, size = sha256_of(data), len(data)
    head = data[: limits.max_file_bytes]
    name = landing_name_for(file_name, received_at, sha)

    # 1. Archive first: whatever happens next, the bytes received are kept.
    stored = store_copy(head, sha, size, layout.archive_dir, name)

    def judge(name: str, received_at: dt.datetime) -> "_Judged":
        return _judge(name, data, head, sha, size, stored.path, received_at, account, member, file_name, ctx, limits)

    staged = _stage_file(landing_dir, data)
    try:
        # 2. Judged as the intake will judge it, outside the lock: reading and the gate are the slow part.
        judged = judge(name, received_at)
        findings = _findings(judged.outcome, judged.received, inputs, cycle_spec, lang)
        with delivery_lock(layout.archive_dir, cycle):
            records = cycle_records(layout.archive_dir, landing_dir, ctx, limits)
            # Receipt times follow the order deliveries are recorded in: an upload that waited for the lock
            # behind a later one is received just after it, so that no version number already shown moves.
            latest = records.latest_platform_receipt()
            if latest is not None and received_at <= latest:
                received_at = latest + RECEIPT_STEP
            if received_at != judged.received.received_at or _taken(landing_dir, name):
                # The time (or, all but never, the name: it has a random part) is part of what is judged.
                if _taken(landing_dir, name):
                    name = landing_name_for(file_name, received_at, sha)
                judged = judge(name, received_at)
            # 3. What only the records can say: the same bytes sent before, and the version's number.
            original = records.first_with(sha, (received_at, name)) if size > 0 else None
            outcome = judged.outcome
            if original is not None:
                first = ReceivedFile(
                    original.sha256, original.file_name, original.size_bytes, original.received_at, None
                )
                outcome = judge_file(judged.entry, judged.received, ctx, limits, (first, original.member))
            verdict = _verdict(outcome, judged.received, records, cycle_spec, lang, findings)
            append_arrival(notes_path(layout.archive_dir, cycle), _with_verdict(judged.arrival, verdict))
            if not isinstance(outcome, Duplicate) and outcome.submission is None:
                # As the intake writes it (same name, same reason): the rejection is on record at once.
                quarantine(judged.entry.data, judged.received, outcome.problems, layout.quarantine_dir(cycle))
            os.rename(staged, landing_dir / name)
            sync_folder(landing_dir)
    finally:
        staged.unlink(missing_ok=True)
    return verdict


def _taken(landing_dir: Path, name: str) -> bool:
    return (landing_dir / name).exists() or (landing_dir / name).is_symlink()


@dataclass(frozen=True)
class _Judged:
    arrival: Arrival
    received: ReceivedFile
    entry: Delivered
    outcome: "ReadOutcome | Duplicate"


def _judge(name, data, head, sha, size, stored_path, received_at, account, member, file_name, ctx, limits) -> _Judged:
    arrival = Arrival(sha, name, received_at, account, member, display_name(file_name or "")[:200], size)
    received = ReceivedFile(sha, name, size, received_at, str(stored_path), PLATFORM, account, arrival)
    whole = data if size <= limits.max_file_bytes else None
    entry = Delivered(Path(name), name, sha, size, whole, None, name, head)
    return _Judged(arrival, received, entry, judge_file(entry, received, ctx, limits, None))


def _findings(outcome, received: ReceivedFile, inputs, cycle_spec, lang: str) -> list[dict]:
    """The quality rules on the member's answers in this file alone (none for a rejected file)."""
    if isinstance(outcome, Duplicate) or outcome.submission is None:
        return []
    result = IntakeResult(received=[received], accepted=[Accepted(received, outcome.submission)])
    frames = intake_frames(result, cycle_spec.id)
    try:
        findings = gate_findings_of_file(frames, inputs.reference, inputs.catalogue, cycle_spec)
    except Exception:  # noqa: BLE001 - the file is accepted whatever the offline gate does; the run judges again
        findings = no_findings()
    return _finding_dicts(findings, lang)


def _verdict(outcome, received: ReceivedFile, records, cycle_spec, lang: str, findings: list[dict]) -> UploadVerdict:
    common = dict(
        cycle=cycle_spec.id,
        sha256=received.sha256,
        received_at=received.received_at,
        landing_name=received.file_name,
        account=received.account or "",
        lang=lang,
        not_checked=[{"rule": r, "needs": needs, "checked": kind} for r, (kind, needs) in OFFLINE_LIMITS.items()],
    )
    if isinstance(outcome, Duplicate):
        problems = _problem_dicts([duplicate_problem(outcome.original)], lang)
        return UploadVerdict(
            status=REJECTED,
            member=outcome.member_code,
            version=None,
            reason_code=problems[0]["code"],
            problems=problems,
            findings=[],
            **common,
        )
    if outcome.submission is None:
        problems = _problem_dicts(outcome.problems, lang, received.file_name)
        return UploadVerdict(
            status=REJECTED,
            member=outcome.member_code,
            version=None,
            reason_code=problems[0]["code"],
            problems=problems,
            findings=[],
            **common,
        )
    submission = outcome.submission
    key = version_order(submission.submitted_at, received.received_at, received.sha256, received.file_name)
    version = version_among(records, submission.member_code, key, received.received_at)
    return UploadVerdict(
        status=ACCEPTED,
        member=submission.member_code,
        version=version,
        reason_code=None,
        problems=[],
        findings=findings,
        **common,
    )


def _with_verdict(arrival: Arrival, verdict: UploadVerdict) -> Arrival:
    """The note with the verdict shown (the member's history lists it; the words are made again per language)."""
    record = verdict.as_json()
    record["problems"] = [{k: v for k, v in p.items() if k not in ("title", "what_to_do")} for p in verdict.problems]
    record["findings"] = [{k: v for k, v in f.items() if k not in ("title", "what_to_do")} for f in verdict.findings]
    return replace(arrival, verdict=record)


def warm_up(settings: Settings) -> None:
    """What the first verdict of a process would pay (the catalogue, the reference data, the pandas evaluators of
    the quality rules): call it when the platform starts, so that no member waits for it. Great Expectations is
    not imported (~3 s, 270 MB): a verdict judges every planned expectation in pandas (quality/fast.py), and GX
    is imported only if a plan ever holds one fast.py cannot judge."""
    import pmm_pipeline.stages.quality.fast  # noqa: F401 - imported lazily by the gate; its import is paid here

    load_inputs(settings)
