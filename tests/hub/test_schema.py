"""config.json's schema: a wrong type or range at any field is one named error, checked before
anything is built; JSON and YAML errors never echo the file."""
from __future__ import annotations

import functools
import json

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import hub
from nuisance_zoo import model_folder as model_folder_module
from nuisance_zoo.learned.structured import StructuredGenerator

SECRET = "hunter2-secret-line"

# (dotted field, bad value): every top-level field, and fields inside the nested objects.
TOP_LEVEL = [
    ("architecture", 7), ("architecture", ["x"]), ("architecture", None), ("architecture", "Has Spaces"),
    ("model_config", []), ("model_config", "channels=3"), ("model_config", None),
    ("sha256", 12), ("sha256", "abc"), ("sha256", None),
    ("format_version", "1"), ("format_version", 1.5), ("format_version", True), ("format_version", 0),
    ("format_version", 99),
    ("delta_space", []), ("delta_space.dim", "1"), ("delta_space.dim", -1), ("delta_space.names", [1]),
    ("delta_space.names", "log_gain"), ("delta_space.bounds", [[0, "1"]]), ("delta_space.bounds", 3),
    ("delta_space.prior", 3), ("delta_space.extra", 1),
    ("differentiable", "yes"), ("differentiable", 1),
    ("kind", 3), ("library", "other-lib"), ("library_version", 1),
    ("input", "3x8x8"), ("input.channels", "3"), ("input.channels", 0), ("input.size", [8]),
    ("input.size", ["8", "8"]), ("input.range", "0-1"), ("input.extra", 1),
    ("training", []), ("training", "lots"),
    ("unexpected_key", 1),
]
# model_config fields of the test architecture (derived from its constructor's signature).
MODEL_CONFIG = [("channels", "3"), ("channels", 3.0), ("channels", None), ("image_size", {"h": 8}),
                ("image_size", [8]), ("no_such_arg", 1)]


def _set(cfg: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    node = cfg
    for key in path:
        node = node[key]
    node[last] = value


def _assert_clean(err: Exception) -> None:
    assert isinstance(err, nz.ModelFolderError) and isinstance(err, ValueError), repr(err)
    text = str(err)
    assert "config.json" in text
    assert not text.startswith(("int()", "dict()", "'")), text  # no bare Python error text


@pytest.mark.parametrize("field, value", TOP_LEVEL, ids=[f"{f}={v!r}" for f, v in TOP_LEVEL])
def test_wrong_top_level_field(field, value, model_folder, scale_cls):
    cfg = json.loads((model_folder / "config.json").read_text())
    _set(cfg, field, value)
    (model_folder / "config.json").write_text(json.dumps(cfg))
    for load in (lambda: nz.load(f"local-dir:{model_folder}"), lambda: scale_cls.from_pretrained(model_folder)):
        with pytest.raises(nz.ModelFolderError) as e:
            load()
        _assert_clean(e.value)
        assert field.split(".")[0] in str(e.value) or "sha256" in str(e.value)


@pytest.mark.parametrize("key, value", MODEL_CONFIG, ids=[f"{k}={v!r}" for k, v in MODEL_CONFIG])
def test_wrong_model_config_field(key, value, model_folder, scale_cls, monkeypatch):
    cfg = json.loads((model_folder / "config.json").read_text())
    cfg["model_config"][key] = value
    (model_folder / "config.json").write_text(json.dumps(cfg))
    built = []
    init = scale_cls.__init__

    @functools.wraps(init)
    def counting_init(self, *a, **k):
        built.append(1)
        init(self, *a, **k)

    monkeypatch.setattr(scale_cls, "__init__", counting_init)
    with pytest.raises(nz.ModelFolderError, match=rf"model_config.*{key}") as e:
        nz.load(f"local-dir:{model_folder}")
    _assert_clean(e.value)
    assert built == []  # checked before anything was built


@pytest.mark.parametrize("key, value", [("dim", "16"), ("n_mlp", "3"), ("image_size", {"a": 1}), ("separable", 1),
                                        ("out_channels", [3]), ("activ", 0), ("config", "small")])
def test_munit_model_config_types(key, value, tmp_path):
    folder = nz.MunitGenerator("small", dim=4, mlp_dim=8, style_width=4).save_pretrained(tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_config"][key] = value
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(nz.ModelFolderError, match=key) as e:
        nz.load(f"local-dir:{folder}")
    _assert_clean(e.value)


@pytest.mark.parametrize("key, value, match", [("delta_dim", 10**9, "delta_dim"), ("hidden", 0, "hidden"),
                                               ("layers", True, "layers"), ("summary", "all", "summary"),
                                               ("chain", [], "chain"), ("chain", "brightness", "chain")])
def test_structured_ranges_before_building(key, value, match, tmp_path):
    folder = StructuredGenerator(delta_dim=2, chain=["brightness"]).save_pretrained(tmp_path / "s")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_config"][key] = value
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(nz.ModelFolderError, match=match):
        nz.load(f"local-dir:{folder}")


def test_valid_folders_still_load(model_folder, trained):
    assert model_folder_ok(model_folder)
    G = nz.load(f"local-dir:{model_folder}")
    assert torch.equal(G.scale, trained.scale)


def model_folder_ok(folder) -> bool:
    return model_folder_module.validate_config(json.loads((folder / "config.json").read_text())) is not None


class TestNoEcho:
    @pytest.mark.parametrize("text", [
        '{"architecture": "x", "password": "%s"' % SECRET,           # unterminated
        '{"architecture": %s}' % SECRET,                               # bare word
        '{"a": NaN, "secret": "%s"}' % SECRET,                         # NaN constant
        "[" * 100_000 + SECRET,                                       # nesting bomb
    ])
    def test_config_json_errors_do_not_echo(self, model_folder, text):
        (model_folder / "config.json").write_text(text)
        with pytest.raises(nz.ModelFolderError) as e:
            nz.load(f"local-dir:{model_folder}")
        assert SECRET not in str(e.value) and "hunter2" not in str(e.value)
        assert not any(SECRET in p for p in hub.validate_card(model_folder))

    def test_oversized_config_is_not_read(self, model_folder):
        (model_folder / "config.json").write_text(" " * (model_folder_module.MAX_CONFIG_BYTES + 1))
        with pytest.raises(nz.ModelFolderError, match="larger than"):
            nz.load(f"local-dir:{model_folder}")

    def test_card_yaml_errors_do_not_echo(self, model_folder):
        text = (model_folder / "README.md").read_text()
        (model_folder / "README.md").write_text(text.replace("pipeline_tag: image-to-image",
                                                              f"pipeline_tag: [{SECRET}", 1))
        problems = hub.validate_card(model_folder)
        assert any("not valid YAML" in p for p in problems)
        assert not any(SECRET in p for p in problems)

    def test_unknown_key_names_are_truncated(self, model_folder):
        cfg = json.loads((model_folder / "config.json").read_text())
        cfg["k" * 40 + SECRET] = 1
        (model_folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(nz.ModelFolderError, match="unknown key") as e:
            nz.load(f"local-dir:{model_folder}")
        assert SECRET not in str(e.value)


def test_ranges_and_types_error_is_one_class():
    assert issubclass(nz.ModelFolderError, ValueError) and issubclass(nz.ModelFolderError, nz.HubError)
    assert issubclass(nz.ChecksumMismatchError, nz.ModelFolderError)


def test_a_config_asking_for_huge_layers_is_refused_before_allocating(tmp_path, monkeypatch):
    folder = nz.MunitGenerator("small", dim=4, mlp_dim=8, style_width=4).save_pretrained(tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_config"]["mlp_dim"] = 65536  # a 16 GiB layer the 30 KiB file cannot hold
    cfg["model_config"]["n_res"] = 400
    (folder / "config.json").write_text(json.dumps(cfg))
    builds = []
    init = nz.MunitGenerator.__init__

    @functools.wraps(init)
    def recording_init(self, *a, **k):
        builds.append(torch.get_default_device().type)
        init(self, *a, **k)

    monkeypatch.setattr(nz.MunitGenerator, "__init__", recording_init)
    with pytest.raises(nz.ModelFolderError, match="does not fit|refused before allocating"):
        nz.load(f"local-dir:{folder}")
    assert builds == ["meta"]  # only the shape-only probe was built


def test_size_beyond_the_file_is_refused_before_allocating(scale_cls, tmp_path):
    class Padded(scale_cls):
        architecture = "test-hub-padded"

        def __init__(self, channels: int = 3, image_size: int = 8, pad: int = 0):
            super().__init__(channels=channels, image_size=image_size)
            self.pad = pad
            # not saved, so no header shape to compare: only the size rule can catch it
            self.register_buffer("scratch", torch.zeros(pad), persistent=False)

        def config(self) -> dict:
            return {**super().config(), "pad": self.pad}

    nz.register_architecture("test-hub-padded")(Padded)
    try:
        folder = Padded(pad=4).save_pretrained(tmp_path / "p")
        assert nz.load(f"local-dir:{folder}").pad == 4
        cfg = json.loads((folder / "config.json").read_text())
        cfg["model_config"]["pad"] = 10**9  # 4 GB of scratch
        (folder / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(nz.ModelFolderError, match="refused before allocating"):
            nz.load(f"local-dir:{folder}")
    finally:
        nz.registry.unregister_architecture("test-hub-padded")
