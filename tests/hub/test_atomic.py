"""save_pretrained replaces a model folder in one step: a failure at any write leaves the old
folder intact and loadable, and no temporary folder behind."""
from __future__ import annotations

import os

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.learned import pretrained


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _siblings(folder):
    return sorted(p.name for p in folder.parent.iterdir())


@pytest.fixture
def saved(model_folder, trained):
    """The saved folder, its bytes, and a changed model to save over it."""
    changed = type(trained)()
    with torch.no_grad():
        changed.scale.fill_(3.0)
    return model_folder, _files(model_folder), changed


@pytest.mark.parametrize("where", ["weights", "config", "card", "swap"])
def test_failure_mid_save_leaves_the_old_folder(where, saved, trained, monkeypatch):
    folder, before, changed = saved

    class Injected(RuntimeError):
        pass

    def boom(*a, **k):
        raise Injected(where)

    if where == "weights":
        import safetensors.torch

        monkeypatch.setattr(safetensors.torch, "save_model", boom)
    elif where == "config":
        monkeypatch.setattr(pretrained.json, "dumps", boom)
    elif where == "card":
        monkeypatch.setattr(pretrained, "render_model_card", boom)
    else:  # the new folder is complete; renaming it in fails after the old one was moved aside
        real = os.rename
        calls = []

        def second_rename_fails(src, dst):
            calls.append((src, dst))
            if len(calls) == 2:
                raise Injected("rename")
            return real(src, dst)

        monkeypatch.setattr(pretrained.os, "rename", second_rename_fails)
    with pytest.raises(Injected):
        changed.save_pretrained(folder)
    monkeypatch.undo()
    assert _files(folder) == before
    assert _siblings(folder) == [folder.name]  # no .tmp-* / .old-* left
    G = nz.load(f"local-dir:{folder}")
    assert torch.equal(G.scale, trained.scale)


def test_replacing_is_complete_and_keeps_extra_files(saved):
    folder, before, changed = saved
    (folder / "metrics.json").write_text('{"accuracy": 0.9}')
    changed.save_pretrained(folder)
    assert _siblings(folder) == [folder.name]
    assert (folder / "metrics.json").read_text() == '{"accuracy": 0.9}'
    assert nz.load(f"local-dir:{folder}").scale.item() == 3.0
    assert _files(folder)["config.json"] != before["config.json"]


def test_folder_with_foreign_files_is_not_replaced(saved):
    folder, _, changed = saved
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        changed.save_pretrained(folder)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_file_in_the_way_is_refused(trained, tmp_path):
    (tmp_path / "x").write_text("a file")
    with pytest.raises(FileExistsError, match="is a file"):
        trained.save_pretrained(tmp_path / "x")
