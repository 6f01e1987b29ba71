"""Canary test: hidden values set to unmistakable numbers, the real cycle run, and every published byte searched.

Sample submissions for cycle 2025 are written with `pmm sample`'s generator; then every member that
did not choose `public` for average_release_time_hours (a KPI equal to its one answer) reports a
canary value. After the whole cycle runs through Dagster, no file of the public tier may hold a
canary (as text in CSV, as a number in Parquet) nor let one be reconstructed from the published
figures by differencing or by solving the published linear system; the same for the wco tier and
the canaries of secretariat-only members.
"""

import itertools
import json
import re
import zipfile

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from pmm_pipeline.app.run import run_cycle
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.sample.documents import build_sample_documents
from pmm_pipeline.stages.sample.generate import write_sample
from pmm_pipeline_tests.conftest import settings_for, slow_fixture

CYCLE, YEAR = "2025", 2024
KPI, ITEM = "average_release_time_hours", "release_time_mean_hours"
TIER_RANK = {"public": 0, "wco": 1, "secretariat": 2}


def canary(i: int) -> float:
    # Not an arithmetic progression: no mean of several canaries is itself one.
    return round(12.345678901 + 1.01 * i + 0.000013 * i * i, 9)


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def canary_cycle(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("canary")
    settings = settings_for(data_dir)
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    documents = build_sample_documents(reference, catalogue, CYCLE, members=90, seed=11)
    members = sorted({d["member"] for d in documents})
    choice = {d["member"]: d["disclosure"].get(KPI, "secretariat") for d in documents}
    hidden = [m for m in members if choice[m] != "public"]
    canaries = {m: canary(i) for i, m in enumerate(hidden)}
    for document in documents:
        if document["member"] in canaries:
            answers = [a for a in document["answers"] if not (a["item"] == ITEM and a["year"] == YEAR)]
            document["answers"] = [*answers, {"item": ITEM, "year": YEAR, "value": canaries[document["member"]]}]
    write_sample(settings.layout.landing_dir(CYCLE), documents)
    outcome = run_cycle(settings, CYCLE, instance=dg.DagsterInstance.ephemeral())
    yield settings, outcome, canaries, choice


def warehouse(settings, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql).df()


# A number written out in a file: digits, a point and at least four decimals, not part of a longer number.
NUMBER = re.compile(rb"(?<![\d.])-?\d+\.\d{4,}(?![\d.])")


def canary_roundings(values) -> set[str]:
    """Every way a canary can be written with four decimals or more (its repr, and rounded to 4 to 12 decimals).
    A number in a file is a canary shown when it is one of these as a whole number: a published figure that only
    starts with a canary's first decimals (a group median of 21.436783901 beside a canary of 21.436731901, both
    21.4367 to four decimals) is another number."""
    return {text for v in values for text in (repr(v), *(f"{v:.{d}f}" for d in range(4, 13)))}


def test_a_canary_written_out_is_found_and_a_longer_number_is_not():
    c = canary(9)  # 21.436731901
    data = f'{{"a": {c!r}, "b": {c:.4f}, "c": 21.436783901}} <v>{c:.5f}</v>;{c:.6f};{c:.3f}'.encode()
    found = [n.decode() for n in NUMBER.findall(data) if n.decode() in canary_roundings([c])]
    assert found == [repr(c), "21.4367", "21.43673", "21.436732"]


def hidden_canaries(canaries, choice, tier: str) -> dict[str, float]:
    return {m: v for m, v in canaries.items() if TIER_RANK[choice[m]] > TIER_RANK[tier]}


def test_the_cycle_ran_and_the_canaries_are_the_computed_values(canary_cycle):
    settings, outcome, canaries, _ = canary_cycle
    assert outcome.success, outcome.failures
    values = warehouse(
        settings, f"SELECT member_code, value FROM kpi.kpi_values WHERE kpi_id = '{KPI}' AND status = 'reported'"
    )
    computed = dict(zip(values.member_code, values.value, strict=True))
    assert len(canaries) >= 20
    assert all(computed[m] == v for m, v in canaries.items())  # the canaries really went through the pipeline
    assert any(k.startswith("disclosure control, public tier") for k in outcome.summary)


@pytest.mark.parametrize("tier", ["public", "wco"])
def test_no_canary_in_any_byte_of_the_tier(canary_cycle, tier):
    settings, _, canaries, choice = canary_cycle
    secret = hidden_canaries(canaries, choice, tier)
    assert secret
    tier_dir = settings.layout.published_dir(CYCLE) / tier
    files = sorted(p for p in tier_dir.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".csv", ".parquet", ".json", ".xlsx", ".html", ".xml"}
    roundings = canary_roundings(secret.values())
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".xlsx":  # a zip: search the parts as a spreadsheet program reads them
            with zipfile.ZipFile(path) as workbook:
                data = b"\n".join(workbook.read(name) for name in workbook.namelist())  # no number spans two parts
        shown = [n.decode() for n in NUMBER.findall(data) if n.decode() in roundings]
        assert not shown, (path.name, shown[:5])
    for path in (p for p in files if p.suffix == ".parquet"):
        frame = pd.read_parquet(path)
        numbers = frame.select_dtypes("number").to_numpy(dtype=float).ravel()
        numbers = numbers[~np.isnan(numbers)]
        for value in secret.values():
            assert not np.isclose(numbers, value, rtol=0, atol=1e-6).any(), (path.name, value)
    shown = pd.read_csv(tier_dir / "kpi_values.csv", dtype=str, keep_default_na=False)
    assert not set(shown.member_code[shown.kpi_id == KPI]) & set(secret)


@pytest.mark.parametrize("tier", ["public", "wco"])
def test_no_canary_can_be_reconstructed_from_the_published_figures(canary_cycle, tier):
    settings, _, canaries, choice = canary_cycle
    secret = hidden_canaries(canaries, choice, tier)
    readable = [t for t in TIER_RANK if TIER_RANK[t] <= TIER_RANK[tier]]
    rollups = pd.concat(
        [pd.read_parquet(settings.layout.published_dir(CYCLE) / t / "rollups.parquet") for t in readable]
    )
    rollups = rollups[(rollups.kpi_id == KPI) & rollups["mean"].notna()]
    assert len(rollups) > 0  # some figures are published, or the test proves nothing
    visible = pd.read_parquet(settings.layout.published_dir(CYCLE) / tier / "kpi_values.parquet")
    visible = dict(zip(visible.member_code[visible.kpi_id == KPI], visible.value[visible.kpi_id == KPI], strict=True))
    # Who reported, and in which groups, is known to the reader (n_reporting is published).
    reported = warehouse(
        settings, f"SELECT member_code FROM kpi.kpi_values WHERE kpi_id = '{KPI}' AND status = 'reported'"
    )
    reporting = set(reported.member_code)
    groups = warehouse(settings, f"SELECT * FROM staging.participation WHERE cycle = '{CYCLE}' AND is_participating")
    column = {
        "global": None,
        "region": "region_code",
        "income_group": "income_group",
        "landlocked": "landlocked",
        "admin_type": "admin_type",
    }

    def members_of(group_type: str, group_code: str) -> set[str]:
        chosen = groups if column[group_type] is None else groups[groups[column[group_type]] == group_code]
        return set(chosen.member_code) & reporting

    unknown = sorted(m for m in reporting if m not in visible)
    index = {m: i for i, m in enumerate(unknown)}
    rows, sums = [], []
    for r in rollups.drop_duplicates(["group_type", "group_code"]).to_dict("records"):
        in_group = members_of(r["group_type"], r["group_code"])
        assert len(in_group) == r["n_reporting"]
        row = np.zeros(len(unknown))
        row[[index[m] for m in in_group if m in index]] = 1
        rows.append(row)
        sums.append(r["mean"] * r["n_reporting"] - sum(visible[m] for m in in_group if m in visible))
    rows, sums = np.array(rows), np.array(sums)
    candidates = list(sums) + [a - b for a, b in itertools.permutations(sums, 2)]
    for value in secret.values():  # differencing: a group, or two groups, minus the visible values
        assert not np.isclose(candidates, value, rtol=0, atol=1e-6).any(), value
    for member in secret:  # solving the whole system, as an outsider or as a hidden member
        for insider in [None, *(m for m in unknown if m != member)]:
            known = rows if insider is None else np.vstack([rows, np.eye(len(unknown))[index[insider]]])
            target = np.eye(len(unknown))[index[member]]
            weights, *_ = np.linalg.lstsq(known.T, target, rcond=None)
            assert not np.allclose(known.T @ weights, target, atol=1e-7), (member, insider)
    print(json.dumps({"tier": tier, "hidden canaries": len(secret), "published means": len(rows)}))
