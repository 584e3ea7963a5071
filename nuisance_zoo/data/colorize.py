"""Colourised MNIST-style data sets (paper Section 6.1.1, Appendix A.1 and D.2.1).

A gray digit on a black background becomes three channels; the background pixels (value at
most ``threshold`` in every channel; the paper's Algorithm 4 uses ``x <= 12``) are replaced by
a colour, and the stroke pixels keep their gray value in all three channels.

Modes (the ``colorize=`` spec option):

==================  ==================================================================
``gray``            three gray channels, background left black (domain A of "gray → RGB")
``gray-rgb``        a uniformly random RGB colour per image (domain B; alias ``random``)
``blue``, ``red``   one colour for all images; also ``green``, ``yellow``, ``cyan``,
                    ``magenta``, ``white``, or ``#rrggbb``
``blue0-4-red5-9``  a colour per label range (Appendix A.1.3); any list of
                    ``<colour><labels>`` joined by ``-``, e.g. ``red0-blue1-9`` (A.1.4)
==================  ==================================================================

Example:
    >>> import torch
    >>> from nuisance_zoo.data import ImageDataset, colorize
    >>> x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8); x[:, :, 1:3, 1:3] = 200
    >>> out = colorize(ImageDataset(x, torch.tensor([3, 7])), "blue0-4-red5-9")
    >>> out.x[0, :, 0, 0].tolist(), out.x[1, :, 0, 0].tolist(), out.x[1, :, 1, 1].tolist()
    ([0, 0, 255], [255, 0, 0], [200, 200, 200])
"""
from __future__ import annotations

import re

import torch
from torch import Tensor

from .dataset import ImageDataset

__all__ = ["COLOURS", "colorize", "colorize_images", "background_mask", "DEFAULT_THRESHOLD"]

#: Algorithm 4 of the paper replaces pixels with value ``<= 12`` (on 0..255).
DEFAULT_THRESHOLD = 12

#: Named colours accepted in modes.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "white": (255, 255, 255), "black": (0, 0, 0),
}

_RULE_RE = re.compile(r"(#[0-9a-f]{6}|[a-z]+)(\d+)(?:-(\d+))?")


def _colour(name: str) -> tuple[int, int, int]:
    if name.startswith("#"):
        return tuple(int(name[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    if name not in COLOURS:
        raise ValueError(f"unknown colour {name!r}; use one of {', '.join(COLOURS)} or #rrggbb.")
    return COLOURS[name]


def background_mask(x: Tensor, threshold: int = DEFAULT_THRESHOLD) -> Tensor:
    """``True`` where every channel of a uint8 pixel is ``<= threshold``.

    Shape:
        - Input: ``(N, C, H, W)`` uint8.
        - Output: ``(N, 1, H, W)`` bool.
    """
    return (x <= threshold).all(dim=1, keepdim=True)


def colorize_images(x: Tensor, colours: Tensor, threshold: int = DEFAULT_THRESHOLD) -> Tensor:
    """Replace background pixels of each image by its colour.

    Args:
        x: uint8 images, 1 or 3 channels.
        colours: uint8 ``(N, 3)`` RGB colour per image.
        threshold: background pixels are ``<= threshold`` in every channel.

    Shape:
        - Input: ``(N, 1 or 3, H, W)`` and ``(N, 3)``.
        - Output: ``(N, 3, H, W)`` uint8.
    """
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"colorize needs uint8 images (N, 1 or 3, H, W), got {x.dtype} {tuple(x.shape)}.")
    rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    return torch.where(background_mask(x, threshold), colours.to(torch.uint8)[:, :, None, None], rgb)


def _per_label_colours(y: Tensor, mode: str) -> Tensor:
    rules = _RULE_RE.findall(mode)
    if not rules or "-".join(f"{c}{a}" + (f"-{b}" if b else "") for c, a, b in rules) != mode:
        raise ValueError(_mode_error(mode))
    lut: dict[int, tuple[int, int, int]] = {}
    for name, a, b in rules:
        rgb = _colour(name)
        for label in range(int(a), int(b or a) + 1):
            lut[label] = rgb
    missing = sorted(set(y.tolist()) - set(lut))
    if missing:
        raise ValueError(f"colorize mode {mode!r} gives no colour to label(s) {missing}; cover every "
                         f"label (e.g. blue0-4-red5-9) or select labels first with labels=...")
    table = torch.zeros(max(lut) + 1, 3, dtype=torch.uint8)
    for label, rgb in lut.items():
        table[label] = torch.tensor(rgb, dtype=torch.uint8)
    return table[y]


def _mode_error(mode: str) -> str:
    return (f"unknown colorize mode {mode!r}; use gray, gray-rgb (random colours), a colour "
            f"({', '.join(COLOURS)}, #rrggbb), or per-label colours like blue0-4-red5-9.")


def colorize(ds: ImageDataset, mode: str, generator: torch.Generator | None = None,
             threshold: int = DEFAULT_THRESHOLD) -> ImageDataset:
    """Colourise a gray data set's background (see the module docstring for ``mode``).

    Args:
        ds: 1-channel (or gray 3-channel) uint8 images, digit bright on a dark background.
        mode: ``gray``, ``gray-rgb``/``random``, a colour, or per-label colours.
        generator: for ``gray-rgb``: the random colours, one per image, are drawn from it, so
            the same seed gives the same colours.
        threshold: background pixels are ``<= threshold`` (0..255) in every channel.

    Returns:
        A 3-channel data set; labels, classes and meta unchanged; ``meta["colour"]`` holds
        each image's background colour (N, 3).
    """
    key = mode.strip().lower()
    n = len(ds)
    if key == "gray":
        x = ds.x.expand(-1, 3, -1, -1).contiguous() if ds.channels == 1 else ds.x
        return ds.replace(x=x)
    if key in ("gray-rgb", "random", "rgb"):
        colours = torch.randint(0, 256, (n, 3), generator=generator, dtype=torch.int64).to(torch.uint8)
    elif key in COLOURS or re.fullmatch(r"#[0-9a-f]{6}", key):
        colours = torch.tensor(_colour(key), dtype=torch.uint8).expand(n, 3)
    elif _RULE_RE.match(key):
        colours = _per_label_colours(ds.y, key)
    else:
        raise ValueError(_mode_error(mode))
    meta = dict(ds.meta)
    meta["colour"] = colours.clone()
    return ds.replace(x=colorize_images(ds.x, colours, threshold), meta=meta)
