"""Mask-based colour models: background colour (the paper's Algorithm 4), background texture,
foreground (stroke) colour.

All three split an image into dark background and bright foreground by a threshold on pixel
value, then repaint one part with a colour (or a smooth colour field) given by δ. They suit
digit-like data (MNIST: white strokes on black) and any image with a dark backdrop.

Δ is in [0, 1] units: the paper's ``Δ = [0, 255]^3`` divided by 255, like the images.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._checks import check_choice, check_range
from ._colour_ops import box, colour_luminance, luminance

__all__ = ["BackgroundColor", "BackgroundTexture", "ForegroundColor"]

_SOURCE = "nuisance-zoo (analytic; Robey et al. 2020, Algorithm 4)"
_LICENSE = "Apache-2.0"
_MASKS = ("pixel", "channel")
_UNIT = "a pixel value: uint8 value / 255"


def _hat_weights(n: int, g: int, like: Tensor) -> Tensor:
    """``(n, g)`` linear-interpolation weights from ``g`` evenly spaced control points (the first
    and last on the end pixels) to ``n`` pixels; equal to ``F.interpolate(..., mode="bilinear",
    align_corners=True)`` along one axis."""
    pos = torch.linspace(0.0, g - 1.0, n, device=like.device, dtype=like.dtype)
    knots = torch.arange(g, device=like.device, dtype=like.dtype)
    return (1.0 - (pos[:, None] - knots[None, :]).abs()).clamp_min(0.0)


class _BackgroundFill(NuisanceModel):
    """Shared threshold mask and fill for the background models."""

    gray_policy = "luminance"
    differentiable = True

    def __init__(self, threshold: float, softness: float, mask: str) -> None:
        super().__init__()
        self.threshold = check_range("threshold", threshold, 0, 1, why=_UNIT, model=self)
        self.softness = check_range("softness", softness, 0, why="0 is the paper's hard mask", model=self)
        self.mask = check_choice("mask", mask, _MASKS, model=self)

    def fill(self, x: Tensor, field: Tensor) -> Tensor:
        """Replace the background of ``x`` by ``field`` ((B, 3, h, w), broadcast or full-size, RGB)."""
        if x.shape[1] == 1:
            field = luminance(field)
        # "pixel": a pixel is background when all its channels are dark (max ≤ t), so colour
        # images never get a half-replaced pixel; "channel": Algorithm 4 literally, per value.
        v = x if self.mask == "channel" else x.amax(dim=1, keepdim=True)
        if self.softness == 0.0:
            return torch.where(v <= self.threshold, field, x)
        weight = torch.sigmoid((self.threshold - v) / self.softness)
        return torch.lerp(x, field.expand_as(x), weight)


@register_model("background-color", source=_SOURCE, license=_LICENSE)
class BackgroundColor(_BackgroundFill):
    r"""Background colour (Algorithm 4 of Robey et al., 2020): paint dark pixels one colour.

    ``G(x, δ) = where(v(x) ≤ t, c, x)`` with ``c = δ = (r, g, b)`` broadcast over the image,
    ``t`` the threshold and ``v(x)`` the pixel's largest channel value (``mask="pixel"``,
    default) or each value itself (``mask="channel"``, the paper's literal element-wise
    ``where``; the two agree on gray images stacked to RGB, such as the paper's MNIST).

    Δ: ``[0, 1]^3`` by default (the paper's ``[0, 255]^3`` divided by 255; ``low``/``high``
    narrow it), prior uniform on the box. The threshold defaults to the paper's 12 of 255.

    With ``softness = s > 0`` the hard mask becomes ``w = sigmoid((t − v) / s)`` and
    ``G = (1 − w) x + w c``: every pixel then moves a little, but the mask is differentiable
    in x too.

    Gray (C=1): the output keeps one channel, so the background gets the colour's luminance
    ``0.299 r + 0.587 g + 0.114 b`` (``gray_policy = "luminance"``); stack gray images to RGB
    first (``x.expand(-1, 3, -1, -1)``) for coloured backgrounds, as the paper does.
    Differentiable in δ everywhere (∂G/∂c is the mask); in x almost everywhere (the hard mask
    is piecewise constant). No δ leaves every image unchanged, so ``identity_delta`` is None.

    Args:
        threshold: background threshold t in [0, 1]; pixels with ``v ≤ t`` are repainted.
        softness: 0 for the hard mask, else the sigmoid's temperature (in pixel-value units).
        mask: ``"pixel"`` or ``"channel"`` (see above).
        low: lower bound of r, g, b (one value or three).
        high: upper bound of r, g, b (one value or three).

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 3)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("background-color")
        >>> x = torch.zeros(1, 3, 2, 2); x[..., 0, 0] = 1.0        # one white pixel on black
        >>> y = G(x, torch.tensor([[0.0, 0.0, 1.0]]))               # blue background
        >>> y[0, :, 0, 0].tolist(), y[0, :, 1, 1].tolist()
        ([1.0, 1.0, 1.0], [0.0, 0.0, 1.0])
    """

    delta_dim = 3
    delta_names = ("r", "g", "b")

    def __init__(self, threshold: float = 12 / 255, softness: float = 0.0, mask: str = "pixel",
                 low: float | Sequence[float] = 0.0, high: float | Sequence[float] = 1.0) -> None:
        super().__init__(threshold, softness, mask)
        self.set_delta_box(box(low, 3, "low"), box(high, 3, "high"))

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        return self.fill(x, delta.view(-1, 3, 1, 1))


@register_model("background-texture", source=_SOURCE, license=_LICENSE)
class BackgroundTexture(_BackgroundFill):
    r"""Background texture: paint dark pixels with a smooth colour field given by δ.

    The field is a ``grid × grid`` lattice of RGB control colours spread evenly over the image
    (corners included) and bilinearly interpolated to ``H × W`` (as
    ``F.interpolate(..., mode="bilinear", align_corners=True)`` would); the default ``grid = 2``
    is a gradient between four corner colours. The mask is that of ``background-color``:
    ``G(x, δ) = where(v(x) ≤ t, field(δ), x)``. The field is a fixed linear function of δ, so the
    same δ always gives the same image (no hidden randomness), and bilinear weights keep it in
    [0, 1].

    Δ: ``[0, 1]^(3·grid²)`` (default 12 coordinates), prior uniform on the box. δ is laid out
    row-major over the lattice with RGB innermost: ``δ.view(B, grid, grid, 3)``; names
    ``c{row}{col}_{r|g|b}`` (``c00`` top-left, ``c01`` top-right, ``c10`` bottom-left, ...).

    Gray (C=1): the field's luminance fills the background (``gray_policy = "luminance"``).
    Differentiable in δ everywhere and in x almost everywhere (hard mask; see ``softness``).
    ``identity_delta`` is None.

    Args:
        grid: control points per side (≥ 2 for a varying field; 1 is a single colour).
        threshold: background threshold t in [0, 1].
        softness: 0 for the hard mask, else the sigmoid's temperature.
        mask: ``"pixel"`` (max over channels ≤ t) or ``"channel"`` (each value).
        low: lower bound of every colour component.
        high: upper bound of every colour component.

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 3·grid²)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("background-texture")
        >>> corners = torch.tensor([[1., 0, 0,  0, 1, 0,  0, 0, 1,  1, 1, 1]])  # R G / B W
        >>> y = G(torch.zeros(1, 3, 3, 3), corners)
        >>> y[0, :, 0, 0].tolist(), y[0, :, 2, 2].tolist(), y[0, :, 1, 1].tolist()
        ([1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    """

    def __init__(self, grid: int = 2, threshold: float = 12 / 255, softness: float = 0.0,
                 mask: str = "pixel", low: float = 0.0, high: float = 1.0) -> None:
        super().__init__(threshold, softness, mask)
        self.grid = check_range("grid", grid, 1, integer=True, why="control points per side", model=self)
        # Per-instance: Δ's size depends on the lattice.
        self.delta_dim = 3 * grid * grid
        self.delta_names = tuple(f"c{i}{j}_{ch}" for i in range(grid) for j in range(grid) for ch in "rgb")
        self.set_delta_box([float(low)] * self.delta_dim, [float(high)] * self.delta_dim)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        g = self.grid
        control = delta.view(-1, g, g, 3).permute(0, 3, 1, 2).contiguous()
        if g == 1:
            return self.fill(x, control)
        h, w = x.shape[-2:]
        # Bilinear interpolation is separable: rows then columns as two small matmuls, which
        # is an order of magnitude faster than F.interpolate on CPU for a 2×2 lattice. (With TF32
        # matmuls enabled on a GPU the field is rounded to ~1e-3, harmless for a texture.)
        field = _hat_weights(h, g, x) @ control @ _hat_weights(w, g, x).T
        return self.fill(x, field)


@register_model("foreground-color", source=_SOURCE, license=_LICENSE)
class ForegroundColor(NuisanceModel):
    r"""Foreground (stroke) colour: recolour the bright strokes of gray or white-on-black images.

    With ``v`` the pixel's largest channel value (its HSV value), ``c = δ = (r, g, b)``,
    threshold ``t`` and ramp width ``ρ``:

    ``w = clamp((v − t) / ρ, 0, 1)``,  ``G(x, δ) = (1 − w) · x + w · v · c``.

    Foreground pixels (``v ≥ t + ρ``) become the colour scaled by their brightness, so a white
    stroke becomes exactly ``c`` and its anti-aliased edges fade smoothly to black; background
    pixels (``v ≤ t``) are untouched; the ramp in between avoids a seam. A convex combination
    of values in [0, 1], so no clamp is needed.

    Δ: ``[0, 1]^3`` by default (``low``/``high`` narrow it), prior uniform on the box.

    Gray (C=1): the colour acts through its luminance, ``v · Y(c)``
    (``gray_policy = "luminance"``). On gray images stacked to RGB, ``c = (1, 1, 1)`` leaves them
    unchanged, but no δ does so for colour images, so ``identity_delta`` is None.
    Differentiable in δ everywhere and in x almost everywhere (kinks at the ramp's ends and where
    two channels tie for the maximum).

    Args:
        threshold: t in [0, 1]; pixels with ``v ≤ t`` keep their value.
        ramp: ρ > 0, the width of the blend from background to foreground.
        low: lower bound of r, g, b (one value or three).
        high: upper bound of r, g, b (one value or three).

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 3)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("foreground-color")
        >>> x = torch.zeros(1, 3, 1, 2); x[..., 1] = 1.0           # black | white
        >>> G(x, torch.tensor([[1.0, 0.0, 0.0]]))[0, :, 0].tolist() # -> black | red
        [[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    """

    delta_dim = 3
    delta_names = ("r", "g", "b")
    differentiable = True
    gray_policy = "luminance"

    def __init__(self, threshold: float = 12 / 255, ramp: float = 0.1,
                 low: float | Sequence[float] = 0.0, high: float | Sequence[float] = 1.0) -> None:
        super().__init__()
        self.threshold = check_range("threshold", threshold, 0, 1, why=_UNIT, model=self)
        self.ramp = check_range("ramp", ramp, 0, open_low=True, why="a width in pixel values", model=self)
        self.set_delta_box(box(low, 3, "low"), box(high, 3, "high"))

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        if x.shape[1] == 1:
            v, colour = x, colour_luminance(delta).view(-1, 1, 1, 1)
        else:
            v, colour = x.amax(dim=1, keepdim=True), delta.view(-1, 3, 1, 1)
        weight = ((v - self.threshold) / self.ramp).clamp(0.0, 1.0)
        return torch.lerp(x, (v * colour).expand_as(x), weight)
