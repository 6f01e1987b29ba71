"""Benchmarks of pmm_pipeline against the plain alternatives (`make bench`); not part of the package."""
