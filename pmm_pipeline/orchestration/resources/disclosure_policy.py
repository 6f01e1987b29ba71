"""The disclosure-control policy as a Dagster resource: the one way its settings reach the publishing assets."""

import dagster as dg
from pydantic import Field


class DisclosurePolicy(dg.ConfigurableResource):
    """How disclosure control decides what each tier may publish (docs/auditors.md, "Disclosure tiers")."""

    min_group_size: int = Field(
        default=3, ge=1, description="fewest reporting members behind a published group statistic (PMM_MIN_GROUP_SIZE)"
    )
    coalition_size: int = Field(
        default=1,
        ge=1,
        le=3,
        description="the attacker model's k: how many members may pool what they know against another's hidden value"
        " (PMM_COALITION_SIZE)",
    )
