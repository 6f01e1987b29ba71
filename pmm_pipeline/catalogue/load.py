"""Loading and checking the KPI catalogue: every YAML file in the specs folder, every error with its file."""

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from pmm_pipeline.catalogue.formula import Formula, FormulaError, parse_formula
from pmm_pipeline.catalogue.models import Item, KpiSpec, Shape


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
    """All KPI specs with their parsed formulas; items are shared by code across KPIs."""

    kpis: dict[str, KpiSpec]
    formulas: dict[tuple[str, str], Formula]
    items: dict[str, Item]
    files: dict[str, Path] = field(default_factory=dict)

    def kpis_for_version(self, version: str) -> list[KpiSpec]:
        return [k for k in self.kpis.values() if k.is_in_catalogue_version(version)]

    def items_for_version(self, version: str) -> dict[str, Item]:
        codes = {i.code for k in self.kpis_for_version(version) for i in k.items}
        return {c: self.items[c] for c in sorted(codes)}


def _describe_validation_error(err: ValidationError) -> list[str]:
    messages = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(file)"
        messages.append(f"{where}: {e['msg']}")
    return messages


def _check_formulas(spec: KpiSpec, problem) -> dict[tuple[str, str], Formula]:
    declared = {i.code for i in spec.items}
    formulas: dict[tuple[str, str], Formula] = {}
    for series in spec.series:
        try:
            formulas[(spec.id, series.id)] = parse_formula(series.formula, declared)
        except FormulaError as err:
            problem(f"series {series.id}: {err}")
    used = {r.item for f in formulas.values() for r in f.refs}
    if len(formulas) == len(spec.series):
        for code in sorted(declared - used):
            problem(f"item {code} is declared but used by no formula")
    for (_, series_id), f in formulas.items():
        categorical_refs = [r for r in f.refs if spec.item(r.item).is_categorical]
        if spec.shape == Shape.categorical:
            if len(f.refs) != 1 or not categorical_refs or f.refs[0].offset != 0:
                problem(
                    f"series {series_id}: a categorical KPI's formula is one level item at [T]"
                )
        elif categorical_refs:
            problem(f"series {series_id}: level item {categorical_refs[0].item} in arithmetic")
        if spec.shape == Shape.ratio and f.ratio_parts() is None:
            problem(f"series {series_id}: a ratio formula must be numerator / denominator")
        if spec.shape == Shape.variation and not any(r.offset == -1 for r in f.refs):
            problem(f"series {series_id}: a variation formula must use an item at [T-1]")
    return formulas


def validate_catalogue(specs_dir: Path) -> tuple[Catalogue, list[SpecProblem]]:
    """Read every `*.yaml` file of the folder; return what loaded and every problem found."""
    problems: list[SpecProblem] = []
    kpis: dict[str, KpiSpec] = {}
    files: dict[str, Path] = {}
    formulas: dict[tuple[str, str], Formula] = {}
    items: dict[str, Item] = {}
    item_files: dict[str, Path] = {}

    if not Path(specs_dir).is_dir():
        return Catalogue({}, {}, {}), [SpecProblem(Path(specs_dir), "is not a folder")]
    paths = sorted(Path(specs_dir).glob("*.yaml")) + sorted(Path(specs_dir).glob("*.yml"))
    if not paths:
        problems.append(SpecProblem(Path(specs_dir), "holds no KPI spec (*.yaml)"))
    for path in paths:

        def problem(message: str, path: Path = path) -> None:
            problems.append(SpecProblem(path, message))

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            problem(f"not valid YAML: {str(err).splitlines()[0]}")
            continue
        if not isinstance(raw, dict):
            problem("must be a mapping of KPI fields")
            continue
        try:
            spec = KpiSpec.model_validate(raw)
        except ValidationError as err:
            for message in _describe_validation_error(err):
                problem(message)
            continue
        if spec.id != path.stem:
            problem(f"id {spec.id!r} must equal the file name stem {path.stem!r}")
        if spec.id in kpis:
            problem(f"duplicate id {spec.id!r}, also defined in {files[spec.id]}")
            continue
        kpis[spec.id] = spec
        files[spec.id] = path
        formulas.update(_check_formulas(spec, problem))
        for item in spec.items:
            if item.code in items and items[item.code] != item:
                problem(
                    f"item {item.code} differs from its definition in {item_files[item.code]};"
                    " an item shared by KPIs must be declared identically"
                )
            items.setdefault(item.code, item)
            item_files.setdefault(item.code, path)

    for code, item in items.items():
        if item.part_of is not None:
            whole = items.get(item.part_of)
            if whole is None:
                problems.append(
                    SpecProblem(item_files[code], f"item {code}: part_of unknown item {item.part_of}")
                )
            elif whole.is_categorical or item.is_categorical:
                problems.append(
                    SpecProblem(item_files[code], f"item {code}: part_of needs numeric items")
                )
    return Catalogue(kpis=kpis, formulas=formulas, items=items, files=files), problems


def load_catalogue(specs_dir: Path) -> Catalogue:
    """The catalogue, or CatalogueError listing every problem with its file."""
    catalogue, problems = validate_catalogue(specs_dir)
    if problems:
        raise CatalogueError(problems)
    return catalogue
