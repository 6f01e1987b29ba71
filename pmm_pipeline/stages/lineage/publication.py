"""Where a traced value went: per tier its published row and files, why it is withheld, the rollups it feeds."""

import csv
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.disclosure.facts import NUMERIC_STATISTICS, VALUE, split_level_series, visible_in
from pmm_pipeline.stages.lineage.reads import given, plain, rows
from pmm_pipeline.stages.lineage.trace_model import PublishedFile, RollupFeed, RollupTier, TierPublication
from pmm_pipeline.warehouse.tables import ROLLUPS, WITHHELD, published_tables

# The member's group of each grouping the rollups compare (staging.participation's columns); plus global/all.
GROUP_COLUMNS = {
    "region": "region_code",
    "income_group": "income_group",
    "landlocked": "landlocked",
    "admin_type": "admin_type",
}


class Publication:
    """Per tier: the published row of a value, its files, why it is withheld; and the rollup rows it feeds."""

    def __init__(self, conn, tables: set[str], cycle_id: str, member: str, kpi: KpiSpec, data_dir: Path | None):
        self.cycle, self.member, self.kpi, self.data_dir = cycle_id, member, kpi, data_dir
        self.rows: dict[str, dict[str, dict]] = {}
        self.rollup_rows: dict[str, dict[tuple, dict]] = {}
        self.released: dict[str, bool] = {}
        for tier in TIERS:
            kpi_table, rollup_table, releases = published_tables(tier)
            mine = "cycle = ? AND member_code = ? AND kpi_id = ?"
            self.rows[tier] = {r["series"]: r for r in rows(conn, tables, kpi_table, mine, [cycle_id, member, kpi.id])}
            self.rollup_rows[tier] = {
                (r["series"], r["group_type"], r["group_code"]): r
                for r in rows(conn, tables, rollup_table, "cycle = ? AND kpi_id = ?", [cycle_id, kpi.id])
            }
            self.released[tier] = bool(rows(conn, tables, releases, "cycle = ?", [cycle_id], "run_id"))
        # A member value withheld from a tier by disclosure control is a `value` row of group (member, code).
        self.withheld = rows(
            conn,
            tables,
            WITHHELD,
            "cycle = ? AND kpi_id = ? AND statistic = ? AND group_type = 'member' AND group_code = ?",
            [cycle_id, kpi.id, VALUE, member],
            "tier, series, reason",
        )
        self.true_rollups = rows(
            conn,
            tables,
            ROLLUPS,
            "cycle = ? AND kpi_id = ?",
            [cycle_id, kpi.id],
            "series, group_type, group_code, n_reporting, n_participating",
        )
        self._files: dict[Path, dict[str, tuple[int, object, object]] | None] = {}

    def _relative(self, tier: str, name: str) -> str:
        return f"published/{self.cycle}/{tier}/{name}"

    def _located(self, path: Path) -> dict[str, tuple[int, object, object]] | None:
        """This member's rows of the KPI in a published kpi_values file: series -> (CSV line, 1 = the header, or
        Parquet row index from 0; value; status). Read in one pass without keeping the file (a cycle at scale
        publishes millions of rows); None when the file cannot be read."""
        if path in self._files:
            return self._files[path]
        found: dict[str, tuple[int, object, object]] = {}
        try:
            if path.suffix == ".csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    reader = csv.reader(handle)
                    header = next(reader)
                    at = {name: header.index(name) for name in ("member_code", "kpi_id", "series", "value", "status")}
                    line = 2
                    for record in reader:
                        start, line = line, reader.line_num + 1  # a quoted field may span lines: its first
                        if record[at["member_code"]] == self.member and record[at["kpi_id"]] == self.kpi.id:
                            found[record[at["series"]]] = (start, record[at["value"]], record[at["status"]])
            else:
                frame = pd.read_parquet(path, columns=["member_code", "kpi_id", "series", "value", "status"])
                mine = frame[(frame["member_code"] == self.member) & (frame["kpi_id"] == self.kpi.id)]
                for index, row in zip(mine.index, mine.itertuples(index=False), strict=True):
                    found[row.series] = (int(index), plain(row.value), row.status)
        except (OSError, ValueError, KeyError, IndexError, StopIteration, csv.Error):
            found = None
        self._files[path] = found
        return found

    def _files_for(self, tier: str, series: str, warehouse_row: Mapping) -> list[PublishedFile]:
        """The row in each kpi_values file of a release in place; a file unreadable or without the row is listed
        with `value_matches` false: a release on record must hold what the warehouse says."""
        if self.data_dir is None:
            return []
        found = []
        for name in ("kpi_values.csv", "kpi_values.parquet"):
            located = (self._located(self.data_dir / "published" / self.cycle / tier / name) or {}).get(series)
            if located is None:
                found.append(PublishedFile(path=self._relative(tier, name), row=None, value_matches=False))
                continue
            row, value, status = located
            matches = same_value(value, warehouse_row.get("value")) and str(status) == str(warehouse_row.get("status"))
            found.append(PublishedFile(path=self._relative(tier, name), row=row, value_matches=matches))
        return found

    def tiers(self, series: str, value_row: Mapping | None) -> list[TierPublication]:
        key = {"cycle": self.cycle, "member_code": self.member, "kpi_id": self.kpi.id, "series": series}
        return [self._tier(tier, series, value_row, key) for tier in TIERS]

    def _tier(self, tier: str, series: str, value_row: Mapping | None, key: dict) -> TierPublication:
        def state(state, message, withheld_by=None, reason=None, files=()):
            return TierPublication(
                tier=tier,
                state=state,
                withheld_by=withheld_by,
                reason=reason,
                message=message,
                row_key=key,
                files=list(files),
            )

        if value_row is None:
            return state("not_computed", "no value: the member's submission was kept out by the quality gate")
        published = self.rows[tier].get(series)
        choice = value_row.get("disclosure")
        by_choice = tier != TIERS[-1] and not visible_in(choice, tier)
        control = next((w["reason"] for w in self.withheld if w["tier"] == tier and w["series"] == series), None)
        if published is not None:
            released = self.released[tier]
            message = f"in the {tier} tier's kpi_values" + ("" if released else " table; no release of it is in place")
            # What the tier must not show is said loudly: the disclosure audit should have refused it.
            if by_choice:
                message += f"; WARNING: the member chose `{choice}`, which {tier} readers may not see"
            elif control is not None:
                message += f"; WARNING: disclosure control withheld it from this tier ({control})"
            files = self._files_for(tier, series, published) if released else []
            return state("published" if released else "not_released", message, files=files)
        if by_choice:
            message = f"the member chose `{choice}` for {self.kpi.id}: not shown to {tier} readers"
            return state("withheld", message, "disclosure_choice", choice)
        if control is not None:
            message = f"withheld from the {tier} tier by disclosure control ({control}, disclosure.withheld)"
            return state("withheld", message, "disclosure_control", control)
        return state("not_released", f"not in the {tier} tier's tables: the tier has not been published for this cycle")

    def rollups(self, series: str, value_row: Mapping | None, member: Mapping) -> list[RollupFeed]:
        if value_row is None:  # a blocked member has no value: it is in no rollup, not even as coverage
            return []
        groups = [("global", "all")] + [(t, member.get(c)) for t, c in GROUP_COLUMNS.items()]
        categorical = self.kpi.shape == Shape.categorical
        reported = value_row.get("status") == "reported"
        feeds = []
        for row in self.true_rollups:
            row_series = row["series"]
            if categorical:
                kpi_series, level = split_level_series(str(row_series))
                if kpi_series != series:
                    continue
                counts_in = (
                    "coverage"
                    if not reported
                    else ("statistics" if level == value_row.get("level_code") else "level_share_base")
                )
            else:
                if row_series != series:
                    continue
                counts_in = "statistics" if reported else "coverage"
            if (row["group_type"], row["group_code"]) not in groups:
                continue
            feeds.append(
                RollupFeed(
                    series=str(row_series),
                    group_type=row["group_type"],
                    group_code=row["group_code"],
                    counts_in=counts_in,
                    n_reporting=row.get("n_reporting"),
                    n_participating=row.get("n_participating"),
                    tiers=[self._rollup_tier(t, (row_series, row["group_type"], row["group_code"])) for t in TIERS],
                )
            )
        order = {g: i for i, g in enumerate(g for g, _ in groups)}
        return sorted(feeds, key=lambda f: (order.get(f.group_type, 9), f.series))

    def _rollup_tier(self, tier: str, key: tuple) -> RollupTier:
        row = self.rollup_rows[tier].get(key) or {}
        reasons = {}
        for entry in str(row.get("suppression_reason") or "").split(";"):
            if ":" in entry:
                statistic, reason = entry.split(":", 1)
                reasons.setdefault(statistic, reason)
        statistics = [s for s in (*NUMERIC_STATISTICS,) if row.get(s) is not None]
        return RollupTier(
            tier=tier,
            released=self.released[tier] and bool(row),
            published=statistics,
            suppressed=reasons,
            file=self._relative(tier, "rollups.csv"),
        )


def same_value(published: object, stored: object) -> bool:
    if not given(published) or (isinstance(published, float) and math.isnan(published)):
        return stored is None
    return stored is not None and float(published) == float(stored)
