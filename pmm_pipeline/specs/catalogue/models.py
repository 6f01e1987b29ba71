"""Typed models of the KPI catalogue, checked on load: one YAML file per KPI in `kpi_specs/`, and one per
questionnaire item in `kpi_specs/items/` (an item is declared once, whichever KPIs use it)."""

import re
from enum import Enum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION = r"^\d+(\.\d+)*$"
SnakeCase = Annotated[str, Field(pattern=SNAKE_CASE.pattern, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(Strict):
    """A text in the three working languages of the questionnaire."""

    en: str = Field(min_length=1)
    fr: str = Field(min_length=1)
    es: str = Field(min_length=1)

    def in_language(self, lang: str) -> str:
        return getattr(self, lang)


class ItemType(str, Enum):
    count = "count"  # a whole number of things (declarations, seizures, staff)
    amount = "amount"  # a money value or other non-negative quantity
    percent = "percent"  # a share already expressed in %
    duration = "duration"  # a time, e.g. hours
    level = "level"  # one of the declared levels (categorical)
    yes_no = "yes_no"  # a yes/no answer, a two-level categorical

    @property
    def bounds(self) -> "TypeBounds | None":
        """Plausible magnitudes of a number of this type (None for levels: their scores are declared)."""
        return TYPE_BOUNDS.get(self)


class TypeBounds(BaseModel):
    """The plausible magnitudes of an answer of one item type, checked at intake (value_out_of_bounds).

    Not a data-quality range (an item's own `min`/`max` stay the quality gate's): a value beyond
    these is a typing slip or an attack, and letting it in breaks arithmetic for everyone. A
    non-zero value is at most `max_abs` and at least `min_abs_nonzero` in size.
    """

    model_config = ConfigDict(frozen=True)
    max_abs: float
    min_abs_nonzero: float


# Why these numbers: the largest real figures are a country's yearly trade in USD (~5e12) and its
# yearly parcels (~1e10), so 1e15 USD (200 times China's trade) and 1e13 things are never reached
# by a customs administration. Every KPI is a sum, difference, product or quotient of a few
# answers times a constant; with magnitudes in [1e-6, 1e15] a quotient stays within 1e21 x 100,
# a sum or mean over 250 members within 1e24, and a sum of squares within 1e50, all far from a
# double's 1.8e308 (where `1e306` answers made pooled ratios infinite and a mean 3.85e300). The
# smallest non-zero magnitude keeps denormal divisors (5e-324) out for the same reason. Both
# maxima are below 2**53, so every whole number up to them is exact in a double.
TYPE_BOUNDS: dict[ItemType, TypeBounds] = {
    ItemType.count: TypeBounds(max_abs=1e13, min_abs_nonzero=1e-6),
    ItemType.amount: TypeBounds(max_abs=1e15, min_abs_nonzero=1e-6),
    ItemType.percent: TypeBounds(max_abs=1e6, min_abs_nonzero=1e-6),  # a share, or a change of up to 10 000 times
    ItemType.duration: TypeBounds(max_abs=1e6, min_abs_nonzero=1e-6),  # hours: 114 years
}


class Level(Strict):
    """One answer of a categorical item; `score` is what `kpi_values.value` carries."""

    code: SnakeCase
    score: float
    labels: Labels


YES_NO_LEVELS = (
    Level(code="no", score=0, labels=Labels(en="No", fr="Non", es="No")),
    Level(code="yes", score=1, labels=Labels(en="Yes", fr="Oui", es="Sí")),
)


class Item(Strict):
    """A questionnaire item: one answer per member and year."""

    code: SnakeCase
    labels: Labels
    type: ItemType
    unit: str = Field(min_length=1)
    min: float | None = 0
    max: float | None = None
    part_of: SnakeCase | None = Field(
        default=None, description="item this one is a part of (part must not exceed the whole)"
    )
    typical: tuple[float, float] | None = Field(
        default=None,
        description="plausible value for a small and a large administration; used by `pmm sample`",
    )
    levels: tuple[Level, ...] | None = None

    @model_validator(mode="after")
    def _levels_match_type(self) -> "Item":
        if self.type == ItemType.level and not self.levels:
            raise ValueError("an item of type 'level' must declare its levels")
        if self.type not in (ItemType.level,) and self.levels:
            raise ValueError("only items of type 'level' declare levels")
        if self.levels and len({lv.code for lv in self.levels}) != len(self.levels):
            raise ValueError("level codes must be unique")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be above max")
        return self

    @property
    def is_categorical(self) -> bool:
        return self.type in (ItemType.level, ItemType.yes_no)

    @property
    def answer_levels(self) -> tuple[Level, ...]:
        if self.type == ItemType.yes_no:
            return YES_NO_LEVELS
        return self.levels or ()


class Shape(str, Enum):
    ratio = "ratio"  # share of a whole, formula of the form [k *] part / whole
    variation = "variation"  # change between T-1 and T
    value = "value"  # any other number
    categorical = "categorical"  # a level answer, rolled up as counts per level


class Statistic(str, Enum):
    mean = "mean"
    median = "median"
    min = "min"
    max = "max"
    pooled = "pooled"
    level_counts = "level_counts"


class Series(Strict):
    """One published series of a KPI (e.g. `import`, `export`, or the single `total`)."""

    id: SnakeCase = "total"
    labels: Labels | None = None
    formula: str = Field(min_length=1)


class Rollup(Strict):
    statistics: tuple[Statistic, ...] = (
        Statistic.mean,
        Statistic.median,
        Statistic.min,
        Statistic.max,
    )


# Quality-gate rules whose findings name a KPI, so a KPI may change their severity
# (pmm_pipeline/stages/quality/rules.py).
KpiQualityRule = Literal[
    "required_items_present", "variation_years_present", "yoy_change_within_band", "value_near_peer_median"
]
KPI_QUALITY_RULES: tuple[str, ...] = get_args(KpiQualityRule)


class QualityRules(Strict):
    """Per-KPI quality settings read by the quality gate."""

    max_yoy_change_pct: float | None = Field(default=None, gt=0, description="flag |T vs T-1 change| above this, in %")
    peer_max_mads: float | None = Field(
        default=5.0,
        gt=0,
        description="flag a value further than this many scaled median absolute deviations from the median of"
        " its region (ratio and value KPIs); null turns the peer comparison off for this KPI",
    )
    peer_min_members: int = Field(
        default=8, ge=3, description="compare with the region only when at least this many members report the KPI"
    )
    severity: dict[KpiQualityRule, Literal["blocking", "warning"]] = Field(
        default_factory=dict,
        description="severity of a rule's findings on this KPI, replacing the rule's default",
    )


class KpiFile(Strict):
    """What a KPI file declares; `id` equals the file stem and is never renamed.

    A KPI file names no item itself: the items of a KPI are those its formulas use, each declared once in
    `items/<code>.yaml`, so a KPI cannot drift from another that shares its items.
    """

    id: SnakeCase
    names: Labels
    dimension: Literal[1, 2, 3, 4]
    expected_outcome: Labels
    unit: str = Field(min_length=1)
    higher_is_better: bool | None = Field(
        description="direction of improvement; null where neither direction is better"
    )
    shape: Shape
    series: tuple[Series, ...] = Field(min_length=1)
    rollup: Rollup = Rollup()
    quality: QualityRules = QualityRules()
    status: Literal["confirmed", "provisional"]
    introduced_in: str = Field(default="1.0", pattern=VERSION, description="first catalogue version with this KPI")
    retired_in: str | None = Field(default=None, pattern=VERSION, description="first catalogue version without it")
    description: Labels | None = None

    @field_validator("series")
    @classmethod
    def _unique_series(cls, series: tuple[Series, ...]) -> tuple[Series, ...]:
        ids = [s.id for s in series]
        if len(set(ids)) != len(ids):
            raise ValueError(f"series ids must be unique, got {ids}")
        return series

    @model_validator(mode="after")
    def _statistics_fit_shape(self) -> "KpiFile":
        stats = set(self.rollup.statistics)
        if self.shape == Shape.categorical and stats - {Statistic.level_counts}:
            raise ValueError("a categorical KPI is rolled up as level_counts only")
        if self.shape != Shape.categorical and Statistic.level_counts in stats:
            raise ValueError("level_counts is only for categorical KPIs")
        if Statistic.pooled in stats and self.shape != Shape.ratio:
            raise ValueError("the pooled statistic is defined for ratio KPIs only")
        return self


class KpiSpec(KpiFile):
    """A KPI of the loaded catalogue: its file's fields and the items its formulas use (see load.py).

    `items` is filled by the loader from the item catalogue, never read from the KPI file, in the order the
    questionnaire asks them (load.questionnaire_order).
    """

    items: tuple[Item, ...] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique_items(cls, items: tuple[Item, ...]) -> tuple[Item, ...]:
        codes = [i.code for i in items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"item codes must be unique within a KPI, got {codes}")
        return items

    def item(self, code: str) -> Item:
        return next(i for i in self.items if i.code == code)

    def is_in_catalogue_version(self, version: str) -> bool:
        def key(v: str) -> tuple[int, ...]:
            return tuple(int(p) for p in v.split("."))

        if key(version) < key(self.introduced_in):
            return False
        return self.retired_in is None or key(version) < key(self.retired_in)
