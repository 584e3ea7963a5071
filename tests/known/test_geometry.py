"""Values of the geometric/optical known models: rotation, affine, gaussian-blur."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.functional as TF

import nuisance_zoo as nz
from nuisance_zoo.known import CURE_TSR_LEVELS
from nuisance_zoo.known.geometry import CHALLENGES, Affine, GaussianBlur, Rotation


def rand_image(b=2, c=3, h=8, w=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g, dtype=torch.float64).to(dtype)


def col(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype).view(-1, 1)


class TestRotation:
    def test_registered_with_default_box(self):
        G = nz.load("rotation")
        assert isinstance(G, Rotation) and G.delta_dim == 1
        assert G.delta_space()["bounds"] == [[-30.0, 30.0]]
        assert nz.load("rotation", max_degrees=10).delta_space()["bounds"] == [[-10.0, 10.0]]

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_zero_angle_is_identity(self, dtype):
        x = rand_image(dtype=dtype)
        y = Rotation()(x, torch.zeros(2, 1, dtype=dtype))
        torch.testing.assert_close(y, x, atol=1e-6, rtol=0)

    @pytest.mark.parametrize("size", [8, 9])
    def test_quarter_turns_match_rot90(self, size):
        x = rand_image(h=size, w=size)
        G = Rotation(max_degrees=180)
        for angle, k in [(90.0, 1), (-90.0, -1), (180.0, 2)]:
            y = G(x, col([angle, angle]))
            ref = torch.rot90(x, k, dims=(-2, -1))
            torch.testing.assert_close(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-10, rtol=0)
            # Pixel centres land on pixel centres, so even the border matches.
            torch.testing.assert_close(y, ref, atol=1e-6, rtol=0)

    def test_non_square_rotation_is_a_true_rotation(self):
        # A dot 2 px right of the centre of a 9×5 image must end 2 px *above* it after +90°.
        x = torch.zeros(1, 1, 9, 5, dtype=torch.float64)
        x[0, 0, 4, 4] = 1.0
        y = Rotation(max_degrees=90)(x, col([90.0]))[0, 0]
        assert (y > 0.5).nonzero().tolist() == [[2, 2]]
        # 180° on a non-square image is a double flip.
        z = rand_image(h=4, w=6)
        torch.testing.assert_close(Rotation(max_degrees=180)(z, col([180.0, 180.0])), z.flip(-1, -2), atol=1e-6, rtol=0)

    def test_padding_modes(self):
        const = torch.full((1, 1, 8, 8), 0.6, dtype=torch.float64)
        zeros = Rotation(padding_mode="zeros")(const, col([30.0]))
        border = Rotation(padding_mode="border")(const, col([30.0]))
        assert zeros[0, 0, 0, 0] < 0.3  # a black corner
        torch.testing.assert_close(border, const)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="padding_mode"):
            Rotation(padding_mode="wrap")
        with pytest.raises(ValueError, match="max_degrees"):
            Rotation(max_degrees=-1)

    def test_gradcheck(self):
        x = rand_image(b=2, c=2, h=5, w=5).requires_grad_(True)
        d = col([17.3, -23.1]).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: Rotation()(a, b), (x, d), eps=1e-6, atol=1e-5)


class TestAffine:
    def test_box_from_kwargs(self):
        G = nz.load("affine", max_degrees=20, scale_range=(0.5, 2.0), max_translate=0.25, max_shear=5)
        assert G.delta_space()["names"] == ["angle_deg", "log2_scale", "tx", "ty", "shear_deg"]
        assert G.delta_space()["bounds"] == [[-20, 20], [-1, 1], [-0.25, 0.25], [-0.25, 0.25], [-5, 5]]
        default = Affine().delta_space()["bounds"]
        assert default[1] == pytest.approx([math.log2(0.8), math.log2(1.25)])

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_identity(self, dtype):
        G = Affine()
        x = rand_image(dtype=dtype)
        torch.testing.assert_close(G(x, G.identity_delta(2, dtype=dtype)), x, atol=1e-6, rtol=0)

    def test_translation_moves_whole_pixels(self):
        x = rand_image(h=8, w=8)
        d = torch.zeros(2, 5, dtype=torch.float64)
        d[:, 2] = 1 / 8  # one pixel right
        G = Affine(max_translate=0.25)  # δ is projected into Δ: the shifts must lie inside it
        y = G(x, d)
        torch.testing.assert_close(y[..., 1:], x[..., :-1], atol=1e-10, rtol=0)
        assert y[..., 0].abs().max() < 1e-10  # zeros padding enters on the left
        d = torch.zeros(2, 5, dtype=torch.float64)
        d[:, 3] = -2 / 8  # two pixels up
        y = G(x, d)
        torch.testing.assert_close(y[..., :-2, :], x[..., 2:, :], atol=1e-10, rtol=0)

    def test_angle_only_equals_rotation(self):
        x = rand_image(h=6, w=10)
        d = torch.zeros(2, 5, dtype=torch.float64)
        d[:, 0] = torch.tensor([12.5, -27.0])
        torch.testing.assert_close(Affine()(x, d), Rotation()(x, d[:, :1]))

    def test_scale_two_is_bilinear_zoom_of_the_centre(self):
        x = rand_image(h=8, w=8)
        d = torch.zeros(2, 5, dtype=torch.float64)
        d[:, 1] = 1.0  # log2 scale: ×2
        y = Affine(scale_range=(0.5, 2.0))(x, d)
        ref = torch.nn.functional.interpolate(x[..., 2:6, 2:6], scale_factor=2, mode="bilinear", align_corners=False)
        # interpolate clamps at the crop's edge where the warp still sees the rest of the image.
        torch.testing.assert_close(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-10, rtol=0)

    def test_positive_shear_moves_upper_rows_right(self):
        x = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
        x[..., 4] = 1.0  # a vertical line through the centre
        d = torch.tensor([[0.0, 0.0, 0.0, 0.0, 45.0]], dtype=torch.float64)
        y = Affine(max_shear=45)(x, d)[0, 0]
        assert y.argmax(dim=1).tolist() == [8, 7, 6, 5, 4, 3, 2, 1, 0]

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="scale_range"):
            Affine(scale_range=(0.0, 2.0))
        with pytest.raises(ValueError, match="scale_range"):
            Affine(scale_range=1.5)
        with pytest.raises(ValueError, match="max_shear"):
            Affine(max_shear=90)
        with pytest.raises(ValueError, match="padding_mode"):
            Affine(padding_mode="nearest")

    def test_gradcheck(self):
        x = rand_image(b=2, c=1, h=5, w=6).requires_grad_(True)
        d = torch.tensor([[11.0, 0.13, 0.031, -0.047, 4.2], [-19.0, -0.21, -0.063, 0.071, -7.9]],
                         dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: Affine()(a, b), (x, d), eps=1e-6, atol=1e-5)


class TestGaussianBlur:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_sigma_zero_is_exact_identity(self, dtype):
        x = rand_image(dtype=dtype)
        assert torch.equal(GaussianBlur()(x, torch.zeros(2, 1, dtype=dtype)), x)

    def test_continuous_at_zero(self):
        x = rand_image()
        y = GaussianBlur()(x, col([1e-3, 0.05]))
        torch.testing.assert_close(y, x, atol=1e-12, rtol=0)

    @pytest.mark.parametrize("padding_mode", ["reflect", "replicate"])
    def test_constant_image_keeps_its_mean(self, padding_mode):
        const = torch.full((3, 2, 8, 8), 0.37, dtype=torch.float64)
        y = GaussianBlur(padding_mode=padding_mode)(const, col([0.5, 1.7, 3.0]))
        torch.testing.assert_close(y, const, atol=1e-12, rtol=0)
        # Images smaller than the kernel radius (9 px) still work, the radius is cut.
        tiny = torch.full((1, 1, 3, 4), 0.8, dtype=torch.float64)
        torch.testing.assert_close(GaussianBlur(padding_mode=padding_mode)(tiny, col([2.5])), tiny)

    def test_impulse_response_matches_torchvision(self):
        x = torch.zeros(1, 1, 21, 21, dtype=torch.float64)
        x[..., 10, 10] = 1.0
        sigma = 1.5
        y = GaussianBlur()(x, col([sigma]))
        ref = TF.gaussian_blur(x, kernel_size=[19, 19], sigma=[sigma, sigma])
        torch.testing.assert_close(y, ref, atol=1e-5, rtol=0)
        assert y.sum().item() == pytest.approx(1.0)

    def test_per_sample_sigma_in_one_batch(self):
        x = rand_image(b=3)
        sig = col([0.4, 1.1, 2.6])
        y = GaussianBlur()(x, sig)
        for i in range(3):
            torch.testing.assert_close(y[i : i + 1], GaussianBlur()(x[i : i + 1], sig[i : i + 1]))

    def test_gradient_finite_at_sigma_zero(self):
        x = rand_image()
        d = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
        GaussianBlur()(x, d).square().sum().backward()
        assert torch.isfinite(d.grad).all()

    def test_gradcheck(self):
        x = rand_image(b=2, c=2, h=5, w=6).requires_grad_(True)
        d = col([0.37, 1.3]).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: GaussianBlur()(a, b), (x, d), eps=1e-6, atol=1e-5)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="max_sigma"):
            GaussianBlur(max_sigma=0)
        with pytest.raises(ValueError, match="padding_mode"):
            GaussianBlur(padding_mode="zeros")


class TestBlurChallenge:
    def test_registered(self):  # level boxes inside Δ: tests/known/test_contract.py
        (spec,) = CHALLENGES
        assert CURE_TSR_LEVELS["blur"] is spec and spec.model == "gaussian-blur" and spec.note

    def test_levels_are_monotone(self):
        spec = CURE_TSR_LEVELS["blur"]
        lows = [spec.regions[lv][0][0] for lv in range(1, 6)]
        highs = [spec.regions[lv][1][0] for lv in range(1, 6)]
        assert all(h <= l_next for h, l_next in zip(highs, lows[1:]))
        G = nz.load("gaussian-blur")
        x = rand_image(b=1, c=3, h=32, w=32, seed=3)
        mids = col([(lo + hi) / 2 for lo, hi in zip(lows, highs)])
        variances = [x.var().item()] + [G(x, mids[i : i + 1]).var().item() for i in range(5)]
        assert all(a > b for a, b in zip(variances, variances[1:])), variances


def test_blur_of_a_white_image_stays_at_one_and_keeps_its_gradient():
    """Float32 taps summing to 1 lifted white patches to 1.0000002 (outside [0, 1]); the value is
    clamped, but ∂G/∂x stays the blur's, not zeroed as by a plain clamp."""
    from nuisance_zoo.known._blur import separable_blur
    from nuisance_zoo.known.geometry import _BLUR_EPS

    G = nz.load("gaussian-blur")
    sigmas = torch.linspace(0.05, 3.0, 60).unsqueeze(1)
    x = torch.ones(60, 3, 16, 16, requires_grad=True)
    y = G(x, sigmas)
    assert float(y.max()) <= 1.0 and float(y.min()) >= 1.0 - 1e-6
    (g,) = torch.autograd.grad(y.sum(), x)
    raw = separable_blur(x, sigmas[:, 0], G.radius, G.padding_mode, eps=_BLUR_EPS)
    assert float(raw.max()) > 1.0  # the float32 overshoot this guards against
    (g_raw,) = torch.autograd.grad(raw.sum(), x)
    torch.testing.assert_close(g, g_raw)
