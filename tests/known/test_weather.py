"""Values, gradients and CURE-TSR levels of the weather family: haze, snow, rain, shadow, dirty lens.

The generic contract (dtypes, uint8, forward_multi, ...) is checked for every model in
test_contract.py; here are the formulas, the fixed-pattern guarantees and the level grades.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.known import CURE_TSR_LEVELS, challenge_delta, challenge_model, synthesize_challenge
from nuisance_zoo.known.weather import CHALLENGES
from tests.conftest import need_data, structured_image

WEATHER = ["haze", "snow", "rain", "shadow", "dirty-lens"]
LEVEL_SEEDS = 4  # draws per image per level in the severity checks


def level_delta(name: str, level: int, n: int = 1, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return challenge_delta(name, level, n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def severity(x: torch.Tensor, challenge: str) -> list[float]:
    """Mean |G(x, δ) − x| at levels 1..5, δ drawn from each level's box (fixed seeds)."""
    G = challenge_model(challenge)
    xs = x.repeat(LEVEL_SEEDS, 1, 1, 1)
    return [float((synthesize_challenge(xs, challenge, lv, generator=torch.Generator().manual_seed(10 + lv),
                                        model=G) - xs).abs().mean()) for lv in range(1, 6)]


def signs(n: int = 6, h: int = 32, w: int = 32, c: int = 3) -> torch.Tensor:
    return torch.cat([structured_image(c=c, h=h, w=w, seed=s) for s in range(n)])


# ---------------------------------------------------------------------------------------- haze
class TestHaze:
    def test_zero_density_is_exact_identity(self):
        G = nz.load("haze")
        x = signs(2)
        d = torch.tensor([[0.0, 0.6], [0.0, 1.0]])
        assert torch.equal(G(x, d), x)

    def test_opaque_limit_gives_the_airlight(self):
        G = nz.load("haze", max_density=40.0)
        x = signs(2)
        y = G(x, torch.tensor([[40.0, 0.55], [40.0, 0.9]]))
        torch.testing.assert_close(y[0], torch.full_like(y[0], 0.55), atol=1e-6, rtol=0)
        torch.testing.assert_close(y[1], torch.full_like(y[1], 0.9), atol=1e-6, rtol=0)

    def test_formula_constant_depth(self):
        G = nz.load("haze")
        x = signs(3).double()
        d = torch.tensor([[0.3, 0.7], [1.2, 0.95], [2.9, 0.5]], dtype=torch.float64)
        t = torch.exp(-d[:, :1]).view(3, 1, 1, 1)
        torch.testing.assert_close(G(x, d), x * t + d[:, 1].view(3, 1, 1, 1) * (1 - t))

    def test_vertical_depth_hazier_at_the_top(self):
        G = nz.load("haze", depth="vertical")
        x = torch.zeros(1, 1, 5, 4, dtype=torch.float64)
        y = G(x, torch.tensor([[1.0, 1.0]], dtype=torch.float64))
        # Black scene: y = A(1 − t) = 1 − exp(−β d) with d from 1.5 (top) to 0.5 (bottom).
        expected = 1 - torch.exp(-torch.linspace(1.5, 0.5, 5, dtype=torch.float64))
        torch.testing.assert_close(y[0, 0, :, 0], expected)
        torch.testing.assert_close(y[0, 0], y[0, 0, :, :1].expand(5, 4))

    def test_depth_map_tensor_resized(self):
        ones = nz.load("haze", depth=torch.ones(3, 7))
        const = nz.load("haze")
        x, d = signs(2, h=9, w=13), torch.tensor([[0.8, 0.9], [2.0, 0.6]])
        torch.testing.assert_close(ones(x, d), const(x, d))
        half = nz.load("haze", depth=torch.full((4, 4), 0.5))
        torch.testing.assert_close(half(x, d), const(x, d * torch.tensor([0.5, 1.0])))

    @pytest.mark.parametrize("kw,msg", [({"depth": "radial"}, "depth must be one of"),
                                        ({"depth": -torch.ones(2, 2)}, "non-negative"),
                                        ({"max_density": 0.0}, r"Haze: max_density must be a number > 0 .*got 0.0")])
    def test_bad_arguments(self, kw, msg):
        with pytest.raises(ValueError, match=msg):
            nz.load("haze", **kw)


# -------------------------------------------------------------------------------------- shadow
class TestShadow:
    def test_zero_darkness_is_exact_identity(self):
        G = nz.load("shadow")
        x = signs(2)
        d = torch.tensor([[0.3, 40.0, 0.0, 0.1], [-0.5, -120.0, 0.0, 0.02]])
        assert torch.equal(G(x, d), x)

    def test_formula_and_geometry_non_square(self):
        G = nz.load("shadow")
        x = torch.full((1, 3, 6, 12), 0.8, dtype=torch.float64)
        # angle 0: n = (1, 0), edge through the centre; columns 6..11 lie right of it.
        y = G(x, torch.tensor([[0.0, 0.0, 0.5, 0.02]], dtype=torch.float64))
        torch.testing.assert_close(y[..., :5], x[..., :5], atol=1e-10, rtol=0)
        torch.testing.assert_close(y[..., 7:], 0.4 * torch.ones_like(y[..., 7:]), atol=1e-10, rtol=0)
        # angle 90: n = (0, 1), the lower half is in shadow.
        y = G(x, torch.tensor([[0.0, 90.0, 0.5, 0.02]], dtype=torch.float64))
        torch.testing.assert_close(y[..., :2, :], x[..., :2, :], atol=1e-10, rtol=0)
        torch.testing.assert_close(y[..., 4:, :], 0.4 * torch.ones_like(y[..., 4:, :]), atol=1e-10, rtol=0)

    def test_exact_mask_values(self):
        G = nz.load("shadow")
        x = torch.ones(1, 1, 4, 4, dtype=torch.float64)
        off, ang, dk, soft = 0.2, 30.0, 0.7, 0.25
        y = G(x, torch.tensor([[off, ang, dk, soft]], dtype=torch.float64))
        c = (torch.arange(4, dtype=torch.float64) + 0.5 - 2) / 2
        proj = c.view(1, 4) * math.cos(math.radians(ang)) + c.view(4, 1) * math.sin(math.radians(ang))
        torch.testing.assert_close(y[0, 0], 1 - dk * torch.sigmoid((proj - off) / soft))


# ---------------------------------------------------------------------------------------- snow
class TestSnow:
    def test_amount_and_veil_zero_is_exact_identity(self):
        G = nz.load("snow")
        x = signs(2)
        d = torch.tensor([[0.0, 0.05, 1.0, 0.0, 0.3, 0.9], [0.0, 0.01, 0.3, 0.0, 0.0, 0.0]])
        assert torch.equal(G(x, d), x)

    def test_veil_only(self):
        G = nz.load("snow", veil_colour=0.8)
        x = signs(1).double()
        y = G(x, torch.tensor([[0.0, 0.03, 1.0, 0.4, 0.0, 0.0]], dtype=torch.float64))
        torch.testing.assert_close(y, 0.6 * x + 0.4 * 0.8)

    def test_flakes_only_brighten_and_grow_with_amount(self):
        G = nz.load("snow")
        x = signs(1)
        outs = [G(x, torch.tensor([[a, 0.03, 0.9, 0.0, 0.2, 0.4]])) for a in (0.1, 0.3, 0.6, 1.0)]
        assert (outs[0] >= x - 1e-7).all()
        for lo, hi in zip(outs, outs[1:]):
            assert (hi >= lo - 1e-6).all()
            assert (hi - lo).sum() > 1.0
        # Flakes are white: on a black image the three channels agree.
        y = G(torch.zeros(1, 3, 16, 16), torch.tensor([[0.5, 0.03, 1.0, 0.0, 0.0, 0.0]]))
        assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2]) and y.max() > 0.5

    def test_shift_rolls_the_fixed_pattern_around_the_torus(self):
        G = nz.load("snow")
        black = torch.zeros(1, 1, 16, 20, dtype=torch.float64)
        base = torch.tensor([[0.5, 0.03, 1.0, 0.0, 0.1, 0.2]], dtype=torch.float64)
        moved = base.clone()
        moved[0, 4] += 3 / 20
        moved[0, 5] += 5 / 16
        torch.testing.assert_close(G(black, moved), torch.roll(G(black, base), (5, 3), dims=(2, 3)),
                                   atol=1e-9, rtol=0)

    def test_pattern_is_fixed_across_instances_and_seeds_differ(self):
        x, d = signs(1), torch.tensor([[0.5, 0.03, 1.0, 0.1, 0.0, 0.0]])
        assert torch.equal(nz.load("snow")(x, d), nz.load("snow")(x, d))
        assert (nz.load("snow", seed=5)(x, d) - nz.load("snow")(x, d)).abs().max() > 0.1

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="max_flake_size"):
            nz.load("snow", max_flake_size=0.9)
        with pytest.raises(ValueError, match="n_flakes"):
            nz.load("snow", n_flakes=0)


# ---------------------------------------------------------------------------------------- rain
class TestRain:
    def test_amount_and_darkening_zero_is_exact_identity(self):
        G = nz.load("rain")
        x = signs(2)
        d = torch.tensor([[0.0, 25.0, 1.0, 0.0, 0.5, 0.5], [0.0, -10.0, 0.2, 0.0, 0.0, 0.9]])
        assert torch.equal(G(x, d), x)

    def test_darkening_only(self):
        G = nz.load("rain")
        x = signs(2).double()
        d = torch.tensor([[0.0, 0.0, 0.5, 0.3, 0.0, 0.0]], dtype=torch.float64).repeat(2, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        torch.testing.assert_close(G(x, d), 0.7 * x + 0.3 * 0.35 * mean)

    def test_streaks_follow_the_angle(self):
        G = nz.load("rain")
        black = torch.zeros(1, 1, 32, 32)
        y = G(black, torch.tensor([[0.6, 0.0, 1.0, 0.0, 0.0, 0.0]]))[0, 0]
        along = (y - torch.roll(y, 1, dims=0)).abs().sum()   # vertical neighbours
        across = (y - torch.roll(y, 1, dims=1)).abs().sum()  # horizontal neighbours
        assert y.max() > 0.5 and along < 0.5 * across
        # Tilted streaks: the best-matching neighbour shift follows the lean (down-right for θ > 0).
        y = G(black, torch.tensor([[0.6, 25.0, 1.0, 0.0, 0.0, 0.0]]))[0, 0]
        right = (y - torch.roll(y, (2, 1), dims=(0, 1))).abs().sum()
        left = (y - torch.roll(y, (2, -1), dims=(0, 1))).abs().sum()
        assert right < 0.8 * left

    def test_streaks_brighten_dark_pixels_and_grow_with_amount(self):
        G = nz.load("rain")
        x = torch.zeros(1, 3, 24, 24)
        a, b = (G(x, torch.tensor([[m, 10.0, 0.8, 0.0, 0.3, 0.1]])) for m in (0.2, 0.7))
        assert (b >= a - 1e-6).all() and b.sum() > 1.5 * a.sum() > 0


# ---------------------------------------------------------------------------------- dirty lens
class TestDirtyLens:
    def test_opacity_and_blur_zero_is_exact_identity(self):
        G = nz.load("dirty-lens")
        x = signs(2)
        d = torch.tensor([[0.0, 2.0, 0.0, 0.4, 0.1], [0.0, 0.5, 0.0, 0.0, 0.0]])
        assert torch.equal(G(x, d), x)

    def test_blur_only_keeps_flat_images_and_blurs_edges(self):
        G = nz.load("dirty-lens")
        flat = torch.full((1, 3, 16, 16), 0.6, dtype=torch.float64)
        d = torch.tensor([[0.0, 1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
        torch.testing.assert_close(G(flat, d), flat)
        edge = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
        edge[..., 8:] = 1.0
        y = G(edge, d)
        assert 0.05 < y[0, 0, 5, 7] < 0.5 < y[0, 0, 5, 8] < 0.95

    def test_smudges_are_brown_and_gray_is_their_luminance(self):
        G = nz.load("dirty-lens")
        white3 = torch.ones(1, 3, 32, 32, dtype=torch.float64)
        d = torch.tensor([[1.0, 1.5, 0.0, 0.2, 0.6]], dtype=torch.float64)
        y = G(white3, d)[0]
        dirty = (1 - y).mean(0) > 0.2
        assert dirty.float().mean() > 0.05
        r, g, b = y[0][dirty], y[1][dirty], y[2][dirty]
        assert (r >= g).all() and (g >= b).all() and (r - b).mean() > 0.05
        gray = G(torch.ones(1, 1, 32, 32, dtype=torch.float64), d)[0, 0]
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)
        torch.testing.assert_close(gray, (y * luma.view(3, 1, 1)).sum(0))

    def test_shift_rolls_the_dirt(self):
        G = nz.load("dirty-lens")
        white = torch.ones(1, 3, 20, 16, dtype=torch.float64)
        base = torch.tensor([[0.9, 1.2, 0.0, 0.3, 0.3]], dtype=torch.float64)
        moved = base + torch.tensor([[0.0, 0.0, 0.0, 4 / 16, 5 / 20]], dtype=torch.float64)
        torch.testing.assert_close(G(white, moved), torch.roll(G(white, base), (5, 4), dims=(2, 3)),
                                   atol=1e-9, rtol=0)


# ------------------------------------------------------------------------------ whole family
@pytest.mark.parametrize("name", WEATHER)
class TestFamily:
    def test_same_delta_same_image_whatever_the_batch(self, name):
        G = nz.load(name)
        x = signs(3, h=20, w=28)
        d = level_delta(name, 3, 3)
        full = G(x, d)
        assert torch.equal(full, G(x, d))
        for i in range(3):  # a row does not depend on the other rows of its batch
            torch.testing.assert_close(G(x[i:i + 1], d[i:i + 1]), full[i:i + 1], atol=1e-6, rtol=0)
        other = level_delta(name, 3, 3, seed=1)
        assert (G(x, other) - full).flatten(1).abs().amax(1).min() > 1e-3

    @pytest.mark.parametrize("shape", [(1, 28, 28), (3, 11, 23), (1, 40, 9)])
    def test_any_size_and_channels(self, name, shape):
        G = nz.load(name)
        x = structured_image(*shape, seed=2).repeat(2, 1, 1, 1)
        y = G(x, level_delta(name, 4, 2))
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
        assert (y - x).abs().mean() > 1e-3

    def test_gradcheck_delta_and_x(self, name):
        G = nz.load(name)
        x = structured_image(3, 6, 6, seed=3, dtype=torch.float64).requires_grad_(True)
        d = level_delta(name, 3, 1, seed=4, dtype=torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-5)
        g = torch.autograd.grad(G(x, d).sum(), d)[0]
        assert g.abs().sum() > 0

    def test_float64_model_and_state(self, name):
        G = nz.load(name)
        assert len(G.state_dict()) == 0  # fixed patterns are rebuilt from the seed, not saved
        x, d = signs(2), level_delta(name, 2, 2)
        y32 = G(x, d)
        y64 = G.double()(x.double(), d.double())
        torch.testing.assert_close(y64.float(), y32, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------- CURE-TSR levels
def test_challenges_cover_the_five_types_and_are_registered():
    assert {s.challenge for s in CHALLENGES} == {"snow", "rain", "shadow", "haze", "dirty-lens"}
    for spec in CHALLENGES:
        assert CURE_TSR_LEVELS[spec.challenge] is spec and spec.note


@pytest.mark.parametrize("challenge", ["snow", "rain", "shadow", "haze", "dirty-lens"])
def test_severity_grows_with_level(challenge):
    s = severity(signs(6), challenge)
    assert all(b > 1.1 * a for a, b in zip(s, s[1:])), s


@pytest.mark.slow
@pytest.mark.parametrize("challenge", ["snow", "rain", "shadow", "haze", "dirty-lens"])
def test_severity_grows_with_level_on_gtsrb(challenge):
    d = np.load(need_data("gtsrb") / "gtsrb" / "test.npz")
    x = torch.from_numpy(d["x"][::400]).permute(0, 3, 1, 2).float() / 255  # 32 test signs
    s = severity(x, challenge)
    assert all(b > 1.1 * a for a, b in zip(s, s[1:])), s
