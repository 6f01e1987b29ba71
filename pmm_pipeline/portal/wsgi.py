"""The WSGI entry point for production servers: `gunicorn pmm_pipeline.portal.wsgi:application` (see the README)."""

from pmm_pipeline.portal.server import application as _build

application = _build()
