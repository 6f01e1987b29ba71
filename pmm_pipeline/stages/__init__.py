"""Pure stage logic, in data order; no Dagster here (the import contract in pyproject.toml holds both)."""
