"""The name registry: list_models, load, info, register_model, unknown names."""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz


def test_list_models_fnmatch_and_kind():
    names = nz.list_models()
    assert names == sorted(names) and "brightness" in names
    assert nz.list_models("background-*") == ["background-color", "background-texture"]
    assert set(nz.list_models(kind="known")) <= set(names)
    assert nz.list_models("no-such-*") == []


def test_unknown_name_lists_close_matches():
    with pytest.raises(nz.UnknownModelError, match="Did you mean: brightness"):
        nz.load("brightnes")
    with pytest.raises(KeyError):
        nz.info("hazze")


def test_load_kwargs_configure_the_model():
    G = nz.load("haze", max_density=1.0)
    assert float(G.delta_high[0]) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="load\\('haze'"):
        nz.load("haze", no_such_option=3)


def test_info_is_a_plain_dict_with_required_keys():
    d = nz.info("background-color")
    for key in ("delta_dim", "delta_space", "prior", "differentiable", "kind", "source", "license", "paper"):
        assert key in d
    assert d["delta_dim"] == 3 and d["kind"] == "known" and d["differentiable"] is True
    assert d["delta_space"]["bounds"] == [[0.0, 1.0]] * 3
    import json

    json.dumps(d)  # plain: serialisable


def test_register_model_decorator_and_duplicate_name():
    @nz.register_model("test-invert")
    class Invert(nz.NuisanceModel):
        """Blend toward the negative image."""

        delta_dim = 1

        def __init__(self, top=1.0):
            super().__init__()
            self.set_delta_box([0.0], [top])

        def decode(self, x, delta):
            t = delta.view(-1, 1, 1, 1)
            return (1 - t) * x + t * (1 - x)

    assert "test-invert" in nz.list_models("test-*")
    G = nz.load("test-invert", top=0.5)
    x = torch.rand(1, 3, 2, 2)
    torch.testing.assert_close(G(x, torch.tensor([[0.5]])), torch.full_like(x, 0.5))
    assert nz.info("test-invert")["description"] == "Blend toward the negative image."
    with pytest.raises(ValueError, match="already registered"):
        nz.register_model("test-invert")(Invert)
