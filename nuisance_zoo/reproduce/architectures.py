"""Table 7's four CNNs (A–D), written in the paper's notation and built from it.

The paper (Section 7.4) lists them as::

    A  c32-3, c64-3, p2, d0.25, flat, fc128, d0.5, fc10
    B  c32-3, c64-3, p2, d0.25, flat, fc256, d0.5, fc64, fc10
    C  c32-3, c64-3, p2, c128-3, p2, d0.25, flat, fc128, d0.5, fc10     (the paper's CNN)
    D  c32-3, c64-3, p2, c128-3, p2, d0.25, flat, fc256, d0.5, fc64, fc10

``cN-3``: unpadded 3×3 convolution with N kernels and a ReLU; ``p2``: 2×2 max-pool; ``dP``:
dropout; ``fcN``: linear layer (ReLU after every hidden one; the last takes ``num_classes``).
C is layer for layer :class:`~nuisance_zoo.training.classifiers.PaperCNN`.

Example:
    >>> import torch
    >>> build_architecture("B", num_classes=10, in_chans=3, input_size=32)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "build_architecture", "build_classifier"]

#: Table 7's architectures in the paper's notation (the final fc is ``num_classes`` wide).
ARCHITECTURES = {
    "A": "c32-3, c64-3, p2, d0.25, flat, fc128, d0.5, fc10",
    "B": "c32-3, c64-3, p2, d0.25, flat, fc256, d0.5, fc64, fc10",
    "C": "c32-3, c64-3, p2, c128-3, p2, d0.25, flat, fc128, d0.5, fc10",
    "D": "c32-3, c64-3, p2, c128-3, p2, d0.25, flat, fc256, d0.5, fc64, fc10",
}


def build_architecture(name: str, num_classes: int = 10, in_chans: int = 3,
                       input_size: int | Sequence[int] = 32) -> nn.Sequential:
    """Build Table 7's architecture ``name`` (``"A"`` to ``"D"``).

    Args:
        name: a key of :data:`ARCHITECTURES`.
        num_classes: width of the last layer (the notation's ``fc10``).
        in_chans: input channels.
        input_size: ``H`` or ``(H, W)``.
    """
    if name.upper() not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; Table 7 lists {', '.join(ARCHITECTURES)}.")
    tokens = [t.strip() for t in ARCHITECTURES[name.upper()].split(",")]
    h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)[-2:]
    layers: list[nn.Module] = []
    channels, flat = in_chans, None
    fcs = [t for t in tokens if t.startswith("fc")]
    for t in tokens:
        if t.startswith("c"):
            out = int(t[1:].split("-")[0])
            layers += [nn.Conv2d(channels, out, 3), nn.ReLU(inplace=True)]
            channels = out
        elif t == "p2":
            layers.append(nn.MaxPool2d(2))
        elif t.startswith("d"):
            layers.append(nn.Dropout(float(t[1:])))
        elif t == "flat":
            layers.append(nn.Flatten())
            # The flatten size depends on the input size: one dummy pass finds it.
            with torch.no_grad():
                flat = nn.Sequential(*layers)(torch.zeros(1, in_chans, h, w)).shape[1]
            channels = flat
        elif t.startswith("fc"):
            last = t is fcs[-1]
            out = num_classes if last else int(t[2:])
            layers.append(nn.Linear(channels, out))
            if not last:
                layers.append(nn.ReLU(inplace=True))
            channels = out
    return nn.Sequential(*layers)


def build_classifier(name: str, num_classes: int, in_chans: int = 3,
                     input_size: int | Sequence[int] = 32) -> nn.Module | str:
    """``paper-cnn-a`` … ``paper-cnn-d`` → a module; any other name is returned for the trainer
    (``paper-cnn`` or a timm name), which builds it itself."""
    if name.lower().startswith("paper-cnn-"):
        return build_architecture(name[-1], num_classes, in_chans, input_size)
    return name
