"""Issue 18 item 2, in a whole cycle run: hostile member text never renders as markup in any metadata or
check description, check results carry their cycle and the severity of their kind, and the Great
Expectations Data Docs of the run refer to no other host.

The run is the shipped fixture cycle plus two files a hostile sender could deliver: an accepted submission
whose comments and file name carry markdown and HTML, and a broken file with such a name (rejected).
"""

import json
import re
import shutil

import dagster as dg
import pytest

from pmm_pipeline.orchestration.checks import ADMISSION_CHECK, CHECKS, CheckKind
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


CYCLE = "2023"
HOSTILE = "ok | fake cell\nnew row ![x](http://e.example/x.png) [click](http://e.example) <script>alert(1)</script> `c`"
# No "/" in a file name, and no line break: the intake rejects those (test_hostile_files.py); the other name has one.
ACCEPTED_NAME = "AFG | one ![x](x.png) <script>alert(1)<script>.json"
REJECTED_NAME = "TZA | two\r\n![y](y.png)<img src=x onerror=alert(2)>.json"

IMAGE_LINK = re.compile(r"(?<!\\)!(?<!\\)\[[^\]]*(?<!\\)\]\(")  # ![alt](, none of it escaped
LINK = re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(")
RAW_TAG = re.compile(r"<\s*(script|img|iframe|a\b)", re.IGNORECASE)
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def hostile_submission() -> dict:
    answers = [
        {"item": "declarations_total", "year": 2022, "value": 1000, "comment": HOSTILE},
        # Above its whole: a blocking finding, so AFG appears in the quality checks' previews too.
        {"item": "declarations_electronic", "year": 2022, "value": 1500, "comment": HOSTILE},
        {"item": "pca_controls_total", "year": 2022, "status": "not_applicable", "comment": HOSTILE},
    ]
    return {
        "format": "pmm-submission",
        "format_version": 1,
        "member": "AFG",
        "cycle": CYCLE,
        "submitted_at": "2024-01-20T10:00:00Z",
        "answers": answers,
        "disclosure": {},
    }


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("hostile")
    landing = data_dir / "landing" / CYCLE
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", landing)
    (landing / ACCEPTED_NAME).write_text(json.dumps(hostile_submission()))
    (landing / REJECTED_NAME).write_text('{"format": "pmm-submission", ')
    settings = settings_for(data_dir)
    return settings, run_cycle_in_process(settings, CYCLE)


def metadata_of_the_run(result) -> list[tuple[str, str, dg.MetadataValue]]:
    """(event, key, value) for every materialization's and check's metadata of the run."""
    found = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            found += [(materialization.asset_key.to_user_string(), k, v) for k, v in materialization.metadata.items()]
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            found += [(f"check {check.check_name}", k, v) for k, v in check.metadata.items()]
    return found


def check_descriptions(result) -> dict[str, str]:
    return {e.check_name: e.description or "" for e in result.get_asset_check_evaluations()}


def _cells(line: str) -> int:
    return len(UNESCAPED_PIPE.findall(line.replace("\\\\", "")))


def broken_table_rows(md: str) -> list[str]:
    """Rows of a markdown table with another number of cells than its header, or text that split a row."""
    problems = []
    lines = md.splitlines()
    header = None
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            header = None
            continue
        header = header or line
        if _cells(line) != _cells(header):
            problems.append(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        # A table row is followed by another row, a blank line or a note of ours ("… n more rows").
        if following and not following.startswith(("|", "…")):
            problems.append(following)
    return problems


def test_the_run_succeeds_and_the_hostile_text_reached_the_metadata(hostile_run):
    _, result = hostile_run
    assert result.success
    texts = [v.value for _, _, v in metadata_of_the_run(result) if isinstance(v, dg.MarkdownMetadataValue)]
    # Not a vacuous test: the name and the comments are in the previews, escaped.
    assert any("AFG \\| one" in md and "&lt;script&gt;" in md for md in texts)
    assert any("TZA \\| two" in md for md in texts)
    assert any("ok \\| fake cell new row \\!\\[x\\]" in md for md in texts)


def test_member_text_never_renders_as_markup_in_any_metadata(hostile_run):
    _, result = hostile_run
    problems = []
    for where, key, value in metadata_of_the_run(result):
        if isinstance(value, dg.MarkdownMetadataValue):
            md = value.value
            problems += [(where, key, "image link", m) for m in IMAGE_LINK.findall(md)]
            problems += [(where, key, "link", m) for m in LINK.findall(md)]
            problems += [(where, key, "html", m) for m in RAW_TAG.findall(md)]
            problems += [(where, key, "row", row) for row in broken_table_rows(md)]
        elif isinstance(value, dg.TextMetadataValue):
            problems += [(where, key, "html", m) for m in RAW_TAG.findall(value.value or "")]
    assert problems == []


def test_check_descriptions_render_as_text(hostile_run):
    _, result = hostile_run
    for name, description in check_descriptions(result).items():
        assert "\n" not in description, name
        assert not IMAGE_LINK.search(description) and not LINK.search(description), name
        assert not RAW_TAG.search(description), name


def test_every_check_result_carries_its_cycle_and_the_severity_of_its_kind(hostile_run):
    _, result = hostile_run
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == set(CHECKS)
    for e in evaluations:
        assert e.partition == CYCLE, e.check_name
        assert e.severity == CHECKS[e.check_name].severity, e.check_name
    by_name = {e.check_name: e for e in evaluations}
    # AFG's electronic declarations above the total: a data finding, recorded and acted on, not an error.
    part = by_name["part_not_above_whole"]
    assert not part.passed and part.severity == dg.AssetCheckSeverity.WARN
    assert part.description.startswith("1 finding in members' data recorded (1 member); 1 member blocked")
    assert "AFG" in part.metadata["members_blocked"].value
    # ... and the gate kept its promise: the guarantee passed.
    assert by_name[ADMISSION_CHECK].passed
    # Every guarantee evaluated, each of the row-key checks (one name, many assets) included.
    broken = [
        e.asset_check_key for e in evaluations if CHECKS[e.check_name].kind is CheckKind.guarantee and not e.passed
    ]
    assert broken == []


EXTERNAL = re.compile(rb"https?://([^/\s\"'<>:)]+)", re.IGNORECASE)


def test_the_data_docs_of_the_run_refer_to_no_other_host_and_render_locally(hostile_run):
    settings, result = hostile_run
    site = settings.layout.quality_dir(CYCLE) / result.run_id
    files = [p for p in site.rglob("*") if p.is_file()]
    pages = [p for p in files if p.suffix == ".html"]
    assert len(pages) >= 3  # the index, a suite, a validation result
    hosts = {
        str(p.relative_to(site)): sorted({h.decode() for h in EXTERNAL.findall(p.read_bytes())} - {b"127.0.0.1"})
        for p in files
    }
    assert {name: found for name, found in hosts.items() if found} == {}
    for page in pages:
        html = page.read_text()
        assert 'id="pmm-offline-styles"' in html and 'id="pmm-offline-styles-script"' in html, page
        # Every local reference of a page resolves to a file of the site.
        for ref in re.findall(r"""(?:href|src)=["']([^"'#?]+)""", html):
            assert (page.parent / ref).resolve().is_file(), (page, ref)
    validation = next(p for p in pages if "validations" in p.parts).read_text()
    assert "Expectation Validation Result" in validation and "part_not_above_whole" in validation
