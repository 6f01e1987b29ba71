"""Leaves: the shared vocabulary, errors, files, settings and code version; no Dagster, no stage, no spec."""
