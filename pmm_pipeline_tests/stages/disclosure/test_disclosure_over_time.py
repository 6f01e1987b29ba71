"""Disclosure over time: no release teaches, with the earlier ones a reader holds, what a tier hides.

Each scenario publishes a series twice (disclosure_history.release_sequence: decided and audited with
every earlier release on record) and lets an attacker holding both releases solve for hidden values.
Where publishing the second release as if nothing had been released before leaks, the test shows it
(so the scenario bites), then shows that with the record nothing is recovered.
"""

import json
from dataclasses import replace

import pytest

from pmm_pipeline.core.errors import ReleaseRecordError
from pmm_pipeline.stages.disclosure.control import control_disclosure
from pmm_pipeline.stages.disclosure.decisions import EARLIER_RELEASE
from pmm_pipeline.stages.disclosure.record import INDEX_FILE, RECORD_DIR, read_history, with_history, write_record
from pmm_pipeline.stages.publishing.diff import diff_release
from pmm_pipeline_tests.disclosure_history import recover, release_sequence
from pmm_pipeline_tests.disclosure_universe import M, Universe


def member(code, region, disclosure, value, status="reported"):
    return M(code, {"region": region}, disclosure, value, status=status)


# Region X: three secretariat-only values and two public ones; region Y: three public values.
BASE = [
    member("B", "X", "secretariat", 20.0),
    member("C", "X", "secretariat", 35.0),
    member("D", "X", "secretariat", 50.0),
    member("E", "X", "public", 40.0),
    member("F", "X", "public", 60.0),
    member("G", "Y", "public", 10.0),
    member("H", "Y", "public", 30.0),
    member("I", "Y", "public", 70.0),
]
A = member("A", "X", "secretariat", 45.0)


def universe(members):
    return Universe(members, statistics=("mean",))


def leaks(states, tmp_path, history=True):
    releases = release_sequence([universe(s) for s in states], tmp_path, history=history)
    return {audience: recover([universe(s) for s in states], releases, audience) for audience in ("public", "wco")}


def reasons(states, tmp_path):
    """The reasons of what the last state withholds, decided with the earlier states on record."""
    release_sequence([universe(s) for s in states[:-1]], tmp_path)
    facts = with_history(universe(states[-1]).facts(), read_history([tmp_path], 2022))
    return {(w.tier, w.group_code, w.statistic, w.reason) for w in control_disclosure(facts, 3)}


@pytest.mark.parametrize("scenario", ["a member joins a group (reopened cycle)", "a blocked member comes back"])
def test_a_member_joining_a_group_is_not_revealed_by_the_difference(tmp_path, scenario):
    # A blocked member is absent from the KPI values, exactly like a member that had not yet answered.
    states = [BASE, [*BASE, A]]
    naive = leaks(states, tmp_path / "naive", history=False)
    assert ("A", 45.0) in naive["public"]  # X's mean then and now differ by A's value
    assert leaks(states, tmp_path / "record") == {"public": set(), "wco": set()}
    assert ("public", "X", "mean", EARLIER_RELEASE) in reasons(states, tmp_path / "why")


def test_a_member_withdrawing_an_answer_is_not_revealed(tmp_path):
    states = [[*BASE, A], [*BASE, replace(A, value=None, status="not_available")]]
    assert ("A", 45.0) in leaks(states, tmp_path / "naive", history=False)["public"]
    assert leaks(states, tmp_path / "record") == {"public": set(), "wco": set()}


def test_a_correction_of_one_value_reveals_neither_value(tmp_path):
    # B corrects 20 to 26: the old and the new value are two variables; both stay hidden, alone and with
    # any one other member's knowledge.
    corrected = [replace(m, value=26.0) if m.code == "B" else m for m in BASE]
    found = leaks([[*BASE, A], [*corrected, A]], tmp_path)
    assert found == {"public": set(), "wco": set()}
    history = read_history([tmp_path], 2022)
    values = {r.values["B"][0] for releases in history.values() for r in releases}
    assert values == {20.0, 26.0}  # the record holds the value in force at each release


def test_a_member_opening_its_value_does_not_unlock_an_earlier_sum(tmp_path):
    # X's first mean sums B, C, D (hidden). B then chooses public: shown now, its value would leave C + D,
    # which C (one insider) turns into D's value. B's value is withheld from the tier instead: the
    # earlier release cannot be taken back.
    opened = [replace(m, disclosure="public") if m.code == "B" else m for m in BASE]
    states = [BASE, opened]
    naive = release_sequence([universe(s) for s in states], tmp_path / "naive", history=False)
    assert recover([universe(s) for s in states], naive, "public", coalition=0) == set()  # not an outsider
    assert ("D", 50.0) in recover([universe(s) for s in states], naive, "public", coalition=1)  # but C
    releases = release_sequence([universe(s) for s in states], tmp_path / "record")
    for audience in ("public", "wco"):
        assert recover([universe(s) for s in states], releases, audience, coalition=1) == set()
    assert "B" not in set(releases[1]["public"]["kpi_values"]["member_code"])
    assert ("public", "B", "value", EARLIER_RELEASE) in reasons(states, tmp_path / "why")


def test_a_member_hiding_a_value_it_had_shown_protects_what_it_can(tmp_path):
    # E was public; it now chooses secretariat: its value leaves the tier (a release cannot be taken back, so
    # the old value stays known), and nothing else becomes solvable.
    hidden = [replace(m, disclosure="secretariat") if m.code == "E" else m for m in BASE]
    releases = release_sequence([universe(BASE), universe(hidden)], tmp_path)
    assert "E" not in set(releases[1]["public"]["kpi_values"]["member_code"])
    for audience in ("public", "wco"):
        assert recover([universe(BASE), universe(hidden)], releases, audience, coalition=1) == set()


def test_a_rerun_on_the_same_inputs_decides_the_same_and_adds_no_record(tmp_path):
    states = [[*BASE, A], [*BASE, A]]
    releases = release_sequence([universe(s) for s in states], tmp_path)
    for tier in ("public", "wco"):
        assert releases[0][tier]["rollups"].equals(releases[1][tier]["rollups"])
        assert len(list((tmp_path / RECORD_DIR / tier).glob("*.json"))) == 1


def test_an_altered_record_stops_disclosure_with_the_file_named(tmp_path):
    release_sequence([universe(BASE)], tmp_path)
    path = next((tmp_path / RECORD_DIR / "public").glob("*.json"))
    record = json.loads(path.read_text())
    record["series"][0]["values"]["B"][0] = 21.0
    path.write_text(json.dumps(record))
    with pytest.raises(ReleaseRecordError, match=path.name):
        read_history([tmp_path], 2022)


def test_changes_json_shows_a_withdrawn_row_by_its_key_and_no_figure_withheld_now(tmp_path):
    states = [[*BASE, A], [*BASE, replace(A, value=None, status="not_available")]]
    releases = release_sequence([universe(s) for s in states], tmp_path)
    for tier in ("public", "wco"):
        changes = diff_release(releases[0][tier], releases[1][tier], None)
        for table in changes["tables"].values():
            assert all(
                set(r) <= {"member_code", "kpi_id", "series", "group_type", "group_code"} for r in table["removed"]
            )
            rows = releases[1][tier]["rollups"].set_index(["group_type", "group_code"])
            for entry in table["changed"]:
                if "group_type" in entry:
                    now = rows.loc[(entry["group_type"], entry["group_code"])]
                    assert all(
                        now[c] is not None and now[c] == now[c]
                        for c in entry["before"]
                        if c not in ("suppressed", "suppression_reason")
                    )


def test_releases_of_another_cycle_of_the_same_reporting_year_count_and_other_years_do_not(tmp_path):
    release_sequence([universe(BASE)], tmp_path / "other_cycle")  # its records say reporting year 2022
    earlier = read_history([tmp_path / "this_cycle", tmp_path / "other_cycle"], 2022)
    facts = with_history(universe([*BASE, A]).facts(), earlier)
    assert ("public", "X", "mean", EARLIER_RELEASE) in {
        (w.tier, w.group_code, w.statistic, w.reason) for w in control_disclosure(facts, 3)
    }
    assert read_history([tmp_path / "other_cycle"], 2024) == {}  # another year: other variables


def test_the_coalition_size_is_a_setting_from_one_to_three():
    from pmm_pipeline.core.settings import Settings

    assert Settings.from_env({}).coalition_size == 1
    assert Settings.from_env({"PMM_COALITION_SIZE": "2"}).coalition_size == 2
    for bad in ("0", "4", "two"):
        with pytest.raises(ValueError, match="PMM_COALITION_SIZE"):
            Settings.from_env({"PMM_COALITION_SIZE": bad})


def test_with_k_two_a_group_needs_four_hidden_contributors(tmp_path):
    # X holds three hidden values: enough against one insider, not against two pooling theirs.
    facts = universe(BASE).facts()
    one = {(w.tier, w.group_code, w.statistic) for w in control_disclosure(facts, 3, coalition=1)}
    two = {(w.tier, w.group_code, w.statistic) for w in control_disclosure(facts, 3, coalition=2)}
    assert ("public", "X", "mean") not in one and ("public", "X", "mean") in two
    four = {
        (w.tier, w.group_code, w.statistic) for w in control_disclosure(universe([*BASE, A]).facts(), 3, coalition=2)
    }
    assert ("public", "X", "mean") not in four


def test_a_removed_record_or_index_line_stops_disclosure_with_the_file_named(tmp_path):
    # Deleting what a tier released must not go unseen: a later release could reveal what it hid.
    release_sequence([universe(BASE), universe([*BASE, A])], tmp_path)
    folder = tmp_path / RECORD_DIR / "public"
    index = folder / INDEX_FILE
    lines = index.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2 == len(list(folder.glob("*.json")))
    first = json.loads(lines[0])["record"]

    (folder / f"{first}.json").rename(tmp_path / "aside.json")
    with pytest.raises(ReleaseRecordError, match=f"{first}.json.*is missing"):
        read_history([tmp_path], 2022)
    (tmp_path / "aside.json").rename(folder / f"{first}.json")

    index.write_bytes(lines[1])  # the first line removed, and its file with it
    (folder / f"{first}.json").unlink()
    with pytest.raises(ReleaseRecordError, match="line 1 does not follow"):
        read_history([tmp_path], 2022)

    index.unlink()
    with pytest.raises(ReleaseRecordError, match="index of the earlier releases' records is missing"):
        read_history([tmp_path], 2022)


def test_a_record_left_unlisted_by_a_killed_run_still_counts_and_is_listed_next(tmp_path):
    release_sequence([universe(BASE), universe([*BASE, A])], tmp_path)
    folder = tmp_path / RECORD_DIR / "public"
    index = folder / INDEX_FILE
    whole = index.read_bytes()
    before = read_history([tmp_path], 2022)
    first, second = whole.splitlines(keepends=True)
    index.write_bytes(first + second[:20])  # killed while the second record's line was appended
    assert read_history([tmp_path], 2022) == before  # the unlisted record still counts as released
    newest = json.loads(second)["record"]
    write_record(tmp_path, "public", json.loads((folder / f"{newest}.json").read_text()))
    assert index.read_bytes().endswith(second) and read_history([tmp_path], 2022) == before
