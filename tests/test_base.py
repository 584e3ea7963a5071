"""The NuisanceModel base: input checks, dtype handling, δ checks, multi-draw, composition."""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz


class Shift(nz.NuisanceModel):
    """x + δ, clamped: the smallest model that exercises the base class."""

    delta_dim = 1
    delta_names = ("shift",)

    def __init__(self, low=-0.5, high=0.5):
        super().__init__()
        self.set_delta_box([low], [high])

    def identity_delta(self, n=1, device=None, dtype=None):
        return torch.zeros(n, 1, device=device, dtype=dtype)

    def decode(self, x, delta):
        return (x + delta.view(-1, 1, 1, 1)).clamp(0, 1)


class Learned(nz.NuisanceModel):
    """Encode/decode split with a normal prior, counting encodes."""

    delta_dim = 2
    prior = "normal"
    kind = "learned"

    def __init__(self):
        super().__init__()
        self.encodes = 0

    def encode(self, x):
        self.encodes += 1
        return (x * 0.5, x.mean(dim=(1, 2, 3)))

    def decode(self, c, delta):
        half, mean = c
        return (half + 0.25 * torch.tanh(delta[:, :1]).view(-1, 1, 1, 1) + 0 * mean.view(-1, 1, 1, 1)).clamp(0, 1)


def test_bad_shapes_and_dtypes_have_clear_errors():
    G = Shift()
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
        G(torch.rand(32, 32))
    with pytest.raises(TypeError, match="uint8 .* or float32"):
        G(torch.zeros(1, 3, 4, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match="divide by 255"):
        G(torch.rand(1, 3, 4, 4) * 255)
    with pytest.raises(ValueError, match="values in \\[0, 1\\]"):
        G(torch.rand(1, 3, 4, 4) - 0.5)
    with pytest.raises(ValueError, match=r"\(B, q\) = \(2, 1\)"):
        G(torch.rand(2, 3, 4, 4), torch.zeros(3, 1))
    with pytest.raises(TypeError, match="torch.Tensor"):
        G([[0.5]])


def test_dtype_and_shape_round_trips():
    G = Shift()
    x = torch.rand(2, 3, 4, 4)
    d = torch.tensor([[0.1], [-0.2]])
    ref = (x + d.view(-1, 1, 1, 1)).clamp(0, 1)
    torch.testing.assert_close(G(x, d), ref)
    assert G(x.half(), d).dtype == torch.float16
    assert G(x.bfloat16(), d).dtype == torch.bfloat16
    u = (x * 255).round().to(torch.uint8)
    assert torch.equal(G(u, d), (G(u.float() / 255, d) * 255).round().to(torch.uint8))
    assert G(x[0], d[:1]).shape == (3, 4, 4)
    assert G(x[0], d[0]).shape == (3, 4, 4)  # a single row for a single image


def test_sample_delta_generator_device_mismatch_is_clear():
    G = Shift()
    with pytest.raises(ValueError, match="generator is on"):
        G.sample_delta(2, generator=torch.Generator(), device="meta")


def test_uniform_and_normal_priors():
    g = torch.Generator().manual_seed(0)
    d = Shift(-0.2, 0.3).sample_delta(1000, generator=g)
    assert d.min() >= -0.2 and d.max() <= 0.3 and abs(d.mean().item() - 0.05) < 0.02
    n = Learned().sample_delta(4000, generator=g)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    torch.testing.assert_close(Learned().project(n * 5), n * 5)  # unbounded: identity


def test_forward_multi_encodes_once_and_matches_forward():
    G = Learned()
    x = torch.rand(3, 1, 4, 4)
    imgs, d = G.forward_multi(x, k=4)
    assert G.encodes == 1 and imgs.shape == (4, 3, 1, 4, 4) and d.shape == (4, 3, 2)
    for i in range(4):
        torch.testing.assert_close(imgs[i], G(x, d[i]))
    with pytest.raises(ValueError, match=r"\(k, B, q\)"):
        G.forward_multi(x, delta=torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match="k >= 1"):
        G.forward_multi(x)


def test_compose_flattens_and_splits():
    a, b, c = Shift(), Shift(0, 0.1), Learned()
    C = (c @ b) @ a
    assert isinstance(C, nz.Compose) and len(C.models) == 3 and C.delta_dim == 4
    assert C.prior == "product" and C.kind == "learned"
    x = torch.rand(2, 3, 4, 4) * 0.5
    d = torch.tensor([[0.1, 0.05, 0.3, 0.0], [-0.1, 0.0, -0.3, 1.0]])
    torch.testing.assert_close(C(x, d), c(b(a(x, d[:, :1]), d[:, 1:2]), d[:, 2:]))
    p = C.project(torch.full((1, 4), 9.0))
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.1, 9.0, 9.0]]))
    with pytest.raises(TypeError, match="NuisanceModel"):
        nz.Compose([a, torch.nn.Identity()])
    with pytest.raises(ValueError, match="at least one"):
        nz.Compose([])


def test_set_delta_box_validates():
    G = Shift()
    with pytest.raises(ValueError, match="needs 1 lower and upper"):
        G.set_delta_box([0, 0], [1, 1])
    with pytest.raises(ValueError, match="low > high"):
        G.set_delta_box([1], [0])


def test_delta_box_follows_to_and_stays_out_of_state_dict():
    G = Shift()
    assert "delta_low" not in G.state_dict()
    G = G.to(torch.float64)
    assert G.sample_delta(2).device == torch.device("cpu")
