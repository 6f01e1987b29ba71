"""What a cycle's files are checked against, built once from the reference data and the catalogue.

Here, below every caller, so that the intake's Dagster asset, `pmm validate` and the member platform's verdict
(stages/delivery/) check a file against the very same context.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.questionnaire.layout import plan_questionnaire


@dataclass(frozen=True)
class ValidationContext:
    """What a submission landing in the folder of `cycle` is checked against."""

    cycle: Cycle
    members_in_force: frozenset[str]
    known_members: frozenset[str]
    items: dict[str, Item]
    kpi_ids: frozenset[str]
    # Questionnaire language of each member: the locale that reads numbers typed as text.
    member_languages: Mapping[str, str] = field(default_factory=dict)
    # What the cycle's questionnaire asks now; a questionnaire stamped with another digest is outdated.
    questionnaire_digest: str | None = None
    # The zone of the cycles calendar (cycles.yaml `timezone`): the collection opens at midnight there.
    timezone: dt.tzinfo = dt.UTC

    @property
    def collection_opens_at(self) -> dt.datetime:
        return dt.datetime.combine(self.cycle.collection.opens, dt.time(0), tzinfo=self.timezone)


def validation_context(reference: Reference, catalogue: Catalogue, cycle_id: str) -> ValidationContext:
    cycle = reference.cycles.get(cycle_id)
    return ValidationContext(
        cycle=cycle,
        members_in_force=frozenset(reference.members_in_force(cycle)),
        known_members=frozenset(reference.known_member_codes()),
        items=catalogue.items_for_version(cycle.catalogue_version),
        kpi_ids=frozenset(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)),
        member_languages={code: m.language for code, m in reference.members_in_force(cycle).items()},
        questionnaire_digest=plan_questionnaire(catalogue, cycle).digest,
        timezone=reference.cycles.tz,
    )
