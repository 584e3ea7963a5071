"""The atomic writers and the write-point hook that every run artefact goes through."""
from __future__ import annotations

import pytest

from nuisance_zoo import checkpoint
from nuisance_zoo.checkpoint import (InjectedCrash, atomic_file, atomic_folder, atomic_write_text,
                                     recording_write_points, write_point)


def test_atomic_file_commits_whole_and_an_error_keeps_the_old_file(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_text(path, "old", "metrics.json")
    with pytest.raises(ZeroDivisionError):
        with atomic_file(path, "metrics.json") as tmp:
            tmp.write_text("half")
            1 / 0
    assert path.read_text() == "old" and sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"]


@pytest.mark.parametrize("one_step", [True, False], ids=["exchange", "aside"])
def test_atomic_folder_replaces_an_existing_folder_and_leaves_nothing_else(tmp_path, monkeypatch, one_step):
    if not one_step:  # the portable path: rename the old folder aside, then the new one in
        monkeypatch.setattr(checkpoint, "_exchange", lambda a, b: False)
    for version in ("old", "new"):
        with atomic_folder(tmp_path / "model", "model") as tmp:
            assert tmp.name == ".model.tmp" and not any(tmp.iterdir())
            (tmp / "config.json").write_text(version)
            (tmp / "model.safetensors").write_text(version)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert {p.read_text() for p in (tmp_path / "model").iterdir()} == {"new"}
    with pytest.raises(KeyError):
        with atomic_folder(tmp_path / "model", "model") as tmp:
            (tmp / "config.json").write_text("torn")
            raise KeyError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (tmp_path / "model" / "config.json").read_text() == "new"


def test_write_points_are_recorded_in_order_and_the_hook_fires_at_the_nth(monkeypatch):
    with recording_write_points() as outer:
        write_point("grid")
        with recording_write_points() as inner:
            write_point("checkpoint")
            write_point("grid")
    assert outer == ["grid:1", "checkpoint:1", "grid:2"] and inner == ["checkpoint:1", "grid:1"]
    checkpoint.reset_write_points()
    monkeypatch.setenv(checkpoint.CRASH_ENV, "grid:2:raise")
    write_point("grid")
    write_point("checkpoint")
    with pytest.raises(InjectedCrash, match="grid:2"):
        write_point("grid")
    write_point("grid")  # only the 2nd
