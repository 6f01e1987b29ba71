"""The suite's own habits (conftest.py): how a test gets its kind, the guard that keeps `unit` tests fast, and the
groups pytest-xdist workers run so that each expensive fixture is built once."""

import multiprocessing
import re
import subprocess
import sys
from types import SimpleNamespace

import dagster as dg
import pytest

from pmm_pipeline_tests.conftest import SlowUnitTestError, heaviest_groups_first, slow_fixture, worker_groups


def test_a_test_of_no_slow_kind_is_unit(request):
    assert request.node.get_closest_marker("unit")
    assert not any(request.node.get_closest_marker(k) for k in ("cycle", "subprocess", "browser", "postgres", "slow"))


def test_a_unit_test_that_starts_a_process_fails_naming_the_marker():
    with pytest.raises(SlowUnitTestError, match=r"test_test_kinds.py::.* but starts a process: mark it @pytest.mark"):
        subprocess.run(["true"], check=False)


def test_a_unit_test_that_starts_a_worker_process_fails():
    with pytest.raises(SlowUnitTestError, match="starts a worker process: mark it @pytest.mark.subprocess"):
        multiprocessing.get_context("spawn").Process(target=print).start()


def test_a_unit_test_that_runs_dagster_fails_before_the_run():
    ran = []

    @dg.asset
    def anything():
        ran.append(1)

    with pytest.raises(SlowUnitTestError, match="runs a Dagster job or assets: mark it @pytest.mark.cycle"):
        dg.materialize([anything])
    assert ran == []


@pytest.mark.subprocess
def test_a_test_marked_slow_may_start_processes(request):
    assert not request.node.get_closest_marker("unit")
    assert subprocess.run(["true"], check=False).returncode == 0


def test_only_known_kinds_can_be_declared():
    with pytest.raises(AssertionError, match="unknown test kind"):
        slow_fixture("sluggish")


def _item(nodeid: str, *fixtures: tuple[str, str, tuple[str, ...]]):
    """A stand-in for a collected test: its node id and the (name, scope, kinds) of the fixtures it uses."""

    def definition(name, scope, kinds):
        func = slow_fixture(*kinds)(lambda: None) if kinds else (lambda: None)
        return SimpleNamespace(argname=name, scope=scope, func=func)

    defs = {name: [definition(name, scope, kinds)] for name, scope, kinds in fixtures}
    return SimpleNamespace(
        nodeid=nodeid, _fixtureinfo=SimpleNamespace(name2fixturedefs=defs), iter_markers=lambda: iter(())
    )


def test_modules_sharing_a_slow_session_fixture_are_one_worker_group():
    shared = ("fixture_cycle", "session", ("cycle",))
    other = ("released_once_workspace", "session", ("cycle",))
    a1, a2, b1, c1, d1, e1, f1 = worker_groups(
        [
            _item("t/test_a.py::one", shared),
            _item("t/test_a.py::two"),  # same module: same group, so its module fixtures are built once
            _item("t/test_b.py::one", ("tmp_path", "function", ()), shared),
            _item("t/test_c.py::one", ("defective_cycle", "module", ("cycle",))),  # module-scoped: its own group
            _item("t/test_d.py::one", other),
            _item("t/test_e.py::one", other, ("catalogue", "session", ())),  # a cheap session fixture joins nothing
            _item("t/test_f.py::one", ("catalogue", "session", ())),
        ]
    )
    assert a1 == a2 == b1
    assert d1 == e1 != a1
    assert len({a1, c1, d1, f1}) == 4


def test_a_module_in_a_folder_is_its_own_worker_group_and_joins_by_its_session_fixtures():
    """The tree mirrors the package: node ids name folders, and two modules of one name in two folders are two."""
    shared = ("fixture_cycle", "session", ("cycle",))
    a1, a2, b1, c1 = worker_groups(
        [
            _item("t/stages/ingestion/test_a.py::one"),
            _item("t/stages/ingestion/test_a.py::two[x::y]"),  # a parameter id holding "::" is still this module
            _item("t/portal/test_a.py::one", shared),
            _item("t/end_to_end/test_b.py::one", shared),
        ]
    )
    assert a1 == a2 == "t/stages/ingestion/test_a.py"
    assert b1 == c1 != a1


def test_the_costliest_groups_come_first_each_together_and_in_order(request):
    """A module of two tests that each start a server outranks many tests sharing one session run, which outrank
    unit tests; and xdist is told to keep that order."""
    cycle = ("fixture_cycle", "session", ("cycle",))
    server = ("server", "module", ("subprocess",))
    items = [
        _item("t/test_a.py::one"),
        _item("t/test_b.py::one", cycle),
        _item("t/test_a.py::two"),
        _item("t/test_c.py::one", server),
        _item("t/test_b.py::two", cycle),
        _item("t/test_d.py::one", cycle),
        _item("t/test_c.py::two", server),
    ]
    ordered, groups = heaviest_groups_first(items, worker_groups(items))
    assert [i.nodeid.removeprefix("t/") for i in ordered] == [
        "test_c.py::one",
        "test_c.py::two",
        "test_b.py::one",
        "test_b.py::two",
        "test_d.py::one",
        "test_a.py::one",
        "test_a.py::two",
    ]
    assert groups == worker_groups(ordered)
    if request.config.pluginmanager.hasplugin("xdist"):
        assert request.config.option.loadscopereorder is False


@pytest.mark.subprocess
def test_the_tests_of_one_module_run_on_one_worker(tmp_path):
    """The groups reach the workers: `--dist` reads "no" inside a worker, where xdist reads the marks."""
    (tmp_path / "conftest.py").write_text("from pmm_pipeline_tests.conftest import pytest_collection_modifyitems\n")
    (tmp_path / "test_grouped.py").write_text(
        "import os\n\n"
        + "".join(f"def test_{n}():\n    assert os.environ['PYTEST_XDIST_WORKER']\n\n" for n in range(6))
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    workers = re.findall(r"\[(gw\d)\] .*PASSED", done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(workers) == 6 and len(set(workers)) == 1, done.stdout
