"""Values of the additive models: additive-linf, additive-l2 (PGD threat models) and noise."""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.known import CURE_TSR_LEVELS
from nuisance_zoo.known.noise import CHALLENGES, AdditiveL2, AdditiveLinf, CameraNoise


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


class TestAdditiveLinf:
    def test_defaults_and_paper_setting(self):
        G = nz.load("additive-linf")
        assert isinstance(G, AdditiveLinf) and G.delta_dim == 3 * 32 * 32 and G.eps == pytest.approx(8 / 255)
        M = nz.load("additive-linf", shape=(1, 28, 28), eps=0.3)
        assert M.delta_dim == 784 and M.has_box
        space = M.delta_space()
        assert space["set"] == "linf-ball" and space["radius"] == 0.3 and space["image_shape"] == [1, 28, 28]
        assert space["bounds"][0] == [-0.3, 0.3] and len(space["bounds"]) == 784

    def test_formula(self):
        G = AdditiveLinf(shape=(2, 3, 4), eps=0.2)
        x = torch.rand(3, 2, 3, 4, dtype=torch.float64, generator=gen())
        d = G.sample_delta(3, generator=gen(1), dtype=torch.float64)
        assert torch.equal(G(x, d), (x + d.view(3, 2, 3, 4)).clamp(0, 1))
        assert torch.equal(G(x, G.identity_delta(3, dtype=torch.float64)), x)

    def test_samples_and_projection_in_the_ball(self):
        G = AdditiveLinf(shape=(1, 4, 4), eps=0.1)
        d = G.sample_delta(200, generator=gen(), dtype=torch.float64)
        assert d.abs().max() <= 0.1 and d.abs().max() > 0.09  # fills the box, not just its centre
        far = torch.randn(50, 16, generator=gen(2), dtype=torch.float64)
        p = G.project(far)
        assert p.abs().max() <= 0.1
        torch.testing.assert_close(p, far.clamp(-0.1, 0.1), rtol=0, atol=0)
        torch.testing.assert_close(G.project(p), p, rtol=0, atol=0)

    @pytest.mark.parametrize("cls", [AdditiveLinf, AdditiveL2])
    def test_wrong_image_shape_names_the_fix(self, cls):
        G = cls()  # built for (3, 32, 32)
        x = torch.rand(2, 1, 28, 28)
        match = r"\(3, 32, 32\).*\(1, 28, 28\).*shape=\(1, 28, 28\)"
        with pytest.raises(ValueError, match=match):
            G(x)
        with pytest.raises(ValueError, match=match):
            G(x, torch.zeros(2, 784))  # caught before the generic δ-shape error
        with pytest.raises(ValueError, match=match):
            G.forward_multi(x, k=2)
        with pytest.raises(ValueError, match=match):
            G.decode(x, torch.zeros(2, 3072))  # also inside compositions
        with pytest.raises(ValueError, match=match):
            (nz.load("gaussian-blur") @ G)(x)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="shape"):
            AdditiveLinf(shape=(32, 32))
        with pytest.raises(ValueError, match="shape"):
            AdditiveLinf(shape=(3, 0, 32))
        with pytest.raises(ValueError, match="eps"):
            AdditiveLinf(eps=0)

    def test_gradcheck(self):
        G = AdditiveLinf(shape=(2, 3, 3), eps=0.05)
        x = (0.2 + 0.6 * torch.rand(2, 2, 3, 3, dtype=torch.float64, generator=gen())).requires_grad_(True)
        d = G.sample_delta(2, generator=gen(1), dtype=torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-5)


class TestAdditiveL2:
    def test_ball_not_box(self):
        G = nz.load("additive-l2", shape=(1, 4, 4), eps=0.5)
        assert isinstance(G, AdditiveL2) and not G.has_box and G.prior == "uniform"
        space = G.delta_space()
        assert space["set"] == "l2-ball" and space["radius"] == 0.5 and space["bounds"] is None
        assert space["dim"] == 16 and len(space["names"]) == 16

    def test_samples_fill_the_ball(self):
        G = AdditiveL2(shape=(1, 4, 4), eps=0.5)
        d = G.sample_delta(4000, generator=gen(), dtype=torch.float64)
        norms = d.norm(dim=1)
        assert d.shape == (4000, 16) and norms.max() <= 0.5 + 1e-12
        # Uniform in a d-ball: P(‖δ‖ <= r) = (r/eps)^d, so E‖δ‖ = eps·d/(d+1).
        assert norms.mean().item() == pytest.approx(0.5 * 16 / 17, abs=0.01)
        assert (norms <= 0.5 * 0.5 ** (1 / 16)).double().mean().item() == pytest.approx(0.5, abs=0.03)
        # Directions are isotropic: the mean draw is near 0.
        assert d.mean(dim=0).abs().max() < 0.02
        torch.testing.assert_close(G.sample_delta(3, generator=gen(5)), G.sample_delta(3, generator=gen(5)))

    def test_projection(self):
        G = AdditiveL2(shape=(1, 4, 4), eps=0.5)
        far = torch.randn(100, 16, generator=gen(1), dtype=torch.float64) * 3
        p = G.project(far)
        assert (p.norm(dim=1) <= 0.5 + 1e-12).all()
        # Rows outside land on the sphere along their own direction; rows inside stay put.
        outside = far.norm(dim=1) > 0.5
        torch.testing.assert_close(p[outside].norm(dim=1), torch.full((int(outside.sum()),), 0.5, dtype=torch.float64))
        torch.testing.assert_close(p / p.norm(dim=1, keepdim=True), far / far.norm(dim=1, keepdim=True))
        inside = G.sample_delta(20, generator=gen(2), dtype=torch.float64)
        assert torch.equal(G.project(inside), inside)
        torch.testing.assert_close(G.project(p), p, rtol=1e-12, atol=1e-12)  # idempotent
        assert torch.equal(G.project(torch.zeros(2, 16)), torch.zeros(2, 16))

    def test_composition_uses_the_ball(self):
        C = nz.load("rotation") @ AdditiveL2(shape=(1, 4, 4), eps=0.5)
        d = C.sample_delta(10, generator=gen())
        assert (d[:, :16].norm(dim=1) <= 0.5 + 1e-6).all()
        p = C.project(d * 10)
        assert (p[:, :16].norm(dim=1) <= 0.5 + 1e-6).all() and (p[:, 16].abs() <= 30).all()

    def test_gradcheck(self):
        G = AdditiveL2(shape=(1, 3, 4), eps=0.1)
        x = (0.2 + 0.6 * torch.rand(2, 1, 3, 4, dtype=torch.float64, generator=gen())).requires_grad_(True)
        d = G.sample_delta(2, generator=gen(1), dtype=torch.float64).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-5)


class TestCameraNoise:
    def test_registered(self):
        G = nz.load("noise")
        assert isinstance(G, CameraNoise) and G.differentiable
        assert G.delta_space()["names"] == ["sigma", "offset_x", "offset_y"]
        assert G.delta_space()["bounds"] == [[0.0, 0.3], [0.0, 1.0], [0.0, 1.0]]

    def test_formula_by_hand(self):
        G = CameraNoise(field_size=16, seed=3)
        x = torch.full((1, 2, 3, 3), 0.5, dtype=torch.float64)
        sigma, ox, oy = 0.05, 5, 9
        y = G(x, torch.tensor([[sigma, ox / 16, oy / 16]], dtype=torch.float64))
        for c in range(2):
            for i in range(3):
                for j in range(3):
                    n = G.field[(oy + 97 * c + i) % 16, (ox + 181 * c + j) % 16].item()
                    assert y[0, c, i, j].item() == pytest.approx(min(max(0.5 + sigma * n, 0.0), 1.0), abs=1e-12)

    def test_deterministic_per_delta_and_seed(self):
        x = torch.full((2, 3, 16, 16), 0.5)
        d = torch.tensor([[0.1, 0.3, 0.6], [0.1, 0.3, 0.6]])
        y = CameraNoise()(x, d)
        assert torch.equal(y[0], y[1])
        assert torch.equal(y, CameraNoise()(x, d))  # a new instance, the same field
        assert not torch.equal(y, CameraNoise(seed=1)(x, d))
        other = CameraNoise()(x, torch.tensor([[0.1, 0.7, 0.2], [0.1, 0.3, 0.61]]))
        assert (other - y).abs().amax(dim=(1, 2, 3)).min() > 0.05  # new offsets, new noise

    def test_sigma_scales_the_noise(self):
        G = CameraNoise()
        x = torch.full((3, 3, 32, 32), 0.5, dtype=torch.float64)
        d = torch.tensor([[0.0, 0.2, 0.4], [0.02, 0.2, 0.4], [0.08, 0.2, 0.4]], dtype=torch.float64)
        y = G(x, d)
        assert torch.equal(y[0], x[0])
        torch.testing.assert_close((y[2] - 0.5), 4 * (y[1] - 0.5))  # no clamping at these σ
        assert (y[1] - 0.5).std().item() == pytest.approx(0.02, rel=0.1)
        field = G.field
        assert field.mean().item() == pytest.approx(0.0, abs=1e-12) and field.std().item() == pytest.approx(1.0)

    def test_channels_tiling_and_monochrome(self):
        x = torch.full((1, 3, 8, 8), 0.5, dtype=torch.float64)
        d = torch.tensor([[0.1, 0.0, 0.0]], dtype=torch.float64)
        y = CameraNoise(field_size=4)(x, d)
        torch.testing.assert_close(y[..., :4, :4], y[..., 4:, 4:])  # images larger than the field tile it
        assert not torch.allclose(y[0, 0], y[0, 1])  # colour noise: channels differ
        mono = CameraNoise(field_size=4, monochrome=True)(x, d)
        assert torch.equal(mono[0, 0], mono[0, 1]) and torch.equal(mono[0, 0], mono[0, 2])
        torch.testing.assert_close(mono[0, 0], y[0, 0])
        gray = CameraNoise(field_size=4)(x[:, :1], d)
        torch.testing.assert_close(gray[0, 0], y[0, 0])

    def test_gradcheck(self):
        G = CameraNoise(field_size=16)
        x = (0.3 + 0.4 * torch.rand(2, 3, 4, 4, dtype=torch.float64, generator=gen())).requires_grad_(True)
        # Offsets mid-cell (floor(o·16) + 0.5): the finite differences stay inside one pixel shift.
        d = torch.tensor([[0.03, 3.5 / 16, 7.5 / 16], [0.05, 11.5 / 16, 0.5 / 16]], dtype=torch.float64,
                         requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: G(a, b), (x, d), eps=1e-6, atol=1e-5)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="max_sigma"):
            CameraNoise(max_sigma=0)
        with pytest.raises(ValueError, match="field_size"):
            CameraNoise(field_size=1)


class TestNoiseChallenge:
    def test_registered(self):  # level boxes inside Δ: tests/known/test_contract.py
        (spec,) = CHALLENGES
        assert CURE_TSR_LEVELS["noise"] is spec and spec.model == "noise" and spec.note

    def test_levels_are_monotone(self):
        spec = CURE_TSR_LEVELS["noise"]
        lows = [spec.regions[lv][0][0] for lv in range(1, 6)]
        highs = [spec.regions[lv][1][0] for lv in range(1, 6)]
        assert all(h <= l_next for h, l_next in zip(highs, lows[1:]))
        G = nz.load("noise")
        x = torch.rand(1, 3, 32, 32, generator=gen(3), dtype=torch.float64)
        deviations = [0.0]
        for lo, hi in zip(lows, highs):
            d = torch.tensor([[(lo + hi) / 2, 0.4, 0.7]], dtype=torch.float64)
            deviations.append((G(x, d) - x).abs().mean().item())
        assert all(a < b for a, b in zip(deviations, deviations[1:])), deviations
