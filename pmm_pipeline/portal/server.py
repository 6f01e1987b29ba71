"""`pmm portal`: the platform under waitress (pure-Python WSGI server; production runs the same app under gunicorn)."""

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.portal.config import PortalSettings
from pmm_pipeline.portal.settings import MULTIPART_SLACK_BYTES, configure

THREADS = 8


def application(settings: Settings | None = None, portal: PortalSettings | None = None):
    """The WSGI application, with Django configured and the database migrated."""
    configure(settings, portal)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def make_server(host: str, port: int, settings: Settings, portal: PortalSettings | None = None):
    """A waitress server, not yet serving (tests run it in a thread; `serve` runs it in the foreground)."""
    from waitress.server import create_server

    app = application(settings, portal)
    return create_server(
        app,
        host=host,
        port=port,
        threads=THREADS,
        # A chunked body has no Content-Length: waitress stops it here, the upload handler at the file's limit.
        max_request_body_size=settings.intake_limits.max_file_bytes + MULTIPART_SLACK_BYTES,
        ident="pmm",
        clear_untrusted_proxy_headers=True,
        channel_timeout=60,
    )


def serve(host: str, port: int, settings: Settings) -> None:
    from pmm_pipeline.stages.delivery import warm_up

    server = make_server(host, port, settings)
    # The first verdict of a process would pay the quality gate's imports (seconds): paid before serving.
    warm_up(settings)
    print(f"PMM platform on http://{host}:{server.effective_port}/ (Ctrl-C stops it)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
