"""Every asset check of the code location, classified once: a data finding or a guarantee of the pipeline.

Two kinds of check read differently at a glance, and must never be confused in the UI:
- a *data finding* (the quality gate's rules): findings in members' data are the expected result of
  members' errors; the gate has already acted on them (blocked the member or flagged the value). Its
  result is a warning (severity WARN), it never stops the run, and it says "N findings in members'
  data recorded; M members blocked", never "failed".
- a *guarantee* of the pipeline's own: the gate admitted only what it should have, the archive still
  holds the files it received, the counts add up, the tiers show only what their readers may see.
  Its failure is an error (severity ERROR): `pmm run` exits non-zero (app/run.py describe_failures).

A stage declares its checks as plain `dg.AssetCheckSpec(name, asset=..., description=...)`; the
asset policies (policies.py) then give every check spec, from this table, its blocking flag, its
partitions (the cycle it checked), its kind in words at the head of its description and in its
metadata; the step guard (failures.py) gives every result the severity of its kind. The row-key checks are
not written by a stage: the policies add them to every asset of a table with a row key (key_checks.py). A check missing
from this table fails the code location's loading, so none can slip through unclassified.
"""

from dataclasses import dataclass
from enum import Enum

import dagster as dg

from pmm_pipeline.stages.quality.rules import RULES

KIND_METADATA_KEY = "pmm/check_kind"
BLOCKING_METADATA_KEY = "pmm/blocking"
SEVERITY_METADATA_KEY = "pmm/severity_on_failure"


class CheckKind(str, Enum):
    data_finding = "data_finding"
    guarantee = "guarantee"


# The head of each check's description: what a failure of that kind means, in the UI's own words.
_KIND_WORDS = {
    CheckKind.data_finding: "Data finding recorded by the quality gate (a warning, never an error: findings in"
    " members' data are expected, and the gate has already blocked or flagged them; it never stops the run).",
    CheckKind.guarantee: "Guarantee of the pipeline (a failure is an error: the run of the cycle did not keep this"
    " promise, and `pmm run` exits non-zero).",
}
BLOCKING_WORDS = "Blocking: the steps downstream of this asset do not run when it fails."


@dataclass(frozen=True)
class CheckDeclaration:
    name: str
    kind: CheckKind
    # A guarantee stops the steps downstream when it fails, unless that would cost more than it protects:
    # `why_not_blocking` then says why (and how the guarantee is enforced instead).
    why_not_blocking: str = ""

    def __post_init__(self):
        if self.kind is CheckKind.data_finding and self.why_not_blocking:
            raise ValueError(f"check {self.name}: a data finding never blocks; it needs no reason not to")

    @property
    def blocking(self) -> bool:
        return self.kind is CheckKind.guarantee and not self.why_not_blocking

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.kind is CheckKind.guarantee else dg.AssetCheckSeverity.WARN

    def heading(self) -> str:
        """The first sentences of the check's description: its kind, severity and blocking flag in words."""
        if self.kind is CheckKind.data_finding:
            return _KIND_WORDS[self.kind]
        if self.blocking:
            return f"{_KIND_WORDS[self.kind]} {BLOCKING_WORDS}"
        return f"{_KIND_WORDS[self.kind]} Not blocking, the steps downstream still run: {self.why_not_blocking}."

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """The same three facts as metadata, on the check's definition and on every result."""
        return {
            KIND_METADATA_KEY: dg.MetadataValue.text(self.kind.value),
            BLOCKING_METADATA_KEY: dg.MetadataValue.bool(self.blocking),
            SEVERITY_METADATA_KEY: dg.MetadataValue.text(self.severity.value),
        }


# Names used by the stages' check specs and results.
ADMISSION_CHECK = "gate_admitted_no_blocked_member"
ARCHIVE_CHECK = "archive_copies_intact"
MEMBERS_ADD_UP_CHECK = "members_add_up"
VALUES_CHECK = "shows_only_values_its_readers_may_see"
ROLLUPS_CHECK = "reveals_no_hidden_value"
# The row-key checks, one per table asset whose table declares a row key (orchestration/key_checks.py): under
# the first name where a repeated key must stop the steps after it, under the second where it must not.
ROW_KEY_CHECK = "one_row_per_key"
RECORD_ROW_KEY_CHECK = "one_row_per_key_on_record"

CHECKS: dict[str, CheckDeclaration] = {
    d.name: d
    for d in (
        *(CheckDeclaration(rule.id, CheckKind.data_finding) for rule in RULES),
        # The one alarm of the gate: bad data reached quality.admitted_answers. KPIs must not be computed on it.
        CheckDeclaration(ADMISSION_CHECK, CheckKind.guarantee),
        CheckDeclaration(
            ARCHIVE_CHECK,
            CheckKind.guarantee,
            why_not_blocking="one damaged copy must not stop the other members' publication; the version whose"
            " copy is damaged is kept on record and not used",
        ),
        CheckDeclaration(
            MEMBERS_ADD_UP_CHECK,
            CheckKind.guarantee,
            why_not_blocking="the collection status feeds no published table; the run still fails",
        ),
        CheckDeclaration(VALUES_CHECK, CheckKind.guarantee),
        CheckDeclaration(ROLLUPS_CHECK, CheckKind.guarantee),
        # A key given twice in a table the figures are computed or published from would count a row twice.
        CheckDeclaration(ROW_KEY_CHECK, CheckKind.guarantee),
        CheckDeclaration(
            RECORD_ROW_KEY_CHECK,
            CheckKind.guarantee,
            why_not_blocking="a repeated row on record must not keep the members' feedback and publication from"
            " the steps after it; the tables the figures are computed from check their own keys and block",
        ),
    )
}


class UndeclaredCheckError(ValueError):
    pass


def declaration(name: str) -> CheckDeclaration:
    try:
        return CHECKS[name]
    except KeyError:
        raise UndeclaredCheckError(
            f"asset check {name!r} is not classified: declare it in pmm_pipeline/orchestration/checks.py CHECKS"
            " as a data finding or a guarantee"
        ) from None
