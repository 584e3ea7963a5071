"""Whole-dataset image transforms that keep uint8: resizing and channel conversion."""
from __future__ import annotations

import re

import torch
from torch import Tensor

from .dataset import ImageDataset

__all__ = ["parse_size", "resize", "to_channels"]

_CHUNK = 2048


def parse_size(text: str | int | tuple[int, int]) -> tuple[int, int]:
    """``32`` / ``"32"`` → ``(32, 32)``; ``"32x48"`` → ``(32, 48)`` (height × width)."""
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, tuple):
        h, w = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*", str(text))
        if not m:
            raise ValueError(f"cannot parse size {text!r}; write size=32 or size=32x48 (height x width).")
        h = int(m.group(1))
        w = int(m.group(2) or h)
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {h}x{w}.")
    return int(h), int(w)


def resize(ds: ImageDataset, size: tuple[int, int] | int | str) -> ImageDataset:
    """Resize every image to ``size`` with antialiased bilinear interpolation, staying uint8.

    Aspect ratio is not kept (GTSRB's 32×32 files were made the same way).
    """
    h, w = parse_size(size)
    if ds.image_size == (h, w):
        return ds
    # torchvision is imported here, not at module level: it adds seconds to `import nuisance_zoo`.
    from torchvision.transforms.v2 import functional as TF

    parts = [TF.resize(ds.x[i:i + _CHUNK], [h, w], antialias=True) for i in range(0, len(ds), _CHUNK)]
    x = torch.cat(parts) if parts else ds.x.new_zeros((0, ds.channels, h, w))
    return ds.replace(x=x)


def to_channels(x: Tensor, channels: int) -> Tensor:
    """uint8 (N, C, H, W) → ``channels`` (1 or 3): gray is repeated, RGB becomes ITU-R 601 luma."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}.")
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    if c == 3:
        # rounded, not truncated (torchvision truncates: a gray 10 would come back as 9)
        w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
        parts = [(x[i:i + _CHUNK].to(torch.float32) * w).sum(1, keepdim=True).round_().clamp_(0, 255)
                 .to(torch.uint8) for i in range(0, x.shape[0], _CHUNK)]
        return torch.cat(parts) if parts else x[:, :1]
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels.")
