"""`pmm status --cycle C`: where a cycle stands, read from the warehouse, as text for people and JSON for programs.

The figures are those of the collection status (stages/collection/status.py, the `collection.completeness`
asset): a member is *expected* when in force for the cycle, *received* when it has an accepted
version (late ones included), *used* when a version of it is in use, *outstanding* when nothing of
it was accepted. They are computed here from the tables they are built from (staging, raw, quality),
so the status is right even when the run that would refresh `collection.completeness` failed later on.
"""

import datetime as dt
import textwrap
from dataclasses import dataclass
from typing import Any

import duckdb

from pmm_pipeline.core.text import printable
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle, CyclesConfig
from pmm_pipeline.warehouse.tables import FINDINGS, MEMBER_SUMMARY, PARTICIPATION, REJECTIONS, SUBMISSIONS

# Version of the JSON document `pmm status --json` prints (docs/operators.md, "Command line"); bumped on any change
# that could break a program reading it.
STATUS_FORMAT_VERSION = 1
# Outstanding member codes per line of the text status (12 codes), so that a line fits 100 columns.
OUTSTANDING_WIDTH = 47


class CycleNotRun(LookupError):
    """The warehouse holds nothing of the cycle yet."""


def cycle_state(cycle: Cycle, today: dt.date) -> str:
    """`not yet open`, `open`, `reopened` (collecting again after its closing) or `closed`, on `today`."""
    if today < cycle.collection.opens:
        return "not yet open"
    if today <= cycle.collection.closes:
        return "open"
    if cycle.reopened_until is not None and today <= cycle.reopened_until:
        return "reopened"
    return "closed"


def cycle_dates(cycles: CyclesConfig, cycle: Cycle) -> dict[str, str | None]:
    return {
        "opens": cycle.collection.opens.isoformat(),
        "closes": cycle.collection.closes.isoformat(),
        "reopened_until": cycle.reopened_until.isoformat() if cycle.reopened_until else None,
        "inputs_frozen_at": cycles.inputs_frozen_at(cycle).isoformat(),
        "membership_date": cycle.membership_reference_date.isoformat(),
        "publication_date": cycle.publication_date.isoformat(),
    }


@dataclass(frozen=True)
class WarehouseRows:
    """What the status needs from the warehouse, one list of row tuples per question."""

    members: list[tuple[str, str, bool]]  # (member, region, is_participating) of every member in force
    received: set[str]  # members with an accepted version
    blocking: list[tuple[str, str, str | None, int | None, str]] | None  # (member, rule, item, year, message)
    rejections: list[tuple[str, str, str | None]]  # (reason_code, file_name, member)


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
    return {name for (name,) in rows}


def read_status_rows(conn: duckdb.DuckDBPyConnection, cycle_id: str) -> WarehouseRows:
    """The cycle's rows; CycleNotRun when no run has staged it. Tables a failed run left missing read as
    not checked yet (quality) or empty (raw)."""
    tables = _tables(conn)
    params = {"cycle": cycle_id}
    members = []
    if PARTICIPATION.qualified in tables:
        members = conn.execute(
            f"SELECT member_code, region_code, is_participating FROM {PARTICIPATION.qualified} WHERE cycle = $cycle"
            " ORDER BY member_code",
            params,
        ).fetchall()
    if not members:
        raise CycleNotRun(cycle_id)
    received = set()
    if SUBMISSIONS.qualified in tables:
        received = {
            m
            for (m,) in conn.execute(
                f"SELECT DISTINCT member_code FROM {SUBMISSIONS.qualified} WHERE cycle = $cycle", params
            ).fetchall()
        }
    blocking = None
    if {FINDINGS.qualified, MEMBER_SUMMARY.qualified} <= tables:
        blocking = conn.execute(
            "SELECT f.member_code, f.rule, f.item, f.year, f.message"
            f" FROM {FINDINGS.qualified} AS f"
            f" JOIN {MEMBER_SUMMARY.qualified} AS s ON s.cycle = f.cycle AND s.member_code = f.member_code"
            " WHERE f.cycle = $cycle AND f.severity = 'blocking' AND NOT s.is_admitted"
            " ORDER BY f.member_code, f.rule, f.item, f.year",
            params,
        ).fetchall()
    rejections = []
    if REJECTIONS.qualified in tables:
        rejections = conn.execute(
            f"SELECT reason_code, file_name, member_code FROM {REJECTIONS.qualified} WHERE cycle = $cycle"
            " ORDER BY reason_code, file_name",
            params,
        ).fetchall()
    return WarehouseRows(members=members, received=received, blocking=blocking, rejections=rejections)


def build_status(
    reference: Reference, cycle: Cycle, rows: WarehouseRows, today: dt.date, warehouse: str
) -> dict[str, Any]:
    """The status document (the JSON of `pmm status --json`); pure: everything it needs is passed in."""
    region_names = {g.group_code: g.name_en for g in reference.groups if g.group_type == "region"}
    region_of = {member: region for member, region, _ in rows.members}

    def group(code: str, name: str, members: list[tuple[str, str, bool]]) -> dict[str, Any]:
        outstanding = sorted(m for m, _, _ in members if m not in rows.received)
        return {
            "group_code": code,
            "group_name": name,
            "expected": len(members),
            "received": sum(1 for m, _, _ in members if m in rows.received),
            "used": sum(1 for _, _, used in members if used),
            "outstanding": len(outstanding),
            "outstanding_members": outstanding,
        }

    regions = sorted({region for _, region, _ in rows.members})
    blocked = None
    if rows.blocking is not None:
        by_member: dict[str, list[dict[str, Any]]] = {}
        for member, rule, item, year, message in rows.blocking:
            by_member.setdefault(member, []).append({"rule": rule, "item": item, "year": year, "message": message})
        blocked = [
            {
                "member": member,
                "region": region_of.get(member),
                "rules": sorted({f["rule"] for f in findings}),
                "findings": findings,
            }
            for member, findings in sorted(by_member.items())
        ]
    by_reason: dict[str, list[dict[str, str | None]]] = {}
    for reason, file_name, member in rows.rejections:
        by_reason.setdefault(reason, []).append({"file_name": file_name, "member": member})
    return {
        "format": "pmm-cycle-status",
        "format_version": STATUS_FORMAT_VERSION,
        "cycle": cycle.id,
        "reporting_year": cycle.reporting_year,
        "catalogue_version": cycle.catalogue_version,
        "as_of": today.isoformat(),
        "state": cycle_state(cycle, today),
        "dates": cycle_dates(reference.cycles, cycle),
        "warehouse": warehouse,
        "total": group("all", "all members", rows.members),
        "regions": [
            group(code, region_names.get(code, code), [r for r in rows.members if r[1] == code]) for code in regions
        ],
        "blocked": blocked,
        "rejected_files": [
            {"reason_code": reason, "count": len(files), "files": files} for reason, files in sorted(by_reason.items())
        ],
    }


def render_status(status: dict[str, Any]) -> str:
    """The status for a person reading a terminal."""
    dates = status["dates"]
    window = f"collection {dates['opens']} to {dates['closes']}"
    if dates["reopened_until"]:
        window += f", reopened until {dates['reopened_until']}"
    lines = [
        f"cycle {status['cycle']} (reporting year {status['reporting_year']}, catalogue {status['catalogue_version']}):"
        f" {status['state']} on {status['as_of']}",
        f"  {window}; inputs frozen at {dates['inputs_frozen_at']}; publication {dates['publication_date']}",
        "",
        f"  {'region':<8} {'expected':>8} {'received':>8} {'used':>6} {'outstanding':>11}  outstanding members",
    ]
    for group in [*status["regions"], status["total"]]:
        code = "all" if group is status["total"] else group["group_code"]
        figures = (
            f"  {code:<8} {group['expected']:>8} {group['received']:>8} {group['used']:>6} {group['outstanding']:>11}"
        )
        codes = group["outstanding_members"] if code != "all" else []
        # A region's outstanding codes wrap under their column rather than run off a terminal's width.
        wrapped = textwrap.wrap(" ".join(codes), width=OUTSTANDING_WIDTH) or [""]
        lines.append(f"{figures}  {wrapped[0]}".rstrip())
        lines += [" " * (len(figures) + 2) + more for more in wrapped[1:]]
    lines.append("")
    if status["blocked"] is None:
        lines.append("  quality gate: not run yet for this cycle")
    elif not status["blocked"]:
        lines.append("  quality gate: no member blocked")
    else:
        lines.append(f"  blocked by the quality gate: {len(status['blocked'])} member(s)")
        for member in status["blocked"]:
            places = ", ".join(
                f"{f['rule']} ({f['item']} {f['year']})" if f["item"] else f["rule"] for f in member["findings"]
            )
            places = printable(places)
            lines.append(f"    {member['member']}: {places}")
    rejected = status["rejected_files"]
    if not rejected:
        lines.append("  files rejected: none")
    else:
        lines.append(f"  files rejected: {sum(r['count'] for r in rejected)}")
        for reason in rejected:
            names = ", ".join(printable(f["file_name"]) for f in reason["files"][:5])
            more = f" and {reason['count'] - 5} more" if reason["count"] > 5 else ""
            lines.append(f"    {printable(reason['reason_code'])} {reason['count']}: {names}{more}")
    return "\n".join(lines)
