"""Tests of the test suite's own rules: the kinds and worker groups of conftest.py, the tree mirroring the package."""
