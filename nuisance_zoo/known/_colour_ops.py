"""Small helpers shared by the colour family (:mod:`.colour` and :mod:`.background`).

Luminance is Rec. 601 luma, ``Y = 0.299 R + 0.587 G + 0.114 B`` (what kornia and PIL call
grayscale), computed on the [0, 1] values as given (no gamma decoding). The weights are Python
floats, so no constant tensor has to follow the model across devices or dtypes.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

__all__ = ["LUMA", "luminance", "colour_luminance", "per_image", "box"]

#: Rec. 601 luma weights (R, G, B).
LUMA = (0.299, 0.587, 0.114)


def luminance(x: Tensor) -> Tensor:
    """Rec. 601 luma of an RGB batch, keeping a channel axis.

    Shape:
        - Input: ``(B, 3, H, W)`` (any number of leading batch rows).
        - Output: ``(B, 1, H, W)``.
    """
    # One new (B, 1, H, W) tensor, accumulated in place, instead of five temporaries.
    return torch.mul(x[:, 0:1], LUMA[0]).add_(x[:, 1:2], alpha=LUMA[1]).add_(x[:, 2:3], alpha=LUMA[2])


def colour_luminance(colour: Tensor) -> Tensor:
    """Rec. 601 luma of colours given as rows ``(..., 3)``; returns ``(..., 1)``."""
    return LUMA[0] * colour[..., 0:1] + LUMA[1] * colour[..., 1:2] + LUMA[2] * colour[..., 2:3]


def per_image(delta: Tensor, col: int = 0) -> Tensor:
    """Column ``col`` of ``delta`` (B, q) shaped ``(B, 1, 1, 1)`` to broadcast over images."""
    return delta[:, col].view(-1, 1, 1, 1)


def box(value: float | Sequence[float], n: int, name: str) -> list[float]:
    """Expand a scalar bound to ``n`` coordinates, or check that a sequence has ``n``."""
    if isinstance(value, (int, float)):
        return [float(value)] * n
    out = [float(v) for v in value]
    if len(out) != n:
        raise ValueError(f"{name} needs one value or {n} values, got {len(out)}: {out}.")
    return out
