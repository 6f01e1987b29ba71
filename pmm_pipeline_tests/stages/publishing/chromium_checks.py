"""Headless Chromium for the publishing tests: `chromium()` finds (or installs) Debian's chromium, `CHROMIUM_FLAGS`
are the flags it is run with from the command line, and `overlapping(labels)` names the pairs of text labels, as
Chromium laid them out, whose boxes meet. Used by test_report.py, test_profiles.py, test_publication_formats.py and
test_release_pages_browser.py.
"""

import shutil
import subprocess

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    """Debian's chromium, installed when missing (the one set-up step that needs the package mirror)."""
    found = shutil.which("chromium")
    if not found:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and could not be installed")
    return found


def overlapping(labels: list[dict]) -> list[tuple[str, str]]:
    def meet(a, b) -> bool:
        return (
            a["x"] < b["x"] + b["w"] - 1
            and b["x"] < a["x"] + a["w"] - 1
            and a["y"] < b["y"] + b["h"] - 1
            and (b["y"] < a["y"] + a["h"] - 1)
        )

    return [(a["text"], b["text"]) for i, a in enumerate(labels) for b in labels[i + 1 :] if meet(a, b)]
