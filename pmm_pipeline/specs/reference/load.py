"""Loading the validated reference data: cycles, groups and dated member groups."""

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from pmm_pipeline.core.vocabulary import GROUP_TYPES
from pmm_pipeline.specs.reference.models import Cycle, CyclesConfig, Group, Membership


class ReferenceError(ValueError):
    """Reference data that cannot be used; the message names the file and the problem."""


def _read_csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file whose `#` lines are comments, with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ReferenceError(f"{path}: cannot be read ({err.strerror})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    rows = []
    for index, row in enumerate(reader, start=1):
        rows.append((lines[index][0] if index < len(lines) else 0, row))
    return rows


def _errors(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in err.errors())


def load_cycles(path: Path) -> CyclesConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ReferenceError(f"{path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ReferenceError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    try:
        return CyclesConfig.model_validate(raw)
    except ValidationError as err:
        raise ReferenceError(f"{path}: {_errors(err)}") from None


def load_groups(path: Path) -> list[Group]:
    groups = []
    for line, row in _read_csv_rows(path):
        try:
            groups.append(Group.model_validate(row))
        except ValidationError as err:
            raise ReferenceError(f"{path}, line {line}: {_errors(err)}") from None
    return groups


def load_memberships(path: Path, groups: list[Group]) -> list[Membership]:
    known = {(g.group_type, g.group_code) for g in groups}
    memberships: list[Membership] = []
    for line, row in _read_csv_rows(path):
        cleaned = {k: (v if v != "" else None) for k, v in row.items()}
        try:
            membership = Membership.model_validate(cleaned)
        except ValidationError as err:
            raise ReferenceError(f"{path}, line {line}: {_errors(err)}") from None
        for group_type in GROUP_TYPES:
            code = membership.group_code(group_type)
            if (group_type, code) not in known:
                raise ReferenceError(f"{path}, line {line}: {group_type} {code!r} is not in the groups file")
        for other in memberships:
            if other.member_code == membership.member_code and _overlap(other, membership):
                raise ReferenceError(f"{path}, line {line}: {membership.member_code} has overlapping validity dates")
        memberships.append(membership)
    return memberships


def _overlap(a: Membership, b: Membership) -> bool:
    far = dt.date.max
    return a.valid_from <= (b.valid_to or far) and b.valid_from <= (a.valid_to or far)


@dataclass(frozen=True)
class Reference:
    """Everything the pipeline needs to know about cycles and members."""

    cycles: CyclesConfig
    groups: list[Group]
    memberships: list[Membership]

    def members_in_force(self, cycle: Cycle) -> dict[str, Membership]:
        """The membership row of each member in force on the cycle's membership date."""
        day = cycle.membership_reference_date
        return {m.member_code: m for m in self.memberships if m.in_force_on(day)}

    def known_member_codes(self) -> set[str]:
        return {m.member_code for m in self.memberships}


def load_reference(reference_dir: Path, cycles_file: Path) -> Reference:
    groups = load_groups(Path(reference_dir) / "groups.csv")
    return Reference(
        cycles=load_cycles(Path(cycles_file)),
        groups=groups,
        memberships=load_memberships(Path(reference_dir) / "members.csv", groups),
    )
