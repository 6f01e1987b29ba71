"""Tests of no single part of the package: whole cycles and runs across its layers (Dagster runs, `pmm run`,
`dagster dev`, the `prod` profile), checked from the outside."""
