"""Tests share helpers through helper modules, never through each other: no module of the test tree imports a test
module (test_*.py). A helper kept in a test module ties the importing tests to that module's kind, its fixtures and
its place; it goes into a helper module beside its tests (intake_cases.py, report_inputs.py, hostile_corpus.py).

Checked twice: every import statement of every module, at the top or inside a function, as Python parses it; and
the text of every module for an import line inside a string, such as a script a test runs in a subprocess
(PROCESS_SCRIPT in stages/delivery/test_delivery_concurrency.py), including a bare `from test_x import` after the
script puts a test folder on sys.path.
"""

import ast
import re
from pathlib import Path

from pmm_pipeline_tests.paths import TESTS

PACKAGE = TESTS.name  # pmm_pipeline_tests
# An import line of a test module, at the start of a line of any string: `from pmm_pipeline_tests.a.test_b import`,
# `import pmm_pipeline_tests.a.test_b`, or the bare `from test_b import` of a script that put a folder on sys.path.
IMPORT_LINE = re.compile(
    rf"^[ \t]*(?:from[ \t]+(?:{PACKAGE}\.[\w.]*\.)?test_\w+[ \t]+import\b"
    rf"|import[ \t]+(?:{PACKAGE}\.[\w.]*\.)?test_\w+)",
    re.MULTILINE,
)


def tree_modules() -> list[Path]:
    """Every module of the test tree: test modules, helper modules and conftest.py."""
    return sorted(TESTS.rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_test_module(name: str) -> bool:
    """Whether `pmm_pipeline_tests.a.b` names a test module of the tree."""
    parts = name.split(".")
    return (
        parts[0] == PACKAGE
        and parts[-1].startswith("test_")
        and TESTS.joinpath(*parts[1:]).with_suffix(".py").is_file()
    )


def imported_names(source: str, package: str) -> set[str]:
    """Every module an import statement of `source` can name, at the top or inside a function, and every
    `module.name` it imports; relative imports resolved against `package`, the dotted name of the module's folder."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path) -> str:
    return dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]


def test_no_module_of_the_tests_imports_a_test_module():
    found = [
        f"{dotted(path)} imports {name}"
        for path in tree_modules()
        for name in sorted(imported_names(path.read_text(encoding="utf-8"), package_of(path)))
        if is_test_module(name)
    ]
    assert not found, (
        f"{found}: a test module is never imported; move what is shared into a helper module beside the tests"
        " (a module not named test_*.py) and import it from there"
    )


def test_no_script_inside_a_module_of_the_tests_imports_a_test_module():
    found = [
        f"{dotted(path)}:{text[: match.start()].count(chr(10)) + 1}: {match.group().strip()}"
        for path in tree_modules()
        for text in [path.read_text(encoding="utf-8")]
        for match in IMPORT_LINE.finditer(text)
    ]
    assert not found, (
        f"{found}: an import line of a test module (in a script a test runs, or in the module itself); import the"
        " helper module that holds what it needs"
    )


def test_the_checks_catch_each_form_of_import():
    """The forms the tree used before its helpers moved (a line, one inside a function, one opening parentheses, a
    bare import inside a subprocess's script), and relative imports, are caught; a helper module's import is not."""
    lines = [
        "from pmm_pipeline_tests.stages.delivery.test_delivery import submission",
        "    from pmm_pipeline_tests.stages.publishing.test_report import ARTIFACTS, CHROMIUM_FLAGS, chromium",
        "from pmm_pipeline_tests.stages.disclosure.test_disclosure_properties import (",
        "import pmm_pipeline_tests.stages.publishing.test_sdmx",
        "from test_release_reproducible import kpi_rows, rollup_rows, info",
    ]
    assert [line for line in lines if not IMPORT_LINE.search(line)] == []
    assert not IMPORT_LINE.search("from pmm_pipeline_tests.stages.delivery.intake_cases import submission")
    assert not IMPORT_LINE.search("# the intake rejects those (test_hostile_files.py); import the helper")
    assert is_test_module("pmm_pipeline_tests.stages.delivery.test_delivery")
    assert not is_test_module("pmm_pipeline_tests.stages.delivery.intake_cases")
    assert not is_test_module("pmm_pipeline_tests.stages.delivery.test_delivery.submission")
    source = (
        "import json\n"
        "from . import test_report\n"
        "from .test_sdmx import TABLES\n"
        "from ..delivery.test_delivery import at\n"
        "from .report_inputs import tables\n\n\n"
        "def f():\n"
        "    from pmm_pipeline_tests.stages.ingestion.test_hostile_files import LIMITS\n"
    )
    caught = {name for name in imported_names(source, "pmm_pipeline_tests.stages.publishing") if is_test_module(name)}
    assert caught == {
        "pmm_pipeline_tests.stages.publishing.test_report",
        "pmm_pipeline_tests.stages.publishing.test_sdmx",
        "pmm_pipeline_tests.stages.delivery.test_delivery",
        "pmm_pipeline_tests.stages.ingestion.test_hostile_files",
    }
