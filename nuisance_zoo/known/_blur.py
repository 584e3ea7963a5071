"""The one separable Gaussian blur of the known models (``gaussian-blur``, the snow and rain
particle fields, the dirty lens's defocus).

A blur is two 1-D convolutions, rows then columns. Kernels are one per image plane when σ varies
per sample (one grouped convolution for the whole batch: no Python loop over samples) or one
for the batch when σ is a number. Taps are ``exp(-t² / (2σ² + eps))``: with ``eps > 0`` the
kernel is exactly the unit impulse at σ = 0 and differentiable there.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["gaussian_taps", "separable_blur"]


def gaussian_taps(sigma: Tensor, radius: int, normalise: bool = True, eps: float = 0.0) -> Tensor:
    """Gaussian taps ``exp(-t² / (2σ² + eps))`` for ``t = -radius..radius``, one row per σ.

    Args:
        sigma: standard deviations in pixels, any shape ``(...)``.
        radius: half-length of the kernels.
        normalise: make each row sum to 1 (a blur); otherwise the peak is 1 (a splat of
            unit point masses keeps a height of about 1 whatever its width).
        eps: added to 2σ² (see the module docstring).

    Shape:
        - Output: ``(..., 2·radius + 1)``.
    """
    t = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    k = torch.exp(-(t * t) / (2 * sigma.unsqueeze(-1) ** 2 + eps))
    return k / k.sum(-1, keepdim=True) if normalise else k


def separable_blur(x: Tensor, sigma: Tensor | float, radius: int, padding_mode: str = "reflect",
                   normalise: bool = True, eps: float = 0.0) -> Tensor:
    """Blur ``x`` with a separable Gaussian of σ pixels, per plane, per image or for the batch.

    The radius is cut to ``size - 1`` along an axis shorter than the kernel (reflect padding
    needs it), and an axis with radius 0 is left alone.

    Args:
        x: images ``(B, C, H, W)``.
        sigma: a number (one kernel for the batch), ``(B,)`` (one per image) or ``(B, C)``
            (one per plane), in pixels.
        radius: kernel half-length before the cut.
        padding_mode: ``F.pad``'s mode: ``"reflect"``, ``"replicate"`` or ``"circular"`` (the
            plane is a torus).
        normalise: see :func:`gaussian_taps`.
        eps: see :func:`gaussian_taps`.

    Shape:
        - Output: same as ``x``.
    """
    b, c, h, w = x.shape
    n = b * c
    if isinstance(sigma, Tensor) and sigma.ndim > 0:
        sig = sigma.reshape(b, -1).expand(b, c).reshape(n)  # one kernel per plane
    else:
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(1)
    # Always one depthwise convolution over the B·C planes, also for a shared kernel (repeated
    # per plane): on CPU that layout is ~8× faster than groups=C and ~60× faster than stacking
    # the planes along the batch with a one-channel kernel (256×3×32×32, 7 taps).
    planes, groups = x.reshape(1, n, h, w), n
    for dim, size in ((-1, w), (-2, h)):
        r = min(radius, size - 1)
        if r <= 0:
            continue
        taps = gaussian_taps(sig, r, normalise, eps).expand(n, 2 * r + 1).contiguous()
        if dim == -1:
            planes = F.pad(planes, (r, r, 0, 0), mode=padding_mode)
            weight = taps.view(groups, 1, 1, 2 * r + 1)
        else:
            planes = F.pad(planes, (0, 0, r, r), mode=padding_mode)
            weight = taps.view(groups, 1, 2 * r + 1, 1)
        planes = F.conv2d(planes, weight, groups=groups)
    return planes.reshape(b, c, h, w)
