"""The command line for operators: step progress of `pmm run`, `pmm status`, `pmm list`, `--version`, help on every
option, forgiving ids (case ignored, near misses suggested), and the one UI port setting."""

import argparse
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pmm_pipeline.app.cli import build_parser, main
from pmm_pipeline.app.progress import StepProgress, run_url, terminal_stream
from pmm_pipeline.core.choices import LIST_ALL_UP_TO, UnknownChoice, choose, edit_distance, nearest
from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.core.settings import DEFAULT_UI_PORT, Settings
from pmm_pipeline.core.text import printable
from pmm_pipeline.specs.reference.models import CollectionWindow, Cycle
from pmm_pipeline.stages.collection.cycle_status import (
    WarehouseRows,
    build_status,
    cycle_state,
    render_status,
)
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for, slow_fixture
from pmm_pipeline_tests.paths import CHECKOUT

PMM = str(Path(sys.executable).parent / "pmm")


# --- forgiving ids ----------------------------------------------------------------------------------------
MEMBERS = ["KEN", "MNE", "NER", "SEN", "UGA", "FRA", "DEU", "BRA"]


@pytest.mark.parametrize("typed", ["ken", "Ken", " KEN ", "KEN"])
def test_member_codes_are_case_insensitive(typed):
    assert choose("member", typed, MEMBERS) == "KEN"


def test_a_near_miss_is_suggested_best_first_and_few_known_ids_are_listed():
    with pytest.raises(UnknownChoice) as err:
        choose("member", "KNE", MEMBERS)
    # A swap of two neighbours is one edit and the same letters: KEN comes before MNE (one substitution).
    assert err.value.suggestions[0] == "KEN"
    message = str(err.value)
    assert message.startswith("unknown member 'KNE' (did you mean KEN")
    assert "known: " + ", ".join(sorted(MEMBERS)) in message and "\n" not in message


def test_many_known_ids_give_the_hint_instead_of_the_whole_list():
    known = [f"kpi_{i:02d}" for i in range(LIST_ALL_UP_TO + 5)]
    with pytest.raises(UnknownChoice) as err:
        choose("KPI", "kpi_1", known, hint="see `pmm list kpis`")
    assert "see `pmm list kpis`" in str(err.value) and "known:" not in str(err.value)
    assert err.value.suggestions and all(s.startswith("kpi_") for s in err.value.suggestions)


def test_ids_differing_only_in_case_need_the_exact_spelling():
    assert choose("cycle", "Ab", ["Ab", "aB"]) == "Ab"
    with pytest.raises(UnknownChoice) as err:
        choose("cycle", "ab", ["Ab", "aB"])
    assert "unknown cycle 'ab'" in str(err.value)


def test_a_part_of_an_id_finds_the_ids_containing_it():
    assert set(nearest("electronic", ["electronic_declaration_rate", "electronic_payment_rate", "aeo_count"])) == {
        "electronic_declaration_rate",
        "electronic_payment_rate",
    }
    assert nearest("", ["a"]) == []


@pytest.mark.parametrize(
    "a,b,distance",
    [
        ("KEN", "KNE", 1),
        ("KEN", "KEN", 0),
        ("KEN", "MNE", 2),
        ("", "ab", 2),
        ("abc", "acb", 1),
        ("kitten", "sitting", 3),
    ],
)
def test_edit_distance_counts_a_swap_as_one(a, b, distance):
    assert edit_distance(a, b) == distance


# --- help and parser errors -----------------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser, path=("pmm",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))


def test_every_command_and_option_has_help_and_every_command_an_example():
    commands = list(_subparsers(build_parser()))
    assert {" ".join(p) for p, _ in commands} >= {"pmm run", "pmm status", "pmm list", "pmm specs check"}
    for path, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                assert all(a.help for a in action._choices_actions), path
                continue
            assert action.help and action.help.strip(), f"{' '.join(path)} {action.option_strings or action.dest}"
        epilog = parser.epilog or ""
        assert epilog.startswith("examples:"), path
        example_prefix = " ".join(path) if len(path) > 1 else "pmm"
        assert f"  {example_prefix}" in epilog, path
        assert "examples:" in parser.format_help()  # kept, not reflowed away


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["lsit", "cycles"], "unknown command 'lsit' (did you mean list?)"),
        (["list", "cycle"], "unknown list 'cycle' (did you mean cycles?)"),
        (["specs", "chek"], "unknown command 'chek' (did you mean check?)"),
        (
            ["template", "--cycle", "2023", "--member", "KEN", "--lang", "de", "--output", "x.xlsx"],
            "unknown language 'de'; known: en, es, fr",
        ),
        (["status", "--cycle", "2023", "--as-of", "yesterday"], "is not a date"),
        (["run"], "--cycle"),
    ],
)
def test_parser_errors_are_one_line_with_suggestions(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_the_language_is_case_insensitive(tmp_path, capsys):
    output = tmp_path / "KEN.xlsx"
    assert main(["template", "--cycle", "2023", "--member", "ken", "--lang", "FR", "--output", str(output)]) == 0
    import openpyxl

    assert openpyxl.load_workbook(output).sheetnames[0] == "Couverture"
    assert "questionnaire of KEN" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["sample", "--cycle", "2023", "--format", "json,jsno"], "unknown format 'jsno' (did you mean json?)"),
        (["sample", "--cycle", "2O23"], "unknown cycle '2O23' (did you mean 2023?); known: 2023, 2025"),
        (
            ["template", "--cycle", "2023", "--member", "KNE", "--output", "x.xlsx"],
            "unknown member 'KNE' (did you mean KEN",
        ),
        (
            ["trace", "--cycle", "2023", "--member", "KEN", "--kpi", "electronic_declaration_rat"],
            "(did you mean electronic_declaration_rate",
        ),
        (["sample", "--cycle", "2023", "--quality-defect-share", "3"], "--quality-defect-share"),
    ],
)
def test_unknown_ids_are_one_line_errors_naming_the_nearest(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PMM_DATA_DIR", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1 and err.startswith("pmm: error:")


def test_an_unknown_kpi_lists_the_known_ones(capsys, tmp_path, monkeypatch, catalogue):
    monkeypatch.setenv("PMM_DATA_DIR", str(tmp_path))
    assert main(["trace", "--cycle", "2023", "--member", "KEN", "--kpi", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown KPI 'nope'" in err and "known: " + ", ".join(sorted(catalogue.kpis)) in err


@pytest.mark.subprocess
def test_version_prints_the_package_and_the_recorded_code_version():
    done = subprocess.run([PMM, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert metadata.version("pmm_pipeline") in done.stdout and code_version() in done.stdout


def test_a_bad_setting_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setenv("PMM_UI_PORT", "70000")
    assert main(["list", "cycles"]) == 2
    err = capsys.readouterr().err
    assert "PMM_UI_PORT" in err and len(err.strip().splitlines()) == 1


# --- the UI's address: one setting for make dev and pmm run ---------------------------------------------
def test_ui_url_comes_from_pmm_ui_port_or_pmm_ui_url():
    assert Settings.from_env({}).ui_url == f"http://127.0.0.1:{DEFAULT_UI_PORT}"
    assert Settings.from_env({"PMM_UI_PORT": "3999"}).ui_url == "http://127.0.0.1:3999"
    assert Settings.from_env({"PMM_UI_URL": "https://dagster.example.org/pmm/"}).ui_url == (
        "https://dagster.example.org/pmm"
    )
    for bad in ({"PMM_UI_PORT": "0"}, {"PMM_UI_PORT": "http"}, {"PMM_UI_URL": "javascript:alert(1)"}):
        with pytest.raises(ValueError, match="PMM_UI_"):
            Settings.from_env(bad)
    assert run_url("http://127.0.0.1:3000/", "abc") == "http://127.0.0.1:3000/runs/abc"


def test_make_dev_serves_on_the_port_pmm_run_links_to():
    makefile = (CHECKOUT / "Makefile").read_text()
    default = re.search(r"^export PMM_UI_PORT \?= (\d+)$", makefile, re.MULTILINE)
    assert default and int(default[1]) == DEFAULT_UI_PORT
    dev = makefile[makefile.index("\ndev:") :]
    assert "-p $(PMM_UI_PORT)" in dev.split("\n\n")[0]
    assert "$(PORT)" not in makefile  # no second port setting


# --- progress ---------------------------------------------------------------------------------------------
@dg.op
def warn_first(context):
    context.log.warning("a warning while the step runs")
    return 1


@dg.op(out=dg.Out(is_required=False))
def yields_nothing(_x):
    return
    yield  # a generator op that produces no output: the step after it is skipped


@dg.op
def after_nothing(y):
    return y


@dg.op(retry_policy=dg.RetryPolicy(max_retries=1))
def retried_once(context, x):
    if context.retry_number == 0:
        raise dg.RetryRequested(max_retries=1)
    return x


@dg.op
def fails(_x):
    raise ValueError("boom")


@dg.job
def demo_job():
    a = warn_first()
    after_nothing(yields_nothing(a))
    retried_once(a)
    fails(a)


def _run_with(listener) -> tuple[str, dg.ExecuteInProcessResult]:
    instance = dg.DagsterInstance.ephemeral()
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, listener)
    result = demo_job.execute_in_process(
        instance=instance,
        run_id=run_id,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    return run_id, result


@pytest.mark.cycle
def test_progress_shows_each_step_as_it_starts_and_ends():
    out = io.StringIO()
    progress = StepProgress(out, ui_url="http://127.0.0.1:3999")
    run_id, result = _run_with(progress)
    progress.finish()
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0] == f"run {run_id} started; follow it in the Dagster UI: http://127.0.0.1:3999/runs/{run_id}"
    steps = {e.step_key for e in result.all_events if e.step_key}
    total = len(steps)
    assert total == 5
    messages = [line for line in lines[1:] if line.startswith(("warning: ", "error: ", "    "))]
    numbered = [re.match(r"\[(\d+)/(\d+)\] (\w+)", line) for line in lines[1:] if line not in messages]
    assert all(numbered) and messages, lines
    assert {int(m[2]) for m in numbered} == {total}
    assert {int(m[1]) for m in numbered} == set(range(1, total + 1))
    assert {m[3] for m in numbered} == steps
    # The warning ends the open line and is a line of its own; the step's end is then a line of its own.
    assert "[1/5] warn_first ...\nwarning: warn_first: a warning while the step runs\n[1/5] warn_first ... " in text
    # The failure is the step's line, not a message again; the run's failure is a message.
    assert not re.search(r"^error: fails:", text, re.MULTILINE)
    assert re.search(r"^error: Execution of run for \"demo_job\" failed", text, re.MULTILINE)
    assert re.search(r"\] after_nothing skipped: ", text)
    assert re.search(r"\] retried_once ... failed after \d+\.\d s, will be retried\n", text)
    assert re.search(r"\] retried_once \(attempt 2\) ... \d+\.\d s\n", text)
    assert re.search(r"\] fails ... FAILED after \d+\.\d s\n", text)
    assert progress.ended == {
        "warn_first": "succeeded",
        "yields_nothing": "succeeded",
        "after_nothing": "skipped",
        "retried_once": "succeeded",
        "fails": "failed",
    }
    assert text.endswith("\n")


@pytest.mark.cycle
def test_a_step_without_warnings_is_one_line_completed_in_place():
    out = io.StringIO()
    progress = StepProgress(out, console_level=logging.CRITICAL + 1)
    _run_with(progress)
    assert re.search(r"^\[1/5\] warn_first ... \d+\.\d s$", out.getvalue(), re.MULTILINE)


@pytest.mark.cycle
def test_quiet_progress_prints_only_the_messages():
    out = io.StringIO()
    _run_with(StepProgress(out, ui_url="http://x", steps=False))
    lines = out.getvalue().splitlines()
    assert lines[0] == "warning: warn_first: a warning while the step runs"
    assert all(line.startswith(("warning: ", "error: ", "    ")) for line in lines), lines


def test_terminal_stream_reaches_the_terminal_while_its_descriptor_is_redirected(tmp_path):
    """Dagster points fd 2 at the run's compute-log file during a run; a line written through the
    duplicate taken before is on the terminal at once, not in that file (and not lost with its tail)."""
    terminal_file, redirected = tmp_path / "terminal", tmp_path / "compute.log"
    with open(terminal_file, "w") as terminal, open(redirected, "w") as log:
        duplicate = terminal_stream(terminal)
        saved = os.dup(terminal.fileno())
        os.dup2(log.fileno(), terminal.fileno())  # what Dagster's redirect_stream does
        try:
            duplicate.write("[19/19] last_step ... 0.1 s\n")
            terminal.write("through the redirected descriptor\n")
            terminal.flush()
        finally:
            os.dup2(saved, terminal.fileno())
            os.close(saved)
            duplicate.close()
    assert terminal_file.read_text() == "[19/19] last_step ... 0.1 s\n"
    assert redirected.read_text() == "through the redirected descriptor\n"
    assert terminal_stream(out := io.StringIO()) is out


@pytest.mark.cycle
def test_progress_that_cannot_write_never_fails_the_run():
    class Closed(io.StringIO):
        def write(self, _text):
            raise BrokenPipeError("the terminal went away")

    progress = StepProgress(Closed(), ui_url="http://x")
    _, result = _run_with(progress)
    progress.finish()
    assert progress.broken
    assert {e.step_key for e in result.all_events if e.is_step_success} == {
        "warn_first",
        "yields_nothing",
        "retried_once",
    }


@pytest.mark.cycle
def test_progress_is_flushed_as_it_goes():
    flushed = []

    class Recording(io.StringIO):
        def flush(self):
            flushed.append(self.getvalue())

    out = Recording()
    _run_with(StepProgress(out))
    # The start of the first step was on the stream (flushed) before that step ended.
    assert any(v.endswith("[1/5] warn_first ...") for v in flushed)


def test_run_cycle_reports_every_step_of_the_cycle_job(fixture_cycle_with_problems):
    settings, _ = fixture_cycle_with_problems
    from pmm_pipeline.app.run import run_cycle

    out = io.StringIO()
    progress = StepProgress(out)
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_cycle(settings, "2023", instance=instance, on_event=progress)
        planned = {e.step_key for e in instance.all_logs(outcome.run_id) if e.step_key}
    assert outcome.success
    lines = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    totals = {int(re.match(r"\[\d+/(\d+)\]", line)[1]) for line in lines}
    assert totals == {len(planned)} and set(progress.ended) == planned
    assert set(progress.ended.values()) == {"succeeded"}
    assert outcome.summary["feedback reports written"] >= 1


# --- status -----------------------------------------------------------------------------------------------
def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


CYCLE = Cycle(
    id="x",
    reporting_year=2022,
    collection=CollectionWindow(opens=_day("2024-01-10"), closes=_day("2024-03-31")),
    publication_date=_day("2025-01-15"),
    catalogue_version="1.0",
)


@pytest.mark.parametrize(
    "cycle,day,state",
    [
        (CYCLE, "2024-01-09", "not yet open"),
        (CYCLE, "2024-01-10", "open"),
        (CYCLE, "2024-03-31", "open"),
        (CYCLE, "2024-04-01", "closed"),
        (CYCLE.model_copy(update={"reopened_until": _day("2024-05-01")}), "2024-04-01", "reopened"),
        (CYCLE.model_copy(update={"reopened_until": _day("2024-05-01")}), "2024-05-01", "reopened"),
        (CYCLE.model_copy(update={"reopened_until": _day("2024-05-01")}), "2024-05-02", "closed"),
    ],
)
def test_cycle_state(cycle, day, state):
    assert cycle_state(cycle, _day(day)) == state


# ITA sends electronic declarations above all declarations (blocked by the gate); a file with a terminal escape
# sequence in its name is rejected, and its name must not act on the terminal of whoever reads the status.
BLOCKED = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "ITA",
    "cycle": "2023",
    "submitted_at": "2024-02-01T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 100},
        {"item": "declarations_electronic", "year": 2022, "value": 150},
    ],
}
HOSTILE_NAME = "ITA_\x1b[31mred.json"


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def fixture_cycle_with_problems(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("status_data")
    landing = data_dir / "landing" / "2023"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", landing)
    (landing / "ITA.json").write_text(json.dumps(BLOCKED))
    (landing / HOSTILE_NAME).write_text("{not json")
    settings = settings_for(data_dir)
    result = run_cycle_in_process(settings, "2023")
    assert result.success
    return settings, result


@pytest.fixture()
def in_data_dir(fixture_cycle_with_problems, monkeypatch):
    settings, _ = fixture_cycle_with_problems
    monkeypatch.setenv("PMM_DATA_DIR", str(settings.data_dir))
    return settings


def _warehouse(settings, sql: str, params=()):
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def test_status_json_agrees_with_the_collection_status_and_the_gate(in_data_dir, capsys):
    settings = in_data_dir
    before = hashlib.sha256(settings.layout.warehouse_path.read_bytes()).hexdigest()
    assert main(["status", "--cycle", "2023", "--json", "--as-of", "2024-02-15"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert hashlib.sha256(settings.layout.warehouse_path.read_bytes()).hexdigest() == before  # read-only
    assert status["format"] == "pmm-cycle-status" and status["cycle"] == "2023"
    assert status["state"] == "open" and status["dates"]["closes"] == "2024-03-31"
    # Every figure equals the collection.completeness asset's, computed by the pipeline's own SQL.
    completeness = {
        code: (expected, received, used, outstanding)
        for code, expected, received, used, outstanding in _warehouse(
            settings,
            "SELECT group_code, members_expected, members_received, members_participating, members_outstanding"
            " FROM collection.completeness WHERE cycle = '2023'",
        )
    }
    groups = [*status["regions"], status["total"]]
    assert {g["group_code"]: (g["expected"], g["received"], g["used"], g["outstanding"]) for g in groups} == (
        completeness
    )
    outstanding = {
        m
        for (m,) in _warehouse(settings, "SELECT member_code FROM collection.outstanding_members WHERE cycle = '2023'")
    }
    assert {m for g in status["regions"] for m in g["outstanding_members"]} == outstanding
    assert all(len(g["outstanding_members"]) == g["outstanding"] for g in groups)
    # Blocked: the gate's members, with the rules of their blocking findings.
    blocked = {
        m
        for (m,) in _warehouse(
            settings, "SELECT member_code FROM quality.member_summary WHERE cycle = '2023' AND NOT is_admitted"
        )
    }
    assert "ITA" in blocked and {b["member"] for b in status["blocked"]} == blocked
    ita = next(b for b in status["blocked"] if b["member"] == "ITA")
    rules = {
        r
        for (r,) in _warehouse(
            settings,
            "SELECT rule FROM quality.findings WHERE cycle = '2023' AND member_code = 'ITA' AND severity = 'blocking'",
        )
    }
    assert set(ita["rules"]) == rules and rules and ita["region"] == "EUR"
    # Rejected files, by reason, as raw.rejections has them.
    rejected = _warehouse(settings, "SELECT reason_code, file_name FROM raw.rejections WHERE cycle = '2023'")
    assert {(r["reason_code"], f["file_name"]) for r in status["rejected_files"] for f in r["files"]} == set(rejected)
    assert sum(r["count"] for r in status["rejected_files"]) == len(rejected)
    assert any(f["file_name"].startswith("ITA_") for r in status["rejected_files"] for f in r["files"])


def test_status_text_for_a_person(in_data_dir, capsys):
    assert main(["status", "--cycle", "2023", "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cycle 2023 (reporting year 2022, catalogue 1.0): closed on 2026-01-01")
    assert re.search(r"^  all +\d+ +\d+ +\d+ +\d+$", out, re.MULTILINE)
    rules = {
        r
        for (r,) in _warehouse(
            in_data_dir,
            "SELECT rule FROM quality.findings WHERE cycle = '2023' AND member_code = 'ITA' AND severity = 'blocking'",
        )
    }
    line = next(line for line in out.splitlines() if line.startswith("    ITA: "))
    assert rules and all(rule in line for rule in rules)
    assert "\x1b" not in out and "ITA_" in out


def test_text_from_files_cannot_act_on_the_terminal(reference):
    rows = WarehouseRows(
        members=[("ITA", "EUR", True)],
        received={"ITA"},
        blocking=[("ITA", "part_not_above_whole", "declarations_electronic\x1b]0;owned\x07", 2022, "m")],
        rejections=[("not_json", "ITA_\x1b[31mred\r\n.json", "ITA")],
    )
    status = build_status(reference, reference.cycles.get("2023"), rows, _day("2024-02-01"), "w")
    out = render_status(status)
    assert not any(ch in out for ch in "\x1b\x07\r") and "ITA_\\x1b[31mred\\x0d\\x0a.json" in out
    assert printable("Côte d’Ivoire: 12 | ok") == "Côte d’Ivoire: 12 | ok"  # letters and punctuation kept


def test_status_of_a_cycle_never_run_is_a_one_line_error(in_data_dir, capsys, tmp_path, monkeypatch):
    assert main(["status", "--cycle", "2025"]) == 2
    err = capsys.readouterr().err
    assert "cycle 2025 has not been run yet" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("PMM_DATA_DIR", str(tmp_path / "empty"))
    assert main(["status", "--cycle", "2023"]) == 2
    err = capsys.readouterr().err
    assert "has not been run yet" in err and "no warehouse" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "empty").exists()  # asking created nothing


@pytest.mark.parametrize("content", [b"not a duckdb file at all" * 100, b""])
def test_status_of_an_unreadable_warehouse_is_a_one_line_error(content, tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(content)
    monkeypatch.setenv("PMM_DATA_DIR", str(tmp_path))
    assert main(["status", "--cycle", "2023"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pmm: error:") and len(err.strip().splitlines()) == 1
    assert warehouse.read_bytes() == content  # read-only: left as it was


@pytest.mark.parametrize("wait", ["-1", "nan"])
def test_status_wait_must_be_seconds(wait, in_data_dir, capsys):
    assert main(["status", "--cycle", "2023", "--wait", wait]) == 2
    assert "--wait" in capsys.readouterr().err


def test_status_waits_for_a_run_holding_the_warehouse_then_says_who(in_data_dir, capsys):
    from pmm_pipeline.warehouse.connection import warehouse_turn

    settings = in_data_dir
    holding, release = threading.Event(), threading.Event()

    def hold():
        with warehouse_turn(settings.layout.warehouse_path, 5, "run abc-123"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(5)
        assert main(["status", "--cycle", "2023", "--wait", "0.3"]) == 2
    finally:
        release.set()
        holder.join()
    err = capsys.readouterr().err
    assert "in use" in err and "run abc-123" in err
    assert err.strip().splitlines()[-1].startswith("pmm: error:")


def test_member_codes_are_case_insensitive_in_trace(in_data_dir, capsys):
    assert main(["trace", "--cycle", "2023", "--member", "KEN", "--kpi", "aeo_count_variation"]) == 0
    upper = capsys.readouterr().out
    assert main(["trace", "--cycle", "2023", "--member", "ken", "--kpi", "AEO_count_variation"]) == 0
    assert capsys.readouterr().out == upper and "member KEN" in upper


# --- list -------------------------------------------------------------------------------------------------
def test_list_cycles_is_the_cycles_configuration(reference, capsys):
    assert main(["list", "cycles", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == reference.cycles.ids
    assert [r["catalogue_version"] for r in rows] == [c.catalogue_version for c in reference.cycles.cycles]
    assert main(["list", "cycles"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[0] == "id" and [line.split()[0] for line in table[1:]] == reference.cycles.ids


def test_list_members_of_a_cycle_with_region_and_language(reference, capsys):
    cycle = reference.cycles.get("2023")
    assert main(["list", "members", "--cycle", "2023", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    in_force = reference.members_in_force(cycle)
    assert {r["code"]: (r["region"], r["language"]) for r in rows} == {
        code: (m.region_code, m.language) for code, m in in_force.items()
    }


def test_list_members_without_a_cycle_are_those_in_force_that_day(reference):
    from pmm_pipeline.app.listing import list_members

    today = _day("2026-06-01")
    rows = list_members(reference, None, today)
    assert [r["code"] for r in rows] == sorted(m.member_code for m in reference.memberships if m.in_force_on(today))
    assert list_members(reference, None, _day("1900-01-01")) == []


def test_status_text_wraps_outstanding_codes_under_their_column(reference):
    codes = [f"Z{i:02d}" for i in range(30)]
    rows = WarehouseRows(members=[(c, "EUR", False) for c in codes], received=set(), blocking=None, rejections=[])
    out = render_status(build_status(reference, reference.cycles.get("2023"), rows, _day("2024-02-01"), "w"))
    table = [line for line in out.splitlines() if line.startswith("  EUR") or line.startswith("       ")]
    assert len(table) >= 3 and max(len(line) for line in table) <= 100
    assert " ".join(line.split("  ")[-1].strip() for line in table).split() == codes
    assert "quality gate: not run yet" in out and "files rejected: none" in out


def test_list_kpis_of_a_cycle_follow_its_catalogue_version(reference, catalogue, capsys):
    for cycle in reference.cycles.cycles:
        assert main(["list", "kpis", "--cycle", cycle.id.lower(), "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {r["id"] for r in rows} == {k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)}
        assert all(r["shape"] == catalogue.kpis[r["id"]].shape.value for r in rows)
    assert main(["list", "kpis"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(catalogue.kpis) + 1


@pytest.mark.subprocess
def test_list_and_version_through_the_installed_command(tmp_path):
    env = {**os.environ, "PMM_DATA_DIR": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1"}
    done = subprocess.run([PMM, "list", "members"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and re.search(r"^KEN +Kenya +ESA +en$", done.stdout, re.MULTILINE)


def test_settings_replace_keeps_the_ui_url():
    # Tests build settings with dataclasses.replace: the new field has a default and survives it.
    assert replace(Settings.from_env({}), data_dir=Path("/tmp")).ui_url == f"http://127.0.0.1:{DEFAULT_UI_PORT}"


@pytest.mark.parametrize("quiet", [False, True])
def test_run_shows_progress_unless_quiet_and_ends_with_the_link(quiet, tmp_path, monkeypatch, capsys):
    from pmm_pipeline.app import run as run_module

    seen = {}

    def fake_run_cycle(settings, cycle, instance=None, on_event=None, **_):
        seen["on_event"], seen["cycle"] = on_event, cycle
        return run_module.RunOutcome(cycle=cycle, run_id="r-1", success=True)

    monkeypatch.setattr(run_module, "run_cycle", fake_run_cycle)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    monkeypatch.setenv("PMM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PMM_UI_URL", "https://ui.example.org")
    assert main(["run", "--cycle", "2023", *(["--quiet"] if quiet else [])]) == 0
    # With --quiet the listener still prints warnings and errors (Dagster's console logger is turned down).
    assert seen["cycle"] == "2023" and isinstance(seen["on_event"], StepProgress)
    assert seen["on_event"].steps is not quiet
    assert capsys.readouterr().out.rstrip().endswith("run in the Dagster UI: https://ui.example.org/runs/r-1")
