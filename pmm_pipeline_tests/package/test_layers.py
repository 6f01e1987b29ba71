"""The package's layout holds: imports run one way (the import contract), and the shared words are defined once."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import get_args

import pytest

import pmm_pipeline
from pmm_pipeline.core import vocabulary
from pmm_pipeline.core.settings import PACKAGED_REFERENCE_DIR, Settings
from pmm_pipeline.specs.reference.models import Membership
from pmm_pipeline.stages.disclosure.decisions import KEEP_ORDER
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS
from pmm_pipeline.stages.publishing.sdmx import OBS_STATUS

PACKAGE_DIR = Path(pmm_pipeline.__file__).parent
CHECKOUT_DIR = PACKAGE_DIR.parent
VOCABULARY_FILE = PACKAGE_DIR / "core" / "vocabulary.py"
WORDS = {name: value for name, value in vars(vocabulary).items() if isinstance(value, tuple) and name.isupper()}


def contracts() -> list[dict]:
    return tomllib.loads((CHECKOUT_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


@pytest.mark.subprocess
def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=CHECKOUT_DIR, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(contracts())} kept, 0 broken" in done.stdout


def test_import_contracts_have_no_exception_list():
    assert contracts(), "pyproject.toml declares no import contract"
    for contract in contracts():
        assert not contract.get("ignore_imports"), contract["name"]
    layered = [c for c in contracts() if c["type"] == "layers"]
    # exhaustive: a new top-level package or stage must take its place in a layer, it cannot slip past the contract
    assert layered and all(c.get("exhaustive") for c in layered)


def literal_tuples(tree: ast.AST):
    """Every tuple, list or set of string constants in a module (a Literal["..", ..] subscript holds a tuple)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Tuple | ast.List | ast.Set)
            and node.elts
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
        ):
            yield node.lineno, tuple(e.value for e in node.elts)


def test_shared_words_are_defined_only_in_the_vocabulary():
    """A second spelling of the tiers, languages, statuses or group types anywhere in the package is a copy to drift.

    The same words in another order are an order of their own (disclosure's KEEP_ORDER): those are checked to
    cover the vocabulary exactly, below.
    """
    assert len(WORDS) >= 5
    copies = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path == VOCABULARY_FILE:
            continue
        for line, values in literal_tuples(ast.parse(path.read_text(), str(path))):
            for name, words in WORDS.items():
                if values == words:
                    copies.append(f"{path.relative_to(PACKAGE_DIR)}:{line} repeats {name}")
    assert copies == []


def test_orders_over_the_group_types_cover_them_exactly():
    """A group type added to the vocabulary must be placed in disclosure's order of what to withhold first."""
    assert sorted(KEEP_ORDER) == sorted(vocabulary.GROUP_TYPES) and len(set(KEEP_ORDER)) == len(KEEP_ORDER)


def test_the_literal_types_take_exactly_the_vocabulary():
    assert get_args(vocabulary.Tier) == vocabulary.TIERS
    assert get_args(vocabulary.Language) == vocabulary.LANGUAGES
    assert get_args(vocabulary.GroupType) == vocabulary.GROUP_TYPES
    assert vocabulary.DEFAULT_DISCLOSURE in vocabulary.TIERS
    fields = Membership.model_fields
    assert get_args(fields["language"].annotation) == vocabulary.LANGUAGES


def test_every_kpi_value_status_has_its_labels_and_sdmx_code():
    for lang in vocabulary.LANGUAGES:
        assert set(STATUS_LABELS[lang]) == set(vocabulary.VALUE_STATUSES)
    assert set(OBS_STATUS) == set(vocabulary.VALUE_STATUSES)


def test_default_disclosure_is_bound_not_spelled_in_sql():
    """The default disclosure reaches SQL as a parameter.

    A tier name written in the SQL would be a second definition.
    """
    from pmm_pipeline.stages.kpis import compile as kpis_compile
    from pmm_pipeline.stages.staging import select

    for module in (kpis_compile, select):
        text = Path(module.__file__).read_text()
        for tier in vocabulary.TIERS:
            assert f"'{tier}'" not in text, (module.__name__, tier)


def test_packaged_reference_is_the_default_reference():
    assert {"cycles.yaml", "members.csv", "groups.csv"} <= {p.name for p in PACKAGED_REFERENCE_DIR.iterdir()}
    assert Settings.from_env({}).reference_dir == PACKAGED_REFERENCE_DIR.resolve()
