"""Benchmarks of pmm_pipeline against the plain alternatives (`make bench`); not part of the package."""

# Before any benchmark imports openpyxl: the package keeps openpyxl on defusedxml (pmm_pipeline/__init__.py).
import pmm_pipeline  # noqa: F401, E402
