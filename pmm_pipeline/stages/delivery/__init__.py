"""The member platform's side of the pipeline: one upload through the intake's own code, its verdict at once, a
member's versions and the questionnaire pre-filled with its answers; pure logic on files, never the warehouse.

A stage of its own, above quality and feedback: the verdict needs the intake (ingestion), the quality gate on
the file alone (quality), and the members' words of feedback (feedback), which the ingestion stage may not import.
"""

from pmm_pipeline.stages.delivery.errors import DeliveryError
from pmm_pipeline.stages.delivery.history import member_versions, members_with_accepted_version
from pmm_pipeline.stages.delivery.prefill import latest_accepted, prefilled_answers, prefilled_document
from pmm_pipeline.stages.delivery.upload import deliver_upload, landing_name_for, warm_up
from pmm_pipeline.stages.delivery.verdict import UploadVerdict

__all__ = [
    "DeliveryError",
    "UploadVerdict",
    "cycle_accepts_uploads",
    "deliver_upload",
    "landing_name_for",
    "member_versions",
    "members_with_accepted_version",
    "latest_accepted",
    "prefilled_answers",
    "prefilled_document",
    "warm_up",
]

from pmm_pipeline.stages.collection.windows import cycle_accepts_uploads  # noqa: E402 - listed above
