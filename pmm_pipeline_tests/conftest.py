"""Shared fixtures (settings on temporary folders, whole cycles run once per session) and the tests' kinds.

Kinds: a test is `unit` unless it is of a slow kind (SLOW_KINDS), which it gets by an explicit marker (on the
test, or `pytestmark` on its module) or, without anyone remembering, by using a fixture declared with
`@slow_fixture(kind)` (directly or through another fixture). `make test-fast` runs `-m unit`; a `unit` test that
starts a process or a Dagster run fails with an error naming the marker to add, so the fast set cannot silently
grow slow.
"""

import multiprocessing.process
import os
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import Catalogue, load_catalogue
from pmm_pipeline.specs.reference.load import Reference, load_reference
from pmm_pipeline_tests.paths import FIXTURES

# Tests never talk to the network; Dagster must not try to send telemetry.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


# --- Kinds of test -------------------------------------------------------------------------------------------------
# Registered in pyproject.toml ([tool.pytest.ini_options] markers, with --strict-markers).
SLOW_KINDS = ("cycle", "subprocess", "browser", "postgres", "slow")


def slow_fixture(*kinds: str):
    """Declare that a fixture makes every test using it (directly or through other fixtures) of these kinds."""
    unknown = set(kinds) - set(SLOW_KINDS)
    assert kinds and not unknown, f"unknown test kind(s) {sorted(unknown)}; the kinds are {SLOW_KINDS}"

    def declare(function):
        function.pmm_test_kinds = kinds
        return function

    return declare


def fixture_definitions(item: pytest.Item):
    """The definitions of every fixture a test uses, however indirectly. pytest has no public accessor for the
    functions behind a test's fixtures; its `_fixtureinfo` (stable since pytest 3) holds the whole closure."""
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        yield from definitions


def kinds_of(item: pytest.Item) -> set[str]:
    """The slow kinds of a test: its markers', and those of every fixture it uses."""
    kinds = {mark.name for mark in item.iter_markers() if mark.name in SLOW_KINDS}
    for definition in fixture_definitions(item):
        kinds.update(getattr(definition.func, "pmm_test_kinds", ()))
    return kinds


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook in a worker, which turns the group marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        kinds = kinds_of(item)
        if kinds and item.get_closest_marker("unit"):
            raise pytest.UsageError(f"{item.nodeid} is marked unit but is {', '.join(sorted(kinds))}")
        for kind in sorted(kinds):
            item.add_marker(kind)
        if not kinds:
            item.add_marker("unit")
    # Marked whatever the options say: in a worker process `--dist` reads "no" (xdist keeps the scheduling to the
    # controller), and the worker is where xdist turns the marks into groups; without them loadgroup spread one
    # module's tests over both workers, each building the module's fixtures again.
    if config.pluginmanager.hasplugin("xdist"):
        groups = worker_groups(items)
        items[:], groups = heaviest_groups_first(items, groups)
        for item, group in zip(items, groups, strict=True):
            item.add_marker(pytest.mark.xdist_group(group))


def module_of(item: pytest.Item) -> str:
    """The test module of a test, as its node id names it (a parameter id may hold "::" too)."""
    return item.nodeid.split("::", 1)[0]


def worker_groups(items: list[pytest.Item]) -> list[str]:
    """The group of tests one pytest-xdist worker runs together, so that each expensive fixture is built once:
    a module (its module-scoped fixtures), merged with every other module that shares a slow session fixture
    with it (fixture_cycle, released_once_workspace: session fixtures are built once per worker)."""
    parent = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for item in items:
        module = module_of(item)
        for definition in fixture_definitions(item):
            if definition.scope == "session" and getattr(definition.func, "pmm_test_kinds", ()):
                parent[root(module)] = root(f"fixture:{definition.argname}")
    return [root(module_of(item)) for item in items]


# Rough seconds on 2 cores (2026-12-04): a test of a slow kind that shares a built fixture takes about a second, one
# that starts its own processes, browser or server ten or more; building a slow module or session fixture (a whole
# cycle run, a database server) about eight. Only their order matters (heaviest_groups_first).
KIND_COST = {"cycle": 1.0, "subprocess": 8.0, "browser": 8.0, "postgres": 4.0, "slow": 4.0}
UNIT_COST = 0.02
FIXTURE_COST = 8.0


def group_costs(items: list[pytest.Item], groups: list[str]) -> dict[str, float]:
    """Each worker group's rough cost: its tests by kind, and each slow fixture it builds (once per module for a
    module-scoped one, once for a session one)."""
    cost: dict[str, float] = {}
    built: dict[str, set[tuple[str, str]]] = {}
    for item, group in zip(items, groups, strict=True):
        cost[group] = cost.get(group, 0.0) + max((KIND_COST[k] for k in kinds_of(item)), default=UNIT_COST)
        for definition in fixture_definitions(item):
            if definition.scope in ("module", "session") and getattr(definition.func, "pmm_test_kinds", ()):
                module = module_of(item) if definition.scope == "module" else ""
                built.setdefault(group, set()).add((definition.argname, module))
    return {group: total + FIXTURE_COST * len(built.get(group, ())) for group, total in cost.items()}


def heaviest_groups_first(items: list[pytest.Item], groups: list[str]) -> tuple[list[pytest.Item], list[str]]:
    """The tests reordered so that the costliest worker groups come first, each group's tests together and in their
    order. pytest-xdist hands a worker the next group when it is nearly done: with the long groups handed out first
    the short ones fill in at the end (xdist's own order, by number of tests, hands out a module of two 30 s tests
    among the last). pytest_configure turns that reordering off."""
    costs = group_costs(items, groups)
    first = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)
    order = sorted(range(len(items)), key=lambda i: (-costs[groups[i]], first[groups[i]], i))
    return [items[i] for i in order], [groups[i] for i in order]


class SlowUnitTestError(BaseException):
    """A `unit` test started a process or a Dagster run. A BaseException, so that the code under test's
    `except Exception` (a retry, a step failure handler) cannot hide it."""


# The `unit` test being set up, run or torn down (module and session fixtures are set up inside the first test
# that needs them, so their work is watched too); None between tests and during slow ones.
_unit_test: list[str | None] = [None]


def _refuse(what: str, kinds: str):
    nodeid = _unit_test[0]
    if nodeid is not None:
        raise SlowUnitTestError(
            f"{nodeid} is a `unit` test (the set `make test-fast` runs) but {what}: mark it"
            f" @pytest.mark.{kinds} (or its module: pytestmark = pytest.mark.{kinds}), or declare the fixture that"
            " does it with @slow_fixture(...) in conftest.py"
        )


def _watched(original, what: str, kinds: str):
    def watched(*args, **kwargs):
        _refuse(what, kinds)
        return original(*args, **kwargs)

    return watched


# (owner, attribute, what a unit test would be doing, the marker(s) it needs instead). Popen covers
# subprocess.run, asyncio's subprocesses, Chromium and Playwright's driver; dagster.materialize calls
# JobDefinition.execute_in_process.
_WATCHED = [
    (subprocess.Popen, "__init__", "starts a process", "subprocess (or browser, postgres)"),
    (multiprocessing.process.BaseProcess, "start", "starts a worker process", "subprocess"),
    (dg.JobDefinition, "execute_in_process", "runs a Dagster job or assets", "cycle"),
]
_originals: list[tuple[object, str, object]] = []


def pytest_configure(config: pytest.Config) -> None:
    # Keep the order heaviest_groups_first gave the tests: xdist would otherwise reorder groups by number of tests.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    for owner, attribute, what, kinds in _WATCHED:
        original = getattr(owner, attribute)
        _originals.append((owner, attribute, original))
        setattr(owner, attribute, _watched(original, what, kinds))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _originals:
        owner, attribute, original = _originals.pop()
        setattr(owner, attribute, original)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _unit_test[0] = item.nodeid if item.get_closest_marker("unit") else None
    try:
        return (yield)
    finally:
        _unit_test[0] = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    # The teardown of the last test of a module (or session) also finalizes the module's and session's fixtures
    # that other, slow tests used (a database server stopped): not the unit test's own doing, so not watched.
    _unit_test[0] = None
    return (yield)


# --- Fixtures -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def reference() -> Reference:
    """The shipped members, groups and cycles."""
    settings = Settings.from_env({})
    return load_reference(settings.reference_dir, settings.cycles_file)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The shipped KPI catalogue."""
    return load_catalogue(Settings.from_env({}).specs_dir)


def stop_process_group(process: subprocess.Popen, timeout_s: float) -> None:
    """Stop a service started with start_new_session=True and everything it started: TERM, then KILL.

    The group id is the leader's pid (start_new_session=True). The group is always KILLed at the end:
    a leader that exits on TERM in time may leave children that ignored it still running.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group has already gone
        pass
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # no member of the group is left
        pass
    process.wait()


def settings_for(data_dir: Path) -> Settings:
    """The shipped catalogue and reference data, with every data folder under `data_dir`."""
    return replace(Settings.from_env({}), data_dir=data_dir)


def run_cycle_in_process(settings: Settings, cycle: str, instance: dg.DagsterInstance | None = None):
    from pmm_pipeline.definitions import build_definitions
    from pmm_pipeline.defs.jobs import CYCLE_JOB

    job = build_definitions(settings).resolve_job_def(CYCLE_JOB)
    return job.execute_in_process(
        partition_key=cycle, instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


@pytest.fixture(scope="session")
@slow_fixture("cycle")
def fixture_cycle(tmp_path_factory):
    """Cycle 2023 run once per session over fixtures/cycle_2023/landing: (settings, run result). Shared by every
    module that reads its outputs: a test that changes its data folder (files, a rerun) takes fixture_cycle_copy."""
    data_dir = tmp_path_factory.mktemp("data")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    settings = settings_for(data_dir)
    result = run_cycle_in_process(settings, "2023")
    return settings, result


@pytest.fixture
def fixture_cycle_copy(fixture_cycle, tmp_path):
    """The shared run's data folder copied for a test that changes it: (settings on the copy, the run's result).
    The archive's paths on record are relative to the data folder, so the copy is a workspace of its own."""
    settings, result = fixture_cycle
    shutil.copytree(settings.data_dir, tmp_path / "data")
    return settings_for(tmp_path / "data"), result


@pytest.fixture(scope="session")
@slow_fixture("cycle")
def released_once_workspace(tmp_path_factory):
    """A workspace whose (reopened) cycle 2023 was released once, with FRA's second version landed since, and a
    copy of it run once more with nothing killed: (prepared, clean). Shared by the release and kill-and-corrupt
    tests (each works on copies), so the two whole-cycle runs happen once per session."""
    import yaml

    from pmm_pipeline_tests.released_workspace import FRA_V2, workspace_settings

    prepared = tmp_path_factory.mktemp("released_once")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", prepared / "data" / "landing" / "2023")
    cycles = yaml.safe_load(Settings.from_env({}).cycles_file.read_text())
    next(c for c in cycles["cycles"] if c["id"] == "2023")["reopened_until"] = "2099-12-31"
    (prepared / "cycles.yaml").write_text(yaml.safe_dump(cycles))
    assert run_cycle_in_process(workspace_settings(prepared), "2023").success
    (prepared / "data" / "landing" / "2023" / "FRA_v2.json").write_text(FRA_V2)
    clean = tmp_path_factory.mktemp("clean") / "w"
    shutil.copytree(prepared, clean)
    assert run_cycle_in_process(workspace_settings(clean), "2023").success
    return prepared, clean
