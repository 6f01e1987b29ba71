"""Each participating member's profile: its own values beside the `wco` tier's figures of every group it belongs to.

`published/<cycle>/profiles/<member>/profile.json` and `profile_<lang>.html` (the member's questionnaire
language and English), with `published/<cycle>/profiles/manifest.json` over every file. Disclosure-safe
by construction: a profile holds the member's own rows of the cycle's values and, for the groups it
belongs to, the rows of the `wco` tier's released rollups copied as they are (a statistic withheld
there is null here, with its reason). A member is a WCO-level reader, so a profile shows nothing about
another member that the `wco` tier does not show. The folder is built aside and read back before it
is switched in (folders.py): each profile is checked against those same inputs. This module writes, checks and
reads back the folder; the document is profile_document.py, the page profile_page.py.
"""

import json
import re
from collections.abc import Sequence
from pathlib import Path

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.publishing.folders import check_listed, write_folder
from pmm_pipeline.stages.publishing.profile_document import PROFILE_FORMAT, ProfileInputs, build_profile
from pmm_pipeline.stages.publishing.profile_page import render_profile

PROFILES_FOLDER = "profiles"
PROFILE_FILE = "profile.json"
CODE_WORD = re.compile(r"\b[A-Z]{3}\b")  # how a member code would show in a page


def profile_html(lang: str) -> str:
    return f"profile_{lang}.html"


def profile_languages(member_language: str) -> tuple[str, ...]:
    """The member's questionnaire language and English, English first."""
    return tuple(lang for lang in LANGUAGES if lang in ("en", member_language))


def write_profiles(profiles_dir: Path, token: str, members: Sequence[str], inputs: ProfileInputs, header: dict) -> dict:
    """Every member's profile, built aside, checked against `inputs` and switched in; returns the manifest."""
    documents = {m: build_profile(m, inputs) for m in sorted(members)}

    def write(folder: Path) -> dict[str, int]:
        rows: dict[str, int] = {}
        for member, document in documents.items():
            (folder / member).mkdir()
            name = f"{member}/{PROFILE_FILE}"
            (folder / name).write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
            rows[name] = len(document["kpis"])
            for lang in profile_languages(document["language"]):
                page = f"{member}/{profile_html(lang)}"
                (folder / page).write_text(render_profile(document, lang, inputs), encoding="utf-8")
                rows[page] = len(document["kpis"])
        return rows

    return write_folder(profiles_dir, token, write, header, verify=lambda built: check_profiles(built, inputs, members))


def check_profiles(folder: Path, inputs: ProfileInputs, members: Sequence[str]) -> list[str]:
    """What is amiss in a profiles folder: its listing, and any profile that is not its member's own values
    beside the wco tier's rollups exactly, or whose pages name another participant."""
    _, problems = check_listed(folder)
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if present != sorted(members):
        problems.append(f"{folder}: profiles of {present}, expected {sorted(members)}")
    # Any member the pipeline knows of (in force, participating or with values), not only this cycle's participants.
    others = set(inputs.memberships.member_code) | set(inputs.values.member_code) | set(inputs.member_names)
    for member in present:
        try:
            document = json.loads((folder / member / PROFILE_FILE).read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{folder / member / PROFILE_FILE}: cannot be read back ({err})")
            continue
        if document != build_profile(member, inputs):
            problems.append(f"{folder / member / PROFILE_FILE}: not the member's values beside the wco tier's figures")
        for page in sorted((folder / member).glob("profile_*.html")):
            named = (set(CODE_WORD.findall(page.read_text(encoding="utf-8"))) & others) - {member}
            if named:
                problems.append(f"{page}: names other members {sorted(named)}")
    return problems


def member_profile(published_dir: Path, member: str) -> dict | None:
    """A member's published profile document for one cycle (`published_dir` = published/<cycle>), or None when it
    has none. Raises ValueError when the profiles folder does not read back as its manifest lists it."""
    folder = published_dir / PROFILES_FOLDER
    path = folder / member / PROFILE_FILE
    if not path.is_file() or member in ("", ".", "..") or "/" in member:
        return None
    manifest, problems = check_listed(folder)
    if problems:
        raise ValueError(f"{folder} does not read back as published: {problems[0]}")
    document = json.loads(path.read_text())
    if document.get("format") != PROFILE_FORMAT or document.get("member_code") != member:
        raise ValueError(f"{path} is not {member}'s profile")
    return document


def member_profile_page(published_dir: Path, member: str, lang: str) -> Path | None:
    """The member's profile page in `lang` for one cycle, falling back to English (a profile is written in the
    member's language and English); None when it has no profile. Checked like member_profile."""
    document = member_profile(published_dir, member)
    if document is None:
        return None
    folder = published_dir / PROFILES_FOLDER / member
    for candidate in (lang, "en"):
        if candidate in LANGUAGES and (folder / profile_html(candidate)).is_file():
            return folder / profile_html(candidate)
    return None
