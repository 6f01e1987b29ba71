"""The platform's Django application (models, templates, translations under pmm_pipeline/portal/)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "pmm_pipeline.portal"
    label = "portal"
    verbose_name = "PMM member platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from pmm_pipeline.portal import signals  # noqa: F401 - connects the sign-in receivers
