"""The contract (DESIGN §2), checked for every registered known model, kornia-tester style.

One parametrised class per property so that a failure names the model and the property.
Model-specific values are tested in the family test files beside this one.
"""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.known import CURE_TSR_LEVELS
from tests.conftest import structured_image

KNOWN = nz.list_models(kind="known")
H = W = 12  # structured_image() default size


def build(name: str, c: int = 3, h: int = H, w: int = W) -> nz.NuisanceModel:
    """Models whose Δ depends on the image shape (additive perturbations) are told it."""
    if name.startswith("additive-"):
        return nz.load(name, shape=(c, h, w))
    return nz.load(name)


def draws(G, n: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return G.sample_delta(n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_registry_has_the_issue_models():
    wanted = {
        "background-color", "background-texture", "foreground-color", "erasing", "erasing-soft",
        "brightness", "contrast", "gamma", "hue", "saturation", "decolorize", "rotation", "affine",
        "gaussian-blur", "haze", "additive-linf", "additive-l2", "snow", "rain", "shadow",
        "dirty-lens", "noise",
    }
    assert wanted <= set(KNOWN), f"missing: {sorted(wanted - set(KNOWN))}"


@pytest.mark.parametrize("name", KNOWN)
class TestShapesAndTypes:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
    def test_float_dtypes_keep_shape_dtype_range(self, name, dtype):
        G = build(name)
        x = structured_image(dtype=dtype).repeat(3, 1, 1, 1)
        y = G(x, generator=torch.Generator().manual_seed(1))
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
        assert torch.isfinite(y.float()).all()
        assert y.float().min() >= 0 and y.float().max() <= 1

    def test_chw_input(self, name):
        G = build(name)
        x = structured_image()
        d = draws(G, 1)
        y = G(x[0], d)
        assert y.shape == x.shape[1:]
        torch.testing.assert_close(y, G(x, d)[0])

    def test_uint8_round_trip(self, name):
        G = build(name)
        x = (structured_image().repeat(2, 1, 1, 1) * 255).round().to(torch.uint8)
        d = draws(G, 2)
        y = G(x, d)
        assert y.dtype == torch.uint8 and y.shape == x.shape
        ref = (G(x.float() / 255, d) * 255).round().to(torch.uint8)
        assert (y.int() - ref.int()).abs().max() <= 1

    def test_gray_input(self, name):
        G = build(name, c=1)
        x = structured_image(c=1).repeat(2, 1, 1, 1)
        y = G(x, draws(G, 2))
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1


@pytest.mark.parametrize("name", KNOWN)
class TestDelta:
    def test_per_sample_delta(self, name):
        G = build(name)
        x = structured_image().repeat(2, 1, 1, 1)
        d = draws(G, 2, seed=3)
        y = G(x, d)
        assert (y[0] - y[1]).abs().max() > 1e-4, "different δ rows gave the same image"
        same = G(x, d[:1].repeat(2, 1))
        torch.testing.assert_close(same[0], same[1])

    def test_sample_delta_in_space_and_project(self, name):
        G = build(name)
        d = draws(G, 64, dtype=torch.float64)
        assert d.shape == (64, G.delta_dim) and d.dtype == torch.float64
        torch.testing.assert_close(G.project(d), d)  # draws already lie in Δ
        far = d * 10 + 5
        p = G.project(far)
        torch.testing.assert_close(G.project(p), p)  # idempotent
        torch.testing.assert_close(G.project(p.clone()), p)
        if G.has_box:
            assert (p >= G.delta_low.double() - 1e-9).all() and (p <= G.delta_high.double() + 1e-9).all()

    def test_generator_determinism(self, name):
        G = build(name)
        x = structured_image().repeat(2, 1, 1, 1)
        a = G(x, generator=torch.Generator().manual_seed(7))
        b = G(x, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    def test_forward_multi_matches_forward(self, name):
        G = build(name)
        x = structured_image().repeat(2, 1, 1, 1)
        imgs, d = G.forward_multi(x, k=3, generator=torch.Generator().manual_seed(0))
        assert imgs.shape == (3, 2, *x.shape[1:]) and d.shape == (3, 2, G.delta_dim)
        for i in range(3):
            torch.testing.assert_close(imgs[i], G(x, d[i]))


# Models with no δ that leaves the image unchanged (background-color always repaints).
WITH_IDENTITY = [n for n in KNOWN if build(n).identity_delta(1) is not None]
DIFFERENTIABLE = [n for n in KNOWN if build(n).differentiable]
# Hard, piecewise-constant models; each has a soft, differentiable sibling.
NOT_DIFFERENTIABLE = {"erasing"}


def test_differentiable_flags_are_as_documented():
    assert set(KNOWN) - set(DIFFERENTIABLE) == NOT_DIFFERENTIABLE


@pytest.mark.parametrize("name", WITH_IDENTITY)
def test_identity_delta(name):
    G = build(name)
    ident = G.identity_delta(2, dtype=torch.float64)
    x = structured_image(dtype=torch.float64).repeat(2, 1, 1, 1)
    torch.testing.assert_close(G(x, ident), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(G.project(ident), ident)  # the identity lies in Δ


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck(name):
    G = build(name, h=6, w=6)
    x = structured_image(h=6, w=6, dtype=torch.float64, seed=1).repeat(2, 1, 1, 1)
    d = draws(G, 2, seed=2, dtype=torch.float64)
    x.requires_grad_(True)
    d.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("first,second", [("brightness", "haze"), ("rotation", "contrast"),
                                          ("background-color", "gaussian-blur")])
class TestCompose:
    def test_matmul_equals_sequential(self, first, second):
        G1, G2 = nz.load(first), nz.load(second)
        C = G2 @ G1
        assert C.delta_dim == G1.delta_dim + G2.delta_dim
        x = structured_image().repeat(2, 1, 1, 1)
        d = C.sample_delta(2, generator=torch.Generator().manual_seed(0))
        d1, d2 = d[:, : G1.delta_dim], d[:, G1.delta_dim:]
        torch.testing.assert_close(C(x, d), G2(G1(x, d1), d2))
        torch.testing.assert_close(nz.Compose([G1, G2])(x, d), C(x, d))

    def test_composed_sampling_projection_and_flags(self, first, second):
        G1, G2 = nz.load(first), nz.load(second)
        C = nz.Compose([G1, G2])
        d = C.sample_delta(32, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(C.project(d), d)
        p = C.project(d * 100)
        torch.testing.assert_close(p[:, : G1.delta_dim], G1.project(d[:, : G1.delta_dim] * 100))
        assert C.differentiable == (G1.differentiable and G2.differentiable)
        imgs, dd = C.forward_multi(structured_image().repeat(2, 1, 1, 1), k=2)
        assert imgs.shape[:2] == (2, 2) and dd.shape == (2, 2, C.delta_dim)


@pytest.mark.parametrize("challenge", sorted(CURE_TSR_LEVELS))
def test_challenge_level_boxes_lie_inside_delta(challenge):
    spec = CURE_TSR_LEVELS[challenge]
    G = nz.load(spec.model, **spec.kwargs)
    lo_d, hi_d = G.delta_low.double(), G.delta_high.double()
    for level, (lo, hi) in spec.regions.items():
        lo, hi = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
        assert lo.shape == (G.delta_dim,) and hi.shape == (G.delta_dim,), level
        assert (lo_d <= lo).all() and (lo <= hi).all() and (hi <= hi_d).all(), f"level {level}"


def test_every_cure_tsr_type_the_issue_names_has_levels():
    assert {"snow", "rain", "shadow", "haze", "darkening", "exposure", "decolorization", "blur", "noise",
            "dirty-lens"} <= set(CURE_TSR_LEVELS)
