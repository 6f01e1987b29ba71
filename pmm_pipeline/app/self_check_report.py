"""How `pmm validate` shows a self-check (self_check.py): the text a person reads, the --json document, and the
member's Excel feedback report, each in the member's language and in the feedback report's own words."""

from typing import Any

import pandas as pd

from pmm_pipeline.app.self_check import SelfCheck
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.feedback.report import (
    FileLine,
    place,
    problem_words,
    render_feedback,
    rows_from_findings,
    rows_from_rejections,
)
from pmm_pipeline.stages.feedback.texts import HEADINGS
from pmm_pipeline.stages.quality.findings import source_place

FORMAT = "pmm-self-check"
FORMAT_VERSION = 1

# What a member reads beyond the feedback report's own words (feedback/texts.py): the verdict and its limits.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Self-check of {file} for cycle {cycle} (offline: nothing was sent or recorded)",
        "member": "Member",
        "sha256": "SHA-256",
        "accepted": "Verdict: the file would be accepted",
        "rejected": "Verdict: the file would be rejected ({reason}: {title})",
        "admitted": "Quality gate: your answers would be admitted ({blocking} blocking, {warnings} warning(s))",
        "blocked": "Quality gate: your answers would be kept out of the results ({blocking} blocking, {warnings}"
        " warning(s))",
        "not_run": "Quality gate: not run, the file is rejected first",
        "problems": "Problems in the file ({n})",
        "findings": "Quality findings ({n})",
        "none": "none",
        "not_checked": "Not checked offline: {rule} (it needs {needs})",
        "file_only": "Checked within this file only: {rule} (the comparison with {needs} is not made offline)",
        "peers": "the other members of your region",
        "history": "your submissions of earlier cycles",
        "also": "Also not checked offline: whether the same file was sent before (it would be recorded as a"
        " duplicate).",
        "closed": "Cycle {cycle} is not collecting today (collection {opens} to {last}): a file sent now may be kept"
        " on record without being used, unless the cycle is reopened.",
        "outcome": "Checked offline, not sent",
        "unknown_cycle": "The file names no configured cycle ({given}); it was checked against cycle {cycle}."
        " Give --cycle to choose another.",
    },
    "fr": {
        "heading": "Auto-contrôle de {file} pour le cycle {cycle} (hors ligne : rien n'a été envoyé ni enregistré)",
        "member": "Membre",
        "sha256": "SHA-256",
        "accepted": "Verdict : le fichier serait accepté",
        "rejected": "Verdict : le fichier serait rejeté ({reason} : {title})",
        "admitted": "Contrôle de qualité : vos réponses seraient admises ({blocking} bloquant(s), {warnings}"
        " avertissement(s))",
        "blocked": "Contrôle de qualité : vos réponses seraient écartées des résultats ({blocking} bloquant(s),"
        " {warnings} avertissement(s))",
        "not_run": "Contrôle de qualité : non effectué, le fichier est rejeté avant",
        "problems": "Problèmes dans le fichier ({n})",
        "findings": "Constats de qualité ({n})",
        "none": "aucun",
        "not_checked": "Non vérifié hors ligne : {rule} (il faut {needs})",
        "file_only": "Vérifié dans ce fichier seulement : {rule} (la comparaison avec {needs} n'est pas faite hors"
        " ligne)",
        "peers": "les autres membres de votre région",
        "history": "vos soumissions des cycles précédents",
        "also": "Également non vérifié hors ligne : si le même fichier a déjà été envoyé (il serait enregistré"
        " comme doublon).",
        "closed": "Le cycle {cycle} ne collecte pas aujourd'hui (collecte du {opens} au {last}) : un fichier envoyé"
        " maintenant peut être enregistré sans être utilisé, sauf réouverture du cycle.",
        "outcome": "Vérifié hors ligne, non envoyé",
        "unknown_cycle": "Le fichier ne nomme aucun cycle configuré ({given}) ; il a été vérifié pour le cycle"
        " {cycle}. Indiquez --cycle pour en choisir un autre.",
    },
    "es": {
        "heading": "Autocontrol de {file} para el ciclo {cycle} (sin conexión: no se envió ni registró nada)",
        "member": "Miembro",
        "sha256": "SHA-256",
        "accepted": "Veredicto: el archivo sería aceptado",
        "rejected": "Veredicto: el archivo sería rechazado ({reason}: {title})",
        "admitted": "Control de calidad: sus respuestas serían admitidas ({blocking} bloqueante(s), {warnings}"
        " advertencia(s))",
        "blocked": "Control de calidad: sus respuestas quedarían fuera de los resultados ({blocking}"
        " bloqueante(s), {warnings} advertencia(s))",
        "not_run": "Control de calidad: no realizado, el archivo se rechaza antes",
        "problems": "Problemas en el archivo ({n})",
        "findings": "Hallazgos de calidad ({n})",
        "none": "ninguno",
        "not_checked": "No verificado sin conexión: {rule} (necesita {needs})",
        "file_only": "Verificado solo dentro de este archivo: {rule} (la comparación con {needs} no se hace sin"
        " conexión)",
        "peers": "los demás miembros de su región",
        "history": "sus envíos de ciclos anteriores",
        "also": "Tampoco se verifica sin conexión si el mismo archivo ya se envió (se registraría como duplicado).",
        "closed": "El ciclo {cycle} no recoge datos hoy (recogida del {opens} al {last}): un archivo enviado ahora"
        " puede quedar registrado sin usarse, salvo que se reabra el ciclo.",
        "outcome": "Verificado sin conexión, no enviado",
        "unknown_cycle": "El archivo no nombra ningún ciclo configurado ({given}); se verificó para el ciclo"
        " {cycle}. Indique --cycle para elegir otro.",
    },
}


def member_language(reference: Reference, member: str | None) -> str:
    """The member's questionnaire language (members.csv, any membership row), else English."""
    languages = {m.member_code: m.language for m in reference.memberships}
    return languages.get(member or "", "en")


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy and pandas values and missing markers made plain."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return value.item()
    return value


def as_document(check: SelfCheck, lang: str) -> dict[str, Any]:
    """The --json document (format pmm-self-check, version 1; described in docs/operators.md)."""
    problems = []
    for row in rows_from_rejections(check.rejections):
        title, action = problem_words(row, lang)
        problems.append(
            {
                "code": row.code,
                "message": row.details,
                "place": place(row, "en"),
                "sheet": row.sheet,
                "cell": row.cell,
                "line": row.line,
                "pointer": row.pointer,
                "item": row.item,
                "year": row.year,
                "value": _plain(row.value),
                "severity": row.severity,
                "title": title,
                "what_to_do": action,
            }
        )
    findings = []
    for finding in check.findings.to_dict("records"):
        row = rows_from_findings(pd.DataFrame([finding]))[0]
        title, action = problem_words(row, lang)
        findings.append(
            {
                "rule": finding["rule"],
                "severity": finding["severity"],
                "item": _plain(finding["item"]),
                "year": _plain(finding["year"]),
                "kpi_id": _plain(finding["kpi_id"]),
                "value": _plain(finding["value"]),
                "message": finding["message"],
                "place": source_place(finding),
                "justification": _plain(finding["justification"]),
                "title": title,
                "what_to_do": action,
            }
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "file": check.file_name,
        "sha256": check.sha256,
        "size_bytes": check.size_bytes,
        "cycle": check.cycle.id,
        "cycle_from": check.cycle_from,
        "member": check.member_code,
        "language": lang,
        "checked_at": check.checked_at.isoformat(),
        "status": "accepted" if check.accepted else "rejected",
        "reason_code": check.reason_code,
        "version": None,  # a version number is given only by the intake, when the file is received
        "problems": problems,
        "quality_gate": None if not check.accepted else ("blocked" if check.n_blocking else "admitted"),
        "findings": findings,
        "not_checked_offline": [
            {"rule": rule, "needs": needs, "checked": kind} for rule, (kind, needs) in check.limits.items()
        ]
        + [{"rule": "duplicate_file", "needs": "history", "checked": "not_checked"}],
        "collecting_today": check.collecting,
        "exit_status": check.exit_status,
    }


def render_text(check: SelfCheck, lang: str) -> str:
    """What a person reads: the verdict, every problem and finding with its place, and what was not checked."""
    words, headings = WORDS[lang], HEADINGS[lang]
    lines = [words["heading"].format(file=check.file_name, cycle=check.cycle.id)]
    if check.cycle_from == "default":
        lines.append(words["unknown_cycle"].format(given=repr(check.stated_cycle), cycle=check.cycle.id))
    lines.append(f"  {words['member']}: {check.member_code or '?'}   {words['sha256']}: {check.sha256}")
    if check.accepted:
        lines.append(words["accepted"])
    else:
        first = rows_from_rejections(check.rejections.head(1))[0]
        lines.append(words["rejected"].format(reason=check.reason_code, title=problem_words(first, lang)[0]))
    warnings = int((check.findings["severity"] != "blocking").sum())
    if not check.accepted:
        lines.append(words["not_run"])
    else:
        key = "blocked" if check.n_blocking else "admitted"
        lines.append(words[key].format(blocking=check.n_blocking, warnings=warnings))
    rows = check.rows()
    for title_key, of_quality in (("problems", False), ("findings", True)):
        shown = [r for r in rows if r.is_quality == of_quality]
        if of_quality and not check.accepted:
            continue
        lines.append("")
        lines.append(words[title_key].format(n=len(shown)) + (f": {words['none']}" if not shown else ""))
        for row in shown:
            title, action = problem_words(row, lang)
            about = " ".join(str(x) for x in (row.item, row.year) if x is not None)
            lines.append(
                f"  [{headings.get(row.severity, row.severity)}] {place(row, lang)}"
                + (f" | {about}" if about else "")
                + f" | {row.code}: {title}"
            )
            lines.append(f"      {headings['details']}: {row.details}")
            lines.append(f"      {headings['what_to_do']}: {action}")
            if row.your_comment:
                lines.append(f"      {headings['your_comment']}: {row.your_comment}")
    lines.append("")
    for rule, (kind, needs) in check.limits.items():
        lines.append(words[kind].format(rule=rule, needs=words[needs]))
    lines.append(words["also"])
    if not check.collecting:
        lines.append(
            words["closed"].format(
                cycle=check.cycle.id, opens=check.cycle.collection.opens, last=check.cycle.last_collection_day
            )
        )
    return "\n".join(lines)


def feedback_workbook(check: SelfCheck, reference: Reference, catalogue: Catalogue, lang: str) -> bytes:
    """The member's Excel feedback report for this one file, by the feedback report's own writer."""
    memberships = {m.member_code: m for m in reference.memberships}
    memberships.update(reference.members_in_force(check.cycle))
    member = check.member_code or "?"
    name = memberships[member].name(lang) if member in memberships else member
    line = FileLine(check.file_name, check.checked_at, WORDS[lang]["outcome"], None, False, check.reason_code)
    return render_feedback(
        member,
        name,
        check.cycle.id,
        lang,
        check.rows(),
        [line],
        catalogue.items_for_version(check.cycle.catalogue_version),
        check.checked_at.date(),
    )
