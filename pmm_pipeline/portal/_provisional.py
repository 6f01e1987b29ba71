"""Stand-in for stages/ingestion/delivery.py until it is merged: the intake's own read_file, landing, no findings."""

import hashlib
import json
import re

from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.stages.ingestion.intake import read_file
from pmm_pipeline.stages.ingestion.validate import ValidationContext
from pmm_pipeline.stages.questionnaire.layout import plan_questionnaire

_STORE = "platform_versions.jsonl"


def accepts(reference, cycle_id, at):
    cycle = reference.cycles.get(cycle_id)
    return cycle.is_collecting_on(reference.cycles.local_day(at))


def deliver(settings, reference, catalogue, cycle_id, file_name, data, member, received_at):
    cycle = reference.cycles.get(cycle_id)
    sha = hashlib.sha256(data).hexdigest()
    landing = settings.layout.landing_dir(cycle_id)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)[-80:]
    write_atomically(landing / f"platform_{received_at.strftime('%Y%m%dT%H%M%S%f')}_{sha[:8]}_{safe}", data)
    base = {"member": member, "cycle": cycle_id, "sha256": sha, "findings": []}
    if not accepts(reference, cycle_id, received_at):
        problem = {"code": "cycle_closed", "message": "the cycle takes no uploads now", "place": "whole file"}
        return {**base, "status": "rejected", "version": None, "reason_code": "cycle_closed", "problems": [problem]}
    ctx = ValidationContext(
        cycle=cycle,
        members_in_force=frozenset(reference.members_in_force(cycle)),
        known_members=frozenset(reference.known_member_codes()),
        items=catalogue.items_for_version(cycle.catalogue_version),
        kpi_ids=frozenset(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)),
        member_languages={c: m.language for c, m in reference.members_in_force(cycle).items()},
        questionnaire_digest=plan_questionnaire(catalogue, cycle).digest,
        timezone=reference.cycles.tz,
    )
    outcome = read_file(file_name, data, ctx, settings.intake_limits, received_at=received_at)
    problems = [
        {
            "code": p.code,
            "message": p.message,
            "place": str(p.location),
        }
        for p in outcome.problems
    ]
    sub = outcome.submission
    if sub is not None and sub.member_code != member:
        problems = [{"code": "wrong_member", "message": f"the file is for {sub.member_code}", "place": "whole file"}]
        sub = None
    if sub is None:
        code = problems[0]["code"] if problems else "unreadable_file"
        return {**base, "status": "rejected", "version": None, "reason_code": code, "problems": problems}
    store = settings.data_dir / _STORE
    lines = store.read_text().splitlines() if store.exists() else []
    version = 1 + sum(1 for line in lines if json.loads(line)["key"] == [cycle_id, member])
    answers = [
        {
            k: v
            for k, v in {"item": a.item, "year": a.year, "value": a.value, "status": a.status}.items()
            if v is not None
        }
        for a in sub.answers
    ]
    record = {"key": [cycle_id, member], "answers": answers, "disclosure": sub.disclosure}
    write_atomically(store, ("\n".join([*lines, json.dumps(record, default=str)]) + "\n").encode())
    return {**base, "status": "accepted", "version": version, "reason_code": None, "problems": []}


def latest(settings, cycle_id, member):
    store = settings.data_dir / _STORE
    found = {}
    for line in store.read_text().splitlines() if store.exists() else []:
        record = json.loads(line)
        if record["key"] == [cycle_id, member]:
            found = record
    if not found:
        return {}
    return {"answers": found.get("answers", []), "disclosure": found.get("disclosure", {})}
