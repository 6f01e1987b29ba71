"""The warehouse's table declarations; no Dagster, no stage."""
