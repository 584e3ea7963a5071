"""Small differentiable building blocks shared by the weather models (snow, rain, dirty lens).

Every pattern lives on the unit torus ``[0, 1)²`` (x right, y down) so that a per-sample shift
of δ wraps it around the image instead of pushing particles out of view, and so that the same
pattern renders at any image size. Lengths are in units of the image's shorter side, so a
flake covers the same fraction of a 28×28 digit and a 224×224 photo.

All functions are batched (no Python loop over samples), keep the dtype and device of their
inputs, and are differentiable in every float argument except the pixel grid itself.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["fixed_uniform", "soft_ramp", "splat_bilinear", "blur_per_sample", "blur_fixed",
           "torus_gauss_1d"]


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


def _gauss_taps(sigma: Tensor, radius: int, normalise: bool) -> Tensor:
    """``(..., 2r+1)`` Gaussian taps exp(−t²/2σ²); unnormalised taps keep a peak of 1."""
    t = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    k = torch.exp(-0.5 * (t / sigma.unsqueeze(-1)) ** 2)
    return k / k.sum(-1, keepdim=True) if normalise else k


def blur_per_sample(field: Tensor, sigma_px: Tensor, radius: int, normalise: bool = False) -> Tensor:
    """Separable Gaussian blur with one σ per (sample, channel), on the torus (circular padding).

    One grouped convolution per axis, so a batch of different σ costs one call. With
    ``normalise=False`` the taps are exp(−t²/2σ²) (peak 1), so a unit point mass becomes a
    blob of height ≈ 1 whatever its size.

    Shape:
        - field: ``(B, L, H, W)``; sigma_px: ``(B, L)`` in pixels.
        - Output: ``(B, L, H, W)``.
    """
    b, l, h, w = field.shape
    rx, ry = min(radius, w - 1), min(radius, h - 1)
    sig = sigma_px.reshape(b * l)
    kx = _gauss_taps(sig, rx, normalise).view(b * l, 1, 1, 2 * rx + 1)
    ky = _gauss_taps(sig, ry, normalise).view(b * l, 1, 2 * ry + 1, 1)
    f = field.reshape(1, b * l, h, w)
    f = F.conv2d(F.pad(f, (rx, rx, 0, 0), mode="circular"), kx, groups=b * l)
    f = F.conv2d(F.pad(f, (0, 0, ry, ry), mode="circular"), ky, groups=b * l)
    return f.view(b, l, h, w)


def blur_fixed(x: Tensor, sigma_px: float) -> Tensor:
    """Normalised separable Gaussian blur with one fixed σ (reflect padding), any channel count.

    Shape:
        - x: ``(B, C, H, W)``.
        - Output: same.
    """
    b, c, h, w = x.shape
    radius = max(1, math.ceil(2.5 * sigma_px))
    rx, ry = min(radius, w - 1), min(radius, h - 1)
    sig = torch.tensor(sigma_px, dtype=x.dtype, device=x.device)
    kx = _gauss_taps(sig, rx, True).view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = _gauss_taps(sig, ry, True).view(1, 1, -1, 1).expand(c, 1, -1, 1)
    if rx > 0:
        x = F.conv2d(F.pad(x, (rx, rx, 0, 0), mode="reflect"), kx, groups=c)
    if ry > 0:
        x = F.conv2d(F.pad(x, (0, 0, ry, ry), mode="reflect"), ky, groups=c)
    return x


def torus_gauss_1d(centre_px: Tensor, sigma_px: Tensor, size: int) -> Tensor:
    """exp(−d²/2σ²) along one axis of ``size`` pixels, d the wrapped distance to the centre.

    Shape:
        - centre_px, sigma_px: ``(B, J)`` (pixel coordinates, centres at integers).
        - Output: ``(B, J, size)``.
    """
    t = torch.arange(size, device=centre_px.device, dtype=centre_px.dtype)
    d = torch.remainder(t - centre_px.unsqueeze(-1) + size / 2, size) - size / 2
    return torch.exp(-0.5 * (d / sigma_px.unsqueeze(-1)) ** 2)
