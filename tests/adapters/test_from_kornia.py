"""nz.from_kornia: δ layout and box per augmentation, values equal to kornia's own output for the
parameters kornia drew, gradcheck in δ (float64), clear errors, and the wrappers on top."""
from __future__ import annotations

import kornia.augmentation as K
import pytest
import torch
from torch import nn

import nuisance_zoo as nz
from nuisance_zoo.adapters.kornia import SUPPORTED, UnsupportedAugmentationError
from tests.conftest import structured_image

F32 = dict(rtol=1e-5, atol=1e-5)
# name -> (augmentation factory, δ names, δ box as (low, high) pairs). p defaults to 0.5 in several
# kornia classes: the adapters ignore p, and the value tests below set p=1 so kornia applies it.
CASES = {
    "ColorJiggle": (lambda p=1.0: K.ColorJiggle(0.2, 0.3, 0.4, 0.1, p=p),
                    ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"),
                    [(0.8, 1.2), (0.7, 1.3), (0.6, 1.4), (-0.1, 0.1)]),
    "ColorJiggle-order": (lambda p=1.0: K.ColorJiggle(0.2, 0.3, 0.4, 0.1, p=p, order=(3, 1, 0, 2)),
                          ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"),
                          [(0.8, 1.2), (0.7, 1.3), (0.6, 1.4), (-0.1, 0.1)]),
    "RandomBrightness": (lambda p=1.0: K.RandomBrightness((0.6, 1.4), p=p), ("brightness_factor",), [(0.6, 1.4)]),
    "RandomContrast": (lambda p=1.0: K.RandomContrast((0.5, 1.5), p=p), ("contrast_factor",), [(0.5, 1.5)]),
    "RandomGamma": (lambda p=1.0: K.RandomGamma((0.5, 2.0), (0.8, 1.2), p=p), ("gamma_factor", "gain_factor"),
                    [(0.5, 2.0), (0.8, 1.2)]),
    "RandomHue": (lambda p=1.0: K.RandomHue((-0.3, 0.3), p=p), ("hue_factor",), [(-0.3, 0.3)]),
    "RandomSaturation": (lambda p=1.0: K.RandomSaturation((0.3, 1.7), p=p), ("saturation_factor",), [(0.3, 1.7)]),
    "RandomAffine": (lambda p=1.0: K.RandomAffine(30.0, (0.1, 0.2), (0.8, 1.2), 10.0, p=p),
                     ("angle", "translate_x", "translate_y", "scale", "shear_x", "shear_y"),
                     [(-30, 30), (-0.1, 0.1), (-0.2, 0.2), (0.8, 1.2), (-10, 10), (0, 0)]),
    "RandomAffine-4scale": (lambda p=1.0: K.RandomAffine(15.0, None, (0.8, 1.2, 0.7, 1.1), (-5, 5, -3, 3), p=p),
                            ("angle", "scale_x", "scale_y", "shear_x", "shear_y"),
                            [(-15, 15), (0.8, 1.2), (0.7, 1.1), (-5, 5), (-3, 3)]),
    "RandomAffine-fill": (lambda p=1.0: K.RandomAffine(25.0, scale=(0.7, 0.9), padding_mode="fill",
                                                       fill_value=torch.tensor([0.2, 0.5, 0.8]), p=p),
                          ("angle", "scale"), [(-25, 25), (0.7, 0.9)]),
    "RandomRotation": (lambda p=1.0: K.RandomRotation(40.0, p=p), ("degrees",), [(-40, 40)]),
    "RandomPerspective": (lambda p=1.0: K.RandomPerspective(0.5, p=p),
                          tuple(f"{c}_{a}" for c in ("top_left", "top_right", "bottom_right", "bottom_left")
                                for a in "xy"), [(0, 1)] * 8),
    "RandomPerspective-area": (lambda p=1.0: K.RandomPerspective(0.5, p=p, sampling_method="area_preserving"),
                               tuple(f"{c}_{a}" for c in ("top_left", "top_right", "bottom_right", "bottom_left")
                                     for a in "xy"), [(0, 1)] * 8),
    "RandomGaussianBlur": (lambda p=1.0: K.RandomGaussianBlur(5, (0.3, 2.0), p=p), ("sigma",), [(0.3, 2.0)]),
    "RandomMotionBlur": (lambda p=1.0: K.RandomMotionBlur(5, 35.0, 0.5, p=p),
                         ("angle_factor", "direction_factor"), [(-35, 35), (-0.5, 0.5)]),
    "RandomMotionBlur-bilinear": (lambda p=1.0: K.RandomMotionBlur(5, 35.0, 0.5, p=p, resample="bilinear"),
                                  ("angle_factor", "direction_factor"), [(-35, 35), (-0.5, 0.5)]),
    "RandomPlanckianJitter": (lambda p=1.0: K.RandomPlanckianJitter(p=p), ("temperature_index",), [(0, 24)]),
}
NOT_DIFFERENTIABLE = {"RandomMotionBlur"}  # nearest-neighbour kernel rotation: ∂/∂angle = 0 a.e.


def image(b: int = 3, h: int = 12, w: int = 12, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    """A textured image with values away from 0 and 1 (no clipping where gradcheck probes)."""
    g = torch.Generator().manual_seed(seed)
    return (0.15 + 0.7 * torch.rand(b, 3, h, w, generator=g, dtype=torch.float64)).to(dtype)


def test_every_issue_augmentation_is_supported():
    wanted = {"ColorJiggle", "RandomBrightness", "RandomContrast", "RandomGamma", "RandomHue", "RandomSaturation",
              "RandomAffine", "RandomRotation", "RandomPerspective", "RandomGaussianBlur", "RandomMotionBlur",
              "RandomPlanckianJitter", "RandomGaussianNoise", "AugmentationSequential"}
    assert wanted <= set(SUPPORTED)


@pytest.mark.parametrize("case", sorted(CASES))
class TestPerAugmentation:
    def test_layout_and_box(self, case):
        make, names, box = CASES[case]
        G = nz.from_kornia(make())
        space = G.delta_space()
        assert space["names"] == list(names) and G.delta_dim == len(names)
        torch.testing.assert_close(torch.tensor(space["bounds"], dtype=torch.float64),
                                   torch.tensor(box, dtype=torch.float64), rtol=0, atol=1e-6)
        assert space["prior"] == "uniform"
        assert G.differentiable == (case not in NOT_DIFFERENTIABLE)

    def test_equals_kornia_for_the_parameters_kornia_drew(self, case):
        make, _, _ = CASES[case]
        aug = make()
        G = nz.from_kornia(aug)
        x = image()
        torch.manual_seed(1)
        y = aug(x)
        params = dict(aug._params)
        if case == "ColorJiggle":
            # Without a fixed order kornia draws a permutation (discrete); G uses the canonical one.
            params["order"] = torch.tensor([0, 1, 2, 3])
            y = aug(x, params=params)
        delta = G.delta_from_kornia(params)
        assert delta.shape == (3, G.delta_dim)
        torch.testing.assert_close(G.project(delta), delta)  # kornia's draws lie in Δ
        assert (y - x).abs().max() > 1e-3, "the augmentation did nothing: the comparison would be vacuous"
        torch.testing.assert_close(G(x, delta), y, **F32)

    def test_contract_shapes_uint8_and_forward_multi(self, case):
        make, _, _ = CASES[case]
        G = nz.from_kornia(make())
        x = image(b=2)
        d = G.sample_delta(2, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(G(x[0], d[:1]), G(x, d)[0])  # (C, H, W) in, (C, H, W) out
        xu = (x * 255).round().to(torch.uint8)
        yu = G(xu, d)
        assert yu.dtype == torch.uint8 and yu.shape == xu.shape
        yh = G(x.half(), d)  # half precision is computed in float32 by the base class
        assert yh.dtype == torch.float16 and 0 <= yh.min() and yh.max() <= 1
        imgs, dd = G.forward_multi(x, k=2, generator=torch.Generator().manual_seed(1))
        assert imgs.shape == (2, *x.shape)
        torch.testing.assert_close(imgs[1], G(x, dd[1]))
        ident = G.identity_delta(2)
        if ident is not None:  # the identity δ leaves the image unchanged
            torch.testing.assert_close(G(x, ident), x, rtol=0, atol=2e-5)


@pytest.mark.parametrize("case", sorted(set(CASES) - NOT_DIFFERENTIABLE))
def test_gradcheck_in_delta(case):
    G = nz.from_kornia(CASES[case][0]())
    x = image(b=2, h=7, w=7, dtype=torch.float64, seed=2)
    d = G.sample_delta(2, generator=torch.Generator().manual_seed(3), dtype=torch.float64).requires_grad_(True)
    # Through decode: forward projects δ into Δ, which is not differentiable on Δ's faces, and a
    # degenerate coordinate (RandomAffine's shear_y box [0, 0]) is all face.
    assert torch.autograd.gradcheck(lambda dd: G.decode(G.encode(x), dd), (d,), eps=1e-6, atol=1e-5)
    # Not vacuous: every coordinate of δ moves the image.
    (g,) = torch.autograd.grad(G(x, d).square().sum(), d)
    assert (g.abs().sum(0) > 0).all(), g


def test_p_is_ignored_delta_is_the_applied_case():
    aug = K.RandomRotation(40.0, p=0.0)  # kornia would never apply it
    G = nz.from_kornia(aug)
    x = image(b=2)
    assert torch.equal(aug(x), x)
    assert (G(x, torch.tensor([[30.0], [-30.0]])) - x).abs().max() > 0.05


def test_replaying_a_call_with_p_below_one_gives_unapplied_rows_the_identity():
    aug = K.RandomBrightness((0.6, 1.4), p=0.5)
    G = nz.from_kornia(aug)
    x = image(b=8)
    torch.manual_seed(0)
    y = aug(x)
    applied = aug._params["batch_prob"] > 0.5
    assert applied.any() and not applied.all()  # the seed gives both kinds of rows
    d = G.delta_from_kornia(aug._params)
    assert (d[~applied] == 1.0).all()
    torch.testing.assert_close(G(x, d), y, **F32)
    blur = K.RandomGaussianBlur(3, (0.5, 1.0), p=0.5)
    torch.manual_seed(0)
    blur(x)
    with pytest.raises(ValueError, match="RandomGaussianBlur has no δ that leaves an image unchanged"):
        nz.from_kornia(blur).delta_from_kornia(blur._params)


def test_gray_images_where_kornia_accepts_them_and_a_clear_error_where_not():
    gray = image(b=2)[:, :1]
    G = nz.from_kornia(K.ColorJiggle(brightness=0.3, contrast=0.3))  # no HSV step: any channel count
    assert G(gray).shape == gray.shape
    for aug in (K.ColorJiggle(0.3, 0.3, 0.3, 0.1), K.RandomHue((-0.2, 0.2)), K.RandomPlanckianJitter()):
        with pytest.raises(ValueError, match=rf"{type(aug).__name__} works on RGB images \(C = 3\), got C = 1"):
            nz.from_kornia(aug)(gray)


@pytest.mark.parametrize("aug", [lambda: K.RandomAffine(20.0, resample="nearest", p=1.0),
                                 lambda: K.RandomRotation(20.0, resample="nearest", p=1.0),
                                 lambda: K.RandomPerspective(0.5, resample="nearest", p=1.0)])
def test_nearest_resampling_warps_match_kornia_but_are_not_differentiable(aug):
    a = aug()
    G = nz.from_kornia(a)
    assert not G.differentiable  # copying pixels is piecewise constant in the warp
    x = image(b=2)
    torch.manual_seed(0)
    y = a(x)
    torch.testing.assert_close(G(x, G.delta_from_kornia(a._params)), y)


def test_motion_blur_nearest_is_flat_in_angle_and_flagged():
    G = nz.from_kornia(K.RandomMotionBlur(5, 35.0, 0.5, p=1.0))
    x = image(b=1, dtype=torch.float64)
    d = torch.tensor([[10.0, 0.3]], dtype=torch.float64, requires_grad=True)
    G(x, d).sum().backward()
    assert d.grad[0, 0] == 0  # why differentiable=False: MAT would see no gradient in the angle
    with pytest.raises(ValueError, match="differentiable=False"):
        nz.MATWrapper(nn.Flatten(), G, k=1)


def test_planckian_index_is_continuous_between_kornia_rows():
    aug = K.RandomPlanckianJitter(p=1.0)
    G = nz.from_kornia(aug)
    x = 0.3 * image(b=1)  # dark enough that no gain clips: then the mid-point is the mean of the rows
    rows = [aug(x, params={"idx": torch.tensor([i]), "batch_prob": torch.ones(1)}) for i in (4, 5)]
    torch.testing.assert_close(G(x, torch.tensor([[4.0]])), rows[0], **F32)
    mid = G(x, torch.tensor([[4.5]]))
    torch.testing.assert_close(mid, (rows[0] + rows[1]) / 2, **F32)  # gains are linear in the index


class TestGaussianNoise:
    def make(self, shape=(3, 8, 8)):
        aug = K.RandomGaussianNoise(mean=0.05, std=0.1, p=1.0)
        return aug, nz.from_kornia(aug, image_shape=shape)

    def test_layout_prior_and_equals_kornia_clipped(self):
        aug, G = self.make()
        assert G.delta_dim == 3 * 8 * 8 and G.prior == "normal" and G.differentiable
        x = image(h=8, w=8)
        torch.manual_seed(0)
        y = aug(x)
        d = G.delta_from_kornia(aug._params)
        # kornia does not clip; the contract keeps outputs in [0, 1].
        torch.testing.assert_close(G(x, d), y.clamp(0, 1), **F32)
        torch.testing.assert_close(G(x, G.identity_delta(3)), x, rtol=0, atol=1e-6)

    def test_gradcheck_in_delta(self):
        _, G = self.make((3, 4, 4))
        x = image(b=2, h=4, w=4, dtype=torch.float64)
        d = (0.1 * torch.randn(2, G.delta_dim, dtype=torch.float64)).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda dd: G(x, dd), (d,), eps=1e-6, atol=1e-5)

    def test_image_shape_is_required_and_enforced(self):
        with pytest.raises(ValueError, match=r"image_shape=\(C, H, W\)"):
            nz.from_kornia(K.RandomGaussianNoise(std=0.1))
        _, G = self.make()
        with pytest.raises(ValueError, match=r"\(3, 8, 8\).*got \(3, 6, 6\)"):
            G(image(h=6, w=6))


class TestSequential:
    def make(self):
        return K.AugmentationSequential(K.RandomBrightness((0.6, 1.4), p=1.0), K.RandomAffine(20.0, p=1.0),
                                        K.RandomGaussianBlur(3, (0.3, 1.5), p=1.0))

    def test_delta_is_concatenated_and_equals_kornia(self):
        aug = self.make()
        G = nz.from_kornia(aug)
        assert isinstance(G, nz.Compose)
        assert G.delta_space()["names"] == ["0.brightness_factor", "1.angle", "2.sigma"]
        x = image()
        torch.manual_seed(2)
        y = aug(x)
        d = G.delta_from_kornia(aug._params)
        torch.testing.assert_close(G(x, d), y, **F32)
        parts = [nz.from_kornia(a) for a in aug.children()]
        torch.testing.assert_close(G(x, d), parts[2](parts[1](parts[0](x, d[:, :1]), d[:, 1:2]), d[:, 2:]))

    def test_gradcheck_in_delta(self):
        G = nz.from_kornia(self.make())
        x = image(b=2, h=6, w=6, dtype=torch.float64)
        d = G.sample_delta(2, generator=torch.Generator().manual_seed(0), dtype=torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda dd: G(x, dd), (d,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("aug,match", [
    (lambda: K.RandomHorizontalFlip(), r"RandomHorizontalFlip into a nuisance model: flip or not is a discrete "
                                       r"choice\. Supported: ColorJiggle"),
    (lambda: K.RandomSolarize(), r"cannot turn RandomSolarize into a nuisance model.*Supported: .*RandomAffine"),
    (lambda: K.RandomMotionBlur((3, 7), 10.0, 0.5), r"kernel_size=\(3, 7\).*discrete"),
    (lambda: K.AugmentationSequential(K.RandomBrightness((0.8, 1.2)), K.RandomContrast((0.8, 1.2)), random_apply=1),
     r"AugmentationSequential into a nuisance model: random_apply=\(1, 2\) applies a random subset"),
    (lambda: K.AugmentationSequential(K.RandomBrightness((0.8, 1.2)), K.RandomVerticalFlip()),
     r"RandomVerticalFlip into a nuisance model: flip or not"),
    (lambda: K.RandomBrightness((0.8, 1.2), clip_output=False), r"clip_output=False"),
])
def test_clear_errors(aug, match):
    with pytest.raises(UnsupportedAugmentationError, match=match):
        nz.from_kornia(aug())


def tiny_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))


@pytest.mark.parametrize("wrapper", ["MDA", "MRT", "MAT"])
def test_wrappers_train_over_a_kornia_model(wrapper):
    G = nz.from_kornia(K.AugmentationSequential(K.ColorJiggle(0.2, 0.2, 0.2, 0.05), K.RandomAffine(15.0)))
    f = tiny_classifier()
    model = {"MDA": lambda: nz.MDAWrapper(f, G, k=2), "MRT": lambda: nz.MRTWrapper(f, G, k=2),
             "MAT": lambda: nz.MATWrapper(f, G, k=2, step_size=0.05, sign=True)}[wrapper]()
    x, y = image(b=4, h=8, w=8), torch.tensor([0, 1, 2, 3])
    loss = model(x, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in f.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_example_mda_with_kornia_runs():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "mda_with_kornia.py"
    r = subprocess.run([sys.executable, str(script), "--steps", "2", "--n-train", "128"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "'0.angle', '0.translate_x', '0.translate_y', '0.scale', '1.sigma', '2.contrast_factor'" in r.stdout
    assert "after 2 MDA-3 steps: clean" in r.stdout
