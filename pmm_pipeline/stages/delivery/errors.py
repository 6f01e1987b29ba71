"""The one error the platform's calls raise for a wrong call (never for a bad file: that is a rejected verdict)."""

from pmm_pipeline.core.errors import PmmError


class DeliveryError(PmmError, ValueError):
    """The call itself is wrong (unknown cycle or member, a time without zone, an unknown language)."""
