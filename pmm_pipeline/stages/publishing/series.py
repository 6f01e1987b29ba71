"""Cycles joined: `published/series/<tier>/` holds every published cycle's kpi_values and rollups in one table each.

Built only from what each cycle PUBLISHED in that tier (its folder, read back and checked against its
manifest like any reader would), so a tier's series never shows more than its releases showed. Each
row gets the cycle's `catalogue_version` and `comparable_with_previous`: whether the KPI's definition
(definitions.py digest, recorded in each release's manifest) is the one of the nearest earlier cycle
that published it; null when no earlier cycle did (nothing to compare with) or its release predates
the record of definitions.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.settings import DataLayout
from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.publishing.folders import check_listed, write_folder
from pmm_pipeline.stages.publishing.formats import typed_table
from pmm_pipeline.stages.publishing.history import released_folders
from pmm_pipeline.stages.publishing.readback import read_release_files, read_table_file
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError, write_csv, write_parquet
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS, ROLLUPS

SERIES_FOLDER = "series"
TABLES = {"kpi_values": PUBLISHED_KPI_COLUMNS, "rollups": PUBLISHED_ROLLUP_COLUMNS}
SORT_KEYS = {
    "kpi_values": ["kpi_id", "series", "member_code"],
    "rollups": ROLLUPS.key_in_cycle,
}
ADDED_COLUMNS = ["catalogue_version", "comparable_with_previous"]


def series_columns(table: str) -> list[str]:
    return [*TABLES[table], *ADDED_COLUMNS]


def joined_tables(cycle_folders: Sequence[tuple[str, Path]]) -> tuple[dict[str, pd.DataFrame], list[dict], list[str]]:
    """The joined tables of one tier from its cycles' folders (cycle id, folder), oldest first; the cycles'
    release facts; and what is amiss (a folder that does not read back as published is not joined)."""
    tables, cycles, problems, _definitions = _joined(cycle_folders)
    return tables, cycles, problems


def _joined(cycle_folders: Sequence[tuple[str, Path]]) -> tuple[dict[str, pd.DataFrame], list[dict], list[str], dict]:
    """joined_tables, and each KPI's definition in the latest of those cycles that published it."""
    problems: list[str] = []
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    cycles: list[dict] = []
    earlier: dict[str, str] = {}  # KPI -> its definition in the nearest earlier cycle that published it
    for cycle_id, folder in cycle_folders:
        frames, amiss = read_release_files(folder)
        manifest, _ = check_listed(folder)
        if amiss:
            problems += amiss
            continue
        if manifest.get("cycle") != cycle_id:
            problems.append(f"{folder}/manifest.json: the release of cycle {manifest.get('cycle')!r}, not {cycle_id!r}")
            continue
        definitions = manifest.get("kpi_definitions") or {}
        for table in TABLES:
            frame = typed_table(frames[f"{table}.parquet"][TABLES[table]])
            frame = frame.sort_values(SORT_KEYS[table]).reset_index(drop=True)
            frame["catalogue_version"] = manifest.get("catalogue_version")
            frame["comparable_with_previous"] = pd.array(
                [
                    None if k not in earlier or k not in definitions else earlier[k] == definitions[k]
                    for k in frame["kpi_id"]
                ],
                dtype="boolean",
            )
            parts[table].append(frame)
        earlier |= definitions
        cycles.append(
            {
                "cycle": cycle_id,
                "catalogue_version": manifest.get("catalogue_version"),
                "run_id": manifest.get("run_id"),
            }
        )
    tables = {
        t: (
            pd.concat(p, ignore_index=True)
            if p
            else typed_table(pd.DataFrame(columns=TABLES[t])).assign(
                catalogue_version=None, comparable_with_previous=pd.array([], dtype="boolean")
            )
        )[series_columns(t)]
        for t, p in parts.items()
    }
    return tables, cycles, problems, earlier


# The group figures a report draws across cycles: its readers' headline, the figure over all members.
TREND_GROUP_TYPES = ("global",)
TREND_COLUMNS = [
    "cycle",
    "kpi_id",
    "series",
    "group_type",
    "group_code",
    "n_reporting",
    "n_participating",
    "mean",
    "median",
    "comparable_with_previous",
]


@dataclass(frozen=True)
class EarlierCycles:
    """What a tier published in the cycles before the one being released: the base of a report's trends."""

    rollups: pd.DataFrame  # the joined rollups of those cycles (series columns), oldest first
    definitions: Mapping[str, str]  # KPI -> its definition in the latest earlier cycle that published it

    def trends(self, cycle_id: str, rollups: pd.DataFrame, definitions: Mapping[str, str]) -> pd.DataFrame:
        """The group figures of TREND_GROUP_TYPES in every cycle, this one last, each marked comparable (or not)
        with the cycle before; only KPIs this cycle publishes."""
        current = rollups[rollups.group_type.isin(TREND_GROUP_TYPES)].copy()
        current["cycle"] = cycle_id
        current["comparable_with_previous"] = pd.array(
            [
                None if k not in self.definitions or k not in definitions else self.definitions[k] == definitions[k]
                for k in current["kpi_id"]
            ],
            dtype="boolean",
        )
        before = self.rollups[
            self.rollups.group_type.isin(TREND_GROUP_TYPES) & self.rollups.kpi_id.isin(set(current.kpi_id))
        ]
        frames = [f[TREND_COLUMNS] for f in (before, current) if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else current[TREND_COLUMNS]


def earlier_cycles(cycle_folders: Sequence[tuple[str, Path]]) -> EarlierCycles:
    """The tier's earlier releases (cycle id, folder; oldest first), each read back and checked like series are;
    refused when one does not read back as published (a report would draw figures no release showed)."""
    tables, _cycles, problems, definitions = _joined(cycle_folders)
    if problems:
        raise ReleaseRefusedError(cycle_folders[-1][1], problems)
    return EarlierCycles(tables["rollups"], definitions)


def read_series_file(path: Path) -> pd.DataFrame:
    """A series CSV or Parquet file as its readers get it, in the series' types."""
    frame = read_table_file(path)
    values = frame["comparable_with_previous"]
    if values.dtype != "boolean":  # CSV: True / False / empty
        values = values.map(lambda v: None if pd.isna(v) else str(v).lower() == "true")
    frame["comparable_with_previous"] = pd.array(values, dtype="boolean")
    frame["catalogue_version"] = frame["catalogue_version"].astype(object)
    return typed_table(frame.drop(columns=["comparable_with_previous"])).assign(
        comparable_with_previous=frame["comparable_with_previous"]
    )


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    return list(a.columns) == list(b.columns) and a.astype(object).equals(b.astype(object))


def write_series(target: Path, token: str, tier: str, cycle_folders: Sequence[tuple[str, Path]]) -> dict:
    """Builds `published/series/<tier>/` from the tier's cycle folders, checks it, switches it in."""
    tables, cycles, problems = joined_tables(cycle_folders)
    if problems:
        raise ReleaseRefusedError(target, problems)

    def write(folder: Path) -> dict[str, int]:
        rows = {}
        for name, frame in tables.items():
            write_csv(frame, folder / f"{name}.csv")
            write_parquet(frame, folder / f"{name}.parquet")
            rows[f"{name}.csv"] = rows[f"{name}.parquet"] = len(frame)
        return rows

    def verify(folder: Path) -> list[str]:
        """Every file reads back as the joined tables, and those are the cycles' released tables again."""
        _, amiss = check_listed(folder)
        again, _, more = joined_tables(cycle_folders)
        amiss += more
        for name, frame in again.items():
            for suffix in (".csv", ".parquet"):
                if not _same(read_series_file(folder / f"{name}{suffix}"), frame):
                    amiss.append(f"{folder / (name + suffix)}: does not read back as the cycles' released {name}")
        return amiss

    header = {"format": "pmm-series", "format_version": 1, "tier": tier, "cycles": cycles}
    return write_folder(target, token, write, header, verify)


def write_every_series(layout: DataLayout, cycle_ids: Sequence[str], token: str) -> dict[str, list[str]]:
    """Rewrites `published/series/<tier>/` of every tier from that tier's releases among these cycles (oldest
    first); returns the cycles each tier's series joins. Raises ReleaseRefusedError as write_series does."""
    joined: dict[str, list[str]] = {}
    for tier in TIERS:
        folders = released_folders(layout, cycle_ids, tier)
        write_series(layout.data_dir / "published" / SERIES_FOLDER / tier, token, tier, folders)
        joined[tier] = [c for c, _ in folders]
    return joined
