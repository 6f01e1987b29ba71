"""What a cycle's files are checked against, built once from the reference data and the catalogue.

Here, below every caller, so that the intake's Dagster asset, `pmm validate` and the member platform's verdict
(stages/delivery/) check a file against the very same context.
"""

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.validate import ValidationContext
from pmm_pipeline.stages.questionnaire.layout import plan_questionnaire


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
