"""The Dagster UI for real: `dagster dev` (as `make dev` starts it) on 127.0.0.1 with a temporary
DAGSTER_HOME, a cycle run launched and followed over GraphQL with its asset check results read
back (then a run of a second cycle, and each cycle's check results read apart), and the asset graph
of the KPI group opened in headless Chromium.

The browser test is skipped only when no Chromium is installed (`make test` installs Debian's
`chromium` first when it can); its screenshot is kept in test-artifacts/ (ignored by git).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.instance import ensure_dagster_home
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.sample.generate import generate_sample
from pmm_pipeline_tests.conftest import settings_for, slow_fixture, stop_process_group
from pmm_pipeline_tests.paths import CHECKOUT

ARTIFACTS = CHECKOUT / "test-artifacts"
LOCATION = "pmm_pipeline.definitions"  # the code location of workspace.yaml
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


LOCATION_STATUS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def wait_for(condition, process: subprocess.Popen, log: Path, what: str, timeout_s: float):
    """Poll until `condition()` is true; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited ({process.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        try:
            value = condition()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
@slow_fixture("subprocess")
def dagster_ui(tmp_path_factory):
    """`dagster dev` on a free port over sample submissions of cycles 2023 and 2025; stopped by process group."""
    root = tmp_path_factory.mktemp("ui")
    settings = settings_for(root / "data")
    for cycle, members in (("2023", 8), ("2025", 5)):  # 2025 small: its run only shows checks kept apart
        generate_sample(
            reference=load_reference(settings.reference_dir, settings.cycles_file),
            catalogue=load_catalogue(settings.specs_dir),
            cycle_id=cycle,
            landing_dir=settings.layout.landing_dir(cycle),
            members=members,
            seed=2,
        )
    env = {
        **os.environ,
        "PMM_DATA_DIR": str(settings.data_dir),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",
    }
    ensure_dagster_home(env)
    port = free_port()
    log = root / "dagster_dev.log"
    dagster = Path(sys.executable).parent / "dagster"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=CHECKOUT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = time.monotonic()

        def location_loaded():
            entries = graphql(port, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            return [(e["name"], e["loadStatus"]) for e in entries] == [(LOCATION, "LOADED")]

        wait_for(location_loaded, process, log, "loaded code location", timeout_s=300)
        print(f"dagster dev served the code location after {time.monotonic() - started:.1f} s")
        yield {"port": port, "settings": settings, "defs": build_definitions(settings), "log": log, "process": process}
    finally:
        stop_process_group(process, timeout_s=60)


CHECKS_QUERY = """
{ assetNodes { assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status runId } } } } } }
"""
RUN_QUERY = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"
DEFINITION_METADATA_QUERY = """
query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
    metadataEntries { label ... on JsonMetadataEntry { jsonString } } } }
"""
MATERIALIZED_QUERY = """
query($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) { assetKey { path }
    assetMaterializations(partitions: ["2023"], limit: 1) { runOrError { ... on Run { runId } } } } }
"""


@pytest.fixture(scope="module")
def launched(dagster_ui):
    """Launch cycle_job for a cycle over GraphQL (once per cycle) and wait for its end: (run id, status)."""
    port, defs = dagster_ui["port"], dagster_ui["defs"]
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    runs = {}

    def launch(cycle: str):
        if cycle not in runs:
            tags = defs.resolve_job_def("cycle_job").partitioned_config.get_tags_for_partition_key(cycle)
            started = time.monotonic()
            run_id = client.submit_job_execution("cycle_job", repository_location_name=LOCATION, tags=tags)
            status = wait_for(
                lambda: (s := client.get_run_status(run_id)) in TERMINAL and s,
                dagster_ui["process"],
                dagster_ui["log"],
                f"end of run {run_id}",
                timeout_s=600,
            )
            print(f"run {run_id} of {cycle} ended {status.value} after {time.monotonic() - started:.1f} s")
            runs[cycle] = (run_id, status)
        return runs[cycle]

    return launch


def test_a_cycle_run_launched_over_graphql_succeeds_with_its_checks(dagster_ui, launched):
    port, defs = dagster_ui["port"], dagster_ui["defs"]
    run_id, status = launched("2023")
    assert status == dg.DagsterRunStatus.SUCCESS

    run = graphql(port, RUN_QUERY, {"id": run_id})["runOrError"]
    run_tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run_tags["dagster/partition"] == "2023" and run_tags["pmm/cycle"] == "2023"

    # Every asset check of the code location was evaluated by this run; the collection check passed.
    executions = {
        ("/".join(node["assetKey"]["path"]), check["name"]): check["executionForLatestMaterialization"]
        for node in graphql(port, CHECKS_QUERY)["assetNodes"]
        for check in node["assetChecksOrError"].get("checks", [])
    }
    # The questionnaires are written (and their row key checked) by the questionnaires job at opening, not by the
    # cycle job: shown in the UI, not run here.
    at_opening = {k for k in executions if k[0] == "collection/questionnaires"}
    assert at_opening == {("collection/questionnaires", "one_row_per_key_on_record")}
    executions = {k: e for k, e in executions.items() if k not in at_opening}
    defined = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs.resolve_asset_graph().asset_check_keys
        if key.asset_key.path[-1] != "questionnaires"
    }
    assert set(executions) == defined
    assert {k: (e or {}).get("runId") for k, e in executions.items()} == {k: run_id for k in defined}
    assert all(e["status"] in ("SUCCEEDED", "FAILED") for e in executions.values())
    assert executions[("collection/completeness", "members_add_up")]["status"] == "SUCCEEDED"

    keys = [{"path": ["kpi", "kpi_values"]}, {"path": ["rollup", "rollups"]}]
    nodes = graphql(port, MATERIALIZED_QUERY, {"keys": keys})["assetNodes"]
    assert {n["assetMaterializations"][0]["runOrError"]["runId"] for n in nodes} == {run_id}
    assert len(nodes) == 2


CHECK_EXECUTIONS_QUERY = """
query($key: AssetKeyInput!, $name: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $name, partition: $partition, limit: 10) {
    runId partition status evaluation { partition severity success description } } }
"""


def test_the_check_results_of_two_cycles_are_read_apart(dagster_ui, launched):
    port, defs = dagster_ui["port"], dagster_ui["defs"]
    runs = {cycle: launched(cycle) for cycle in ("2023", "2025")}
    assert {cycle: status for cycle, (_, status) in runs.items()} == dict.fromkeys(runs, dg.DagsterRunStatus.SUCCESS)
    checks = [key for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key.path[-1] != "questionnaires"]
    for key in checks:
        variables = {"key": {"path": key.asset_key.path}, "name": key.name}
        for cycle, (run_id, _) in runs.items():
            executions = graphql(port, CHECK_EXECUTIONS_QUERY, {**variables, "partition": cycle})
            [execution] = executions["assetCheckExecutions"]  # the run of that cycle only: 2025 hides nothing
            assert execution["runId"] == run_id and execution["partition"] == cycle, (key, cycle)
            assert execution["evaluation"]["partition"] == cycle
            assert execution["status"] in ("SUCCEEDED", "FAILED")
        every = graphql(port, CHECK_EXECUTIONS_QUERY, {**variables, "partition": None})["assetCheckExecutions"]
        assert sorted(e["partition"] for e in every) == ["2023", "2025"], key
    # The data findings of the two cycles are each their own, as the UI shows them.
    descriptions = {
        cycle: graphql(
            port,
            CHECK_EXECUTIONS_QUERY,
            {"key": {"path": ["quality", "admitted_answers"]}, "name": "required_items_present", "partition": cycle},
        )["assetCheckExecutions"][0]["evaluation"]
        for cycle in runs
    }
    for evaluation in descriptions.values():
        assert evaluation["severity"] == "WARN"
        assert "members' data" in evaluation["description"] and "fail" not in evaluation["description"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(browser: str, url: str, output: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            # Only the local server is reachable: any other host name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            "--window-size=1600,2400",
            "--virtual-time-budget=10000",
            *output,
            url,
        ],
        capture_output=True,
        timeout=300,
    )


@pytest.mark.browser
def test_the_asset_graph_shows_the_kpi_assets_in_chromium(dagster_ui, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium installed and none could be installed here: `make test` runs `make browser` first")
    port, settings = dagster_ui["port"], dagster_ui["settings"]
    kpi_ids = sorted(load_catalogue(settings.specs_dir).kpis)
    graph_url = f"http://127.0.0.1:{port}/locations/{LOCATION}/asset-groups/kpi"
    started = time.monotonic()

    # The graph draws the KPI values table; the KPI views are listed in its definition's metadata (they are
    # views of it, not assets of their own), which the UI shows on its page.
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "asset_graph_kpi.png"
    screenshot.unlink(missing_ok=True)
    graph = headless(browser, graph_url, ["--dump-dom", f"--screenshot={screenshot}"], tmp_path / "profile-graph")
    page = graph.stdout.decode(errors="replace")
    assert ">kpi_values<" in page, graph.stderr.decode(errors="replace")[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The KPI views, one per KPI of the catalogue, in the metadata the asset's page shows.
    [node] = graphql(port, DEFINITION_METADATA_QUERY, {"keys": [{"path": ["kpi", "kpi_values"]}]})["assetNodes"]
    views = next(e["jsonString"] for e in node["metadataEntries"] if e["label"] == "kpi_views")
    assert [k for k in kpi_ids if f'"{k}"' not in views] == []
    print(f"Chromium read the asset graph and list and took {screenshot} in {time.monotonic() - started:.1f} s")
