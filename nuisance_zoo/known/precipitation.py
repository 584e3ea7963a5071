"""Falling snow and rain: a fixed random particle pattern whose density, size and look δ controls.

Neither model has hidden state or per-call randomness: the particles (positions on the unit
torus, switch-on thresholds, sizes) are drawn once from a fixed seed in ``__init__`` and kept as
non-persistent buffers (they follow ``.to(device)``; ``state_dict`` stays empty). δ then
chooses how many particles show (a smooth threshold on their fixed switch-on values), how they
look, and a wrap-around shift of the whole pattern, so two draws of δ differ in where the
flakes fall as well as in how many there are. Both are differentiable in δ and x.

Particles are splatted with ``index_add``: bit-exact on CPU; on CUDA its atomic adds may differ
in the last bits between calls unless ``torch.use_deterministic_algorithms(True)`` is set.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._blur import separable_blur
from ._checks import check_range
from ._weather_ops import fixed_uniform, soft_ramp, splat_bilinear

__all__ = ["Snow", "Rain"]

# Width of the smooth switch-on of particles, in units of `amount`.
_RAMP_TAU = 0.03


@register_model("snow")
class Snow(NuisanceModel):
    r"""Snowfall: soft white flakes at two depths over a whitening veil.

    δ = (amount, flake_size, brightness, veil, shift_x, shift_y) with the uniform prior on
    Δ = [0, 1] × [0.01, max_flake_size] × [0.3, 1] × [0, max_veil] × [0, 1] × [0, 1]
    (defaults ``max_flake_size = 0.05``, ``max_veil = 0.6``).

    The pattern is ``n_flakes`` points on the unit torus with switch-on thresholds
    :math:`u_i \sim U[0, 1)`, fixed by ``seed``; a quarter of them are "near" flakes twice as
    large as the "far" ones. For a sample with δ and an image of shorter side S pixels:

    .. math::

        w_i &= \mathrm{ramp}(\text{amount}, u_i)
            \quad\text{(0 at amount = 0, ≈1 once amount > } u_i\text{)}\\
        F &= \sum_i w_i\, \exp\!\big(-\lVert p - (c_i + \text{shift})\rVert^2 / 2 s_i^2\big),
            \quad s_i = \text{flake\_size}\cdot S \cdot \{1/2, 1\}\\
        \alpha &= \text{brightness}\cdot\big(1 - e^{-3F}\big)\\
        x_v &= (1 - \text{veil})\, x + \text{veil}\cdot \text{veil\_colour}\\
        G(x, δ) &= x_v + \alpha\,(1 - x_v)

    (F is computed by splatting the shifted points bilinearly and blurring with per-sample σ,
    distances wrap around the image.) ``amount = veil = 0`` returns x exactly, which is
    :meth:`identity_delta`. Flake sizes are relative to the image, so the picture looks the same
    at 28×28 and 224×224.

    Gray images (``gray_policy = "per-channel"``): flakes and veil are achromatic, so every
    channel gets the same α and veil.

    Args:
        n_flakes: number of candidate flakes in the fixed pattern.
        seed: seed of the fixed pattern (change it for another, equally fixed, pattern).
        max_flake_size: upper bound of ``flake_size`` (σ of a far flake's twin, as a fraction
            of the image's shorter side).
        max_veil: upper bound of ``veil``.
        veil_colour: gray level the veil blends toward.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``, any C, H, W.
        - delta: ``(B, 6)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("snow")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> d = torch.tensor([[0.5, 0.03, 0.9, 0.2, 0.1, 0.7]]).repeat(2, 1)
        >>> torch.equal(G(x, d), G(x, d))                       # no hidden randomness
        True
        >>> torch.equal(G(x, G.identity_delta(2)), x)
        True
    """

    delta_dim = 6
    delta_names = ("amount", "flake_size", "brightness", "veil", "shift_x", "shift_y")
    identity_point = (0.0, 0.01, 0.3, 0.0, 0.0, 0.0)  # amount = veil = 0: the box's low corner
    differentiable = True
    gray_policy = "per-channel"

    def __init__(self, n_flakes: int = 240, seed: int = 1701, max_flake_size: float = 0.05,
                 max_veil: float = 0.6, veil_colour: float = 0.9) -> None:
        super().__init__()
        n_flakes = check_range("n_flakes", n_flakes, 4, integer=True, model=self)
        max_flake_size = check_range("max_flake_size", max_flake_size, 0.01, 0.2, open_low=True,
                                     why="a fraction of the image's shorter side", model=self)
        max_veil = check_range("max_veil", max_veil, 0, 1, why="a blend weight", model=self)
        veil_colour = check_range("veil_colour", veil_colour, 0, 1, why="a gray level", model=self)
        r = fixed_uniform(seed, n_flakes, 3)
        self.register_buffer("flake_pos", r[:, :2].contiguous(), persistent=False)
        self.register_buffer("flake_u", r[:, 2].contiguous(), persistent=False)
        # The first quarter are near (large) flakes, the rest far (small) ones.
        self.n_near = n_flakes // 4
        self.veil_colour = float(veil_colour)
        self._max_size = float(max_flake_size)  # fixes the blur radius, so rows stay batch-independent
        self.set_delta_box([0.0, 0.01, 0.3, 0.0, 0.0, 0.0], [1.0, max_flake_size, 1.0, max_veil, 1.0, 1.0])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        b, _, h, w = x.shape
        amount, size, bright, veil = delta[:, 0], delta[:, 1], delta[:, 2], delta[:, 3]
        shift = delta[:, 4:6]
        s = min(h, w)
        pos = torch.remainder(self.flake_pos.to(x).unsqueeze(0) + shift.unsqueeze(1), 1.0)
        px, py = pos[..., 0] * w - 0.5, pos[..., 1] * h - 0.5
        wts = soft_ramp(amount, self.flake_u.to(x), _RAMP_TAU)
        k = self.n_near
        near = splat_bilinear(px[:, :k], py[:, :k], wts[:, :k], h, w)
        far = splat_bilinear(px[:, k:], py[:, k:], wts[:, k:], h, w)
        sigma = torch.stack([size * s, 0.5 * size * s], dim=1)
        radius = max(1, math.ceil(3.0 * self._max_size * s))
        # Unnormalised taps (peak 1), so a splatted unit mass becomes a blob of height ≈ 1 at any
        # size; circular padding, so flakes wrap around the image like the shifted pattern does.
        field = separable_blur(torch.stack([near, far], dim=1), sigma, radius, "circular",
                               normalise=False).sum(1, keepdim=True)
        alpha = bright.view(b, 1, 1, 1) * (1 - torch.exp(-3.0 * field))
        v = veil.view(b, 1, 1, 1)
        xv = x + v * (self.veil_colour - x)
        return (xv + alpha * (1 - xv)).clamp_(0, 1)  # in place on a fresh sum


@register_model("rain")
class Rain(NuisanceModel):
    r"""Rain: thin bright streaks along a wind angle over a darkened, slightly veiled scene.

    δ = (amount, angle, intensity, darkening, shift_x, shift_y) with the uniform prior on
    Δ = [0, 1] × [−max_angle, max_angle] × [0.2, 1] × [0, max_darkening] × [0, 1] × [0, 1]
    (defaults ``max_angle = 30`` degrees from vertical, ``max_darkening = 0.5``).

    The pattern is ``n_streaks`` streak centres on the unit torus with switch-on thresholds
    :math:`u_i` and lengths :math:`L_i \in [0.5, 1.5]\cdot` ``streak_length`` (fractions of the
    image's shorter side), fixed by ``seed``. Streak i is drawn as evenly spaced point masses
    (at most one pixel apart) on the segment of length :math:`L_i` through
    :math:`c_i + \text{shift}` with direction :math:`(\sin θ, \cos θ)` (θ = angle, 0 = straight
    down, positive leans right at the bottom), tapered toward both ends and splatted bilinearly
    (so the field is differentiable in θ and the shift). With F the splatted field:

    .. math::

        w_i &= \mathrm{ramp}(\text{amount}, u_i)\\
        \alpha &= \text{intensity}\cdot\big(1 - e^{-2.5 F}\big)\\
        x_d &= (1 - \text{darkening})\, x + \text{darkening}\cdot 0.35\, \bar x\\
        G(x, δ) &= x_d + \alpha\,(\text{streak\_colour} - x_d)

    where :math:`\bar x` is the per-image mean (wet, overcast light is darker and flatter).
    ``amount = darkening = 0`` returns x exactly (:meth:`identity_delta`). Streaks are about one
    pixel wide at any resolution.

    Gray images (``gray_policy = "per-channel"``): streaks are achromatic; every channel gets
    the same α.

    Args:
        n_streaks: number of candidate streaks in the fixed pattern.
        seed: seed of the fixed pattern.
        streak_length: mean streak length as a fraction of the image's shorter side.
        max_angle: bound of |angle| in degrees.
        max_darkening: upper bound of ``darkening``.
        streak_colour: gray level of the streaks.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 6)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("rain")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> d = torch.tensor([[0.6, 15.0, 0.7, 0.2, 0.3, 0.5]]).repeat(2, 1)
        >>> y = G(x, d)
        >>> y.shape, torch.equal(y, G(x, d))
        (torch.Size([2, 3, 32, 32]), True)
    """

    delta_dim = 6
    delta_names = ("amount", "angle_deg", "intensity", "darkening", "shift_x", "shift_y")
    identity_point = (0.0, 0.0, 0.2, 0.0, 0.0, 0.0)  # amount = darkening = 0; any angle would do
    differentiable = True
    gray_policy = "per-channel"

    def __init__(self, n_streaks: int = 90, seed: int = 1702, streak_length: float = 0.2,
                 max_angle: float = 30.0, max_darkening: float = 0.5, streak_colour: float = 0.85) -> None:
        super().__init__()
        n_streaks = check_range("n_streaks", n_streaks, 1, integer=True, model=self)
        streak_length = check_range("streak_length", streak_length, 0, 1, open_low=True,
                                    why="a fraction of the image's shorter side", model=self)
        max_angle = check_range("max_angle", max_angle, 0, 90, why="degrees from vertical", model=self)
        max_darkening = check_range("max_darkening", max_darkening, 0, 1, why="a blend weight", model=self)
        streak_colour = check_range("streak_colour", streak_colour, 0, 1, why="a gray level", model=self)
        r = fixed_uniform(seed, n_streaks, 4)
        self.register_buffer("streak_pos", r[:, :2].contiguous(), persistent=False)
        self.register_buffer("streak_u", r[:, 2].contiguous(), persistent=False)
        self.register_buffer("streak_len", (streak_length * (0.5 + r[:, 3])).contiguous(), persistent=False)
        self.streak_colour = float(streak_colour)
        self._max_len = float(self.streak_len.max())  # fixes the tap count (no device sync per call)
        self.set_delta_box([0.0, -max_angle, 0.2, 0.0, 0.0, 0.0], [1.0, max_angle, 1.0, max_darkening, 1.0, 1.0])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        b, _, h, w = x.shape
        amount, angle, inten, dark = delta[:, 0], delta[:, 1], delta[:, 2], delta[:, 3]
        shift = delta[:, 4:6]
        s = min(h, w)
        length_px = self.streak_len.to(x) * s  # (N,)
        # Taps at most one pixel apart so a streak is a line, not a row of dots.
        n_taps = max(2, math.ceil(self._max_len * s) + 1)
        t = torch.linspace(-0.5, 0.5, n_taps, dtype=x.dtype, device=x.device)
        taper = 1 - (2 * t) ** 4
        spacing = length_px / (n_taps - 1)  # line density ≈ 1 per pixel of length
        theta = torch.deg2rad(angle)
        ux, uy = torch.sin(theta), torch.cos(theta)
        centre = torch.remainder(self.streak_pos.to(x).unsqueeze(0) + shift.unsqueeze(1), 1.0)
        cx = centre[..., 0] * w - 0.5  # (B, N)
        cy = centre[..., 1] * h - 0.5
        off = length_px.view(1, -1, 1) * t.view(1, 1, -1)  # (1, N, T)
        px = cx.unsqueeze(-1) + off * ux.view(b, 1, 1)
        py = cy.unsqueeze(-1) + off * uy.view(b, 1, 1)
        wts = soft_ramp(amount, self.streak_u.to(x), _RAMP_TAU)  # (B, N)
        tap_w = wts.unsqueeze(-1) * (spacing.view(1, -1, 1) * taper.view(1, 1, -1))
        field = splat_bilinear(px.reshape(b, -1), py.reshape(b, -1), tap_w.reshape(b, -1), h, w)
        alpha = inten.view(b, 1, 1, 1) * (1 - torch.exp(-2.5 * field.unsqueeze(1)))
        d = dark.view(b, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        xd = (1 - d) * x + d * 0.35 * mean
        return (xd + alpha * (self.streak_colour - xd)).clamp_(0, 1)
