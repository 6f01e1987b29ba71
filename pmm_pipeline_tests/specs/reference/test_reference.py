"""Reference data and cycles configuration: shipped files valid, dated memberships, errors naming the file."""

import datetime as dt
import shutil
from pathlib import Path

import pytest

from pmm_pipeline.core.settings import PACKAGED_REFERENCE_DIR
from pmm_pipeline.specs.reference.load import ReferenceError, load_cycles, load_reference


def test_shipped_reference(reference):
    regions = {g.group_code for g in reference.groups if g.group_type == "region"}
    assert regions == {"ESA", "EUR", "AP", "MENA", "AMS", "WCA"}
    cycle_2025 = reference.cycles.get("2025")
    members = reference.members_in_force(cycle_2025)
    assert 180 <= len(members) <= 190
    assert "EUU" in members
    assert {m.language for m in members.values()} == {"en", "fr", "es"}
    assert reference.cycles.get("2023").years == (2021, 2022)
    assert cycle_2025.reporting_year == 2024


def test_cycle_uses_the_membership_in_force(reference):
    changed = {}
    for m in reference.memberships:
        changed.setdefault(m.member_code, []).append(m)
    dated = {code: rows for code, rows in changed.items() if len(rows) > 1}
    assert dated, "the shipped members file exercises at least one dated change"
    code, rows = next(iter(sorted(dated.items())))
    in_2023 = reference.members_in_force(reference.cycles.get("2023"))[code]
    in_2025 = reference.members_in_force(reference.cycles.get("2025"))[code]
    assert in_2023 != in_2025
    assert in_2023.in_force_on(dt.date(2023, 12, 1)) and in_2025.in_force_on(dt.date(2025, 12, 1))


def copy_reference(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    shutil.copytree(PACKAGED_REFERENCE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


@pytest.mark.parametrize(
    "row_change,fragment",
    [
        (("KEN,Kenya", "KXX,Kenya"), "not an ISO 3166-1 alpha-3"),
        (
            (",ESA,lower_middle,false,revenue_authority,en,", ",ESX,lower_middle,false,revenue_authority,en,"),
            "region 'ESX'",
        ),
        ((",revenue_authority,en,2000-01-01,", ",revenue_authority,en,2000-13-01,"), "valid_from"),
        ((",revenue_authority,en,2000-01-01,", ",revenue_authority,de,2000-01-01,"), "language"),
    ],
)
def test_bad_member_rows_name_file_and_line(tmp_path, row_change, fragment):
    folder = copy_reference(tmp_path)
    members = folder / "members.csv"
    lines = members.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("KEN,"))
    old, new = row_change
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new)
    members.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReferenceError) as err:
        load_reference(folder, folder / "cycles.yaml")
    assert f"members.csv, line {index + 1}" in str(err.value) and fragment in str(err.value)


def test_overlapping_memberships_are_refused(tmp_path):
    folder = copy_reference(tmp_path)
    members = folder / "members.csv"
    ken = next(line for line in members.read_text().splitlines() if line.startswith("KEN,"))
    members.write_text(members.read_text() + ken.replace("2000-01-01", "2010-01-01") + "\n")
    with pytest.raises(ReferenceError, match="KEN has overlapping validity dates"):
        load_reference(folder, folder / "cycles.yaml")


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("cycles: []", "at least 1"),
        (
            "cycles:\n  - {id: '2023', reporting_year: 2022, collection: {opens: 2024-01-01, closes: 2023-01-01},"
            " publication_date: 2025-01-01, catalogue_version: '1.0'}",
            "closes is before",
        ),
        (
            "cycles:\n  - {id: '2023', reporting_year: 2022, collection: {opens: 2023-01-01, closes: 2023-02-01},"
            " publication_date: 2025-01-01, catalogue_version: '1.0', cadence: yearly}",
            "Extra inputs",
        ),
        (
            "cycles:\n  - {id: 'x', reporting_year: 2022, collection: {opens: 2023-01-01, closes: 2023-02-01},"
            " publication_date: 2025-01-01, catalogue_version: '1.0'}\n"
            "  - {id: 'x', reporting_year: 2023, collection: {opens: 2023-01-01, closes: 2023-02-01},"
            " publication_date: 2025-01-01, catalogue_version: '1.0'}",
            "duplicate cycle id",
        ),
        ("cycles: [", "not valid YAML"),
    ],
)
def test_bad_cycles_config_names_file(tmp_path, text, fragment):
    path = tmp_path / "cycles.yaml"
    path.write_text(text)
    with pytest.raises(ReferenceError) as err:
        load_cycles(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_unknown_cycle_lists_the_configured_ones(reference):
    with pytest.raises(KeyError, match="configured cycles: 2023, 2025"):
        reference.cycles.get("1999")
