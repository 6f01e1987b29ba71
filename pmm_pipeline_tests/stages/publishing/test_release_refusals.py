"""What a release refuses and keeps: bad extras refused whole, literal text kept, archive copies trusted whole."""

from pathlib import Path

import pytest

from pmm_pipeline.stages.ingestion.archive import archive_bytes
from pmm_pipeline.stages.publishing.excel import read_excel, write_excel
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError, write_release
from pmm_pipeline_tests.stages.publishing.release_cases import info, kpi_rows, rollup_rows


def test_a_format_that_cannot_hold_a_table_refuses_the_release_and_leaves_the_previous_one(tmp_path: Path):
    tier_dir = tmp_path / "published" / "2023" / "public"
    write_release(tier_dir, {"kpi_values": kpi_rows({"KEN": 95.0}), "rollups": rollup_rows(97.5, None)}, info("run-1"))
    before = {p.name: p.read_bytes() for p in tier_dir.iterdir()}

    def extras(folder: Path, tables) -> dict[str, int]:
        raise ValueError(f"{folder / 'kpi_values.sdmx.csv'}: text with a carriage return cannot be written")

    with pytest.raises(ReleaseRefusedError, match="kpi_values.sdmx.csv: text with a carriage return"):
        write_release(
            tier_dir,
            {"kpi_values": kpi_rows({"KEN": 50.0}), "rollups": rollup_rows(1.0, None)},
            info("run-2"),
            extras=extras,
        )

    assert {p.name: p.read_bytes() for p in tier_dir.iterdir()} == before
    assert sorted(p.name for p in tier_dir.parent.iterdir()) == [".public.lock", "public"]  # no half-built folder
    assert read_release_files(tier_dir)[1] == []


def test_workbook_text_that_looks_like_an_excel_escape_reads_back_as_written(tmp_path: Path):
    frame = kpi_rows({"KEN": 95.0})
    frame["flags"] = ["_x0041_;a\rb"]  # a literal escape-like text and a real control character
    path = tmp_path / "tables_en.xlsx"
    write_excel({"kpi_values": frame, "rollups": rollup_rows(1.0, None)}, path, "en", "2023", "public", {})
    assert read_excel(path)["kpi_values"]["flags"].tolist() == ["_x0041_;a\rb"]


def test_an_archive_copy_cut_short_is_written_again_and_a_whole_one_kept(tmp_path: Path):
    data = b'{"format": "pmm-submission"}'
    path = archive_bytes(data, tmp_path / "archive", "KEN.json")
    whole = path.stat().st_mtime_ns
    assert archive_bytes(data, tmp_path / "archive", "KEN.json") == path and path.stat().st_mtime_ns == whole

    path.write_bytes(b"")  # as a machine stopped before the bytes reached the disk might leave it
    archive_bytes(data, tmp_path / "archive", "KEN.json")
    assert path.read_bytes() == data
