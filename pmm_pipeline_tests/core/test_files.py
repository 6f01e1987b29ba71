"""Folders switched in whole (releases, member feedback): a reader or a killed process sees the old or the new one."""

from pathlib import Path

import pytest

from pmm_pipeline.core import files
from pmm_pipeline.stages.feedback.members import write_feedback_folder


def folder_with(path: Path, content: dict[str, str]) -> Path:
    for name, text in content.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


def contents(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_switching_in_replaces_the_folder_whole_and_leaves_nothing_beside_it(tmp_path, monkeypatch, atomic_exchange):
    exchanged: list[bool] = []  # what each exchange_folders call answered
    if atomic_exchange:
        real_exchange = files.exchange_folders

        def recording_exchange(a: Path, b: Path) -> bool:
            exchanged.append(real_exchange(a, b))
            return exchanged[-1]

        monkeypatch.setattr(files, "exchange_folders", recording_exchange)
    else:
        monkeypatch.setattr(files, "exchange_folders", lambda a, b: False)
    target = folder_with(tmp_path / "feedback", {"KEN/old.xlsx": "old", "FRA/gone.xlsx": "gone"})
    building = folder_with(files.building_folder(target, "run2"), {"KEN/new.xlsx": "new"})

    files.switch_folder_in(building, target)

    if atomic_exchange:
        if exchanged == [False]:
            pytest.skip(f"the file system under {tmp_path} has no RENAME_EXCHANGE: the atomic path cannot run here")
        assert exchanged == [True]  # the folders were swapped in one step, not renamed one after the other
    assert contents(target) == {"KEN/new.xlsx": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback"]


def test_a_folder_left_aside_by_a_killed_process_is_put_back_and_half_built_ones_dropped(tmp_path):
    # Killed between the two renames of a switch without atomic exchange: the old folder is aside,
    # the new one still half built.
    target = tmp_path / "feedback"
    folder_with(tmp_path / ".feedback.retired-run2", {"KEN/old.xlsx": "old"})
    folder_with(files.building_folder(target, "run2"), {"KEN/half.xlsx": "half"})

    files.recover_folder(target)

    assert contents(target) == {"KEN/old.xlsx": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback"]


def test_member_feedback_written_after_a_killed_run_replaces_its_leftovers(tmp_path):
    feedback_dir = tmp_path / "published" / "2023" / "feedback"
    folder_with(feedback_dir.parent / ".feedback.retired-dead", {"KEN/feedback_KEN_2023.xlsx": "old"})
    folder_with(files.building_folder(feedback_dir, "dead"), {"FRA/feedback_FRA_2023.xlsx": "half"})

    write_feedback_folder(feedback_dir, {feedback_dir / "UGA" / "feedback_UGA_2023.xlsx": b"new"}, "run3")

    assert contents(feedback_dir) == {"UGA/feedback_UGA_2023.xlsx": "new"}
    assert sorted(p.name for p in feedback_dir.parent.iterdir()) == ["feedback"]
