"""SQL names a table through its declaration in warehouse/tables/ (`{PARTICIPATION.qualified}`), never by
writing "staging.participation" out by hand: a table is declared in one place, and a renamed or moved table then
cannot leave a query behind that still names the old one."""

import ast
import re
from pathlib import Path

import pmm_pipeline
from pmm_pipeline.warehouse.tables import declared_tables

PACKAGE_DIR = Path(pmm_pipeline.__file__).parent
# A string is taken for SQL when it holds one of these keywords as an upper-case word.
SQL_WORD = re.compile(r"\b(SELECT|FROM|JOIN|INSERT|DELETE|CREATE|UPDATE)\b")
QUALIFIED_NAME = re.compile(
    r"(?<![\w.])(" + "|".join(sorted((re.escape(t.qualified) for t in declared_tables()), reverse=True)) + r")(?!\w)"
)


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of the module, its classes and its functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def literal_table_names(source: str, file_name: str) -> list[str]:
    """`file:line: name` for each string constant (an f-string's literal parts included) that looks like SQL and
    names a declared table by its qualified name."""
    tree = ast.parse(source, file_name)
    skip = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
            continue
        if SQL_WORD.search(node.value):
            found += [f"{file_name}:{node.lineno}: {m.group(1)}" for m in QUALIFIED_NAME.finditer(node.value)]
    # An f-string's parts are Constants too, but a keyword and a table name may sit in different parts of it.
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            if SQL_WORD.search(" ".join(p.value for p in parts)):
                for part in parts:
                    if not SQL_WORD.search(part.value):
                        found += [
                            f"{file_name}:{part.lineno}: {m.group(1)}" for m in QUALIFIED_NAME.finditer(part.value)
                        ]
    return found


def test_no_sql_in_the_package_names_a_declared_table_by_hand():
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        found += literal_table_names(path.read_text(), path.relative_to(PACKAGE_DIR.parent).as_posix())
    assert not found, (
        "SQL names these tables by hand; write them as f-strings with the table's declaration from"
        " pmm_pipeline/warehouse/tables/ (`{PARTICIPATION.qualified}`, `published_tables(tier)`):\n" + "\n".join(found)
    )


def test_the_check_finds_a_literal_table_name_in_sql_and_in_an_f_string():
    source = (
        'Q = "SELECT * FROM staging.participation"\n'
        'def f(cycle):\n    return f"SELECT * FROM {cycle} JOIN quality.findings USING (cycle)"\n'
    )
    assert literal_table_names(source, "m.py") == ["m.py:1: staging.participation", "m.py:3: quality.findings"]


def test_the_check_leaves_docstrings_prose_and_declarations_alone():
    source = (
        '"""Reads FROM staging.participation."""\n'
        'NOTE = "see staging.participation"\n'
        'Q = f"SELECT * FROM {PARTICIPATION.qualified}"\n'
        'R = "SELECT * FROM staging.participation_extra"\n'
    )
    assert literal_table_names(source, "m.py") == []
