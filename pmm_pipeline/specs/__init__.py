"""Validated data files: the KPI catalogue and the reference data (members, groups, cycles); import core only."""
