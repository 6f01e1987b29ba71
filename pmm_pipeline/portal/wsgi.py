"""The WSGI entry point for production servers: `gunicorn pmm_pipeline.portal.wsgi:application` (see the README)."""

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.portal.server import application as _build
from pmm_pipeline.stages.delivery import warm_up

_settings = Settings.from_env()
application = _build(_settings)
# Paid when the worker starts, not by the first member's upload (the quality gate's imports take seconds).
warm_up(_settings)
