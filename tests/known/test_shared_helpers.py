"""What the known models share instead of repeating: the gray-input policy and the repr (from the
base class), the argument validator (``_checks``) and the separable blur (``_blur``)."""
from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

import nuisance_zoo as nz
from nuisance_zoo.known import background, colour, dirty_lens, geometry, noise, occlusion, precipitation, weather
from nuisance_zoo.known._blur import gaussian_taps, separable_blur
from nuisance_zoo.known._checks import check_choice, check_range

F64 = torch.float64
KNOWN = nz.list_models(kind="known")
FAMILIES = (background, colour, dirty_lens, geometry, noise, occlusion, precipitation, weather)
KNOWN_CLASSES = sorted({obj for mod in FAMILIES for obj in vars(mod).values()
                        if inspect.isclass(obj) and issubclass(obj, nz.NuisanceModel)
                        and obj.__module__.startswith("nuisance_zoo.known")}, key=lambda c: c.__name__)


def rand(c=3, b=2, h=6, w=7, seed=0, dtype=F64):
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------------------- gray policy
class TestGrayPolicy:
    def test_no_known_model_checks_channels_itself(self):
        for cls in KNOWN_CLASSES:
            src = inspect.getsource(cls)
            assert "check_colour_channels" not in src and "extra_repr" not in src, cls.__name__

    @pytest.mark.parametrize("name", [n for n in KNOWN if nz.load(n).gray_policy == "identity"])
    def test_identity_policy_returns_gray_input_without_decoding(self, name):
        G = nz.load(name)
        x = rand(c=1, dtype=torch.float32)
        assert G(x, G.sample_delta(2)) is x  # the very tensor: no formula ran on it
        assert G.decode(x, G.sample_delta(2)) is x

    @pytest.mark.parametrize("name", [n for n in KNOWN if nz.load(n).gray_policy in ("identity", "luminance")])
    @pytest.mark.parametrize("c", [2, 4])
    def test_colour_policies_refuse_other_channel_counts_everywhere(self, name, c):
        G = nz.load(name)
        msg = rf"{type(G).__name__} needs RGB \(C=3\) or gray \(C=1\) images, got C={c}.*x\[:, :3\]"
        x = rand(c=c, dtype=torch.float32)
        d = G.sample_delta(2)
        with pytest.raises(ValueError, match=msg):
            G(x, d)
        with pytest.raises(ValueError, match=msg):
            G.decode(x, d)  # the wrappers call decode directly
        with pytest.raises(ValueError, match=msg):
            (G @ nz.load("brightness"))(x)  # and compositions call each part's decode

    def test_policy_applies_inside_compositions(self):
        hue, bright = nz.load("hue"), nz.load("brightness")
        x = rand(c=1)
        d = torch.tensor([[1.0, 0.3], [-1.0, -0.2]], dtype=F64)
        torch.testing.assert_close((hue @ bright)(x, d), bright(x, d[:, :1]), rtol=0, atol=0)

    def test_a_new_model_gets_the_policy_from_the_attribute_alone(self):
        class Swap(nz.NuisanceModel):
            """Swap R and B by δ (a colour-only formula: it indexes three channels)."""

            delta_dim = 1
            gray_policy = "identity"

            def __init__(self):
                super().__init__()
                self.set_delta_box([0.0], [1.0])

            def decode(self, x, delta):
                return torch.lerp(x, x[:, [2, 1, 0]], delta.view(-1, 1, 1, 1))

        G = Swap()
        gray = rand(c=1)
        assert torch.equal(G(gray, torch.ones(2, 1, dtype=F64)), gray)
        rgb = rand()
        torch.testing.assert_close(G(rgb, torch.ones(2, 1, dtype=F64)), rgb[:, [2, 1, 0]])
        with pytest.raises(ValueError, match="Swap needs RGB"):
            G(rand(c=4))

    def test_descriptive_policies_are_not_enforced(self):
        class TwoChannel(nz.NuisanceModel):
            delta_dim = 1
            gray_policy = "fixed: reads two channels"

            def __init__(self):
                super().__init__()
                self.set_delta_box([0.0], [1.0])

            def decode(self, x, delta):
                return x * delta.view(-1, 1, 1, 1)

        y = TwoChannel()(rand(c=2), torch.full((2, 1), 0.5, dtype=F64))
        assert y.shape == (2, 2, 6, 7)

    def test_dirty_lens_now_refuses_rgba_like_the_other_colour_models(self):
        with pytest.raises(ValueError, match="DirtyLens needs RGB"):
            nz.load("dirty-lens")(rand(c=4))


# ---------------------------------------------------------------------------- repr
class TestRepr:
    def test_constructor_arguments_and_box_are_shown(self):
        r = repr(nz.load("background-color", threshold=0.1, softness=0.05, mask="channel"))
        assert r.startswith("BackgroundColor(delta_dim=3, prior='uniform', differentiable=True, ")
        assert "delta_box=[[0, 1], [0, 1], [0, 1]]" in r
        assert "threshold=0.1, softness=0.05, mask='channel'" in r

    @pytest.mark.parametrize("name,kwargs,shown", [
        ("brightness", {"low": -1.0, "high": 2.0}, "delta_box=[[-1, 2]]"),
        ("gamma", {"min_gamma": 0.5, "max_gamma": 2.0}, "delta_box=[[-1, 1]]"),
        ("gaussian-blur", {"max_sigma": 2.0, "padding_mode": "replicate"}, "padding_mode='replicate', radius=6"),
        ("additive-linf", {"shape": (1, 28, 28), "eps": 0.3}, "eps=0.3, image_shape=(1, 28, 28)"),
        ("haze", {"depth": "vertical"}, "depth_mode='vertical'"),
        ("noise", {"seed": 3, "monochrome": True}, "field_size=256, seed=3, monochrome=True"),
        ("erasing", {"fill": (0.5, 0.25, 0.0)}, "fill=(0.5, 0.25, 0)"),
        ("erasing-soft", {"sharpness": 8.0}, "sharpness=8"),
        ("background-texture", {"grid": 3}, "grid=3, threshold=0.04706"),
    ])
    def test_each_model_shows_its_configuration(self, name, kwargs, shown):
        assert shown in repr(nz.load(name, **kwargs))

    def test_large_boxes_are_left_out(self):
        assert "delta_box" not in repr(nz.load("additive-linf"))

    def test_a_new_model_gets_its_repr_from_its_constructor(self):
        class Tint(nz.NuisanceModel):
            delta_dim = 1
            repr_attrs = ("derived",)

            def __init__(self, strength: float = 0.5, name: str = "warm", unused: int = 3):
                super().__init__()
                self.strength, self.name, self.derived = strength, name, 2 * strength

        assert repr(Tint()) == ("Tint(delta_dim=1, prior='uniform', differentiable=True, strength=0.5, "
                                "name='warm', derived=1)")


# ---------------------------------------------------------------------------- validator
class TestCheckRange:
    @pytest.mark.parametrize("kwargs,value,message", [
        ({"low": 0, "high": 1}, 1.5, "m: a must be a number in [0, 1], got 1.5."),
        ({"low": 0, "high": 1, "open_low": True}, 0.0, "m: a must be a number in (0, 1], got 0.0."),
        ({"low": 0, "high": 90, "open_high": True}, 90, "m: a must be a number in [0, 90), got 90."),
        ({"low": 0, "open_low": True, "why": "pixels"}, -2, "m: a must be a number > 0 (pixels), got -2."),
        ({"low": 2, "integer": True}, 2.5, "m: a must be an int >= 2, got 2.5."),
        ({"low": 2, "integer": True}, True, "m: a must be an int >= 2, got True."),
        ({"high": 1}, float("nan"), "m: a must be a number <= 1, got nan."),
        ({}, float("inf"), "m: a must be a number finite, got inf."),
        ({"low": 0}, "3", None),
        ({"low": 0}, "x", "m: a must be a number >= 0, got 'x'."),
    ])
    def test_message_names_argument_range_and_value(self, kwargs, value, message):
        if message is None:
            assert check_range("a", value, model="m", **kwargs) == 3.0
            return
        with pytest.raises(ValueError) as err:
            check_range("a", value, model="m", **kwargs)
        assert str(err.value) == message

    def test_returns_float_or_int(self):
        assert check_range("a", 1, 0, 2) == 1.0 and isinstance(check_range("a", 1, 0, 2), float)
        assert check_range("n", 4.0, 1, integer=True) == 4 and isinstance(check_range("n", 4.0, 1, integer=True), int)
        assert check_range("seed", 2**63 - 1, integer=True) == 2**63 - 1  # exact, no float round trip
        assert check_choice("m", "b", ("a", "b")) == "b"
        with pytest.raises(ValueError, match=r"^M: m must be one of \('a', 'b'\), got 'c'\.$"):
            check_choice("m", "c", ("a", "b"), model="M")

    @pytest.mark.parametrize("name,kwargs,message", [
        ("shadow", {"max_darkness": 1.5}, "Shadow: max_darkness must be a number in (0, 1] (1 allows pure black), got 1.5."),
        ("snow", {"n_flakes": 2}, "Snow: n_flakes must be an int >= 4, got 2."),
        ("rain", {"max_angle": 120}, "Rain: max_angle must be a number in [0, 90] (degrees from vertical), got 120."),
        ("dirty-lens", {"max_blob_size": 0.5}, "DirtyLens: max_blob_size must be a number in (0.5, 5] "
                                               "(a multiplier of the base radii), got 0.5."),
        ("colorize", {"max_strength": 2.0}, "Colorize: max_strength must be a number in [0, 1] (a blend weight), got 2.0."),
        ("gamma", {"min_gamma": 0.0}, "Gamma: min_gamma must be a number > 0 (γ is a power), got 0.0."),
        ("affine", {"max_shear": 90}, "Affine: max_shear must be a number in [0, 90) (degrees; tan diverges at 90), got 90."),
        ("gaussian-blur", {"padding_mode": "zeros"}, "GaussianBlur: padding_mode must be one of ('reflect', 'replicate'), got 'zeros'."),
        ("background-texture", {"grid": 0}, "BackgroundTexture: grid must be an int >= 1 (control points per side), got 0."),
        ("noise", {"field_size": 1}, "CameraNoise: field_size must be an int >= 2, got 1."),
        ("additive-l2", {"shape": (3, 0, 32)}, "AdditiveL2: shape[1] must be an int >= 1 (the image shape (C, H, W)), got 0."),
        ("erasing", {"fill": 2.0}, "Erasing: fill must be a number in [0, 1] (one value, or one per channel), got 2.0."),
        ("haze", {"depth": "radial"}, "Haze: depth must be one of ('constant', 'vertical'), got 'radial'."),
    ])
    def test_known_models_use_it(self, name, kwargs, message):
        with pytest.raises(ValueError) as err:
            nz.load(name, **kwargs)
        assert str(err.value) == message


# ---------------------------------------------------------------------------- separable blur
def reference_blur(x, sigma, radius, mode, normalise=True, eps=0.0):
    """Direct 2-D convolution with the outer-product kernel, plane by plane (slow, obvious)."""
    b, c, h, w = x.shape
    sig = sigma.expand(b, c) if sigma.ndim == 2 else sigma.view(-1, 1).expand(b, c)
    out = torch.empty_like(x)
    for i in range(b):
        for j in range(c):
            rx, ry = min(radius, w - 1), min(radius, h - 1)
            kx = gaussian_taps(sig[i, j].view(1), rx, normalise, eps)[0]
            ky = gaussian_taps(sig[i, j].view(1), ry, normalise, eps)[0]
            plane = F.pad(x[i, j][None, None], (rx, rx, ry, ry), mode=mode)
            out[i, j] = F.conv2d(plane, torch.outer(ky, kx)[None, None])[0, 0]
    return out


class TestSeparableBlur:
    @pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
    @pytest.mark.parametrize("per", ["plane", "image"])
    def test_matches_the_2d_convolution(self, mode, per):
        x = rand(c=2, h=5, w=9)
        sigma = torch.tensor([[0.4, 1.3], [2.0, 0.7]], dtype=F64) if per == "plane" else torch.tensor([0.8, 1.9], dtype=F64)
        torch.testing.assert_close(separable_blur(x, sigma, 3, mode), reference_blur(x, sigma, 3, mode))

    def test_scalar_sigma_equals_per_image_sigma(self):
        x = rand()
        torch.testing.assert_close(separable_blur(x, 1.2, 4), separable_blur(x, torch.full((2,), 1.2, dtype=F64), 4))

    def test_unnormalised_taps_keep_a_unit_peak_and_wrap_around(self):
        x = torch.zeros(1, 1, 9, 9, dtype=F64)
        x[0, 0, 0, 0] = 1.0
        y = separable_blur(x, torch.tensor([1.0], dtype=F64), 3, "circular", normalise=False)
        assert y[0, 0, 0, 0] == 1.0
        torch.testing.assert_close(y[0, 0, -1, -1], torch.tensor(math.exp(-1.0), dtype=F64))  # wrapped corner

    def test_eps_makes_sigma_zero_the_identity(self):
        x = rand()
        assert torch.equal(separable_blur(x, torch.zeros(2, dtype=F64), 4, eps=1e-4), x)

    def test_constant_image_stays_constant_and_radius_is_cut(self):
        x = torch.full((1, 3, 2, 40), 0.3, dtype=F64)  # H = 2 < the kernel: radius 1 along H
        torch.testing.assert_close(separable_blur(x, torch.tensor([3.0], dtype=F64), 9), x)

    def test_gradcheck_in_x_and_sigma(self):
        x = rand(c=2, h=4, w=5).requires_grad_(True)
        sigma = torch.tensor([[0.6, 1.1], [0.9, 1.7]], dtype=F64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, s: separable_blur(a, s, 2, "reflect", eps=1e-4), (x, sigma))
