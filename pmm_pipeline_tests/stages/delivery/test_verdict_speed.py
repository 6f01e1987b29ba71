"""The platform's verdict is the same with the fast quality path as with Great Expectations, on a corpus of
sample uploads (every format, quality defects and broken files), in every language."""

import dataclasses
import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.delivery import deliver_upload
from pmm_pipeline.stages.delivery import upload as upload_module
from pmm_pipeline.stages.quality import offline
from pmm_pipeline.stages.sample.generate import generate_sample

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


CYCLE = "2027"
RECEIVED = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)  # inside the 2027 collection window


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = Settings.from_env({})
    reference = load_reference(base.reference_dir, base.cycles_file)
    catalogue = load_catalogue(base.specs_dir)
    landing = tmp_path_factory.mktemp("corpus")
    generate_sample(
        reference,
        catalogue,
        CYCLE,
        landing,
        members=30,
        seed=11,
        formats=("json", "xlsx", "csv"),
        error_share=0.1,
        quality_defect_share=0.3,
    )
    return base, sorted((p.name, p.read_bytes()) for p in landing.rglob("*") if p.is_file())


def _verdicts(base, files, data_dir, lang):
    settings = replace(base, data_dir=data_dir)
    shown = []
    for n, (name, data) in enumerate(files):
        verdict = deliver_upload(
            settings,
            CYCLE,
            name,
            data,
            account="tester",
            member=None,
            received_at=RECEIVED + dt.timedelta(seconds=n),
            lang=lang,
        )
        # Everything shown (titles and what to do in `lang` too), but the landing name: it has a random part.
        record = {k: v for k, v in dataclasses.asdict(verdict).items() if k != "landing_name"}
        shown.append(record)
    return shown


def _file_key(frames: dict[str, pd.DataFrame]) -> tuple:
    """What the gate's findings of one upload depend on besides the cycle: the file (its SHA-256 is the submission
    id) and its receipt time. The landing name and the data folder differ between runs and are not judged."""
    ids = {v for f in frames.values() if "submission_id" in f.columns for v in f["submission_id"].dropna()}
    times = {str(v) for f in frames.values() if "received_at" in f.columns for v in f["received_at"].dropna()}
    assert len(ids) == 1, ids  # one file per verdict
    return tuple(sorted(ids)), tuple(sorted(times))


# Great Expectations' findings of each file, judged once for the three languages: the gate reads no language (it
# takes none), only the verdict's texts are in `lang`, and those are built from these findings in every language.
_GX_FINDINGS: dict[tuple, pd.DataFrame] = {}


def _gx_findings_of_file(frames, reference, catalogue, cycle):
    key = _file_key(frames)
    if key not in _GX_FINDINGS:
        _GX_FINDINGS[key] = offline.gate_findings_of_file(frames, reference, catalogue, cycle, fast=False)
    return _GX_FINDINGS[key].copy()


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_the_verdicts_are_the_same_with_the_fast_path_and_with_great_expectations(corpus, tmp_path, monkeypatch, lang):
    base, files = corpus
    quick = _verdicts(base, files, tmp_path / "fast", lang)
    monkeypatch.setattr(upload_module, "gate_findings_of_file", _gx_findings_of_file)
    slow = _verdicts(base, files, tmp_path / "gx", lang)
    assert quick == slow
    assert {v["status"] for v in quick} == {"accepted", "rejected"}
    assert any(v["findings"] for v in quick)  # the seeded defects were found, so findings were compared
    assert {name.rsplit(".", 1)[-1] for name, _ in files} == {"json", "xlsx", "csv"}


# The platform's process: warmed up at start, then verdicts on uploads of every format and quality defect.
_PLATFORM_PROCESS = """
import datetime as dt, json, sys
from pathlib import Path
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.delivery import deliver_upload, warm_up
settings = Settings.from_env({"PMM_DATA_DIR": sys.argv[1]})
warm_up(settings)
statuses = []
for n, path in enumerate(sorted(Path(sys.argv[2]).iterdir())):
    verdict = deliver_upload(settings, sys.argv[3], path.name, path.read_bytes(), account="tester", member=None,
                             received_at=dt.datetime(2026, 12, 10, 9, 0, n, tzinfo=dt.UTC), lang="en")
    statuses.append(verdict.status)
print(json.dumps({"statuses": statuses, "gx_imported": "great_expectations" in sys.modules}))
"""


@pytest.mark.subprocess
def test_the_platform_never_imports_great_expectations(corpus, tmp_path):
    """~3 s and 270 MB per platform process saved: warm-up and verdicts judge every planned expectation in pandas."""
    import json
    import subprocess
    import sys

    _, files = corpus
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name, data in files[:12]:
        (uploads / name).write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", _PLATFORM_PROCESS, str(tmp_path / "data"), str(uploads), CYCLE],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["statuses"]) == 12 and set(result["statuses"]) <= {"accepted", "rejected"}
    assert "accepted" in result["statuses"]
    assert result["gx_imported"] is False
