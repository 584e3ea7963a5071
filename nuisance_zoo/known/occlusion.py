"""Occlusion known models: ``erasing`` (the paper's Algorithm 5) and ``erasing-soft``.

Algorithm 5 of Robey et al. (2020) erases one rectangle: with δ = (x, y, h, w) in pixels,
``max_size = max(H, W)/2``, ``y_h = Π_[0, min(H - y, max_size)](h)``,
``x_w = Π_[0, min(W - x, max_size)](w)`` and ``x[:, y : y + y_h, x : x + x_w] = 0``.

Here δ holds *fractions* of the image size instead of pixel indices, so one Δ = [0, 1]^4 serves
every image size. The mapping to Algorithm 5 (H, W the image's height and width) is

* ``x = min(floor(δ_x · W), W - 1)``, ``y = min(floor(δ_y · H), H - 1)``: Algorithm 5's
  ``[W] × [H]`` corner, reached uniformly when δ_x, δ_y are uniform on [0, 1];
* ``h = floor(δ_h · H)``, ``w = floor(δ_w · W)``; the paper's Δ lists ``h ∈ [W]``,
  ``w ∈ [H]``, which on its square images is the same thing: here the height scales with H
  and the width with W;
* ``max_size = floor(max(H, W) / 2)`` (an integer, so slices stay whole pixels).

As in Algorithm 5, a uniform δ_h (δ_w) above ``max_size / H`` is clipped to the maximum size,
so about half the prior mass gives maximal rectangles on square images. A 1e-4-pixel tolerance
inside each floor makes δ = k/W land on pixel k despite float rounding.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._checks import check_range

__all__ = ["Erasing", "SoftErasing", "CHALLENGES"]

#: CURE-TSR has no occlusion challenge, so nothing here maps to a challenge level.
CHALLENGES: list = []

_PAPER = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020 (Algorithm 5)"
# Pixel tolerance in the floors: float32 k/W·W may come out a hair below k.
_FLOOR_TOL = 1e-4


def _fill_values(fill: float | Sequence[float], model) -> tuple[float, ...]:
    vals = (fill,) if isinstance(fill, (int, float)) else fill
    if isinstance(vals, str) or not hasattr(vals, "__len__") or len(vals) == 0:
        raise ValueError(f"{type(model).__name__}: fill must be a number in [0, 1] or one per channel, got {fill!r}.")
    return tuple(check_range("fill", v, 0, 1, why="one value, or one per channel", model=model) for v in vals)


class _EraseBase(NuisanceModel):
    """Shared Δ, fill handling and identity for the two erasing models."""

    delta_dim = 4
    delta_names = ("x", "y", "h", "w")
    identity_point = (0.0,) * 4  # h = w = 0 erases nothing, in both variants exactly
    prior = "uniform"
    gray_policy = "per-channel"

    def __init__(self, fill: float | Sequence[float] = 0.0) -> None:
        super().__init__()
        self.fill = _fill_values(fill, self)
        self.set_delta_box([0.0] * 4, [1.0] * 4)

    def _fill_tensor(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        if len(self.fill) not in (1, c):
            raise ValueError(
                f"{type(self).__name__} has {len(self.fill)} fill values but the image has "
                f"{c} channels; pass one value, or one per channel (fill=[...] of length {c})."
            )
        return torch.tensor(self.fill, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)

    @staticmethod
    def _clip_size(size: Tensor, start: Tensor, extent: int, max_size: int) -> Tensor:
        """Algorithm 5's Π_[0, min(extent - start, max_size)], written to be safe outside Δ."""
        upper = torch.clamp(extent - start, max=float(max_size))
        return torch.clamp(torch.minimum(size, upper), min=0.0)


@register_model("erasing", paper=_PAPER)
class Erasing(_EraseBase):
    r"""Erase one axis-aligned rectangle (the paper's Algorithm 5), with δ in image fractions.

    δ = (x, y, h, w) ∈ Δ = [0, 1]^4, uniform prior: corner column/row and height/width as
    fractions of W/H (mapping to Algorithm 5's pixel δ in the module docstring). With
    ``max_size = floor(max(H, W)/2)``, ``y_h = clip(h_px, 0, min(H - y_px, max_size))`` and
    ``x_w = clip(w_px, 0, min(W - x_px, max_size))``:
    ``G(x, δ)[:, i, j] = fill`` if ``y_px <= i < y_px + y_h`` and ``x_px <= j < x_px + x_w``,
    else ``x[:, i, j]``. δ with h = 0 or w = 0 is the identity.

    The rectangle's edges move in whole pixels, so ∂G/∂δ is zero almost everywhere and
    undefined at the jumps: ``differentiable = False`` (MRT and MDA work; for MAT use
    ``erasing-soft``). G is linear, hence differentiable, in x.
    Gray inputs: the rectangle is erased in every channel (``gray_policy = "per-channel"``).

    Args:
        fill: value written into the rectangle, in [0, 1]: one number (default 0, the paper's
            black rectangle) or one per channel.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 4)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("erasing")
        >>> x = torch.ones(1, 3, 8, 8)
        >>> y = G(x, torch.tensor([[0.25, 0.5, 0.25, 0.5]]))   # rows 4..5, columns 2..5
        >>> int((y[0, 0] == 0).sum())
        8
    """

    differentiable = False

    def rectangle_mask(self, delta: Tensor, height: int, width: int) -> Tensor:
        """The erased set as a 0/1 mask of shape ``(B, 1, H, W)`` in ``delta``'s dtype."""
        max_size = max(height, width) // 2
        dx, dy, dh, dw = delta.unbind(dim=-1)
        x0 = torch.clamp(torch.floor(dx * width + _FLOOR_TOL), 0, width - 1)
        y0 = torch.clamp(torch.floor(dy * height + _FLOOR_TOL), 0, height - 1)
        yh = self._clip_size(torch.floor(dh * height + _FLOOR_TOL), y0, height, max_size)
        xw = self._clip_size(torch.floor(dw * width + _FLOOR_TOL), x0, width, max_size)
        rows = torch.arange(height, device=delta.device, dtype=delta.dtype)
        cols = torch.arange(width, device=delta.device, dtype=delta.dtype)
        in_rows = (rows >= y0[:, None]) & (rows < (y0 + yh)[:, None])  # (B, H)
        in_cols = (cols >= x0[:, None]) & (cols < (x0 + xw)[:, None])  # (B, W)
        return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1).to(delta.dtype)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        fill = self._fill_tensor(x)
        mask = self.rectangle_mask(delta.detach(), x.shape[-2], x.shape[-1]).bool()
        return torch.where(mask, fill.expand_as(x), x)


@register_model("erasing-soft", paper=_PAPER)
class SoftErasing(_EraseBase):
    r"""Algorithm 5's rectangle with smooth edges, differentiable in δ and x.

    δ = (x, y, h, w) ∈ Δ = [0, 1]^4 as for ``erasing``, but kept continuous: in pixels
    ``x0 = δ_x W``, ``y0 = δ_y H``, ``y_h = clip(δ_h H, 0, min(H - y0, max_size))``,
    ``x_w = clip(δ_w W, 0, min(W - x0, max_size))``, ``max_size = floor(max(H, W)/2)``. With
    pixel centres ``c_i = i + 1/2`` and ``s = sharpness`` (1/pixel) the soft mask is

    ``m_i = σ(s (c_i - y0)) - σ(s (c_i - y0 - y_h))`` (rows), ``n_j`` likewise (columns),
    ``G(x, δ) = x (1 - m_i n_j) + fill · m_i n_j``.

    Each factor is the probability that a logistic variable of scale 1/s centred at the pixel
    lies inside the edge interval, so ``m`` is in [0, 1), is exactly 0 when ``y_h = 0`` (δ with
    h = 0 or w = 0 is the identity), and tends to the indicator of ``y0 < c_i < y0 + y_h`` as
    ``s → ∞``: for pixel-aligned δ (δ·size integer) that is exactly ``erasing``'s rectangle.
    (Off the pixel grid, ``erasing`` floors the corner and the size, this model does not.)
    Differentiable in δ (almost everywhere: the clips have kinks) and in x.
    Gray inputs: the same mask in every channel (``gray_policy = "per-channel"``).

    Args:
        sharpness: edge steepness in 1/pixel (> 0; default 4: a pixel centre half a pixel
            inside an edge is erased at 88%, 1.5 pixels inside at 99.8%).
        fill: value in [0, 1] written into the rectangle: one number (default 0) or one per
            channel.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 4)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("erasing-soft", sharpness=50.0)
        >>> x = torch.ones(1, 3, 8, 8)
        >>> y = G(x, torch.tensor([[0.25, 0.5, 0.25, 0.5]]))
        >>> round(float((1 - y[0, 0]).sum()), 3)                 # 2 rows × 4 columns erased
        8.0
    """

    differentiable = True

    def __init__(self, sharpness: float = 4.0, fill: float | Sequence[float] = 0.0) -> None:
        super().__init__(fill=fill)
        self.sharpness = check_range("sharpness", sharpness, 0, open_low=True, why="1/pixel", model=self)

    def rectangle_mask(self, delta: Tensor, height: int, width: int) -> Tensor:
        """The soft erased set, values in [0, 1), shape ``(B, 1, H, W)``."""
        max_size = max(height, width) // 2
        dx, dy, dh, dw = delta.unbind(dim=-1)
        x0, y0 = dx * width, dy * height
        yh = self._clip_size(dh * height, y0, height, max_size)
        xw = self._clip_size(dw * width, x0, width, max_size)
        s = self.sharpness
        rc = torch.arange(height, device=delta.device, dtype=delta.dtype) + 0.5
        cc = torch.arange(width, device=delta.device, dtype=delta.dtype) + 0.5
        a = rc - y0[:, None]
        m = torch.sigmoid(s * a) - torch.sigmoid(s * (a - yh[:, None]))  # (B, H)
        b = cc - x0[:, None]
        n = torch.sigmoid(s * b) - torch.sigmoid(s * (b - xw[:, None]))  # (B, W)
        return (m[:, :, None] * n[:, None, :]).unsqueeze(1)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        fill = self._fill_tensor(x)
        mask = self.rectangle_mask(delta, x.shape[-2], x.shape[-1])
        return x + mask * (fill - x)
