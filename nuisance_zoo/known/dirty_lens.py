"""Dirt on the lens: soft, out-of-focus brown and gray smudges over a slightly blurred image."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._blur import separable_blur
from ._checks import check_range
from ._colour_ops import colour_luminance
from ._weather_ops import fixed_uniform, torus_gauss_1d

__all__ = ["DirtyLens"]

# Smudge colours (RGB): dried mud, dust, soot. Each cluster takes one, slightly jittered.
_PALETTE = ((0.36, 0.26, 0.16), (0.45, 0.38, 0.28), (0.18, 0.15, 0.12))
# Blending toward the blob colour where F is tiny needs a well-defined colour: mix in a little
# of the mean palette colour with this weight (in units of F).
_EPS = 1e-3


@register_model("dirty-lens")
class DirtyLens(NuisanceModel):
    r"""Dirty lens: a few clusters of soft brown/gray smudges, opacity and size set by δ.

    δ = (opacity, blob_size, blur, shift_x, shift_y) with the uniform prior on
    Δ = [0, 1] × [0.5, max_blob_size] × [0, 1] × [0, 1] × [0, 1] (default ``max_blob_size = 2``).

    The fixed pattern (``seed``) is ``n_clusters`` clusters of 4 Gaussian blobs each: centre
    :math:`c_j` on the unit torus, base radius :math:`r_j \in [0.035, 0.09]` (fraction of the
    image's shorter side S), density :math:`a_j \in [0.8, 2.5]` and a colour :math:`k_j` from a
    palette of mud, dust and soot. With :math:`g_j(p) = \exp(-\lVert p - c_j - \text{shift}\rVert^2
    / 2 (\text{blob\_size}\cdot r_j S)^2)` (distances wrap around the image):

    .. math::

        F &= \textstyle\sum_j a_j g_j, \qquad
        k(p) = \big(\textstyle\sum_j a_j g_j k_j + ε \bar k\big) / (F + ε)\\
        \alpha &= \text{opacity}\cdot\big(1 - e^{-F}\big)\\
        x_b &= (1 - \text{blur})\, x + \text{blur}\cdot \mathrm{GaussianBlur}_{σ = 0.025 S + 0.3\,px}(x)\\
        G(x, δ) &= (1 - \alpha)\, x_b + \alpha\, k(p)

    ``opacity = blur = 0`` returns x exactly (:meth:`identity_delta`). The Gaussians are
    separable, so the cost is O(B · blobs · (H + W) + B · H · W · blobs) without a B×blobs×H×W
    intermediate.

    Gray images (``gray_policy = "luminance"``): the smudge colours are replaced by their
    luminance (0.299 R + 0.587 G + 0.114 B); other channel counts are refused (the base class
    enforces the policy).

    Args:
        n_clusters: number of smudge clusters.
        seed: seed of the fixed pattern.
        max_blob_size: upper bound of ``blob_size`` (a multiplier of the base radii).

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 5)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("dirty-lens")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> d = torch.tensor([[0.8, 1.2, 0.5, 0.0, 0.0], [0.8, 1.2, 0.5, 0.5, 0.5]])
        >>> y = G(x, d)                       # same dirt, shifted by half the image
        >>> y.shape
        torch.Size([2, 3, 32, 32])
    """

    delta_dim = 5
    delta_names = ("opacity", "blob_size", "blur", "shift_x", "shift_y")
    identity_point = (0.0, 1.0, 0.0, 0.0, 0.0)  # opacity = blur = 0; size 1 is the neutral multiplier
    differentiable = True
    gray_policy = "luminance"

    def __init__(self, n_clusters: int = 10, seed: int = 1703, max_blob_size: float = 2.0) -> None:
        super().__init__()
        n_clusters = check_range("n_clusters", n_clusters, 1, integer=True, model=self)
        max_blob_size = check_range("max_blob_size", max_blob_size, 0.5, 5, open_low=True,
                                    why="a multiplier of the base radii", model=self)
        per = 4
        r = fixed_uniform(seed, n_clusters, per, 7)
        centre = r[:, :1, :2]                                   # cluster centre
        jitter = (r[:, :, 2:4] - 0.5) * 0.12                    # blobs spread around it
        pos = torch.remainder(centre + jitter, 1.0).reshape(-1, 2)
        radius = (0.035 + 0.055 * r[:, :, 4]).reshape(-1)
        density = (0.8 + 1.7 * r[:, :, 5]).reshape(-1)
        palette = torch.tensor(_PALETTE)
        which = (r[:, 0, 6] * len(_PALETTE)).long().clamp(max=len(_PALETTE) - 1)
        colour = palette[which].unsqueeze(1) * (0.85 + 0.3 * r[:, :, 6:7])  # (K, per, 3)
        colour = colour.clamp(0, 1).reshape(-1, 3)
        self.register_buffer("blob_pos", pos.contiguous(), persistent=False)
        self.register_buffer("blob_radius", radius.contiguous(), persistent=False)
        self.register_buffer("blob_density", density.contiguous(), persistent=False)
        self.register_buffer("blob_colour", colour.contiguous(), persistent=False)
        self.set_delta_box([0.0, 0.5, 0.0, 0.0, 0.0], [1.0, max_blob_size, 1.0, 1.0, 1.0])

    def _colours(self, c: int, like: Tensor) -> Tensor:
        col = self.blob_colour.to(like)
        return col if c == 3 else colour_luminance(col)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        b, c, h, w = x.shape
        opacity, size, blur = delta[:, 0], delta[:, 1], delta[:, 2]
        shift = delta[:, 3:5]
        s = min(h, w)
        pos = self.blob_pos.to(x).unsqueeze(0) + shift.unsqueeze(1)  # (B, J, 2)
        sigma = size.unsqueeze(1) * self.blob_radius.to(x).unsqueeze(0) * s  # (B, J)
        gx = torus_gauss_1d(pos[..., 0] * w - 0.5, sigma, w)  # (B, J, W)
        gy = torus_gauss_1d(pos[..., 1] * h - 0.5, sigma, h)  # (B, J, H)
        gy = gy * self.blob_density.to(x).view(1, -1, 1)
        col = self._colours(c, x)  # (J, C)
        # Field and tint in one batched matmul over the blobs: a column of ones next to the
        # colours gives the field. (Two einsums did the same with large internal copies, ~3×
        # slower on CPU.)
        weights = torch.cat([col, torch.ones_like(col[:, :1])], dim=1).T  # (C + 1, J)
        rows = gy.unsqueeze(1) * weights.view(1, c + 1, -1, 1)  # (B, C + 1, J, H)
        both = rows.transpose(-1, -2) @ gx.unsqueeze(1)  # (B, C + 1, H, W)
        tint, field = both[:, :c], both[:, c:]
        mean_col = col.mean(0).view(1, c, 1, 1)
        colour = (tint + _EPS * mean_col) / (field + _EPS)
        alpha = opacity.view(b, 1, 1, 1) * (1 - torch.exp(-field))
        bl = blur.view(b, 1, 1, 1)
        sigma = 0.025 * s + 0.3
        xb = x + bl * (separable_blur(x, sigma, max(1, math.ceil(2.5 * sigma))) - x)
        return ((1 - alpha) * xb + alpha * colour).clamp_(0, 1)  # in place on a fresh sum
