"""Reusable Dagster builders: the table-asset factory, policies, failures, metadata, resources, instance."""
