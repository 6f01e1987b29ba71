"""Human names, in the reader's language, of everything the published tables carry as codes; number formats.

Shared by the report (report.py, report_sections.py) and the member profiles (profile_page.py).
"""

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from pmm_pipeline.core.settings import DEFAULT_RELEASE_TERMS, ReleaseTerms
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS
from pmm_pipeline.stages.publishing.i18n import N_, translator

SUPPRESSION_RULES = {
    "min_group_size": N_("fewer than {min_group_size} members of the group reported the series"),
    "hidden_member": N_("a minimum, maximum or median would be the value of a member hidden from this tier"),
    "differencing": N_("a mean, pooled ratio or level count would, with the values shown, reveal a hidden value"),
    "complementary": N_("with other published figures (e.g. global minus the other regions) it would reveal one"),
    "earlier_release": N_("with the figures of earlier releases of the same reporting year it would reveal one"),
    "not_finite": N_("it is too large to be represented as a number"),
}
GROUP_TYPE_NAMES = {
    "global": N_("All participating members"),
    "region": N_("WCO region"),
    "income_group": N_("Income group"),
    "landlocked": N_("Landlocked or not"),
    "admin_type": N_("Type of administration"),
}
STATISTIC_NAMES = {
    "mean": N_("mean"),
    "median": N_("median"),
    "min": N_("minimum"),
    "max": N_("maximum"),
    "pooled": N_("pooled ratio"),
    "level_counts": N_("count at each level"),
}
DIMENSION_NAMES = {
    1: N_("Trade facilitation and economic competitiveness"),
    2: N_("Revenue collection"),
    3: N_("Enforcement, security and protection of society"),
    4: N_("Organizational development"),
}
SERIES_NAMES = {"total": N_("total"), "import": N_("import"), "export": N_("export")}
TIER_NAMES = {
    "public": N_("public"),
    "wco": N_("WCO (National Contact Points and peer reviewers)"),
    "secretariat": N_("WCO Secretariat"),
}
# Texts used inside f-strings, where message extraction does not look: declared here for the catalogue.


@dataclass(frozen=True)
class ReportContext:
    cycle: str
    reporting_year: int
    tier: str
    kpis: Sequence[KpiSpec]
    group_names: Mapping[tuple[str, str], Mapping[str, str]]  # (group_type, group_code) -> language -> name
    min_group_size: int
    completeness: pd.DataFrame | None  # collection.completeness of the cycle, when the warehouse has it
    lang: str = "en"
    member_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # member -> language -> name
    publication_date: str | None = None
    catalogue_version: str | None = None
    release_id: str | None = None  # a digest of the tables released (outputs.content_id): same figures, same id
    code_version: str | None = None
    terms: ReleaseTerms = DEFAULT_RELEASE_TERMS
    # The tier's group figures in every published cycle, this one last (series.EarlierCycles.trends); None: no
    # earlier cycle was looked up.
    trends: pd.DataFrame | None = None


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def format_number(value: object, lang: str, digits: int = 1) -> str:
    """A number as a reader of `lang` writes it (95.0 / 95,0), rounded for display only; empty when missing."""
    return "" if missing(value) else _formatted(float(value), lang, digits)


@lru_cache(maxsize=65536)
def _formatted(value: float, lang: str, digits: int) -> str:
    from babel.numbers import format_decimal  # CLDR number formats of the three languages

    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=lang)


def count_text(value: object, lang: str) -> str:
    return "" if missing(value) else format_number(int(value), lang, 0)


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


class Labeller:
    """Human names, in one language, of everything the tables carry as codes."""

    def __init__(self, ctx: ReportContext):
        self.ctx, self.lang, self._ = ctx, ctx.lang, translator(ctx.lang)

    def group(self, group_type: str, group_code: str) -> str:
        if group_type == "global":
            return self._(GROUP_TYPE_NAMES["global"])
        names = self.ctx.group_names.get((group_type, group_code))
        return names.get(self.lang, group_code) if names else group_code

    def group_type(self, group_type: str) -> str:
        return self._(GROUP_TYPE_NAMES.get(group_type, group_type))

    def member(self, code: str) -> str:
        names = self.ctx.member_names.get(code)
        return f"{names[self.lang]} ({code})" if names and self.lang in names else code

    def kpi(self, kpi: KpiSpec) -> str:
        return kpi.names.in_language(self.lang)

    def series(self, kpi: KpiSpec, series_id: str) -> str:
        """A series' name: the catalogue's label, a level's label (categorical rollups), or the known words."""
        declared = next((s for s in kpi.series if s.id == series_id and s.labels is not None), None)
        if declared is not None:
            return declared.labels.in_language(self.lang)
        for item in kpi.items:
            level = next((lv for lv in item.answer_levels if lv.code == series_id), None)
            if level is not None:
                return level.labels.in_language(self.lang)
        return self._(SERIES_NAMES[series_id]) if series_id in SERIES_NAMES else series_id

    def level_of_score(self, kpi: KpiSpec, score: float) -> str | None:
        for item in kpi.items:
            for level in item.answer_levels:
                if level.score == score:
                    return level.labels.in_language(self.lang)
        return None

    def status(self, status: str) -> str:
        return STATUS_LABELS[self.lang].get(status, status)

    def _by_rule(self, text: object) -> dict[str, list[str]]:
        """One entry per rule, naming every statistic it withholds."""
        by_rule: dict[str, list[str]] = {}
        for entry in ("" if missing(text) else str(text)).split(";") if text else ():
            statistic, _sep, rule = entry.partition(":")
            by_rule.setdefault(rule, []).append(self._(STATISTIC_NAMES.get(statistic, statistic)))
        return by_rule

    def reasons_short(self, text: object) -> str:
        """The reasons as `mean, pooled ratio: (3); minimum: (2)`: the numbers of the report's list of rules (the
        print layout, where a sentence per withheld statistic would fill the page)."""
        numbers = {rule: i for i, rule in enumerate(SUPPRESSION_RULES, start=1)}
        return "; ".join(
            f"{', '.join(statistics)}: ({numbers.get(rule, rule)})" for rule, statistics in self._by_rule(text).items()
        )

    def reasons(self, text: object) -> str:
        """`mean:differencing;min:hidden_member` as `mean: <why>; minimum: <why>` in the reader's language."""
        by_rule = self._by_rule(text)
        parts = []
        for rule, statistics in by_rule.items():
            why = SUPPRESSION_RULES.get(rule)
            why_text = self._(why).format(min_group_size=self.ctx.min_group_size) if why else rule
            parts.append(f"{', '.join(statistics)}: {why_text}")
        return "; ".join(parts)

    def tier(self, tier: str) -> str:
        return self._(TIER_NAMES.get(tier, tier))


def reasons_in_words(min_group_size: int, group_names=None) -> Callable[[str, str], str]:
    """(suppression_reason, language) -> the reasons as a reader of that language reads them (the workbooks)."""
    labellers: dict[str, Labeller] = {}

    def words(reason: str, lang: str) -> str:
        if lang not in labellers:
            labellers[lang] = Labeller(ReportContext("", 0, "", (), group_names or {}, min_group_size, None, lang))
        return labellers[lang].reasons(reason)

    return words


def level_series(series: str) -> tuple[str, str]:
    """A categorical rollup's series (`level` or `import:level`) as (the KPI's series, the level)."""
    base, _sep, level = series.rpartition(":")
    return (base or "total", level)


def answering(rollups: pd.DataFrame) -> dict[tuple[str, str, str, str], int | None]:
    """(KPI, series, group type, group) -> members answering a categorical KPI's series in the group: the
    denominator of its level shares, the sum of the level counts (published beside each other, so nothing a
    reader cannot add up); None when one is withheld."""
    found: dict[tuple[str, str, str, str], int | None] = {}
    for kpi, series, group_type, group_code, n in zip(
        rollups.kpi_id, rollups.series, rollups.group_type, rollups.group_code, rollups.n_reporting, strict=True
    ):
        key = (kpi, level_series(series)[0], group_type, group_code)
        before = found.get(key, 0)
        found[key] = None if before is None or missing(n) else before + int(n)
    return found


def unit_text(kpi: KpiSpec, _: Callable[[str], str]) -> str:
    """The unit a reader reads: a categorical KPI is shown as shares of the members answering, never as a level."""
    return _("% of the members answering") if kpi.shape == Shape.categorical else kpi.unit
