"""When sample files are dated: the cycle's collection window, moments within it, and the contract's timestamp text."""

import datetime as dt
import random

from pmm_pipeline.specs.reference.models import Cycle


def collection_window(cycle: Cycle) -> tuple[dt.datetime, dt.datetime]:
    opens = dt.datetime.combine(cycle.collection.opens, dt.time(0, 0, 0), dt.UTC)
    closes = dt.datetime.combine(cycle.collection.closes, dt.time(23, 59, 59), dt.UTC)
    return opens, closes


def moment_between(start: dt.datetime, end: dt.datetime, rng: random.Random, low: float, high: float) -> dt.datetime:
    """A moment between start and end, at a random fraction in [low, high] of the way, whole seconds."""
    seconds = (end - start).total_seconds() * rng.uniform(low, high)
    return start + dt.timedelta(seconds=max(1, int(seconds)))


def format_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
