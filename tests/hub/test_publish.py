"""hub.validate_card and hub.publish (dry run; upload with a stand-in HfApi), through the API and the CLI."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from nuisance_zoo import hub


@pytest.fixture
def card(isolated_hub, model_folder):
    """A valid model folder at $NUISANCE_ZOO_HUB_CARDS/test-card."""
    dest = isolated_hub / "hub_cards" / "test-card"
    shutil.copytree(model_folder, dest)
    return dest


def _replace_in_card(folder, old: str, new: str) -> None:
    text = (folder / "README.md").read_text()
    assert old in text
    (folder / "README.md").write_text(text.replace(old, new, 1))


class TestValidateCard:
    def test_good_card_passes(self, card):
        assert hub.validate_card(card) == []

    def test_broken_front_matter(self, card):
        _replace_in_card(card, "pipeline_tag: image-to-image", "pipeline_tag: [image-to-image")
        problems = hub.validate_card(card)
        assert len(problems) == 1 and "front matter is not valid YAML" in problems[0]

    def test_unclosed_front_matter(self, card):
        text = (card / "README.md").read_text().split("---\n", 2)
        (card / "README.md").write_text("---\n" + text[1] + text[2])
        assert any("not closed" in p for p in hub.validate_card(card))

    def test_missing_front_matter_key(self, card):
        _replace_in_card(card, "pipeline_tag: image-to-image\n", "")
        assert hub.validate_card(card) == ["README.md: front matter lacks 'pipeline_tag'"]

    def test_wrong_library_name(self, card):
        _replace_in_card(card, "library_name: nuisance-zoo", "library_name: timm")
        assert hub.validate_card(card) == ["README.md: library_name must be 'nuisance-zoo', got 'timm'"]

    def test_hash_mismatch(self, card):
        data = bytearray((card / "model.safetensors").read_bytes())
        data[-1] ^= 0x01
        (card / "model.safetensors").write_bytes(bytes(data))
        problems = hub.validate_card(card)
        assert len(problems) == 1 and problems[0].startswith("model.safetensors: sha256 mismatch")
        assert hashlib.sha256(bytes(data)).hexdigest() in problems[0]

    def test_missing_file(self, card):
        (card / "config.json").unlink()
        assert hub.validate_card(card) == [
            "config.json: missing (a model folder needs README.md, config.json, model.safetensors)"]

    def test_config_without_architecture(self, card):
        text = (card / "config.json").read_text().replace('"architecture"', '"arch"')
        (card / "config.json").write_text(text)
        assert any(p.startswith("config.json: lacks 'architecture'") for p in hub.validate_card(card))

    def test_unexpected_file(self, card):
        (card / "notes.txt").write_text("scratch")
        (card / "__pycache__").mkdir()
        problems = hub.validate_card(card)
        assert len(problems) == 2
        assert problems[0].startswith("__pycache__: unexpected folder")
        assert problems[1].startswith("notes.txt: unexpected file")

    def test_linked_grid_must_exist(self, card):
        with open(card / "README.md", "a") as f:
            f.write("\n![grid](grid.png)\n")
        assert hub.validate_card(card) == ["README.md: links image 'grid.png', which is not in the folder"]

    def test_not_a_safetensors_file(self, card):
        (card / "model.safetensors").write_bytes(b"\x80\x04pickle")
        assert any("not a safetensors file" in p for p in hub.validate_card(card))


class _FakeApi:
    calls: list = []

    def __init__(self, **kw):
        _FakeApi.calls.append(("init", kw))

    def create_repo(self, repo_id, **kw):
        _FakeApi.calls.append(("create_repo", repo_id, kw))

    def create_branch(self, repo_id, **kw):
        _FakeApi.calls.append(("create_branch", repo_id, kw))

    def upload_folder(self, **kw):
        _FakeApi.calls.append(("upload_folder", kw))
        return type("CommitInfo", (), {"commit_url": "https://example.invalid/commit/abc"})()


class TestPublish:
    def test_dry_run_lists_files_and_uploads_nothing(self, card, monkeypatch):
        import huggingface_hub

        monkeypatch.setattr(huggingface_hub, "HfApi", None)  # any upload attempt would fail loudly
        plan = hub.publish("test-card", "my-org/test-card", dry_run=True)
        assert plan["dry_run"] and plan["commit_url"] is None and plan["folder"] == str(card)
        assert [f["file"] for f in plan["files"]] == ["README.md", "config.json", "model.safetensors"]
        for f in plan["files"]:
            assert f["size"] == (card / f["file"]).stat().st_size
            assert f["sha256"] == hub.sha256_file(card / f["file"])

    def test_invalid_card_is_not_published(self, card):
        (card / "notes.txt").write_text("x")
        with pytest.raises(ValueError, match=r"not ready to publish:\n  - notes.txt: unexpected file"):
            hub.publish(card, "my-org/test-card", dry_run=True)

    def test_bad_repo_id(self, card):
        with pytest.raises(ValueError, match="bad hub name"):
            hub.publish(card, "no-slash", dry_run=True)

    def test_upload_calls_huggingface_hub(self, card, monkeypatch):
        import huggingface_hub

        _FakeApi.calls = []
        monkeypatch.setattr(huggingface_hub, "HfApi", _FakeApi)
        out = hub.publish(card, "my-org/test-card", token="tok", revision="v1")
        assert out["commit_url"] == "https://example.invalid/commit/abc"
        (_, init), (_, repo, create_kw), (_, _, branch_kw), (_, upload_kw) = _FakeApi.calls
        assert init["token"] == "tok" and init["library_name"] == "nuisance-zoo"
        assert repo == "my-org/test-card" and create_kw["exist_ok"] is True
        assert branch_kw["branch"] == "v1" and branch_kw["exist_ok"] is True
        assert upload_kw["folder_path"] == str(card) and upload_kw["revision"] == "v1"
        assert upload_kw["allow_patterns"] == ["README.md", "config.json", "model.safetensors"]


def _cli(*args: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "nuisance_zoo", "publish", *args],
                          capture_output=True, text=True, env=env, timeout=120)


class TestCli:
    def test_dry_run(self, card, isolated_hub):
        r = _cli("test-card", "--repo-id", "my-org/test-card", "--dry-run",
                 env_extra={"NUISANCE_ZOO_HUB_CARDS": str(isolated_hub / "hub_cards")})
        assert r.returncode == 0, r.stderr
        assert "would upload to my-org/test-card@main" in r.stdout
        assert hub.sha256_file(card / "model.safetensors") in r.stdout and "dry run: nothing was uploaded" in r.stdout

    # The error paths run in-process through the same entry point: a subprocess costs seconds of torch import.
    def test_problems_exit_1(self, card, capsys):
        from nuisance_zoo.cli import main

        _replace_in_card(card, "license: apache-2.0\n", "")
        (card / "extra.bin").write_bytes(b"x")
        assert main(["publish", str(card), "--repo-id", "my-org/test-card", "--dry-run"]) == 1
        err = capsys.readouterr().err
        assert "2 problems" in err and "front matter lacks 'license'" in err and "extra.bin: unexpected file" in err

    def test_unknown_name_exit_2(self, isolated_hub, capsys):
        from nuisance_zoo.cli import main

        assert main(["publish", "no-such-model", "--repo-id", "my-org/x", "--dry-run"]) == 2
        assert "neither a folder nor a model under" in capsys.readouterr().err
