"""Member profiles: every participant's own values beside the wco tier's group figures, disclosure-safe, read back.

The cycle is the hand-made fixture plus GHA, whose choices are all secretariat (it gives none) and whose
values are distinctive: they must appear in GHA's own profile and in no other member's, JSON or page.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pmm_pipeline.stages.publishing.folders import check_listed
from pmm_pipeline.stages.publishing.profiles import PROFILE_FILE, member_profile, member_profile_page, profile_html
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.report import format_number
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


PLANTED = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "GHA",
    "cycle": "2023",
    "submitted_at": "2024-02-11T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 9137},
        {"item": "declarations_electronic", "year": 2022, "value": 6047},
        {"item": "aeo_count", "year": 2021, "value": 73},
        {"item": "aeo_count", "year": 2022, "value": 88},
        {"item": "pca_controls_total", "year": 2022, "value": 613},
        {"item": "pca_controls_with_findings", "year": 2022, "value": 97},
    ],
}
# GHA's hidden values (KPI -> value), as computed from the answers above.
HIDDEN = {
    "electronic_declaration_rate": 100 * 6047 / 9137,
    "aeo_count_variation": 100 * (88 - 73) / 73,
    "pca_effectiveness": 100 * 97 / 613,
}


def spellings(value: float) -> set[str]:
    """How a value can be written in a profile: exactly (JSON) or rounded for display, in each language."""
    return {repr(value), *(format_number(value, lang) for lang in ("en", "fr", "es"))}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("profiles") / "data"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data / "landing" / "2023")
    (data / "landing" / "2023" / "GHA.json").write_text(json.dumps(PLANTED))
    assert run_cycle_in_process(settings_for(data), "2023").success
    return data / "published" / "2023"


def profiles(published: Path) -> dict[str, dict]:
    folder = published / "profiles"
    return {p.name: json.loads((p / PROFILE_FILE).read_text()) for p in sorted(folder.iterdir()) if p.is_dir()}


def test_every_participant_has_a_profile_in_its_language_and_english(published):
    found = profiles(published)
    assert set(found) == {"DEU", "FRA", "GHA", "KEN", "UGA"}  # BRA's only file is broken: it does not participate
    assert sorted(p.name for p in (published / "profiles" / "FRA").iterdir()) == [
        "profile.json",
        "profile_en.html",
        "profile_fr.html",
    ]
    assert sorted(p.name for p in (published / "profiles" / "KEN").iterdir()) == ["profile.json", "profile_en.html"]
    page = (published / "profiles" / "FRA" / profile_html("fr")).read_text()
    assert page.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert "Taux de déclarations électroniques" in page and "déclaré" in page


def test_planted_hidden_values_appear_only_in_their_members_profile(published):
    found = profiles(published)
    own = {e["kpi_id"]: e for e in found["GHA"]["kpis"] if e["series"] == "total"}
    for kpi, value in HIDDEN.items():
        assert own[kpi]["value"] == pytest.approx(value) and own[kpi]["disclosure"] == "secretariat"
    ghana = "\n".join(p.read_text() for p in (published / "profiles" / "GHA").iterdir())
    for member in set(found) - {"GHA"}:
        texts = "\n".join(p.read_text() for p in (published / "profiles" / member).iterdir())
        assert "GHA" not in texts and "Ghana" not in texts, member
        for kpi in HIDDEN:
            exact = own[kpi]["value"]
            assert format_number(exact, "en") in ghana  # the positive control: shown where it belongs
            shown = {s for s in spellings(exact) if re.search(rf"(?<![\d.,]){re.escape(s)}(?![\d])", texts)}
            assert not shown, (member, kpi, shown)


def test_each_profiles_group_figures_are_the_wco_tiers_rollups(published):
    frames, problems = read_release_files(published / "wco")
    assert problems == []
    rollups = frames["rollups.parquet"]
    keyed = {(r.kpi_id, r.series, r.group_type, r.group_code): r for r in rollups.itertuples()}
    compared = 0
    for member, document in profiles(published).items():
        assert {g["group_type"] for g in document["groups"]} == {
            "global",
            "region",
            "income_group",
            "landlocked",
            "admin_type",
        }
        for entry in document["kpis"]:
            assert entry["groups"], (member, entry["kpi_id"])
            for group in entry["groups"]:
                series = group.get("level", entry["series"])
                row = keyed[(entry["kpi_id"], series, group["group_type"], group["group_code"])]
                for statistic in ("n_reporting", "n_participating", "mean", "median", "min", "max"):
                    expected = getattr(row, statistic)
                    assert (None if pd.isna(expected) else float(expected)) == group[statistic], (member, group)
                reasons = row.suppression_reason if isinstance(row.suppression_reason, str) else ""
                assert group["withheld"] == dict(e.split(":", 1) for e in reasons.split(";") if e)
                compared += 1
    assert compared > 100


def test_the_profiles_folder_reads_back_as_its_manifest_and_a_change_is_caught(published, tmp_path):
    manifest, problems = check_listed(published / "profiles")
    assert problems == [] and manifest["cycle"] == "2023" and "FRA/profile_fr.html" in manifest["files"]
    document = member_profile(published, "KEN")
    assert document["member_code"] == "KEN" and document == profiles(published)["KEN"]
    assert member_profile(published, "BRA") is None and member_profile(published, "../wco") is None
    assert member_profile_page(published, "FRA", "fr").name == "profile_fr.html"
    assert member_profile_page(published, "KEN", "es").name == "profile_en.html"  # KEN answers in English
    assert member_profile_page(published, "BRA", "en") is None
    copy = tmp_path / "2023"
    shutil.copytree(published / "profiles", copy / "profiles")
    path = copy / "profiles" / "KEN" / PROFILE_FILE
    path.write_text(path.read_text().replace('"value": 95.0', '"value": 96.0'))
    with pytest.raises(ValueError, match="bytes differ"):
        member_profile(copy, "KEN")


def test_chromium_draws_a_profile_page(published):
    from pmm_pipeline_tests.paths import ARTIFACTS
    from pmm_pipeline_tests.stages.publishing.chromium_checks import CHROMIUM_FLAGS, chromium

    page = published / "profiles" / "FRA" / profile_html("fr")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "profile_FRA_fr.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={published.parent / '.chromium-profile'}",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=180,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


def test_a_profile_that_is_not_its_inputs_or_names_another_member_is_refused(tmp_path):
    """The check run on the built folder before the switch: figures altered (even with the manifest redone) or a
    page naming another participant are problems, and write_profiles refuses to switch such a folder in."""
    from pmm_pipeline.stages.publishing.folders import write_folder
    from pmm_pipeline.stages.publishing.profile_document import build_profile
    from pmm_pipeline.stages.publishing.profile_page import render_profile
    from pmm_pipeline.stages.publishing.profiles import check_profiles, write_profiles
    from pmm_pipeline.stages.publishing.release import ReleaseRefusedError
    from pmm_pipeline_tests.stages.publishing.report_inputs import hand_made_profile_inputs

    inputs = hand_made_profile_inputs("fr")
    target = tmp_path / "profiles"
    write_profiles(target, "run1", ["KEN"], inputs, {"cycle": "2023"})
    assert check_profiles(target, inputs, ["KEN"]) == []

    def forged(folder: Path, *, figure: float | None = None, page_text: str = "") -> dict[str, int]:
        document = build_profile("KEN", inputs)
        if figure is not None:
            document["kpis"][0]["groups"][0]["mean"] = figure
        (folder / "KEN").mkdir()
        (folder / "KEN" / PROFILE_FILE).write_text(json.dumps(document))
        (folder / "KEN" / profile_html("fr")).write_text(render_profile(document, "fr", inputs) + page_text)
        return {f"KEN/{PROFILE_FILE}": 1, f"KEN/{profile_html('fr')}": 1}

    for change, expected in (
        ({"figure": 12.5}, "not the member's values"),
        ({"page_text": "<p>FRA</p>"}, "names other members ['FRA']"),
    ):
        with pytest.raises(ReleaseRefusedError, match=re.escape(expected)):
            write_folder(
                target,
                "run2",
                lambda folder, change=change: forged(folder, **change),
                {"cycle": "2023"},
                verify=lambda built: check_profiles(built, inputs, ["KEN"]),
            )
        assert check_profiles(target, inputs, ["KEN"]) == []  # the folder in place is untouched


def tier_texts(folder: Path) -> dict[str, str]:
    """Every file of a published folder as the text a reader can search: text files as they are, workbooks and
    Parquet files cell by cell (numbers written out exactly)."""
    import openpyxl

    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            cells = [
                repr(v) if isinstance(v, float) else str(v)
                for s in book
                for r in s.iter_rows(values_only=True)
                for v in r
                if v is not None
            ]
            book.close()
            texts[path.name] = "\n".join(cells)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            texts[path.name] = "\n".join(repr(v) if isinstance(v, float) else str(v) for v in frame.to_numpy().ravel())
        else:  # a report without its inlined plotly.js (the library's code, with its own country names)
            texts[path.name] = re.sub(r"<script>.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return texts


def planted_spellings_in(text: str, planted: list[float]) -> set[str]:
    found = set()
    for value in planted:  # a CSV field follows a comma: only a digit or a decimal point before it makes another number
        found |= {s for s in spellings(value) if re.search(rf"(?<![\d.]){re.escape(s)}(?![\d])", text)}
    return found


@pytest.mark.parametrize("tier", ["public", "wco", "secretariat"])
def test_planted_hidden_values_appear_in_no_file_of_a_tier_that_may_not_show_them(published, tier):
    """GHA's values are secretariat-only: nowhere in the public and wco releases (tables, JSON, SDMX, workbooks,
    reports in three languages) nor in those tiers' series; in the secretariat tier they are (the positive control)."""
    series = published.parent / "series" / tier
    assert (series / "manifest.json").exists() and (published / tier / "report_es.html").exists()
    texts = {f"{tier}/{k}": v for k, v in tier_texts(published / tier).items()}
    texts |= {f"series/{tier}/{k}": v for k, v in tier_texts(series).items()}
    # GHA's values as the pipeline computed them (its own profile): the exact doubles the files would carry.
    own = {e["kpi_id"]: e["value"] for e in profiles(published)["GHA"]["kpis"] if e["series"] == "total"}
    planted = [own[kpi] for kpi in HIDDEN]
    assert planted == pytest.approx(list(HIDDEN.values()))
    found = {name: planted_spellings_in(text, planted) for name, text in texts.items()}
    if tier == "secretariat":
        for name in ("kpi_values.csv", "kpi_values.json", "kpi_values.parquet", "tables_fr.xlsx"):
            assert found[f"secretariat/{name}"], name
        assert found["series/secretariat/kpi_values.csv"]
    else:
        assert {name: f for name, f in found.items() if f} == {}
        named = [name for name, text in texts.items() if re.search(r"\bGHA\b|Ghana", text)]
        assert named == [], named
