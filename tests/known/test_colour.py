"""Values, gray handling, identities, gradients and CURE-TSR levels of the colour family
(``nuisance_zoo.known.colour`` and ``nuisance_zoo.known.background``).

The generic contract (shapes, dtypes, uint8, forward_multi, ...) is checked for every model in
``test_contract.py``; this file checks what each formula should compute.
"""
from __future__ import annotations

import math

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.known import colour
from nuisance_zoo.known._colour_ops import LUMA, luminance

F64 = torch.float64
PHOTOMETRIC = ["brightness", "contrast", "contrast-normalize", "gamma", "hue", "saturation", "decolorize", "colorize"]
MASKED = ["background-color", "background-texture", "foreground-color"]
ALL = PHOTOMETRIC + MASKED
CURE = {s.challenge: s for s in colour.CHALLENGES}


def rows(*values, dtype=torch.float32) -> torch.Tensor:
    """δ rows from Python numbers: rows(0.5) -> (1, 1); rows([1, 0, 0]) -> (1, 3)."""
    return torch.tensor([v if isinstance(v, (list, tuple)) else [v] for v in values], dtype=dtype)


def rand(c=3, h=4, w=4, lo=0.0, hi=1.0, seed=0, dtype=F64, b=1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(b, c, h, w, generator=g, dtype=F64)).to(dtype)


def digit(dtype=F64) -> torch.Tensor:
    """A 1×3×4×4 'digit': black background (0.0-0.02) and a bright, coloured stroke (0.3-0.95)
    whose channels differ by clear margins (so max over channels has no ties)."""
    x = torch.tensor([0.02, 0.0, 0.01], dtype=F64).view(1, 3, 1, 1).repeat(1, 1, 4, 4)
    stroke = torch.tensor([[0.9, 0.6, 0.3], [0.4, 0.85, 0.55], [0.35, 0.5, 0.95]], dtype=F64)
    for k, (i, j) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0)]):
        x[0, :, i, j] = stroke[k % 3] - 0.01 * k
    return x.to(dtype)


def gradcheck(G, x, d) -> bool:
    x = x.detach().clone().requires_grad_(True)
    d = d.detach().clone().to(F64).requires_grad_(True)
    return torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-6)


# ------------------------------------------------------------------------- family-wide
@pytest.mark.parametrize("name", ALL)
def test_registered_with_source_and_licence(name):
    meta = nz.info(name)
    assert meta["kind"] == "known" and meta["license"] == "Apache-2.0"
    assert meta["differentiable"] is True
    assert meta["gray"] in {"per-channel", "identity", "luminance"}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_range_on_extreme_delta(name, dtype):
    G = nz.load(name)
    x = rand(b=2, dtype=dtype)
    for d in (G.delta_low, G.delta_high):
        y = G(x, d.to(dtype).expand(2, -1))
        assert y.dtype == dtype and y.shape == x.shape
        assert 0 <= y.min() and y.max() <= 1


@pytest.mark.parametrize("name", ["hue", "saturation", "decolorize", "colorize", *MASKED])
def test_colour_models_reject_other_channel_counts(name):
    G = nz.load(name)
    with pytest.raises(ValueError, match=r"C=4.*x\[:, :3\]"):
        G(torch.rand(1, 4, 3, 3))


@pytest.mark.parametrize("name", ["brightness", "contrast", "contrast-normalize", "gamma", "hue", "saturation",
                                  "decolorize", "colorize"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identity_delta_is_exact(name, dtype):
    G = nz.load(name)
    x = rand(b=2, dtype=dtype)
    ident = G.identity_delta(2, dtype=dtype)
    assert ident.dtype == dtype and ident.shape == (2, G.delta_dim)
    assert torch.equal(G(x, ident), x)
    assert torch.equal(G(x[:, :1], ident), x[:, :1])  # gray too


@pytest.mark.parametrize("name", MASKED)
def test_masked_models_have_no_identity(name):
    assert nz.load(name).identity_delta(1) is None


def test_identity_delta_is_none_when_box_excludes_it():
    assert nz.load("brightness", low=-2.0, high=-0.5).identity_delta(1) is None
    assert nz.load("contrast", low=1.2, high=2.0).identity_delta(1) is None
    assert nz.load("brightness", high=0.5).identity_delta(1) is not None


# ------------------------------------------------------------------------- background-color
class TestBackgroundColor:
    def test_replaces_exactly_the_dark_pixels(self):
        G = nz.load("background-color")
        x = digit()
        c = torch.tensor([0.2, 0.5, 0.7], dtype=F64)
        y = G(x, c.view(1, 3))
        dark = x.amax(dim=1) <= 12 / 255
        assert dark.sum() == 10  # the 16 - 6 background pixels
        assert torch.equal(y.permute(0, 2, 3, 1)[dark], c.expand(10, 3))
        assert torch.equal(y.permute(0, 2, 3, 1)[~dark], x.permute(0, 2, 3, 1)[~dark])

    def test_uint8_threshold_is_inclusive_at_12(self):
        G = nz.load("background-color")
        x = torch.tensor([11, 12, 13, 200], dtype=torch.uint8).view(1, 1, 1, 4).expand(1, 3, 1, 4)
        y = G(x, torch.tensor([[1.0, 1.0, 1.0]]))
        assert y[0, 0, 0].tolist() == [255, 255, 13, 200]

    def test_pixel_mask_needs_all_channels_dark_channel_mask_is_algorithm_4(self):
        x = torch.tensor([0.01, 0.5, 0.01], dtype=F64).view(1, 3, 1, 1)
        c = rows([0.9, 0.8, 0.7], dtype=F64)
        assert torch.equal(nz.load("background-color")(x, c), x)
        y = nz.load("background-color", mask="channel")(x, c)
        assert y.flatten().tolist() == [0.9, 0.5, 0.7]

    def test_threshold_kwarg(self):
        G = nz.load("background-color", threshold=0.5)
        x = torch.tensor([0.4, 0.6], dtype=F64).view(1, 1, 1, 2).expand(1, 3, 1, 2)
        y = G(x, rows([0.0, 0.0, 1.0], dtype=F64))
        assert y[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0] and y[0, :, 0, 1].tolist() == [0.6] * 3

    def test_gray_gets_colour_luminance(self):
        G = nz.load("background-color")
        x = digit()[:, :1]
        y = G(x, rows([1.0, 0.0, 0.0], dtype=F64))
        dark = x <= 12 / 255
        assert torch.allclose(y[dark], torch.full_like(y[dark], LUMA[0]))
        assert torch.equal(y[~dark], x[~dark])

    def test_soft_mask(self):
        G = nz.load("background-color", softness=0.01)
        t = 12 / 255
        x = torch.tensor([0.0, t, 0.9], dtype=F64).view(1, 1, 1, 3).expand(1, 3, 1, 3)
        y = G(x, rows([1.0, 1.0, 1.0], dtype=F64))[0, 0, 0]
        assert y[0] > 0.98 and abs(y[1] - (t + 1) / 2) < 1e-12 and abs(y[2] - 0.9) < 1e-4

    def test_gradcheck_colour_and_image(self):
        assert gradcheck(nz.load("background-color"), digit(), rows([0.2, 0.5, 0.7]))
        assert gradcheck(nz.load("background-color", softness=0.05), digit(), rows([0.2, 0.5, 0.7]))

    def test_gradient_wrt_colour_counts_background_pixels(self):
        d = rows([0.2, 0.5, 0.7], dtype=F64).requires_grad_(True)
        nz.load("background-color")(digit(), d).sum().backward()
        assert d.grad.tolist() == [[10.0, 10.0, 10.0]]

    def test_bad_kwargs(self):
        with pytest.raises(ValueError, match="threshold"):
            nz.load("background-color", threshold=12)
        with pytest.raises(ValueError, match="mask"):
            nz.load("background-color", mask="all")
        with pytest.raises(ValueError, match="softness"):
            nz.load("background-color", softness=-1.0)


# ------------------------------------------------------------------------- background-texture
class TestBackgroundTexture:
    CORNERS = rows([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], dtype=F64)  # R G / B W

    def test_corner_colours_and_bilinear_interior(self):
        G = nz.load("background-texture")
        y = G(torch.zeros(1, 3, 5, 5, dtype=F64), self.CORNERS)
        assert y[0, :, 0, 0].tolist() == [1, 0, 0] and y[0, :, 0, 4].tolist() == [0, 1, 0]
        assert y[0, :, 4, 0].tolist() == [0, 0, 1] and y[0, :, 4, 4].tolist() == [1, 1, 1]
        # halfway along the top edge: the mean of red and green
        torch.testing.assert_close(y[0, :, 0, 2], torch.tensor([0.5, 0.5, 0.0], dtype=F64))

    def test_only_background_changes_and_is_deterministic(self):
        G = nz.load("background-texture")
        x = digit()
        d = G.sample_delta(1, generator=torch.Generator().manual_seed(0), dtype=F64)
        y = G(x, d)
        fg = x.amax(dim=1, keepdim=True).expand_as(x) > 12 / 255
        assert torch.equal(y[fg], x[fg])
        assert torch.equal(G(x, d), y)
        assert not torch.equal(G(x, G.sample_delta(1, dtype=F64)), y)

    def test_grid_kwarg_sets_delta(self):
        G = nz.load("background-texture", grid=3)
        assert G.delta_dim == 27 and len(G.delta_names) == 27 and G.delta_names[:2] == ("c00_r", "c00_g")
        # one colour everywhere reproduces background-color
        c = torch.tensor([0.3, 0.6, 0.9], dtype=F64)
        x = digit()
        torch.testing.assert_close(G(x, c.repeat(9).view(1, 27)), nz.load("background-color")(x, c.view(1, 3)))
        with pytest.raises(ValueError, match="grid"):
            nz.load("background-texture", grid=0)

    @pytest.mark.parametrize("grid,h,w", [(2, 5, 7), (3, 6, 4), (4, 1, 3)])
    def test_field_is_bilinear_interpolation_of_the_lattice(self, grid, h, w):
        G = nz.load("background-texture", grid=grid)
        d = G.sample_delta(2, generator=torch.Generator().manual_seed(0), dtype=F64)
        control = d.view(2, grid, grid, 3).permute(0, 3, 1, 2)
        ref = torch.nn.functional.interpolate(control, size=(h, w), mode="bilinear", align_corners=True)
        torch.testing.assert_close(G(torch.zeros(2, 3, h, w, dtype=F64), d), ref)

    def test_gray_is_luminance_of_rgb_field(self):
        G = nz.load("background-texture")
        x = digit()[:, :1]
        y_gray = G(x, self.CORNERS)
        y_rgb = G(x.expand(1, 3, 4, 4), self.CORNERS)
        torch.testing.assert_close(y_gray, luminance(y_rgb))

    def test_gradcheck(self):
        G = nz.load("background-texture")
        assert gradcheck(G, digit(), G.sample_delta(1, generator=torch.Generator().manual_seed(1)))


# ------------------------------------------------------------------------- foreground-color
class TestForegroundColor:
    def test_white_stroke_becomes_colour_black_stays(self):
        G = nz.load("foreground-color")
        x = torch.tensor([0.0, 0.03, 1.0, 0.5], dtype=F64).view(1, 1, 1, 4).expand(1, 3, 1, 4)
        y = G(x, rows([1.0, 0.5, 0.25], dtype=F64))[0, :, 0]
        assert y[:, 0].tolist() == [0.0] * 3 and y[:, 1].tolist() == [0.03] * 3  # below threshold
        assert y[:, 2].tolist() == [1.0, 0.5, 0.25]
        assert y[:, 3].tolist() == [0.5, 0.25, 0.125]  # anti-aliased: colour scaled by value

    def test_ramp_blends(self):
        G = nz.load("foreground-color", threshold=0.1, ramp=0.2)
        x = torch.full((1, 3, 1, 1), 0.2, dtype=F64)  # halfway up the ramp
        y = G(x, rows([1.0, 0.0, 0.0], dtype=F64)).flatten()
        torch.testing.assert_close(y, torch.tensor([0.5 * 0.2 + 0.5 * 0.2, 0.1, 0.1], dtype=F64))

    def test_white_colour_leaves_gray_digits(self):
        G = nz.load("foreground-color")
        x = rand(c=1).expand(1, 3, 4, 4)
        assert torch.allclose(G(x, rows([1.0, 1.0, 1.0], dtype=F64)), x, atol=1e-15)

    def test_gray_uses_colour_luminance(self):
        G = nz.load("foreground-color")
        x = torch.tensor([0.0, 0.8], dtype=F64).view(1, 1, 1, 2)
        y = G(x, rows([0.0, 1.0, 0.0], dtype=F64))
        torch.testing.assert_close(y.flatten(), torch.tensor([0.0, 0.8 * LUMA[1]], dtype=F64))

    def test_gradcheck(self):
        x = digit()
        x[0, :, 3, 3] = torch.tensor([0.06, 0.09, 0.03], dtype=F64)  # a pixel on the ramp
        assert gradcheck(nz.load("foreground-color"), x, rows([0.8, 0.3, 0.6]))

    def test_bad_ramp(self):
        with pytest.raises(ValueError, match="ramp"):
            nz.load("foreground-color", ramp=0.0)


# ------------------------------------------------------------------------- brightness
class TestBrightness:
    def test_one_stop_doubles_and_clips(self):
        G = nz.load("brightness")
        x = torch.tensor([0.0, 0.2, 0.45, 0.7], dtype=F64).view(1, 1, 1, 4)
        assert G(x, rows(1.0, dtype=F64)).flatten().tolist() == [0.0, 0.4, 0.9, 1.0]
        assert G(x, rows(-1.0, dtype=F64)).flatten().tolist() == [0.0, 0.1, 0.225, 0.35]

    def test_monotone_in_delta(self):
        G = nz.load("brightness")
        x = rand(b=1).expand(9, 3, 4, 4)
        y = G(x, torch.linspace(-3, 3, 9, dtype=F64).view(9, 1))
        assert (y[1:] >= y[:-1]).all() and (y[1:].mean((1, 2, 3)) > y[:-1].mean((1, 2, 3))).all()

    def test_box_kwargs(self):
        assert nz.load("brightness", low=-3, high=1).delta_space()["bounds"] == [[-3.0, 1.0]]

    def test_gradcheck(self):
        assert gradcheck(nz.load("brightness"), rand(lo=0.1, hi=0.4), rows(0.3))


# ------------------------------------------------------------------------- contrast
class TestContrast:
    def test_values_about_the_image_mean(self):
        G = nz.load("contrast")
        x = torch.tensor([0.2, 0.6], dtype=F64).view(1, 1, 1, 2)
        torch.testing.assert_close(G(x, rows(0.5, dtype=F64)).flatten(), torch.tensor([0.3, 0.5], dtype=F64))
        torch.testing.assert_close(G(x, rows(2.0, dtype=F64)).flatten(), torch.tensor([0.0, 0.8], dtype=F64))

    def test_mean_is_over_all_channels_and_kept(self):
        G = nz.load("contrast")
        x = rand(lo=0.3, hi=0.7)
        y = G(x, rows(1.5, dtype=F64))
        m = x.mean()
        torch.testing.assert_close(y, m + 1.5 * (x - m))
        torch.testing.assert_close(y.mean(), m)

    def test_gray_same_formula(self):
        G = nz.load("contrast")
        x = rand(c=1, lo=0.3, hi=0.7)
        torch.testing.assert_close(G(x, rows(0.4, dtype=F64)), x.mean() + 0.4 * (x - x.mean()))

    def test_gradcheck(self):
        assert gradcheck(nz.load("contrast"), rand(lo=0.3, hi=0.7), rows(1.3))


# ------------------------------------------------------------------------- contrast-normalize
class TestContrastNormalize:
    def test_full_strength_sets_the_spread_and_keeps_the_mean(self):
        G = nz.load("contrast-normalize", target_std=0.2)
        for lo, hi in [(0.45, 0.55), (0.3, 0.7), (0.49, 0.51)]:   # three starting spreads, one target
            x = rand(lo=lo, hi=hi)
            y = G(x, rows(1.0, dtype=F64))
            torch.testing.assert_close(y.std(correction=0), torch.tensor(0.2, dtype=F64))
            torch.testing.assert_close(y.mean(), x.mean())

    def test_values_are_a_per_image_gain_about_the_mean(self):
        G = nz.load("contrast-normalize", target_std=0.2)
        x = torch.tensor([0.45, 0.55], dtype=F64).view(1, 1, 1, 2)       # mean 0.5, std 0.05: gain 4
        torch.testing.assert_close(G(x, rows(1.0, dtype=F64)).flatten(), torch.tensor([0.3, 0.7], dtype=F64))
        torch.testing.assert_close(G(x, rows(0.5, dtype=F64)).flatten(), torch.tensor([0.4, 0.6], dtype=F64))

    def test_gain_is_per_image_in_a_batch(self):
        G = nz.load("contrast-normalize")
        x = torch.cat([rand(lo=0.45, hi=0.55), rand(lo=0.3, hi=0.7, seed=1)])
        y = G(x, rows(1.0, 1.0, dtype=F64))
        torch.testing.assert_close(y.std(dim=(1, 2, 3), correction=0), torch.full((2,), 0.25, dtype=F64))

    def test_flat_image_stays_flat_with_finite_gradients(self):
        G = nz.load("contrast-normalize")
        x = torch.full((1, 3, 4, 4), 0.3, dtype=F64, requires_grad=True)
        d = rows(1.0, dtype=F64).requires_grad_(True)
        y = G(x, d)
        torch.testing.assert_close(y, x.detach())
        y.sum().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(d.grad).all()

    def test_clamps_to_the_unit_range(self):
        y = nz.load("contrast-normalize", target_std=0.5)(rand(lo=0.0, hi=0.3), rows(1.0, dtype=F64))
        assert y.min() == 0.0 and y.max() <= 1.0

    def test_bad_kwargs(self):
        with pytest.raises(ValueError, match=r"ContrastNormalize: target_std must be a number in \(0, 0.5\]"):
            nz.load("contrast-normalize", target_std=0.0)
        with pytest.raises(ValueError, match=r"max_strength must be a number in \(0, 4\]"):
            nz.load("contrast-normalize", max_strength=-1)

    def test_gradcheck(self):
        assert gradcheck(nz.load("contrast-normalize"), rand(lo=0.4, hi=0.6), rows(0.7))


# ------------------------------------------------------------------------- gamma
class TestGamma:
    def test_values_and_fixed_ends(self):
        G = nz.load("gamma")
        x = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=F64).view(1, 1, 1, 4)
        assert G(x, rows(-1.0, dtype=F64)).flatten().tolist() == [0.0, 0.5, math.sqrt(0.5), 1.0]
        assert G(x, rows(1.0, dtype=F64)).flatten().tolist() == [0.0, 0.0625, 0.25, 1.0]

    def test_box_is_log2_of_gamma_bounds(self):
        lo, hi = nz.load("gamma", min_gamma=0.5, max_gamma=4.0).delta_space()["bounds"][0]
        assert (lo, hi) == (-1.0, 2.0)
        with pytest.raises(ValueError, match="min_gamma"):
            nz.load("gamma", min_gamma=0.0)

    def test_monotone_larger_gamma_darker(self):
        G = nz.load("gamma")
        x = rand(b=1).expand(7, 3, 4, 4)
        y = G(x, torch.linspace(-1.7, 1.5, 7, dtype=F64).view(7, 1))
        assert (y[1:] <= y[:-1]).all() and (y[1:].mean((1, 2, 3)) < y[:-1].mean((1, 2, 3))).all()

    def test_finite_gradients_at_black(self):
        x = torch.tensor([0.0, 0.0, 0.5], dtype=F64).view(1, 1, 1, 3).requires_grad_(True)
        d = rows(-1.5, dtype=F64).requires_grad_(True)
        nz.load("gamma")(x, d).sum().backward()
        assert torch.isfinite(x.grad).all() and torch.isfinite(d.grad).all()
        assert x.grad.flatten()[0] == 0

    def test_gradcheck(self):
        assert gradcheck(nz.load("gamma"), rand(lo=0.1, hi=0.9), rows(0.4))
        assert gradcheck(nz.load("gamma"), rand(lo=0.1, hi=0.9), rows(-1.2))


# ------------------------------------------------------------------------- hue
class TestHue:
    def test_half_turn_either_way_agrees(self):
        G = nz.load("hue")
        x = rand(b=2)
        torch.testing.assert_close(G(x, rows(0.5, 0.5, dtype=F64)), G(x, rows(-0.5, -0.5, dtype=F64)))

    def test_rotation_composes_inverts_and_keeps_luminance(self):
        G = nz.load("hue")
        x = rand(lo=0.4, hi=0.6)  # small chroma: nothing clips
        y = G(x, rows(0.2, dtype=F64))
        assert 0 < y.min() and y.max() < 1 and (y - x).abs().max() > 0.01
        torch.testing.assert_close(luminance(y), luminance(x))
        torch.testing.assert_close(G(y, rows(-0.2, dtype=F64)), x)
        torch.testing.assert_close(G(y, rows(0.15, dtype=F64)), G(x, rows(0.35, dtype=F64)))

    def test_chroma_magnitude_kept_in_yiq(self):
        t = torch.tensor(colour._YIQ, dtype=F64)
        G = nz.load("hue")
        x = rand(lo=0.4, hi=0.6)
        iq = torch.einsum("ij,bjhw->bihw", t[1:], x)
        iq_rot = torch.einsum("ij,bjhw->bihw", t[1:], G(x, rows(0.3, dtype=F64)))
        torch.testing.assert_close(iq_rot.norm(dim=1), iq.norm(dim=1))
        # a quarter turn: (I, Q) -> (-Q, I)
        iq_q = torch.einsum("ij,bjhw->bihw", t[1:], G(x, rows(0.25, dtype=F64)))
        torch.testing.assert_close(iq_q, torch.stack([-iq[:, 1], iq[:, 0]], dim=1))

    def test_gray_pixels_and_gray_images_unchanged(self):
        G = nz.load("hue")
        g = rand(c=1)
        torch.testing.assert_close(G(g.expand(1, 3, 4, 4), rows(0.3, dtype=F64)), g.expand(1, 3, 4, 4))
        assert torch.equal(G(g, rows(0.3, dtype=F64)), g)

    def test_gradcheck(self):
        assert gradcheck(nz.load("hue"), rand(lo=0.35, hi=0.65), rows(0.1))


# ------------------------------------------------------------------------- saturation
class TestSaturation:
    def test_zero_is_grayscale_two_boosts(self):
        G = nz.load("saturation")
        x = rand()
        y0 = G(x, rows(0.0, dtype=F64))
        assert torch.equal(y0, luminance(x).expand_as(x))
        x = rand(lo=0.4, hi=0.6)
        torch.testing.assert_close(G(x, rows(2.0, dtype=F64)), 2 * x - luminance(x))

    def test_gray_identity(self):
        g = rand(c=1)
        assert torch.equal(nz.load("saturation")(g, rows(1.7, dtype=F64)), g)

    def test_gradcheck(self):
        assert gradcheck(nz.load("saturation"), rand(lo=0.3, hi=0.7), rows(1.5))


# ------------------------------------------------------------------------- decolorize
class TestDecolorize:
    def test_full_decolorization_gives_equal_channels(self):
        for dtype in (torch.float32, F64):
            x = rand(dtype=dtype)
            y = nz.load("decolorize")(x, rows(1.0, dtype=dtype))
            assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
            torch.testing.assert_close(y[:, :1], luminance(x))

    def test_halfway(self):
        x = rand()
        y = nz.load("decolorize")(x, rows(0.5, dtype=F64))
        torch.testing.assert_close(y, 0.5 * x + 0.5 * luminance(x))

    def test_gray_identity(self):
        g = rand(c=1)
        assert torch.equal(nz.load("decolorize")(g, rows(0.8, dtype=F64)), g)

    def test_gradcheck(self):
        assert gradcheck(nz.load("decolorize"), rand(), rows(0.4))


# ------------------------------------------------------------------------- colorize
class TestColorize:
    def test_full_tint_is_luminance_times_colour(self):
        G = nz.load("colorize")
        x = rand()
        y = G(x, rows([1.0, 0.8, 0.6, 1.0], dtype=F64))
        torch.testing.assert_close(y, luminance(x) * torch.tensor([1.0, 0.8, 0.6], dtype=F64).view(1, 3, 1, 1))
        y = G(x, rows([1.0, 0.8, 0.6, 0.25], dtype=F64))
        torch.testing.assert_close(y, 0.75 * x + 0.25 * luminance(x) * torch.tensor([1.0, 0.8, 0.6], dtype=F64).view(1, 3, 1, 1))

    def test_gray_uses_colour_luminance(self):
        g = rand(c=1)
        y = nz.load("colorize")(g, rows([0.0, 0.0, 1.0, 0.5], dtype=F64))
        torch.testing.assert_close(y, 0.5 * g + 0.5 * g * LUMA[2])

    def test_box_kwargs(self):
        G = nz.load("colorize", low=[0.5, 0.0, 0.0], max_strength=0.5)
        assert G.delta_space()["bounds"] == [[0.5, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.5]]
        with pytest.raises(ValueError, match="max_strength"):
            nz.load("colorize", max_strength=2.0)
        with pytest.raises(ValueError, match="3 values"):
            nz.load("colorize", low=[0.0, 0.0])

    def test_gradcheck(self):
        assert gradcheck(nz.load("colorize"), rand(), rows([0.8, 0.5, 0.3, 0.6]))


# ------------------------------------------------------------------------- CURE-TSR levels
def test_challenges_are_collected_by_the_known_package():
    from nuisance_zoo.known import CURE_TSR_LEVELS

    for name in ("darkening", "exposure", "decolorization"):
        assert CURE_TSR_LEVELS[name] is CURE[name]
        assert CURE[name].note


@pytest.mark.parametrize("name", sorted(CURE))
def test_level_boxes_lie_inside_delta_and_do_not_overlap(name):
    spec = CURE[name]
    G = nz.load(spec.model, **spec.kwargs)
    low, high = G.delta_low, G.delta_high
    prev = None
    for lv in range(1, 6):
        lo, hi = (torch.tensor(v, dtype=F64) for v in spec.regions[lv])
        assert lo.shape == hi.shape == (G.delta_dim,)
        assert (low <= lo).all() and (lo <= hi).all() and (hi <= high).all(), f"level {lv}"
        if prev is not None:  # adjacent levels move one way: touch, never overlap
            assert (hi <= prev[0]).all() or (lo >= prev[1]).all(), f"level {lv} overlaps {lv - 1}"
        prev = (lo, hi)


def _level_images(name: str, x: torch.Tensor) -> list[torch.Tensor]:
    """x at level 0 and at each level's box corners (two extreme draws per level)."""
    spec = CURE[name]
    G = nz.load(spec.model, **spec.kwargs)
    out = [x.expand(2, -1, -1, -1)]
    for lv in range(1, 6):
        lo, hi = (torch.tensor(v, dtype=F64) for v in spec.regions[lv])
        out.append(G(x.expand(2, -1, -1, -1), torch.stack([lo, hi])))
    return out


def _colourfulness(y: torch.Tensor) -> torch.Tensor:
    return (y - luminance(y)).abs().mean(dim=(1, 2, 3))


@pytest.mark.parametrize("name,measure,sign", [
    ("darkening", lambda y: y.mean(dim=(1, 2, 3)), -1),
    ("exposure", lambda y: y.mean(dim=(1, 2, 3)), +1),
    ("decolorization", _colourfulness, -1),
])
def test_severity_is_monotone(name, measure, sign):
    x = rand(h=8, w=8, lo=0.05, hi=0.8, seed=3)
    values = [sign * measure(y) for y in _level_images(name, x)]
    for lv in range(1, 6):
        # every draw of a level is more severe than every draw of the level below
        assert values[lv].min() >= values[lv - 1].max() - 1e-12, f"level {lv}"
    assert values[5].max() > values[0].max() + 0.1


def test_synthesize_challenge_uses_the_boxes():
    from nuisance_zoo.known import synthesize_challenge

    x = rand(b=4, h=8, w=8, lo=0.2, hi=0.8, dtype=torch.float32)
    dark = synthesize_challenge(x, "darkening", 5, generator=torch.Generator().manual_seed(0))
    ratio = dark.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert (ratio >= 2 ** -2.6 - 1e-5).all() and (ratio <= 0.25 + 1e-5).all()
