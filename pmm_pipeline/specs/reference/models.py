"""Typed models of the reference data: cycles configuration, member groups and dated memberships."""

import datetime as dt
import zoneinfo

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmm_pipeline.core.vocabulary import GroupType, Language

EUROPEAN_UNION = "EUU"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectionWindow(Strict):
    opens: dt.date
    closes: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> "CollectionWindow":
        if self.closes < self.opens:
            raise ValueError("collection.closes is before collection.opens")
        return self


class Cycle(Strict):
    """One reporting cycle; its id and its reporting year T are separate, never derived."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    reporting_year: int = Field(ge=1990, le=2100)
    collection: CollectionWindow
    publication_date: dt.date
    catalogue_version: str = Field(pattern=r"^\d+(\.\d+)*$")
    membership_date: dt.date | None = None
    # Reopening a closed cycle: files first seen up to the end of this day are used (they are
    # still counted as late). Unset, the inputs are frozen when the collection closes.
    reopened_until: dt.date | None = None

    @model_validator(mode="after")
    def _publication_after_closing(self) -> "Cycle":
        if self.publication_date < self.collection.closes:
            raise ValueError("publication_date is before collection.closes")
        if self.reopened_until is not None and self.reopened_until < self.collection.closes:
            raise ValueError("reopened_until is before collection.closes")
        return self

    @property
    def last_collection_day(self) -> dt.date:
        """The last day whose arrivals are used: the closing day, or the end of a reopening."""
        return self.reopened_until or self.collection.closes

    def is_collecting_on(self, day: dt.date) -> bool:
        return self.collection.opens <= day <= self.last_collection_day

    @property
    def years(self) -> tuple[int, int]:
        """(T-1, T): the calendar years a submission of this cycle may report."""
        return (self.reporting_year - 1, self.reporting_year)

    @property
    def membership_reference_date(self) -> dt.date:
        return self.membership_date or self.collection.opens


class CyclesConfig(Strict):
    # The Secretariat's calendar: every date of the cycles is a day in this time zone, and the
    # scheduled runs of the calendar start at `run_at` on their day.
    timezone: str = "UTC"
    run_at: dt.time = dt.time(6, 0)
    cycles: tuple[Cycle, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            _zone(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Brussels)") from None
        return name

    @field_validator("run_at", mode="before")
    @classmethod
    def _time_as_text(cls, value: object) -> object:
        # Unquoted, YAML reads 10:30 as the number 630 (base 60), which pydantic would take as seconds.
        if not isinstance(value, str | dt.time):
            raise ValueError('write the time of day in quotes, e.g. run_at: "06:00"')
        return value

    @field_validator("cycles")
    @classmethod
    def _unique_ids(cls, cycles: tuple[Cycle, ...]) -> tuple[Cycle, ...]:
        ids = [c.id for c in cycles]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate cycle id(s): {', '.join(duplicates)}")
        return cycles

    def get(self, cycle_id: str) -> Cycle:
        for cycle in self.cycles:
            if cycle.id == cycle_id:
                return cycle
        known = ", ".join(c.id for c in self.cycles)
        raise KeyError(f"unknown cycle {cycle_id!r}; configured cycles: {known}")

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.cycles]

    @property
    def tz(self) -> dt.tzinfo:
        return _zone(self.timezone)

    def start_of_day(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)

    def closes_at(self, cycle: Cycle) -> dt.datetime:
        """The first instant after the collection window: a file first seen from then on is late."""
        return self.start_of_day(cycle.collection.closes + dt.timedelta(days=1))

    def inputs_frozen_at(self, cycle: Cycle) -> dt.datetime:
        """The first instant whose arrivals are no longer used (closing, or the end of a reopening)."""
        return self.start_of_day(cycle.last_collection_day + dt.timedelta(days=1))

    def local_day(self, moment: dt.datetime) -> dt.date:
        """The calendar day (in the calendar's time zone) of an instant; a naive instant is UTC."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(self.tz).date()


def _zone(name: str) -> dt.tzinfo:
    # UTC needs no time-zone database (a minimal system may have none); other zones do.
    return dt.UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


class Group(Strict):
    group_type: GroupType
    group_code: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    name_en: str = Field(min_length=1)
    name_fr: str = Field(min_length=1)
    name_es: str = Field(min_length=1)


class Membership(Strict):
    """A member's groups between two dates (valid_to inclusive, empty = still in force)."""

    member_code: str
    name_en: str = Field(min_length=1)
    name_fr: str = Field(min_length=1)
    name_es: str = Field(min_length=1)
    region_code: str
    income_group: str
    is_landlocked: bool
    admin_type: str
    language: Language
    valid_from: dt.date
    valid_to: dt.date | None = None

    @field_validator("member_code")
    @classmethod
    def _known_code(cls, code: str) -> str:
        if code != EUROPEAN_UNION and pycountry.countries.get(alpha_3=code) is None:
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-3 code (nor EUU)")
        return code

    @model_validator(mode="after")
    def _dates_ordered(self) -> "Membership":
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def in_force_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def group_code(self, group_type: str) -> str:
        return {
            "global": "all",
            "region": self.region_code,
            "income_group": self.income_group,
            "landlocked": "landlocked" if self.is_landlocked else "not_landlocked",
            "admin_type": self.admin_type,
        }[group_type]

    def name(self, lang: str) -> str:
        return getattr(self, f"name_{lang}")
