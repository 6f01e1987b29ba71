"""The quality gate's rules, each declared once: its id (the Dagster check name), default severity and meaning."""

from dataclasses import dataclass
from enum import Enum

from pmm_pipeline.specs.catalogue.models import KpiSpec


class Severity(str, Enum):
    blocking = "blocking"  # the member's submission is kept out of the KPI tables until it is fixed
    warning = "warning"  # admitted, carried as a flag on the values it feeds and in the feedback report


class Engine(str, Enum):
    great_expectations = "great_expectations"  # per-answer rules, a suite generated from the catalogue
    duckdb = "duckdb"  # rules across submissions, cycles and members


# A jump by this factor or more against the member's own history reads as a unit slip (thousands for units,
# a fraction for a percentage); such a pair is reported once, by magnitude_consistent_with_history, and not
# also as a year-on-year change or a revision.
MAGNITUDE_FACTOR = 50.0
# A T-1 figure differing from the earlier cycle's by more than this (in %) is a revision.
REVISION_TOLERANCE_PCT = 0.0
# Median absolute deviation to standard deviation of a normal distribution.
MAD_SCALE = 1.4826
# The peer comparison never takes a region's spread below this factor (on its log scale), so with the default
# peer_max_mads of 5 only a value at least 2**5 = 32 times above or below the region's median can be flagged.
PEER_MIN_SPREAD_FACTOR = 2.0


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    engine: Engine
    holds_when: str  # shown as the Dagster check description and in docs/operators.md

    @property
    def is_blocking(self) -> bool:
        return self.severity == Severity.blocking


RULES: tuple[Rule, ...] = (
    Rule(
        "known_codes",
        Severity.blocking,
        Engine.great_expectations,
        "every answer names a participating member, an item of the cycle's catalogue, a year of the cycle (T or"
        " T-1), a known status and, for level and yes/no items, one of the item's levels",
    ),
    Rule(
        "one_answer_per_item_year",
        Severity.blocking,
        Engine.great_expectations,
        "a submission answers each item at most once per year",
    ),
    Rule(
        "values_match_item_type",
        Severity.blocking,
        Engine.great_expectations,
        "a reported answer has a value and another status has none; counts are whole numbers; level and yes/no"
        " items carry a level",
    ),
    Rule(
        "values_within_range",
        Severity.blocking,
        Engine.great_expectations,
        "every reported value lies within its item's declared min and max (percent items at most 100)",
    ),
    Rule(
        "part_not_above_whole",
        Severity.blocking,
        Engine.great_expectations,
        "an item declared `part_of` another is not above that whole for the same year",
    ),
    Rule(
        "required_items_present",
        Severity.warning,
        Engine.great_expectations,
        "every item a KPI's formula uses is answered (a value, not_applicable or not_available); an absent item"
        " makes the KPI missing",
    ),
    Rule(
        "variation_years_present",
        Severity.warning,
        Engine.great_expectations,
        "a variation KPI's items are answered for T-1 as well as for T",
    ),
    Rule(
        "yoy_change_within_band",
        Severity.warning,
        Engine.duckdb,
        "the change of an item between T-1 and T stays within the band its KPI declares (max_yoy_change_pct)",
    ),
    Rule(
        "t_minus_1_matches_earlier_cycle",
        Severity.warning,
        Engine.duckdb,
        "a T-1 figure equals what the member reported for that year in an earlier cycle, or it is a revision",
    ),
    Rule(
        "value_near_peer_median",
        Severity.warning,
        Engine.duckdb,
        "a positive ratio or value KPI lies within peer_max_mads spreads of its region's median on a log scale"
        f" (spread: scaled median absolute deviation, at least a factor {PEER_MIN_SPREAD_FACTOR:g}), when at least"
        " peer_min_members members"
        " of the region report it",
    ),
    Rule(
        "magnitude_consistent_with_history",
        Severity.warning,
        Engine.duckdb,
        f"a figure is within a factor {MAGNITUDE_FACTOR:g} of the member's own latest earlier figure for the item"
        " (a larger jump suggests a unit slip, e.g. thousands for units)",
    ),
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def severity_for(rule_id: str, kpi: KpiSpec | None) -> Severity:
    """The rule's severity for a finding on `kpi`: the KPI's own setting if it declares one, else the default."""
    override = kpi.quality.severity.get(rule_id) if kpi is not None else None  # type: ignore[call-overload]
    return Severity(override) if override else RULES_BY_ID[rule_id].severity
