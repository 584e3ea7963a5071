"""Small differentiable building blocks shared by the weather models (snow, rain, dirty lens).

Every pattern lives on the unit torus ``[0, 1)²`` (x right, y down) so that a per-sample shift
of δ wraps it around the image instead of pushing particles out of view, and so that the same
pattern renders at any image size. Lengths are in units of the image's shorter side, so a
flake covers the same fraction of a 28×28 digit and a 224×224 photo.

All functions are batched (no Python loop over samples), keep the dtype and device of their
inputs, and are differentiable in every float argument except the pixel grid itself.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fixed_uniform", "soft_ramp", "splat_bilinear", "torus_gauss_1d"]


def fixed_uniform(seed: int, *shape: int) -> Tensor:
    """Uniform [0, 1) float32 numbers from a private generator: the same on every machine."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.rand(*shape, generator=g, dtype=torch.float64).float()


def soft_ramp(amount: Tensor, thresholds: Tensor, tau: float) -> Tensor:
    """Weights in [0, 1] that switch particles on smoothly as ``amount`` passes their threshold.

    ``w = (σ((a − u)/τ) − σ(−u/τ)) / (1 − σ(−u/τ))``: a shifted sigmoid, so that ``amount = 0``
    gives exactly 0 (an exact identity) and ``amount = 1`` gives 1 for ``u ≤ 1 − 3τ``, while
    staying smooth in ``amount`` (MAT needs the gradient).

    Shape:
        - amount: ``(B,)``; thresholds: ``(N,)``.
        - Output: ``(B, N)``.
    """
    u = thresholds.to(amount.dtype).unsqueeze(0)
    base = torch.sigmoid(-u / tau)
    on = torch.sigmoid((amount.unsqueeze(1) - u) / tau)
    return ((on - base) / (1 - base)).clamp(min=0)


def splat_bilinear(px: Tensor, py: Tensor, weight: Tensor, height: int, width: int) -> Tensor:
    """Add point masses to a ``(B, H, W)`` grid with bilinear weights, wrapping at the borders.

    Coordinates are continuous pixel coordinates where pixel ``(i, j)`` has its centre at
    ``(x, y) = (j, i)``. Differentiable in ``px``, ``py`` (through the bilinear fractions) and
    ``weight``.

    Shape:
        - px, py, weight: ``(B, P)``.
        - Output: ``(B, H, W)``.
    """
    b = px.shape[0]
    x0 = torch.floor(px.detach())
    y0 = torch.floor(py.detach())
    fx, fy = px - x0, py - y0
    x0, y0 = x0.long(), y0.long()
    base = (torch.arange(b, device=px.device) * (height * width)).unsqueeze(1)
    idx, val = [], []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            ix = torch.remainder(x0 + dx, width)
            iy = torch.remainder(y0 + dy, height)
            idx.append(base + iy * width + ix)
            val.append(weight * wy * wx)
    out = torch.zeros(b * height * width, dtype=weight.dtype, device=weight.device)
    out = out.index_add(0, torch.cat(idx, 1).flatten(), torch.cat(val, 1).flatten())
    return out.view(b, height, width)


def torus_gauss_1d(centre_px: Tensor, sigma_px: Tensor, size: int) -> Tensor:
    """exp(−d²/2σ²) along one axis of ``size`` pixels, d the wrapped distance to the centre.

    Shape:
        - centre_px, sigma_px: ``(B, J)`` (pixel coordinates, centres at integers).
        - Output: ``(B, J, size)``.
    """
    t = torch.arange(size, device=centre_px.device, dtype=centre_px.dtype)
    d = torch.remainder(t - centre_px.unsqueeze(-1) + size / 2, size) - size / 2
    return torch.exp(-0.5 * (d / sigma_px.unsqueeze(-1)) ** 2)
