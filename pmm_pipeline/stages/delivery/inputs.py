"""The reference data and catalogue a verdict is judged against, loaded once per change of their files.

A verdict must be quick (p95 under 1 s for a questionnaire) and must judge as the next run will: the files are
read again whenever one of them changes (size, modification time), never held stale.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import Catalogue, load_catalogue
from pmm_pipeline.specs.reference.load import Reference, load_reference
from pmm_pipeline.stages.ingestion.context import ValidationContext, validation_context


@dataclass(frozen=True)
class Inputs:
    reference: Reference
    catalogue: Catalogue
    contexts: dict[str, ValidationContext]

    def context(self, cycle_id: str) -> ValidationContext:
        if cycle_id not in self.contexts:  # a dict write per cycle, the same value whoever writes it
            self.contexts[cycle_id] = validation_context(self.reference, self.catalogue, cycle_id)
        return self.contexts[cycle_id]


_lock = threading.Lock()
_cache: dict[tuple, Inputs] = {}


def _stamp(settings: Settings) -> tuple:
    paths = [settings.cycles_file, *sorted(Path(settings.reference_dir).glob("*.csv"))]
    paths += sorted(p for p in Path(settings.specs_dir).rglob("*") if p.is_file())
    stamp = []
    for path in paths:
        try:
            info = path.stat()
            stamp.append((str(path), info.st_size, info.st_mtime_ns))
        except OSError:
            stamp.append((str(path), None, None))
    return (str(settings.specs_dir), str(settings.reference_dir), str(settings.cycles_file), tuple(stamp))


def load_inputs(settings: Settings) -> Inputs:
    """The reference and catalogue of `settings`, from a cache that follows their files."""
    stamp = _stamp(settings)
    with _lock:
        cached = _cache.get(stamp)
        if cached is not None:
            return cached
    inputs = Inputs(
        load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir), {}
    )
    with _lock:
        if len(_cache) > 8:  # old stamps of edited files: nobody asks for them again
            _cache.clear()
        _cache[stamp] = inputs
    return inputs
