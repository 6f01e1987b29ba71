"""The warehouse: its table declarations, the writes that follow them, the DuckDB file's connections; no Dagster."""
