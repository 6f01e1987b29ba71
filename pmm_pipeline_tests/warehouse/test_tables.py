"""The table declarations (warehouse/tables/): what a declaration refuses, and that every one is found."""

import importlib
import pkgutil

import pytest

from pmm_pipeline.warehouse import tables
from pmm_pipeline.warehouse.tables import C, Table, declared_tables


def test_a_row_key_names_columns_of_its_table():
    table = Table("s", "t", "one row", (C("cycle", "VARCHAR", ""), C("code", "VARCHAR", "")), row_key=("cycle", "code"))
    assert table.key_in_cycle == ["code"]
    with pytest.raises(ValueError, match=r"s\.t: row key column\(s\) \['kode'\] are not columns"):
        Table("s", "t", "one row", (C("code", "VARCHAR", ""),), row_key=("kode",))


def test_a_table_with_a_key_gives_no_reason_to_have_none():
    with pytest.raises(ValueError, match=r"s\.t: a table with a row key needs no reason"):
        Table("s", "t", "one row", (C("code", "VARCHAR", ""),), row_key=("code",), why_no_key="none")


def test_every_table_declared_in_the_package_is_a_declared_table():
    """A table declared in one of the package's modules but not re-exported by its __init__ would get no row-key
    check and no reuse digest: declared_tables() must hold every one, and each tier's published tables."""
    found = {}
    for module in pkgutil.iter_modules(tables.__path__):
        for value in vars(importlib.import_module(f"{tables.__name__}.{module.name}")).values():
            if isinstance(value, Table):
                found[value.qualified] = value
    declared = {t.qualified: t for t in declared_tables()}
    assert found.keys() <= declared.keys()
    assert all(declared[name] is found[name] for name in found)
    published = {name for name in declared if name.startswith("publish_")}
    assert published == {
        f"publish_{tier}.{name}"
        for tier in ("public", "wco", "secretariat")
        for name in ("kpi_values", "rollups", "releases")
    }
    assert len(declared) == len(declared_tables())  # no table declared twice under one name
