"""What the platform's benchmark and its tests both send: a cycles file with a cycle open today, and an upload's
multipart body. Declared once here (the tests import it: pmm_pipeline_tests/portal_fixtures.py)."""

import datetime as dt
import io
from pathlib import Path

import yaml

from pmm_pipeline.core.settings import PACKAGED_REFERENCE_DIR


def cycles_file_with_open_cycle(folder: Path, cycle_id: str, days: int) -> Path:
    """The shipped cycles.yaml plus `cycle_id`, collecting from `days` before today to `days` after."""
    shipped = yaml.safe_load((PACKAGED_REFERENCE_DIR / "cycles.yaml").read_text())
    today = dt.datetime.now(dt.UTC).date()
    shipped["cycles"].append(
        {
            "id": cycle_id,
            "reporting_year": 2025,
            "collection": {
                "opens": (today - dt.timedelta(days=days)).isoformat(),
                "closes": (today + dt.timedelta(days=days)).isoformat(),
            },
            "publication_date": (today + dt.timedelta(days=3 * days)).isoformat(),
            "catalogue_version": "1.1",
        }
    )
    path = folder / "cycles.yaml"
    path.write_text(yaml.safe_dump(shipped, sort_keys=False))
    return path


def multipart(name: str, data: bytes, field: str = "file") -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its Content-Type header."""
    boundary = "pmmboundary7d93"
    body = io.BytesIO()
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'.encode())
    body.write(b"Content-Type: application/octet-stream\r\n\r\n")
    body.write(data)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"
