"""What numeric and level control share: the reasons a figure is withheld, the decisions of one series, and the
control over time that both run against the earlier releases."""

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.facts import (
    AUDITED_TIERS,
    MEMBER_ROW,
    ORDER_STATISTICS,
    VALUE,
    GroupKey,
    tier_rank,
    visible_in,
)

MIN_GROUP_SIZE = "min_group_size"
HIDDEN_MEMBER = "hidden_member"
DIFFERENCING = "differencing"
COMPLEMENTARY = "complementary"
EARLIER_RELEASE = "earlier_release"
NOT_FINITE = "not_finite"  # set by the rollups themselves (stages/rollups/compute.py), never by disclosure control
REASONS = (MIN_GROUP_SIZE, HIDDEN_MEMBER, DIFFERENCING, COMPLEMENTARY, EARLIER_RELEASE, NOT_FINITE)
# When a figure must go to stop a combination, the least useful goes first: pooled ratios, then
# means of the groupings in this order; regional and global means are kept as long as possible.
KEEP_ORDER = ("admin_type", "landlocked", "income_group", "region", "global")


class Decisions:
    """Withheld (tier, group, statistic) of one series; the first reason given is kept."""

    def __init__(self) -> None:
        self.reasons: dict[tuple[str, GroupKey, str], str] = {}

    def withhold(self, tier: str, group: GroupKey, statistic: str, reason: str) -> None:
        self.reasons.setdefault((tier, group, statistic), reason)

    def published(self, tier: str, group: GroupKey, statistic: str) -> bool:
        return (tier, group, statistic) not in self.reasons

    def seen_by(self, tier: str, group: GroupKey, statistic: str) -> bool:
        """Published in `tier` or in a tier below it (whose files its readers also read)."""
        return any(self.published(t, group, statistic) for t in TIERS[: tier_rank(tier) + 1])

    def withhold_up_to(self, tier: str, group: GroupKey, statistic: str, reason: str) -> None:
        for t in TIERS[: tier_rank(tier) + 1]:
            if self.published(t, group, statistic):
                self.withhold(t, group, statistic, reason)


def keep_rank(group: GroupKey) -> int:
    return KEEP_ORDER.index(group[0]) + 1 if group[0] in KEEP_ORDER else 0


def _member_key(member: str) -> GroupKey:
    return (MEMBER_ROW, member)


def withheld_values(decisions: "Decisions", tier: str) -> set[str]:
    return {g[1] for (t, g, s) in decisions.reasons if t == tier and s == VALUE}


def control_over_time(facts, decisions, coalition, published_groups, withhold_group, system_class, cheapest):
    """Withhold from this release whatever, with every earlier release its readers hold, would determine a target.

    What the earlier releases determine on their own is past mending and not counted. A variable
    that earlier equations would determine once a value shown now is known (a member that chose a
    wider tier, whose value sits in an earlier sum with hidden ones) is protected by withholding that
    value from the tier (statistic `value`); otherwise the least useful group figure goes.
    """
    for tier in AUDITED_TIERS:
        while True:
            shown = {m for m, r in facts.reporters.items() if visible_in(r.disclosure, tier)}
            shown -= withheld_values(decisions, tier)
            system = system_class(facts, tier, coalition, shown)
            if system.unknowns.size == 0:
                break
            past = system_class(facts, tier, coalition, shown=[]).solved_variables([])
            groups = published_groups(tier)
            exposed = system.solved_variables(groups) - past
            if not exposed:
                break
            newly_shown = system.solved_variables([]) - past
            if newly_shown:  # the values shown now are the key: withhold the one that protects most
                earlier = {r.variable(m) for r in system.unknowns.earlier for m in r.shown if m in r.values}
                candidates = sorted(m for m in shown if facts.variable(m) not in earlier)

                def relief(
                    member: str, shown: set[str] = shown, tier: str = tier, newly_shown: set = newly_shown
                ) -> int:
                    fewer = system_class(facts, tier, coalition, shown - {member})
                    return len(newly_shown - fewer.solved_variables([]))

                member = min(candidates, key=lambda m: (-relief(m), m))
                for t in TIERS[: tier_rank(tier) + 1]:
                    decisions.withhold(t, _member_key(member), VALUE, EARLIER_RELEASE)
                continue
            withhold_group(cheapest(system, groups), tier)
    # An order statistic held by a withheld value would show it.
    for tier in AUDITED_TIERS:
        hidden_now = withheld_values(decisions, tier)
        if not hidden_now or facts.is_categorical:
            continue
        for group, stats in facts.statistics.items():
            for statistic in ORDER_STATISTICS:
                if statistic in stats and facts.holders(group, statistic) & hidden_now:
                    decisions.withhold(tier, group, statistic, HIDDEN_MEMBER)
