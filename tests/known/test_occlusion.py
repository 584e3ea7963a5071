"""Values of the occlusion models: erasing (the paper's Algorithm 5) and erasing-soft."""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.known.occlusion import Erasing, SoftErasing


def ones(h=8, w=8, c=3, b=1, dtype=torch.float64):
    return torch.ones(b, c, h, w, dtype=dtype)


def delta(*rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


def expected(h, w, rows, cols, c=3, fill=0.0):
    """Algorithm 5 by hand: ones everywhere, ``fill`` on x[:, rows, cols]."""
    out = torch.ones(1, c, h, w, dtype=torch.float64)
    out[:, :, rows, cols] = fill
    return out


class TestErasing:
    def test_registered_and_honest_about_gradients(self):
        G = nz.load("erasing")
        assert isinstance(G, Erasing) and G.delta_dim == 4 and G.differentiable is False
        assert G.delta_space()["bounds"] == [[0.0, 1.0]] * 4
        assert G.delta_space()["names"] == ["x", "y", "h", "w"]

    def test_hand_made_rectangle(self):
        # x = 2, y = 4, h = 2, w = 4 pixels on an 8×8 image: rows 4:6, columns 2:6.
        y = Erasing()(ones(), delta([2 / 8, 4 / 8, 2 / 8, 4 / 8]))
        torch.testing.assert_close(y, expected(8, 8, slice(4, 6), slice(2, 6)), rtol=0, atol=0)

    def test_clipped_to_the_image_border(self):
        # x = 6, y = 5: A = [0, min(8 - 5, 4)] gives 3 rows, B = [0, min(8 - 6, 4)] gives 2 columns.
        y = Erasing()(ones(), delta([6 / 8, 5 / 8, 1.0, 1.0]))
        torch.testing.assert_close(y, expected(8, 8, slice(5, 8), slice(6, 8)), rtol=0, atol=0)

    def test_clipped_to_max_size(self):
        # max_size = max(H, W) / 2 = 4 on 8×8.
        y = Erasing()(ones(), delta([0.0, 0.0, 1.0, 0.75]))
        torch.testing.assert_close(y, expected(8, 8, slice(0, 4), slice(0, 4)), rtol=0, atol=0)
        # Non-square 6×10: max_size = 5 for both sides, and the height stops at the bottom edge.
        y = Erasing()(ones(6, 10), delta([0.1, 0.5, 1.0, 1.0]))
        torch.testing.assert_close(y, expected(6, 10, slice(3, 6), slice(1, 6)), rtol=0, atol=0)
        # Odd sizes: max_size = floor(7 / 2) = 3.
        y = Erasing()(ones(7, 7), delta([0.0, 0.0, 1.0, 1.0]))
        torch.testing.assert_close(y, expected(7, 7, slice(0, 3), slice(0, 3)), rtol=0, atol=0)

    def test_corner_at_one_is_the_last_pixel(self):
        y = Erasing()(ones(), delta([1.0, 1.0, 1.0, 1.0]))
        torch.testing.assert_close(y, expected(8, 8, slice(7, 8), slice(7, 8)), rtol=0, atol=0)

    def test_fractions_hit_pixels_in_float32(self):
        # k / W in float32 times W can fall a hair below k; the floor must still give pixel k.
        x = ones(28, 28, c=1, dtype=torch.float32)
        d = torch.tensor([[5 / 28, 3 / 28, 7 / 28, 11 / 28]], dtype=torch.float32)
        y = Erasing()(x, d)
        ref = expected(28, 28, slice(3, 10), slice(5, 16), c=1).float()
        torch.testing.assert_close(y, ref, rtol=0, atol=0)

    def test_zero_size_is_identity_and_batch_rows_differ(self):
        G = Erasing()
        x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
        assert torch.equal(G(x, G.identity_delta(2, dtype=torch.float64)), x)
        d = delta([0.0, 0.0, 0.25, 0.25], [0.5, 0.5, 0.25, 0.25])
        y = G(x, d)
        for i in range(2):
            assert torch.equal(y[i : i + 1], G(x[i : i + 1], d[i : i + 1]))
        assert (y[0, :, :2, :2] == 0).all() and torch.equal(y[0, :, 4:6, 4:6], x[0, :, 4:6, 4:6])
        assert (y[1, :, 4:6, 4:6] == 0).all() and torch.equal(y[1, :, :2, :2], x[1, :, :2, :2])

    def test_fill_values(self):
        y = Erasing(fill=0.5)(ones(), delta([0.0, 0.0, 0.25, 0.25]))
        torch.testing.assert_close(y, expected(8, 8, slice(0, 2), slice(0, 2), fill=0.5))
        y = Erasing(fill=(0.1, 0.2, 0.3))(ones(), delta([0.0, 0.0, 0.25, 0.25]))
        assert y[0, :, 0, 0].tolist() == pytest.approx([0.1, 0.2, 0.3])
        with pytest.raises(ValueError, match="one per channel"):
            Erasing(fill=(0.1, 0.2, 0.3))(ones(c=1), delta([0.0, 0.0, 0.25, 0.25]))
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            Erasing(fill=2.0)
        with pytest.raises(ValueError, match="fill"):
            Erasing(fill="black")

    def test_gradient_flows_to_x_outside_the_rectangle(self):
        x = torch.rand(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
        Erasing()(x, delta([0.0, 0.0, 0.5, 0.5])).sum().backward()
        assert x.grad[0, 0, :2, :2].abs().sum() == 0 and (x.grad[0, 0, 2:, 2:] == 1).all()


# Pixel-aligned δ (δ·size integer), where the soft rectangle's limit is exactly erasing's.
ALIGNED = [
    [2 / 8, 4 / 8, 2 / 8, 4 / 8],
    [6 / 8, 5 / 8, 1.0, 1.0],  # clipped at the border
    [0.0, 0.0, 1.0, 0.75],  # clipped at max_size
    [3 / 8, 1 / 8, 0.0, 0.5],  # empty
]


class TestSoftErasing:
    def test_registered_and_differentiable(self):
        G = nz.load("erasing-soft", sharpness=10.0)
        assert isinstance(G, SoftErasing) and G.differentiable and G.sharpness == 10.0
        assert G.delta_space()["bounds"] == Erasing().delta_space()["bounds"]

    def test_approaches_erasing_as_sharpness_grows(self):
        x = torch.rand(4, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        d = torch.tensor(ALIGNED, dtype=torch.float64)
        hard = Erasing()(x, d)
        errors = [(SoftErasing(sharpness=s)(x, d) - hard).abs().max().item() for s in (1.0, 4.0, 16.0, 64.0)]
        assert all(a > b for a, b in zip(errors, errors[1:])), errors
        torch.testing.assert_close(SoftErasing(sharpness=1e3)(x, d), hard, atol=1e-12, rtol=0)

    def test_zero_size_is_exact_identity(self):
        G = SoftErasing()
        x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
        d = delta([0.3, 0.6, 0.0, 0.4], [0.1, 0.2, 0.5, 0.0])
        assert torch.equal(G(x, d), x)
        assert torch.equal(G(x, G.identity_delta(2, dtype=torch.float64)), x)

    def test_mask_is_a_soft_rectangle(self):
        G = SoftErasing(sharpness=4.0)
        m = G.rectangle_mask(delta([0.3, 0.2, 0.4, 0.45]), 10, 10)
        assert m.shape == (1, 1, 10, 10) and m.min() >= 0 and m.max() < 1
        # Continuous in the corner position, unlike the hard rectangle.
        m2 = G.rectangle_mask(delta([0.3 + 1e-7, 0.2, 0.4, 0.45]), 10, 10)
        assert (m2 - m).abs().max() < 1e-5
        # Fill lands in proportion to the mask.
        y = SoftErasing(sharpness=4.0, fill=0.25)(ones(10, 10, c=1), delta([0.3, 0.2, 0.4, 0.45]))
        torch.testing.assert_close(y, 1 - 0.75 * m)

    def test_gradcheck(self):
        G = SoftErasing(sharpness=3.0, fill=0.2)
        x = torch.rand(2, 2, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
        # Second row is clipped by max_size (h·H = 4.9 > 3): the gradient in h is then 0.
        d = delta([0.21, 0.33, 0.27, 0.41], [0.52, 0.09, 0.81, 0.17]).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-5)

    def test_bad_sharpness(self):
        with pytest.raises(ValueError, match="sharpness"):
            SoftErasing(sharpness=0.0)
        with pytest.raises(ValueError, match="sharpness"):
            SoftErasing(sharpness=float("inf"))
