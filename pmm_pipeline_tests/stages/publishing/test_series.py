"""Cycles joined: published/series/<tier>/ from the 2023 and 2025 sample runs, with a KPI whose definition changed.

2023 is released with the shipped catalogue (version 1.0); before 2025 (version 1.1) the formula of
electronic_declaration_rate becomes a per-mille ratio, so its 2025 rows are not comparable with 2023's; the KPIs new
in 1.1 have no earlier cycle to compare with.
"""

import copy
import datetime as dt
import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.stages.publishing.folders import check_listed
from pmm_pipeline.stages.publishing.formats import typed_table
from pmm_pipeline.stages.publishing.profiles import member_profile
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.series import read_series_file, series_columns
from pmm_pipeline.stages.sample.documents import build_sample_documents
from pmm_pipeline.stages.sample.generate import write_sample
from pmm_pipeline_tests.conftest import run_cycle_in_process, settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


CHANGED = "electronic_declaration_rate"
OLD_FORMULA = "100 * declarations_electronic[T] / declarations_total[T]"
NEW_FORMULA = "1000 * declarations_electronic[T] / declarations_total[T]"  # per mille: a new definition
# The shipped KPIs new in catalogue 1.1; the tests take the set from the catalogue (a KPI file added with
# `introduced_in: "1.1"` is new in 1.1 too), of which these must be part.
SHIPPED_NEW_IN_1_1 = {"average_release_time_hours", "ipr_seizure_variation"}


def new_in_1_1(settings) -> set[str]:
    catalogue = load_catalogue(settings.specs_dir)
    new = {k.id for k in catalogue.kpis_for_version("1.1")} - {k.id for k in catalogue.kpis_for_version("1.0")}
    assert SHIPPED_NEW_IN_1_1 <= new
    return new


def two_years_later(document: dict) -> dict:
    """The same member's submission for cycle 2025 (T = 2024), every number 10 % higher: each member answers in
    both cycles, so its profile has a previous cycle to compare with."""
    later = copy.deepcopy(document)
    later["cycle"] = "2025"
    submitted = dt.datetime.fromisoformat(later["submitted_at"].replace("Z", "+00:00"))
    # Two years on, to the day; a submission of 29 February (2024 is a leap year) moves to the 28th.
    day = 28 if (submitted.month, submitted.day) == (2, 29) else submitted.day
    later["submitted_at"] = submitted.replace(year=submitted.year + 2, day=day).isoformat().replace("+00:00", "Z")
    for answer in later["answers"]:
        answer["year"] += 2
        value = answer.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            answer["value"] = round(value * 1.1)
        elif isinstance(value, float):
            answer["value"] = value * 1.1
    return later


@pytest.fixture(scope="module")
def two_cycles(tmp_path_factory, reference):
    root = tmp_path_factory.mktemp("series")
    settings = settings_for(root / "data")
    catalogue = load_catalogue(settings.specs_dir)
    documents = build_sample_documents(reference, catalogue, "2023", members=40, seed=3)
    write_sample(settings.layout.landing_dir("2023"), documents)
    write_sample(settings.layout.landing_dir("2025"), [two_years_later(d) for d in documents])
    assert run_cycle_in_process(settings, "2023").success
    specs = root / "specs"
    shutil.copytree(settings.specs_dir, specs)
    spec = specs / f"{CHANGED}.yaml"
    assert OLD_FORMULA in spec.read_text()
    spec.write_text(spec.read_text().replace(OLD_FORMULA, NEW_FORMULA))
    assert run_cycle_in_process(replace(settings, specs_dir=specs), "2025").success
    return settings


def series_frame(settings, tier: str, table: str, suffix: str = ".parquet") -> pd.DataFrame:
    return read_series_file(settings.data_dir / "published" / "series" / tier / f"{table}{suffix}")


@pytest.mark.parametrize("tier", TIERS)
def test_a_tiers_series_is_exactly_what_each_cycle_published_in_it(two_cycles, tier):
    settings = two_cycles
    folder = settings.data_dir / "published" / "series" / tier
    manifest, problems = check_listed(folder)
    assert problems == []
    assert [c["cycle"] for c in manifest["cycles"]] == ["2023", "2025"]
    assert set(manifest["files"]) == {"kpi_values.csv", "kpi_values.parquet", "rollups.csv", "rollups.parquet"}
    for table in ("kpi_values", "rollups"):
        joined = series_frame(settings, tier, table)
        assert list(joined.columns) == series_columns(table)
        pd.testing.assert_frame_equal(series_frame(settings, tier, table, ".csv"), joined, obj=f"{tier} {table} csv")
        for cycle, version in (("2023", "1.0"), ("2025", "1.1")):
            frames, problems = read_release_files(settings.layout.published_dir(cycle) / tier)
            assert problems == []
            released = typed_table(frames[f"{table}.parquet"])
            mine = joined[joined.cycle == cycle]
            assert len(mine) == len(released) > 0, (tier, table, cycle)
            assert set(mine.catalogue_version) == {version}
            columns = list(released.columns)
            key = [c for c in ("kpi_id", "series", "member_code", "group_type", "group_code") if c in columns]
            pd.testing.assert_frame_equal(
                mine[columns].sort_values(key).reset_index(drop=True),
                released.sort_values(key).reset_index(drop=True),
                obj=f"{tier} {table} {cycle}",
            )


def test_comparable_with_previous_marks_the_changed_definition_as_a_break(two_cycles):
    new = new_in_1_1(two_cycles)
    for table in ("kpi_values", "rollups"):
        joined = series_frame(two_cycles, "secretariat", table)
        first, second = joined[joined.cycle == "2023"], joined[joined.cycle == "2025"]
        assert first.comparable_with_previous.isna().all()  # nothing earlier to compare with
        by_kpi = second.groupby("kpi_id").comparable_with_previous.agg(lambda s: set(s.astype(object)))
        assert by_kpi[CHANGED] == {False}
        assert all(by_kpi[k] == {pd.NA} or by_kpi[k] == {None} for k in new if k in by_kpi), by_kpi
        unchanged = set(by_kpi.index) - new - {CHANGED}
        assert unchanged and all(by_kpi[k] == {True} for k in unchanged), by_kpi


def test_profiles_show_the_change_since_the_previous_cycle_only_where_comparable(two_cycles):
    settings = two_cycles
    categorical = {k.id for k in load_catalogue(settings.specs_dir).kpis.values() if k.shape.value == "categorical"}
    members = sorted(p.name for p in (settings.layout.published_dir("2025") / "profiles").iterdir() if p.is_dir())
    both = [m for m in members if member_profile(settings.layout.published_dir("2023"), m) is not None]
    assert both
    changes = 0
    for member in both:
        now = member_profile(settings.layout.published_dir("2025"), member)
        before = {
            (e["kpi_id"], e["series"]): e for e in member_profile(settings.layout.published_dir("2023"), member)["kpis"]
        }
        for entry in now["kpis"]:
            earlier = before.get((entry["kpi_id"], entry["series"]))
            if earlier is None:
                assert entry["previous"] is None
                continue
            assert entry["previous"]["cycle"] == "2023" and entry["previous"]["value"] == earlier["value"]
            assert entry["previous"]["comparable"] is (entry["kpi_id"] != CHANGED)
            # A level answer has no difference; it shows as the two levels.
            no_change = entry["kpi_id"] in categorical | {CHANGED}
            if no_change or "reported" != entry["status"] or earlier["status"] != "reported":
                assert entry["previous"]["change"] is None
            else:
                assert entry["previous"]["change"] == pytest.approx(entry["value"] - earlier["value"])
                changes += 1
    assert changes


def test_each_release_records_the_definitions_it_was_built_with(two_cycles):
    settings = two_cycles
    first = json.loads((settings.layout.published_dir("2023") / "wco" / "manifest.json").read_text())
    second = json.loads((settings.layout.published_dir("2025") / "wco" / "manifest.json").read_text())
    assert first["kpi_definitions"][CHANGED] != second["kpi_definitions"][CHANGED]
    assert first["kpi_definitions"]["aeo_count_variation"] == second["kpi_definitions"]["aeo_count_variation"]
    new = new_in_1_1(settings)
    assert new <= set(second["kpi_definitions"]) and not new & set(first["kpi_definitions"])


def test_a_cycle_folder_that_does_not_read_back_as_published_is_not_joined(two_cycles, tmp_path):
    from pmm_pipeline.stages.publishing.release import ReleaseRefusedError
    from pmm_pipeline.stages.publishing.series import write_series

    copy = tmp_path / "2023" / "wco"
    shutil.copytree(two_cycles.layout.published_dir("2023") / "wco", copy)
    csv = copy / "kpi_values.csv"
    csv.write_bytes(csv.read_bytes().replace(b"\r\n", b"\r\n", 1) + b"2023,2022,GHA,x,total,1.0,reported,wco,\r\n")
    target = tmp_path / "series" / "wco"
    with pytest.raises(ReleaseRefusedError, match="bytes differ from the SHA-256"):
        write_series(target, "run", "wco", [("2023", copy)])
    assert not target.exists()
    with pytest.raises(ReleaseRefusedError, match="not '2025'"):
        write_series(target, "run", "wco", [("2025", two_cycles.layout.published_dir("2023") / "wco")])


def test_reports_and_profiles_of_the_later_cycle_show_trends_with_the_break_marked(two_cycles):
    """2025's public report draws each KPI's global mean in 2023 and 2025: electronic_declaration_rate as two
    separate lines with the break named, a KPI whose definition stayed as one line; profiles carry the member's 2023
    value as its history."""
    import re

    from pmm_pipeline.stages.publishing.report_read import read_report

    settings = two_cycles
    report = settings.layout.published_dir("2025") / "public" / "report_en.html"
    text = report.read_text()
    figures = {
        div: json.loads(body)
        for div, body in re.findall(r"class='pmm-figure' data-div='(trend-[^']*)'>(.*?)</script>", text, re.S)
    }
    changed = figures[f"trend-{CHANGED}-total"]
    assert [t["x"] for t in changed["data"]] == [["2023"], ["2025"]]
    assert [a["x"] for a in changed["layout"]["annotations"]] == [0.5]  # between 2023 and 2025
    kept = figures["trend-aeo_count_variation-total"]
    assert [t["x"] for t in kept["data"]] == [["2023", "2025"]] and kept["layout"]["annotations"] == []
    rollups_2023 = read_release_files(settings.layout.published_dir("2023") / "public")[0]["rollups.parquet"]
    world = rollups_2023[(rollups_2023.group_type == "global") & (rollups_2023.kpi_id == "aeo_count_variation")]
    assert kept["data"][0]["y"][0] == pytest.approx(float(world["mean"].iloc[0]))  # the figure 2023 published
    assert read_report(report)[1] == []
    profile = member_profile(
        settings.layout.published_dir("2025"),
        sorted(p.name for p in (settings.layout.published_dir("2025") / "profiles").iterdir() if p.is_dir())[0],
    )
    entry = next(e for e in profile["kpis"] if e["kpi_id"] == CHANGED)
    assert [h["cycle"] for h in entry["history"]] == ["2023"] and entry["previous"]["comparable"] is False
