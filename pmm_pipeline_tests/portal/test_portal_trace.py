"""`pmm trace` shows the member platform's audit trail for the file behind a value: who sent it, when, from where."""

import hashlib
import types

from pmm_pipeline_tests.portal_fixtures import OPEN_CYCLE, json_submission, make_account, portal  # noqa: F401


def test_the_trace_carries_the_platforms_record_of_the_file(portal):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from pmm_pipeline.app.commands import platform_audit_of_file
    from pmm_pipeline.portal import accounts
    from pmm_pipeline.stages.lineage.render import platform_audit_lines

    user = make_account("ncp", member="NZL")
    token = accounts.issue_token(user.username)
    data = json_submission("NZL")
    response = Client().post(
        f"/api/v1/cycles/{OPEN_CYCLE}/submissions",
        {"file": SimpleUploadedFile("NZL | ![x](http://e/x.png).json", data)},
        HTTP_AUTHORIZATION=f"Bearer {token}",
        REMOTE_ADDR="192.0.2.7",
    )
    assert response.status_code == 201, response.content
    sha = hashlib.sha256(data).hexdigest()
    assert response.json()["sha256"] == sha

    audit = platform_audit_of_file(portal, "NZL", OPEN_CYCLE, sha)
    received = [a for a in audit if a.what == "received"]
    assert len(received) == 1 and received[0].login == user.username and received[0].ip == "192.0.2.7"
    assert received[0].detail["status"] == "accepted" and received[0].detail["version"] == 1
    assert any(a.what == "upload" and a.login == user.username for a in audit)
    assert platform_audit_of_file(portal, "NZL", OPEN_CYCLE, "0" * 64) == []  # another file: nothing

    lines = platform_audit_lines(types.SimpleNamespace(platform_audit=audit))
    assert lines[0].startswith("  member platform's audit trail")
    assert any(f"received by {user.username} from 192.0.2.7" in line for line in lines), lines
    # The JSON trace carries the same entries, and validates (the model forbids anything else).
    from pmm_pipeline.stages.lineage.trace_model import AuditEntry

    assert all(AuditEntry.model_validate(a.model_dump()) == a for a in audit)


def test_no_platform_database_means_no_audit_and_no_database_made(tmp_path):
    from pmm_pipeline.app.commands import platform_audit_of_file
    from pmm_pipeline_tests.conftest import settings_for

    settings = settings_for(tmp_path / "data")
    assert platform_audit_of_file(settings, "KEN", "2023", "0" * 64) == []
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
