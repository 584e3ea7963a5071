"""Hostile model folders: each is refused with a ModelFolderError before anything is built, and
nothing outside the folder is read or fetched.

Reads are observed with an audit hook (``open`` events), fetches with the fake Hub's request log.
"""
from __future__ import annotations

import json
import os
import pickle
import struct
import sys
from pathlib import Path

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import hub
from nuisance_zoo.learned.structured import StructuredGenerator

SECRET = "password: hunter2-do-not-print"

_OPENED: list[str] = []
_WATCHING = [False]


def _audit(event: str, args: tuple) -> None:
    if _WATCHING[0] and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one records only while watching


@pytest.fixture
def opened():
    """The paths opened while the test body runs."""
    _OPENED.clear()
    _WATCHING[0] = True
    yield _OPENED
    _WATCHING[0] = False


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside every model folder that a hostile config tries to reach."""
    path = tmp_path / "outside" / "secret.yaml"
    path.parent.mkdir()
    path.write_text(f"gen:\n  dim: [\n{SECRET}\n")  # broken YAML: its parser error would quote the file
    return path


def _rewrite(folder: Path, **changes) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if value is _DELETE:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    (folder / "config.json").write_text(json.dumps(cfg))


_DELETE = object()


def _set_weights(folder: Path, data: bytes) -> None:
    """Replace the weights and make config.json's hash match them (a consistent, hostile folder)."""
    (folder / "model.safetensors").write_bytes(data)
    _rewrite(folder, sha256=hub.sha256_file(folder / "model.safetensors"))


@pytest.fixture
def structured_folder(tmp_path) -> Path:
    return StructuredGenerator(delta_dim=2, chain=["brightness", "haze"]).save_pretrained(tmp_path / "structured")


@pytest.fixture
def munit_folder(tmp_path) -> Path:
    return nz.MunitGenerator("small", dim=4, mlp_dim=8, style_width=4).save_pretrained(tmp_path / "munit")


def _refused(name: str, *fragments: str) -> nz.ModelFolderError:
    with pytest.raises(nz.ModelFolderError) as e:
        nz.load(name)
    for f in fragments:
        assert f in str(e.value), str(e.value)
    assert SECRET not in str(e.value) and "hunter2" not in str(e.value)
    return e.value


def _not_read(opened: list[str], path: Path) -> None:
    assert str(path) not in opened and str(path.resolve()) not in opened, f"{path} was opened"


class TestPaths:
    def test_traversal_in_model_config(self, munit_folder, secret, opened):
        rel = os.path.relpath(secret, munit_folder)  # ../outside/secret.yaml
        assert rel.startswith("..")
        cfg = json.loads((munit_folder / "config.json").read_text())
        _rewrite(munit_folder, model_config={**cfg["model_config"], "config": rel})
        _refused(f"local-dir:{munit_folder}", "'config'", "not accepted")
        _not_read(opened, secret)

    def test_traversal_in_a_chain(self, structured_folder, secret, opened):
        cfg = json.loads((structured_folder / "config.json").read_text())
        _rewrite(structured_folder, model_config={**cfg["model_config"], "chain": ["brightness", "../outside/secret"]})
        _refused(f"local-dir:{structured_folder}", "not a registered known model")
        _not_read(opened, secret)

    def test_absolute_path_in_model_config(self, munit_folder, secret, opened):
        cfg = json.loads((munit_folder / "config.json").read_text())
        _rewrite(munit_folder, model_config={**cfg["model_config"], "config": str(secret)})
        _refused(f"local-dir:{munit_folder}", "not accepted")
        _not_read(opened, secret)

    def test_weights_symlinked_out_of_the_folder(self, model_folder, tmp_path, opened):
        outside = tmp_path / "elsewhere.safetensors"
        (model_folder / "model.safetensors").rename(outside)
        (model_folder / "model.safetensors").symlink_to(outside)  # same bytes: the hash would match
        _refused(f"local-dir:{model_folder}", "symbolic link", "outside the model folder")
        _not_read(opened, outside)

    def test_config_symlinked_out_of_the_folder(self, model_folder, secret, opened):
        (model_folder / "config.json").unlink()
        (model_folder / "config.json").symlink_to(secret)
        _refused(f"local-dir:{model_folder}", "symbolic link")
        _not_read(opened, secret)


class TestReferences:
    def test_self_reference_in_a_chain(self, structured_folder):
        cfg = json.loads((structured_folder / "config.json").read_text())
        for name in ("structured-generator", f"local-dir:{structured_folder}"):
            _rewrite(structured_folder, model_config={**cfg["model_config"], "chain": [name]})
            err = _refused(f"local-dir:{structured_folder}", "not a registered known model")
            assert not isinstance(err.__cause__, RecursionError)

    def test_remote_reference_in_a_chain_fetches_nothing(self, structured_folder, fake_hub, model_folder):
        fake_hub.add_repo("evil/payload", model_folder)
        cfg = json.loads((structured_folder / "config.json").read_text())
        _rewrite(structured_folder, model_config={**cfg["model_config"], "chain": ["hf-hub:evil/payload"]})
        _refused(f"local-dir:{structured_folder}", "no hub, local or pretrained names")
        assert fake_hub.requests == []

    def test_pretrained_zoo_name_in_a_chain_is_refused(self, structured_folder):
        cfg = json.loads((structured_folder / "config.json").read_text())
        _rewrite(structured_folder, model_config={**cfg["model_config"], "chain": ["gtsrb-brightness"]})
        _refused(f"local-dir:{structured_folder}", "not a registered known model")

    def test_remote_reference_in_model_config_fetches_nothing(self, munit_folder, fake_hub, model_folder):
        fake_hub.add_repo("evil/payload", model_folder)
        cfg = json.loads((munit_folder / "config.json").read_text())
        _rewrite(munit_folder, model_config={**cfg["model_config"], "config": "hf-hub:evil/payload"})
        _refused(f"local-dir:{munit_folder}", "not accepted")
        assert fake_hub.requests == []


def _safetensors(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


class TestWeights:
    def test_header_length_past_the_end(self, model_folder, scale_cls):
        data = bytearray((model_folder / "model.safetensors").read_bytes())
        data[:8] = struct.pack("<Q", len(data) * 4)
        _set_weights(model_folder, bytes(data))
        _refused(f"local-dir:{model_folder}", "header length")
        with pytest.raises(nz.ModelFolderError):
            scale_cls.from_pretrained(model_folder)

    @pytest.mark.parametrize("lie", ["size", "overlap", "past-the-end"])
    def test_lying_offsets(self, model_folder, lie):
        header = {"__metadata__": {"format": "pt"},
                  "scale": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "bias": {"dtype": "F32", "shape": [3], "data_offsets": [4, 16]}}
        data = bytes(16)
        if lie == "size":
            header["bias"]["shape"] = [300]  # says 1200 bytes, spans 12
        elif lie == "overlap":
            header["bias"]["data_offsets"] = [0, 12]
            header["scale"]["data_offsets"] = [8, 12]
        else:
            header["bias"]["data_offsets"] = [4, 16 + 4096]
            header["bias"]["shape"] = [1027]
        _set_weights(model_folder, _safetensors(header, data))
        _refused(f"local-dir:{model_folder}", "model.safetensors")

    def test_pickle_named_safetensors_is_never_unpickled(self, model_folder, tmp_path):
        marker = tmp_path / "unpickled"

        class Payload:
            def __reduce__(self):
                return (Path.touch, (marker,))

        for blob in (pickle.dumps(Payload(), protocol=2), _torch_save_bytes(tmp_path)):
            _set_weights(model_folder, blob)
            _refused(f"local-dir:{model_folder}", "pickle", "NOT loaded")
            assert hub.validate_card(model_folder) and any("pickle" in p for p in hub.validate_card(model_folder))
        assert not marker.exists()

    def test_unreadable_weights_with_a_matching_hash(self, model_folder):
        _set_weights(model_folder, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
        err = _refused(f"local-dir:{model_folder}", "not a safetensors file")
        assert "SafetensorError" not in type(err).__name__


def _torch_save_bytes(tmp_path) -> bytes:
    path = tmp_path / "state.pt"
    torch.save({"scale": torch.ones(1)}, path)
    return path.read_bytes()


class TestCardChecks:
    def test_validate_card_refuses_a_readme_linked_out(self, model_folder, secret, opened):
        (model_folder / "README.md").unlink()
        (model_folder / "README.md").symlink_to(secret)
        problems = hub.validate_card(model_folder)
        assert len(problems) == 1 and "symbolic link" in problems[0]
        _not_read(opened, secret)

    def test_card_image_links_must_stay_in_the_folder(self, model_folder, secret):
        rel = os.path.relpath(secret, model_folder)
        with open(model_folder / "README.md", "a") as f:
            f.write(f"\n![x]({rel})\n")
        assert any("not in the folder" in p for p in hub.validate_card(model_folder))
