"""Whether an Excel questionnaire is one issued for the cycle now: its stamp unedited, its template and catalogue
current.
"""

from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.submission import ParsedSubmission, Problem
from pmm_pipeline.stages.questionnaire.layout import TEMPLATE_VERSION


def template_problems(parsed: ParsedSubmission, ctx: ValidationContext) -> list[Problem]:
    """An Excel questionnaire must carry an unedited stamp of the current template and catalogue."""
    stamp = parsed.template
    if stamp is None:
        return []
    if not stamp.checksum_matches:
        return [
            Problem(
                "template_modified",
                "the questionnaire's hidden metadata was edited (its checksum does not match); fill in the"
                " questionnaire issued for this member and cycle",
            )
        ]
    if stamp.cycle != ctx.cycle.id:
        return []  # another cycle's questionnaire: reported as cycle_mismatch, not as outdated
    outdated = str(stamp.template_version) != str(TEMPLATE_VERSION) or (
        ctx.questionnaire_digest is not None and stamp.questionnaire_digest != ctx.questionnaire_digest
    )
    if outdated:
        return [
            Problem(
                "outdated_template",
                f"the questionnaire was generated for an earlier version of cycle {ctx.cycle.id}'s questions"
                " (template or catalogue changed); copy the answers into a newly issued questionnaire",
            )
        ]
    return []
