"""Where the tests find the checkout and their own data, declared once: a test module's place in the tree (which
mirrors the package, suite/test_tree_mirrors_package.py) says nothing about where these are."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHECKOUT = TESTS.parent
# Hand-made submissions with hand-worked expected values (fixtures/cycle_2023: landing/ and expected.yaml).
FIXTURES = TESTS / "fixtures"
# The asset-graph snapshot that test_definitions compares the code location with.
SNAPSHOTS = TESTS / "snapshots"
# Screenshots and pages the browser tests leave for a person to look at (not under version control).
ARTIFACTS = CHECKOUT / "test-artifacts"
