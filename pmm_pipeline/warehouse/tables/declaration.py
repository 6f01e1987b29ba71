"""What a table declaration is: its schema, name, what one row is, its columns and row key, and its DDL."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    row: str  # what one row is, shown as the asset description
    columns: tuple[Column, ...]
    # The columns that tell one row from another (with `cycle` first where the table is per cycle): declared
    # here once, for every stage that joins, sorts, compares or indexes the table's rows by them.
    # Every asset of a table with a row key checks, each time its step writes it, that no two rows of the cycle
    # share one (orchestration/key_checks.py). A table whose rows no columns tell apart says why instead.
    row_key: tuple[str, ...] = ()
    why_no_key: str = ""

    def __post_init__(self) -> None:
        unknown = [c for c in self.row_key if c not in self.column_names]
        if unknown:
            raise ValueError(f"{self.qualified}: row key column(s) {unknown} are not columns of the table")
        if self.row_key and self.why_no_key:
            raise ValueError(f"{self.qualified}: a table with a row key needs no reason to have none")

    @property
    def key_in_cycle(self) -> list[str]:
        """The row key within one cycle (a release, a tier's table): the row key without `cycle`."""
        return [c for c in self.row_key if c != "cycle"]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def key(self) -> list[str]:
        return [self.schema, self.name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def render_create(self) -> str:
        cols = ",\n  ".join(f"{c.name} {c.type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {cols}\n)"


def C(name: str, type_: str, description: str) -> Column:  # noqa: N802 - reads as a table literal
    return Column(name, type_, description)
