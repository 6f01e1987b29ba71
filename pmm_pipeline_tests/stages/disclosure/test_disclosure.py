"""Disclosure control on hand-made groups: what each tier withholds and why, the audit, and the release guard.

Every expected outcome below was worked out by hand from the rules in README "Disclosure tiers".
"""

import json

import numpy as np
import pandas as pd
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.disclosure.audit import PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.control import TIERS, control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import visible_in
from pmm_pipeline.stages.disclosure.level_solving import LevelCount, solvable_levels
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline.stages.disclosure.value_solving import solvable_values
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.release import ReleaseInfo, ReleaseRefusedError, write_release
from pmm_pipeline_tests.disclosure_universe import CYCLE, KPI, M, Universe

ALL = ("mean", "median", "min", "max", "pooled")


def withheld_by_tier(universe: Universe, min_group_size: int = 3) -> dict[str, set[tuple[str, str, str]]]:
    """tier -> {(group "type:code", statistic, reason)} (categorical rows collapse to their group)."""
    out: dict[str, set] = {tier: set() for tier in TIERS}
    for w in control_disclosure(universe.facts(), min_group_size):
        out[w.tier].add((f"{w.group_type}:{w.group_code}", w.statistic, w.reason))
    return out


def stats(group: str, statistics, reason: str) -> set[tuple[str, str, str]]:
    return {(group, s, reason) for s in statistics}


def test_visibility_is_nested_and_unknown_choices_are_secretariat():
    assert [t for t in TIERS if visible_in("public", t)] == ["public", "wco", "secretariat"]
    assert [t for t in TIERS if visible_in("wco", t)] == ["wco", "secretariat"]
    assert [t for t in TIERS if visible_in("secretariat", t)] == ["secretariat"]
    assert [t for t in TIERS if visible_in(None, t)] == ["secretariat"]
    assert [t for t in TIERS if visible_in("everyone", t)] == ["secretariat"]


# A: one hidden member per group, a pair of hidden members (a member knows its own value), a small
# group, order statistics held by hidden members, and a wco figure forcing the public one out.
SCENARIO_A = Universe(
    [
        M("A", {"region": "R1", "income_group": "I1"}, "public", 10),
        M("B", {"region": "R1", "income_group": "I2"}, "public", 20),
        M("C", {"region": "R1", "income_group": "I2"}, "secretariat", 30),
        M("D", {"region": "R2", "income_group": "I1"}, "public", 40),
        M("E", {"region": "R2", "income_group": "I2"}, "wco", 50),
        M("F", {"region": "R2", "income_group": "I2"}, "wco", 60),
    ]
)


def test_scenario_a_each_rule_with_its_reason():
    withheld = withheld_by_tier(SCENARIO_A)
    small = stats("income_group:I1", ALL, "min_group_size")  # A and D only
    assert withheld["public"] == small | {
        # R1 = A, B, C: C alone hidden, and C holds the max.
        *stats("region:R1", ("mean", "pooled"), "differencing"),
        ("region:R1", "max", "hidden_member"),
        # R2 = D, E, F: E and F hidden, so E knowing its own value would get F's; median E, max F.
        *stats("region:R2", ("mean", "pooled"), "differencing"),
        *stats("region:R2", ("median", "max"), "hidden_member"),
        # I2 = B, C, E, F and global: three hidden from the public, but C alone hidden from wco
        # readers, who also read the public tier: withheld from both.
        *stats("income_group:I2", ("mean", "pooled"), "differencing"),
        *stats("income_group:I2", ("median", "max"), "hidden_member"),  # median (C + E) / 2, max F
        *stats("global:all", ("mean", "pooled"), "differencing"),
        *stats("global:all", ("median", "max"), "hidden_member"),  # median (C + D) / 2, max F
    }
    assert withheld["wco"] == small | {
        *stats("region:R1", ("mean", "pooled"), "differencing"),
        ("region:R1", "max", "hidden_member"),
        *stats("income_group:I2", ("mean", "pooled"), "differencing"),
        ("income_group:I2", "median", "hidden_member"),
        *stats("global:all", ("mean", "pooled"), "differencing"),
        ("global:all", "median", "hidden_member"),
    }
    assert withheld["secretariat"] == small


def test_scenario_a_tier_tables():
    frame = withheld_frame(control_disclosure(SCENARIO_A.facts(), 3), CYCLE)
    public = tier_rollups(SCENARIO_A.rollups, frame, "public").set_index(["group_type", "group_code"])
    r1 = public.loc[("region", "R1")]
    assert (r1["n_reporting"], r1["n_participating"], r1["median"], r1["min"]) == (3, 3, 20.0, 10.0)
    assert np.isnan(r1["mean"]) and np.isnan(r1["max"]) and np.isnan(r1["pooled"])
    assert bool(r1["suppressed"])
    assert r1["suppression_reason"] == "mean:differencing;max:hidden_member;pooled:differencing"
    secretariat = tier_rollups(SCENARIO_A.rollups, frame, "secretariat").set_index(["group_type", "group_code"])
    assert secretariat.loc[("global", "all"), "mean"] == 35.0 and not secretariat.loc[("global", "all"), "suppressed"]
    assert pd.isna(secretariat.loc[("global", "all"), "suppression_reason"])
    assert list(tier_kpi_values(SCENARIO_A.values, "public").member_code) == ["A", "B", "D"]
    assert list(tier_kpi_values(SCENARIO_A.values, "wco").member_code) == ["A", "B", "D", "E", "F"]
    assert len(tier_kpi_values(SCENARIO_A.values, "secretariat")) == 6


def test_hidden_rows_are_left_out_whatever_their_status():
    universe = Universe(
        [
            M("A", {"region": "R1"}, "public", 10),
            M("B", {"region": "R1"}, "wco", status="not_applicable"),
            M("C", {"region": "R1"}, "secretariat", status="undefined"),
        ]
    )
    public = tier_kpi_values(universe.values, "public")
    assert list(public.member_code) == ["A"]
    assert list(tier_kpi_values(universe.values, "wco").status) == ["reported", "not_applicable"]


def test_global_minus_the_other_regions_needs_a_complementary_suppression():
    universe = Universe(
        [
            M("A", {"region": "R1"}, "public", 1),
            M("B", {"region": "R1"}, "public", 2),
            M("C", {"region": "R1"}, "wco", 3),
            M("D", {"region": "R2"}, "wco", 4),
            M("E", {"region": "R2"}, "wco", 5),
            M("F", {"region": "R2"}, "wco", 6),
            M("G", {"region": "R2"}, "public", 7),
            M("H", {"region": "R3"}, "public", 8),
            M("I", {"region": "R3"}, "public", 9),
            M("J", {"region": "R3"}, "public", 10),
        ],
        statistics=("mean",),
    )
    withheld = withheld_by_tier(universe)
    # R1 has C alone hidden. R2 (D, E, F hidden) is safe alone, but global - R2 - R3 = R1 again:
    # R2 goes (a region before the global mean, and removing R3, all visible, would not help).
    assert withheld["public"] == {("region:R1", "mean", "differencing"), ("region:R2", "mean", "complementary")}
    assert withheld["wco"] == withheld["secretariat"] == set()


def test_two_groupings_differing_by_one_hidden_member():
    universe = Universe(
        [
            M("A", {"region": "R1", "income_group": "I1"}, "public", 1),
            M("B", {"region": "R1", "income_group": "I1"}, "wco", 2),
            M("C", {"region": "R1", "income_group": "I1"}, "wco", 3),
            M("D", {"region": "R1", "income_group": "I1"}, "wco", 4),
            M("E", {"region": "R2", "income_group": "I1"}, "wco", 5),
            M("F", {"region": "R2", "income_group": "I2"}, "public", 6),
            M("G", {"region": "R2", "income_group": "I2"}, "public", 7),
            M("H", {"region": "R2", "income_group": "I2"}, "public", 8),
        ],
        statistics=("mean",),
    )
    withheld = withheld_by_tier(universe)
    # R2 has E alone hidden. I1 - R1 = E as well; global equals I1 over the hidden members, so only
    # withholding R1 breaks both I1 - R1 and global - R1.
    assert withheld["public"] == {("region:R2", "mean", "differencing"), ("region:R1", "mean", "complementary")}


def test_an_order_statistic_tied_with_a_hidden_value_is_that_members_value_too():
    universe = Universe(
        [
            M("A", {"region": "R1"}, "public", 10),
            M("B", {"region": "R1"}, "secretariat", 10),
            M("C", {"region": "R1"}, "public", 20),
            M("D", {"region": "R1"}, "public", 30),
        ],
        statistics=("median", "min", "max"),
    )
    withheld = withheld_by_tier(universe)
    # min 10 is A's and B's; the median of four is (10 + 20) / 2, B's value again. max is D's alone.
    expected = stats("region:R1", ("median", "min"), "hidden_member") | stats(
        "global:all", ("median", "min"), "hidden_member"
    )
    assert withheld["public"] == withheld["wco"] == expected


@pytest.mark.parametrize(("d_value", "expected"), [(100, "differencing"), (99, None)])
def test_hidden_values_pinned_by_the_range_of_the_series(d_value, expected):
    universe = Universe(
        [
            M("A", {"region": "R1"}, "public", 50),
            M("B", {"region": "R1"}, "public", 60),
            M("C", {"region": "R1"}, "secretariat", 100),
            M("D", {"region": "R1"}, "secretariat", d_value),
            M("E", {"region": "R1"}, "secretariat", 70),
            M("F", {"region": "R2"}, "public", 20),
            M("G", {"region": "R2"}, "public", 30),
            M("H", {"region": "R2"}, "public", 40),
        ],
        statistics=("mean",),
    )
    withheld = withheld_by_tier(universe)
    # E knows its own value, so it learns C + D; with C and D both at the series' top value 100, the
    # sum 200 leaves one solution. With D at 99 the sum 199 leaves C and D anywhere in [99, 100].
    if expected:
        assert withheld["public"] == {("region:R1", "mean", expected), ("global:all", "mean", expected)}
    else:
        assert withheld["public"] == set()


CATEGORICAL = Universe(
    [
        M("A", {"region": "R1"}, "public", level="yes"),
        M("B", {"region": "R1"}, "wco", level="yes"),
        M("C", {"region": "R1"}, "wco", level="no"),
        M("D", {"region": "R1"}, "public", level="no"),
        M("E", {"region": "R2"}, "public", level="yes"),
        M("F", {"region": "R2"}, "public", level="yes"),
        M("G", {"region": "R2"}, "public", level="no"),
        M("H", {"region": "R3"}, "wco", level="yes"),
        M("I", {"region": "R3"}, "wco", level="no"),
        M("J", {"region": "R3"}, "wco", level="yes"),
        M("K", {"region": "R3"}, "wco", level="no"),
    ],
    statistics=(),
    levels=("no", "yes"),
)


def test_categorical_level_counts():
    withheld = withheld_by_tier(CATEGORICAL)
    # R1 hides B (yes) and C (no): B knows its own answer, so the counts give C's. R3 hides two of each:
    # safe even for one of them. Global = R1 + R2 + R3, so global - R3 - R2 gives R1's counts again:
    # R3 goes (a region before the global figure; R2, all visible, would not help).
    assert withheld["public"] == {
        ("region:R1", "level_counts", "differencing"),
        ("region:R3", "level_counts", "complementary"),
    }
    assert withheld["wco"] == set()
    frame = withheld_frame(control_disclosure(CATEGORICAL.facts(), 3), CYCLE)
    assert sorted(frame[frame.tier == "public"].series) == ["no", "no", "yes", "yes"]  # both level rows
    public = tier_rollups(CATEGORICAL.rollups, frame, "public").set_index(["group_type", "group_code", "series"])
    r1, r3 = public.loc[("region", "R1", "yes")], public.loc[("region", "R3", "yes")]
    assert pd.isna(r1["n_reporting"]) and np.isnan(r1["mean"])
    assert r1["suppression_reason"] == "level_counts:differencing"
    assert pd.isna(r3["n_reporting"]) and r3["suppression_reason"] == "level_counts:complementary"
    r2 = public.loc[("region", "R2", "yes")]
    assert r2["n_reporting"] == 2 and r2["mean"] == 100 * 2 / 3


def test_solvable_values_outsider_insider_and_bounds():
    # x0 + x1 known: nobody outside learns either, each of them learns the other.
    assert solvable_values(np.array([[1.0, 1.0, 0.0]]), np.array([1.0, 2.0, 3.0])).tolist() == [True, True, False]
    # x0 + x1 + x2 known, values inside the range: nothing.
    assert not solvable_values(np.array([[1.0, 1.0, 1.0]]), np.array([1.0, 2.0, 3.0]), 0.0, 9.0).any()
    # x0 + x1 + x2 known and all three at the top of the range: every one is pinned.
    assert solvable_values(np.array([[1.0, 1.0, 1.0]]), np.array([9.0, 9.0, 9.0]), 0.0, 9.0).all()
    # x0 - x1 known with x0 at the bottom and x1 at the top: both pinned.
    assert solvable_values(np.array([[1.0, -1.0]]), np.array([0.0, 9.0]), 0.0, 9.0).all()


def test_solvable_levels_needs_another_assignment_with_the_same_counts():
    both = (0, 1)
    counts = [LevelCount("g", both, 0), LevelCount("g", both, 1)]
    # Two members at different levels: each deduces the other's.
    assert solvable_levels(counts, np.array([0, 1]), 2).tolist() == [True, True]
    three = (0, 1, 2)
    counts3 = [LevelCount("g", three, lv) for lv in (0, 1)]
    # Member 0 learns that 1 and 2 are both at level 1; 1 (or 2) is left with one 0 and one 1 to share out.
    assert solvable_levels(counts3, np.array([0, 1, 1]), 2).tolist() == [False, True, True]
    four = (0, 1, 2, 3)
    counts4 = [LevelCount("g", four, lv) for lv in (0, 1)]
    assert not solvable_levels(counts4, np.array([0, 1, 0, 1]), 2).any()


def published(universe: Universe, frame: pd.DataFrame) -> dict[str, dict[str, pd.DataFrame]]:
    return {
        tier: {
            "kpi_values": tier_kpi_values(universe.values, tier),
            "rollups": tier_rollups(universe.rollups, frame, tier),
        }
        for tier in TIERS
    }


def audit(universe: Universe, tables: dict[str, dict[str, pd.DataFrame]]):
    given = [PublishedTable(t, f"{t}/{kind}", kind, f) for t, kinds in tables.items() for kind, f in kinds.items()]
    return audit_tiers(given, universe.facts(), universe.values, universe.rollups, 3)


def test_audit_passes_what_control_decides_and_finds_every_planted_leak():
    frame = withheld_frame(control_disclosure(SCENARIO_A.facts(), 3), CYCLE)
    tables = published(SCENARIO_A, frame)
    assert audit(SCENARIO_A, tables) == []

    true = SCENARIO_A.rollups.set_index(["group_type", "group_code"])
    public = tables["public"]["rollups"]
    r1 = (public.group_type == "region") & (public.group_code == "R1")
    i1 = (public.group_type == "income_group") & (public.group_code == "I1")
    public.loc[r1, "mean"] = true.loc[("region", "R1"), "mean"]  # 20 = (10 + 20 + C) / 3
    public.loc[r1, "max"] = true.loc[("region", "R1"), "max"]  # C's 30
    public.loc[i1, "min"] = true.loc[("income_group", "I1"), "min"]  # a group of two
    public.loc[(public.group_type == "region") & (public.group_code == "R2"), "min"] = 41.0  # not a true figure
    leaked_row = SCENARIO_A.values[SCENARIO_A.values.member_code == "C"][tables["public"]["kpi_values"].columns]
    tables["public"]["kpi_values"] = pd.concat([tables["public"]["kpi_values"], leaked_row])
    findings = audit(SCENARIO_A, tables)
    found = {(f.audience, f.group, f.statistic, f.member_code, f.problem.split(" ")[0]) for f in findings}
    assert ("public", "", "", "C", "value") in found
    assert ("public", "", "", "C", "hidden") in found  # the mean of R1 solves for C
    assert ("public", "region/R1", "max", "C", "max") in found
    assert ("public", "income_group/I1", "min", "", "min") in found
    assert ("public", "region/R2", "min", "", "figure") in found
    assert ("wco", "", "", "C", "hidden") in found  # wco readers read the public tier too


def test_audit_catches_a_public_figure_that_only_wco_readers_can_exploit():
    frame = withheld_frame(control_disclosure(SCENARIO_A.facts(), 3), CYCLE)
    tables = published(SCENARIO_A, frame)
    public = tables["public"]["rollups"]
    # Global: hidden from the public are C, E, F (safe), but wco readers see E and F: only C is left.
    public.loc[public.group_type == "global", "mean"] = 35.0
    findings = audit(SCENARIO_A, tables)
    assert [(f.audience, f.member_code) for f in findings] == [("wco", "C")]


def release_info(run_id: str) -> ReleaseInfo:
    return ReleaseInfo(CYCLE, "public", run_id, "v", "1.0", "d" * 64, "2024-01-01T00:00:00+00:00")


def test_release_is_refused_and_the_old_one_kept_when_the_check_finds_problems(tmp_path):
    tier_dir = tmp_path / "published" / CYCLE / "public"
    frame = pd.DataFrame({"cycle": [CYCLE], "x": [1.5]})
    write_release(tier_dir, {"kpi_values": frame}, release_info("run-1"))
    before = {p.name: p.read_bytes() for p in tier_dir.iterdir()}
    seen = []

    def verify(folder):
        seen.append(sorted(p.name for p in folder.iterdir()))
        return ["public/kpi_values.csv: C shown"]

    with pytest.raises(ReleaseRefusedError, match="C shown"):
        write_release(tier_dir, {"kpi_values": frame.assign(x=2.5)}, release_info("run-2"), verify=verify)
    assert seen == [["changes.json", "kpi_values.csv", "kpi_values.parquet", "manifest.json"]]  # built, not switched
    assert {p.name: p.read_bytes() for p in tier_dir.iterdir()} == before
    assert sorted(p.name for p in tier_dir.parent.iterdir()) == [".public.lock", "public"]  # no building folder left


def test_read_release_files_reports_what_cannot_be_audited(tmp_path):
    tier_dir = tmp_path / "public"
    write_release(
        tier_dir, {"kpi_values": pd.DataFrame({"flags": ["-x", ""], "cycle": [CYCLE, CYCLE]})}, release_info("run-1")
    )
    frames, problems = read_release_files(tier_dir)
    assert problems == []
    assert frames["kpi_values.csv"]["flags"].tolist()[0] == "-x"  # spreadsheet neutralization undone
    assert frames["kpi_values.csv"]["cycle"].tolist() == [CYCLE, CYCLE]  # text stays text
    (tier_dir / "notes.txt").write_text("KEN 12.3")
    (tier_dir / "kpi_values.csv").write_text("cycle\n2023\n")
    (tier_dir / "kpi_values.parquet").unlink()
    _, problems = read_release_files(tier_dir)
    assert any("notes.txt: not listed in manifest.json" in p for p in problems)
    assert any("notes.txt: not a file the disclosure audit can read" in p for p in problems)
    assert any("kpi_values.csv: bytes differ" in p for p in problems)
    assert any("kpi_values.parquet: listed in manifest.json but missing" in p for p in problems)
    manifest = json.loads((tier_dir / "manifest.json").read_text())
    assert manifest["tier"] == "public"


def test_min_group_size_setting():
    assert Settings.from_env({}).min_group_size == 3
    assert Settings.from_env({"PMM_MIN_GROUP_SIZE": "5"}).min_group_size == 5
    for bad in ("0", "-1", "three"):
        with pytest.raises(ValueError, match="PMM_MIN_GROUP_SIZE"):
            Settings.from_env({"PMM_MIN_GROUP_SIZE": bad})


def test_min_group_size_is_applied_in_every_tier():
    universe = Universe(
        [M(c, {"region": "R1"}, "public", v) for c, v in (("A", 1), ("B", 2), ("C", 3))], statistics=("mean", "min")
    )
    assert withheld_by_tier(universe, min_group_size=3)["public"] == set()
    for tier, got in withheld_by_tier(universe, min_group_size=4).items():
        assert got == stats("region:R1", ("mean", "min"), "min_group_size") | stats(
            "global:all", ("mean", "min"), "min_group_size"
        ), tier
    assert KPI == "kpi_x"
