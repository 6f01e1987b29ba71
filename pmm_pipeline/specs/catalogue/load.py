"""Loading and checking the KPI catalogue: every YAML file in the specs folder, every error with its file.

The catalogue is two kinds of file, each thing declared once:
- `items/<code>.yaml`: one questionnaire item (labels in three languages, type, unit, range, typical values,
  levels, `part_of`). One file per item, like one file per KPI: an item is reviewed, changed and reported
  on by its own file, and a second declaration of a code is a second file, found and reported, never a
  silent override inside a long list.
- `<kpi_id>.yaml`: one KPI. It names no item: its items are the ones its formulas use, looked up in the
  item catalogue, so a KPI sharing an item with another cannot declare it differently.
"""

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlglot import exp

from pmm_pipeline.specs.catalogue.formula import Formula, FormulaError, parse_formula
from pmm_pipeline.specs.catalogue.models import Item, KpiFile, KpiSpec, Shape

ITEMS_FOLDER = "items"  # inside the specs folder
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecProblem:
    file: Path
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class CatalogueError(ValueError):
    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the KPI catalogue has {len(problems)} error(s):\n{lines}")


@dataclass(frozen=True)
class Catalogue:
    """All KPI specs with their parsed formulas; items are declared once and shared by code across KPIs."""

    kpis: dict[str, KpiSpec]
    formulas: dict[tuple[str, str], Formula]
    items: dict[str, Item]
    files: dict[str, Path] = field(default_factory=dict)  # KPI id -> its file
    item_files: dict[str, Path] = field(default_factory=dict)  # item code -> its file

    def kpis_for_version(self, version: str) -> list[KpiSpec]:
        return [k for k in self.kpis.values() if k.is_in_catalogue_version(version)]

    def items_for_version(self, version: str) -> dict[str, Item]:
        codes = {i.code for k in self.kpis_for_version(version) for i in k.items}
        return {c: self.items[c] for c in sorted(codes)}

    def source_files(self) -> list[tuple[str, Path]]:
        """Every file the catalogue was read from, as (name relative to the specs folder, path), sorted."""
        named = [(p.name, p) for p in self.files.values()]
        named += [(f"{ITEMS_FOLDER}/{p.name}", p) for p in self.item_files.values()]
        return sorted(named)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key repeated in one mapping.

    PyYAML keeps the last of two equal keys without a word: a second `formula:` or `max:` would silently
    replace the first. Here it is an error that names the key and its line.
    """


def _mapping_without_repeats(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):  # unhashable: let the model report it as a wrong key
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice in one mapping (line {key_node.start_mark.line + 1})",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_repeats)


def _read_mapping(path: Path, what: str, problem: Callable[[str], None]) -> dict | None:
    """The file's YAML mapping, or None after reporting why it is not one."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        problem(f"not valid YAML: {' '.join(str(err).split())}")
        return None
    if not isinstance(raw, dict):
        problem(f"must be a mapping of {what} fields")
        return None
    return raw


def _describe_validation_error(err: ValidationError) -> list[str]:
    messages = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(file)"
        messages.append(f"{where}: {e['msg']}")
    return messages


def _spec_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SPEC_SUFFIXES)


def _load_items(folder: Path, problems: list[SpecProblem]) -> tuple[dict[str, Item], dict[str, Path]]:
    items: dict[str, Item] = {}
    files: dict[str, Path] = {}
    if not folder.is_dir():
        problems.append(SpecProblem(folder, f"is not a folder: each item is declared in {ITEMS_FOLDER}/<code>.yaml"))
        return items, files
    paths = _spec_paths(folder)
    if not paths:
        problems.append(SpecProblem(folder, "holds no item (<code>.yaml)"))
    for path in paths:

        def problem(message: str, path: Path = path) -> None:
            problems.append(SpecProblem(path, message))

        raw = _read_mapping(path, "item", problem)
        if raw is None:
            continue
        try:
            item = Item.model_validate(raw)
        except ValidationError as err:
            for message in _describe_validation_error(err):
                problem(message)
            continue
        if item.code != path.stem:
            problem(f"code {item.code!r} must equal the file name stem {path.stem!r}")
        if item.code in items:
            problem(f"duplicate item {item.code!r}, also declared in {files[item.code]}")
            continue
        items[item.code] = item
        files[item.code] = path
    return items, files


def _check_part_of(items: dict[str, Item], files: dict[str, Path], problems: list[SpecProblem]) -> None:
    """A part names a known numeric whole of the same unit, and no chain of wholes comes back to itself."""
    for code, item in items.items():
        if item.part_of is None:
            continue

        def problem(message: str, code: str = code) -> None:
            problems.append(SpecProblem(files[code], f"item {code}: {message}"))

        whole = items.get(item.part_of)
        if whole is None:
            problem(f"part_of unknown item {item.part_of}")
            continue
        if whole.is_categorical or item.is_categorical:
            problem("part_of needs numeric items")
        elif whole.unit != item.unit:
            problem(f"part_of {whole.code} counts {whole.unit!r}, not {item.unit!r}: a part has its whole's unit")
        chain = [code]
        while (step := items.get(chain[-1])) is not None and step.part_of is not None:
            if step.part_of in chain:  # the sample and the quality gate walk these chains up to a whole
                problem(f"part_of forms a cycle: {' -> '.join([*chain, step.part_of])}")
                break
            chain.append(step.part_of)


def questionnaire_order(formulas: Iterable[Formula]) -> list[str]:
    """A KPI's item codes in the order the questionnaire asks them: per series, a whole before its parts.

    Within each formula the items of its denominators come first (the whole: all declarations before the
    electronic ones), then the others, each in the order the formula names them.
    """
    order: dict[str, None] = {}
    for formula in formulas:
        for denominator in formula.denominators():
            for bracket in denominator.find_all(exp.Bracket):
                order.setdefault(bracket.this.name, None)
        for ref in formula.refs:
            order.setdefault(ref.item, None)
    return list(order)


ITEM_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\[")  # `code[` in a formula's text


def _items_named(raw: dict) -> set[str]:
    """Items the formulas of a KPI file name, read leniently from the text: an item that only a broken KPI
    names is not also reported as unused (the KPI's own problems say what to fix)."""
    series = raw.get("series")
    named: set[str] = set()
    for s in series if isinstance(series, list) else []:
        source = s.get("formula") if isinstance(s, dict) else None
        if isinstance(source, str):
            named |= set(ITEM_REFERENCE.findall(source))
    return named


def _check_formulas(
    spec: KpiFile, items: dict[str, Item], problem: Callable[[str], None]
) -> dict[tuple[str, str], Formula]:
    formulas: dict[tuple[str, str], Formula] = {}
    for series in spec.series:
        try:
            formulas[(spec.id, series.id)] = parse_formula(series.formula, set(items))
        except FormulaError as err:
            problem(f"series {series.id}: {err}")
    for (_, series_id), f in formulas.items():
        categorical_refs = [r for r in f.refs if items[r.item].is_categorical]
        if spec.shape == Shape.categorical:
            if len(f.refs) != 1 or not categorical_refs or f.refs[0].offset != 0:
                problem(f"series {series_id}: a categorical KPI's formula is one level item at [T]")
        elif categorical_refs:
            problem(f"series {series_id}: level item {categorical_refs[0].item} in arithmetic")
        if spec.shape == Shape.ratio and f.ratio_parts() is None:
            problem(f"series {series_id}: a ratio formula must be numerator / denominator")
        if spec.shape == Shape.variation and not any(r.offset == -1 for r in f.refs):
            problem(f"series {series_id}: a variation formula must use an item at [T-1]")
    return formulas


def validate_catalogue(specs_dir: Path) -> tuple[Catalogue, list[SpecProblem]]:
    """Read every item of `items/` and every KPI file of the folder; return what loaded and every problem."""
    specs_dir = Path(specs_dir)
    problems: list[SpecProblem] = []
    kpis: dict[str, KpiSpec] = {}
    files: dict[str, Path] = {}
    formulas: dict[tuple[str, str], Formula] = {}
    mentioned: set[str] = set()  # items named by any formula, even of a KPI that fails its checks

    if not specs_dir.is_dir():
        return Catalogue({}, {}, {}), [SpecProblem(specs_dir, "is not a folder")]
    items, item_files = _load_items(specs_dir / ITEMS_FOLDER, problems)
    _check_part_of(items, item_files, problems)
    paths = _spec_paths(specs_dir)
    if not paths:
        problems.append(SpecProblem(specs_dir, "holds no KPI spec (*.yaml)"))
    for path in paths:

        def problem(message: str, path: Path = path) -> None:
            problems.append(SpecProblem(path, message))

        raw = _read_mapping(path, "KPI", problem)
        if raw is None:  # what it would use is unknown: any `code[` in its text is taken as a use
            mentioned |= set(ITEM_REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")))
            continue
        mentioned |= _items_named(raw)
        if "items" in raw:  # the catalogue's earlier format: say where items go now, then check the rest
            raw = {k: v for k, v in raw.items() if k != "items"}
            problem(
                f"items: a KPI file declares no item; declare each once in {ITEMS_FOLDER}/<code>.yaml"
                " (a KPI's items are the ones its formulas use)"
            )
        try:
            spec_file = KpiFile.model_validate(raw)
        except ValidationError as err:
            for message in _describe_validation_error(err):
                problem(message)
            continue
        if spec_file.id != path.stem:
            problem(f"id {spec_file.id!r} must equal the file name stem {path.stem!r}")
        if spec_file.id in files:
            problem(f"duplicate id {spec_file.id!r}, also defined in {files[spec_file.id]}")
            continue
        files[spec_file.id] = path
        parsed = _check_formulas(spec_file, items, problem)
        formulas.update(parsed)
        if len(parsed) == len(spec_file.series):
            used = tuple(items[code] for code in questionnaire_order(parsed.values()))
            kpis[spec_file.id] = KpiSpec(**dict(spec_file), items=used)

    for code in sorted(set(items) - mentioned):
        problems.append(SpecProblem(item_files[code], f"item {code} is declared but used by no KPI's formula"))
    return Catalogue(kpis=kpis, formulas=formulas, items=items, files=files, item_files=item_files), problems


def load_catalogue(specs_dir: Path) -> Catalogue:
    """The catalogue, or CatalogueError listing every problem with its file."""
    catalogue, problems = validate_catalogue(specs_dir)
    if problems:
        raise CatalogueError(problems)
    return catalogue


def catalogue_digest(catalogue: Catalogue) -> str:
    """SHA-256 over the spec files' names and bytes (KPIs and items): any edit to a rule gives a new digest."""
    digest = hashlib.sha256()
    for name, path in catalogue.source_files():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
