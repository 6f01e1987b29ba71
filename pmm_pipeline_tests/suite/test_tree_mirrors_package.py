"""The test tree mirrors the package: a test module lies in the folder of the part of pmm_pipeline it tests
(pmm_pipeline_tests/stages/ingestion/ for pmm_pipeline/stages/ingestion/), or in one of the named folders of the
tests that belong to no one part. A test module added at the top, or in a folder the package lacks, fails here."""

from pathlib import Path

from pmm_pipeline_tests.paths import CHECKOUT, TESTS

PACKAGE = CHECKOUT / "pmm_pipeline"
# The folders of tests of no single part of the package, and what each holds (their __init__.py says more).
NAMED_FOLDERS = {
    "end_to_end": "whole cycles and runs across layers",
    "package": "the package as a whole: layers, imports",
    "suite": "the suite's own rules (conftest.py, this tree)",
    "benchmarks": "benchmarks/, outside the package",
}


def package_folders() -> set[Path]:
    """The package and its subpackages (folders with an __init__.py; not locale/ or templates/), relative."""
    return {path.parent.relative_to(PACKAGE) for path in PACKAGE.rglob("__init__.py")}


def module_paths() -> list[Path]:
    return sorted(path.relative_to(TESTS) for path in TESTS.rglob("test_*.py"))


def test_every_test_module_lies_in_a_folder_of_the_package_or_in_a_named_one():
    allowed = (package_folders() - {Path(".")}) | {Path(name) for name in NAMED_FOLDERS}
    misplaced = [module.as_posix() for module in module_paths() if module.parent not in allowed]
    assert not misplaced, (
        f"{misplaced}: a test module goes into the folder of pmm_pipeline_tests/ that mirrors the part of pmm_pipeline"
        f" it tests (pmm_pipeline_tests/stages/ingestion/ for pmm_pipeline/stages/ingestion/), or into one of"
        f" {sorted(NAMED_FOLDERS)} when it tests no single part"
    )


def test_every_folder_of_tests_is_a_package():
    """Without an __init__.py, pytest takes two test modules of the same name in two folders for one, and
    `pmm_pipeline_tests.<folder>.<module>` (a test importing a helper module) cannot be imported."""
    folders = {parent for module in module_paths() for parent in module.parents}
    assert not [folder.as_posix() for folder in sorted(folders) if not (TESTS / folder / "__init__.py").is_file()]


def test_the_named_folders_are_no_part_of_the_package():
    """Else a named folder's tests would read as tests of that part."""
    assert not {Path(name) for name in NAMED_FOLDERS} & package_folders()
