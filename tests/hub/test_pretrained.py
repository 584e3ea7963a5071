"""save_pretrained / from_pretrained: the hub folder format and bit-exact round trips."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import nuisance_zoo as nz
from nuisance_zoo import hub


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


class TestSave:
    def test_writes_the_three_files(self, model_folder):
        assert sorted(p.name for p in model_folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]

    def test_safetensors_holds_the_state_dict(self, model_folder, trained):
        with safe_open(str(model_folder / "model.safetensors"), framework="pt") as f:
            assert f.metadata() == {"format": "pt"}
            keys = set(f.keys())
        assert keys == set(trained.state_dict())  # non-persistent Δ buffers stay out
        state = load_file(str(model_folder / "model.safetensors"))
        for k, v in trained.state_dict().items():
            assert state[k].dtype == v.dtype and torch.equal(state[k], v), k

    def test_config_json(self, model_folder, trained):
        cfg = json.loads((model_folder / "config.json").read_text())
        assert cfg["architecture"] == "test-hub-scale"
        assert cfg["model_config"] == {"channels": 3, "image_size": 8}
        assert cfg["delta_space"] == {"dim": 1, "names": ["log_gain"], "bounds": None, "prior": "normal"}
        assert cfg["input"] == {"channels": 3, "size": [8, 8], "range": [0.0, 1.0]}
        assert cfg["training"]["domains"] == {"source": "day", "target": "night"}
        assert cfg["training"]["selection"] == "mean brightness < 0.3"
        assert cfg["training"]["iterations"] == 7
        assert cfg["library_version"] == nz.__version__
        assert cfg["sha256"] == hub.sha256_file(model_folder / "model.safetensors")

    def test_model_card(self, model_folder):
        text = (model_folder / "README.md").read_text()
        meta = _front_matter(text)
        assert meta["library_name"] == "nuisance-zoo"
        assert meta["pipeline_tag"] == "image-to-image"
        assert meta["license"] == "apache-2.0"
        assert meta["datasets"] == ["gtsrb"]
        assert "nuisance-zoo" in meta["tags"]
        assert "learned brightness scale" in text          # what the nuisance is (class docstring)
        assert "**source**: day" in text and "**target**: night" in text
        assert "mean brightness < 0.3" in text and "iterations: 7" in text
        assert "| accuracy | 0.9123 |" in text and "| worst-case accuracy | 0.5 |" in text
        assert "grid.png" not in text                      # no grid given, none linked
        assert hub.validate_card(model_folder) == []

    def test_grid_is_copied_and_linked(self, trained, tmp_path):
        grid = tmp_path / "my_grid.png"
        grid.write_bytes(b"\x89PNG fake")
        folder = trained.save_pretrained(tmp_path / "g", card={"grid": grid})
        assert (folder / "grid.png").read_bytes() == b"\x89PNG fake"
        assert "![nuisance-space grid](grid.png)" in (folder / "README.md").read_text()
        assert hub.validate_card(folder) == []

    def test_table_of_rows(self, trained, tmp_path):
        metrics = {"ERM": {"clean": 0.9, "shifted": 0.4}, "MDA": {"clean": 0.89, "shifted": 0.7}}
        text = (trained.save_pretrained(tmp_path / "t", card={"metrics": metrics}) / "README.md").read_text()
        assert "| | clean | shifted |" in text and "| MDA | 0.89 | 0.7 |" in text

    def test_non_json_training_is_a_clear_error(self, trained, tmp_path):
        with pytest.raises(TypeError, match="training must hold only JSON data"):
            trained.save_pretrained(tmp_path / "x", training={"iterations": object()})

    def test_missing_architecture_is_a_clear_error(self, trained, tmp_path, monkeypatch):
        monkeypatch.setattr(type(trained), "architecture", "")
        with pytest.raises(TypeError, match="architecture"):
            trained.save_pretrained(tmp_path / "x")


class TestLoad:
    def test_round_trip_is_bit_exact(self, model_folder, trained, scale_cls):
        loaded = scale_cls.from_pretrained(model_folder)
        assert not loaded.training
        for (k, a), (k2, b) in zip(trained.state_dict().items(), loaded.state_dict().items()):
            assert k == k2 and a.dtype == b.dtype and torch.equal(a, b), k
        x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
        delta = torch.tensor([[0.3], [-1.2]], dtype=torch.float64)
        assert torch.equal(loaded(x, delta), trained(x, delta))

    def test_load_by_local_dir_name(self, model_folder, trained):
        G = nz.load(f"local-dir:{model_folder}")
        assert type(G).__name__ == "ScaleModel" and torch.equal(G.scale, trained.scale)

    def test_overrides_reach_the_constructor(self, model_folder, scale_cls):
        assert scale_cls.from_pretrained(model_folder, image_size=16).image_size == 16

    def test_shape_mismatch_names_the_keys(self, model_folder, scale_cls):
        with pytest.raises(ValueError, match=r"shape mismatch.*bias \(3,\) vs \(1,\)") as e:
            scale_cls.from_pretrained(model_folder, channels=1)
        assert "channels" in str(e.value)

    def test_missing_and_unexpected_keys_are_named(self, model_folder, scale_cls):
        path = model_folder / "model.safetensors"
        state = load_file(str(path))
        state["extra.weight"] = torch.ones(2)
        del state["scale"]
        save_file(state, str(path), metadata={"format": "pt"})
        cfg = json.loads((model_folder / "config.json").read_text())
        cfg["sha256"] = hub.sha256_file(path)  # a consistent but wrong folder
        (model_folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(ValueError, match=r"missing from the file: scale; unexpected in the file: extra.weight"):
            scale_cls.from_pretrained(model_folder)

    def test_corrupted_weights_are_refused(self, model_folder, scale_cls):
        path = model_folder / "model.safetensors"
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(hub.ChecksumMismatchError, match="sha256 mismatch.*NOT loaded"):
            scale_cls.from_pretrained(model_folder)
        with pytest.raises(hub.ChecksumMismatchError, match="model.safetensors"):
            nz.load(f"local-dir:{model_folder}")

    def test_wrong_architecture(self, model_folder, scale_cls):
        class Other(scale_cls):
            architecture = "something-else"

        with pytest.raises(ValueError, match="is for architecture 'test-hub-scale'"):
            Other.from_pretrained(model_folder)

    def test_tied_weights_round_trip(self, scale_cls, tmp_path):
        class Tied(scale_cls):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.bias2 = self.bias  # the same Parameter under two keys

        m = Tied()
        with torch.no_grad():
            m.bias.add_(0.25)
        folder = m.save_pretrained(tmp_path / "tied")
        loaded = Tied.from_pretrained(folder)
        assert torch.equal(loaded.bias, m.bias) and loaded.bias2 is loaded.bias
