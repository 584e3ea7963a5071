"""Domain curation by pixel statistics: brightness, contrast and the paper's Table 11 presets.

Robey et al. (2020), Appendix D.2.2, define over all channels of an image with values 0..255

- brightness ``B(x)`` = the mean pixel value,
- contrast ``C(x)`` = the largest minus the smallest pixel value,

and curate low/medium/high domains of SVHN and GTSRB by thresholding them (Table 11). Bounds
are strict, as the paper writes them (``85 < B < 125``): on GTSRB's ten largest classes this
reproduces the counts in ``../shared/data/README.md`` exactly (train: B<40 → 4,261,
B>170 → 1,124, C<70 → 2,290, C>240 → 3,524).

Example:
    >>> import torch
    >>> from nuisance_zoo.data import ImageDataset, curate
    >>> x = torch.stack([torch.full((3, 4, 4), v, dtype=torch.uint8) for v in (10, 100, 200)])
    >>> ds = ImageDataset(x, torch.zeros(3, dtype=torch.long))
    >>> len(curate(ds, brightness=(None, 40))), len(curate(ds, brightness=(85, 125)))
    (1, 1)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from .dataset import ImageDataset

__all__ = ["brightness", "contrast", "Range", "parse_range", "curate", "PRESETS", "preset"]

# Statistics are computed in chunks: an int64 copy of all of GTSRB would be 1 GB.
_CHUNK = 4096


def _as_uint8_batch(x: Tensor | ImageDataset) -> Tensor:
    if isinstance(x, ImageDataset):
        return x.x
    if not isinstance(x, Tensor):
        raise TypeError(f"expected an ImageDataset or a tensor, got {type(x).__name__}.")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}.")
    return x


def _per_image(x: Tensor, fn) -> Tensor:
    return torch.cat([fn(x[i:i + _CHUNK]) for i in range(0, x.shape[0], _CHUNK)]) if x.shape[0] \
        else torch.zeros(0, dtype=torch.float64)


def brightness(x: Tensor | ImageDataset) -> Tensor:
    """``B(x)``: each image's mean pixel value over all channels, on the 0..255 scale.

    uint8 images are summed exactly in int64; float images are taken to be in [0, 1] and
    scaled by 255.

    Shape:
        - Input: ``(N, C, H, W)``, ``(C, H, W)`` or an :class:`ImageDataset`.
        - Output: ``(N,)`` float64.
    """
    x = _as_uint8_batch(x)
    n = x[0].numel() if x.shape[0] else 1
    if x.dtype == torch.uint8:
        return _per_image(x, lambda c: c.sum(dim=(1, 2, 3), dtype=torch.int64).to(torch.float64) / n)
    return _per_image(x, lambda c: c.to(torch.float64).mean(dim=(1, 2, 3)) * 255.0)


def contrast(x: Tensor | ImageDataset) -> Tensor:
    """``C(x)``: each image's largest minus smallest pixel value over all channels (0..255).

    Shape:
        - Input: ``(N, C, H, W)``, ``(C, H, W)`` or an :class:`ImageDataset`.
        - Output: ``(N,)`` float64.
    """
    x = _as_uint8_batch(x)
    scale = 1.0 if x.dtype == torch.uint8 else 255.0

    def fn(c: Tensor) -> Tensor:
        flat = c.reshape(c.shape[0], -1)
        return (flat.amax(1).to(torch.float64) - flat.amin(1).to(torch.float64)) * scale

    return _per_image(x, fn)


@dataclass(frozen=True)
class Range:
    """An interval of a statistic; ``None`` is unbounded. Bounds are strict unless closed."""

    lo: float | None = None
    hi: float | None = None
    lo_closed: bool = False
    hi_closed: bool = False

    def __post_init__(self) -> None:
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"empty range: lower bound {self.lo} exceeds upper bound {self.hi}.")

    @classmethod
    def coerce(cls, value: "Range | tuple | str") -> "Range":
        """Accept a :class:`Range`, a ``(lo, hi)`` tuple (strict; ``None`` = unbounded) or text
        for :func:`parse_range`."""
        if isinstance(value, Range):
            return value
        if isinstance(value, str):
            return parse_range(value)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(None if value[0] is None else float(value[0]),
                       None if value[1] is None else float(value[1]))
        raise TypeError(f"a range must be (lo, hi), a Range or text like '<40', '>170', '85-125'; "
                        f"got {value!r}.")

    def mask(self, values: Tensor) -> Tensor:
        keep = torch.ones_like(values, dtype=torch.bool)
        if self.lo is not None:
            keep &= values >= self.lo if self.lo_closed else values > self.lo
        if self.hi is not None:
            keep &= values <= self.hi if self.hi_closed else values < self.hi
        return keep

    def describe(self, stat: str = "v") -> str:
        """``"B < 40"``, ``"B > 170"``, ``"85 < B < 125"``."""
        lo_op, hi_op = ("<=" if self.lo_closed else "<"), ("<=" if self.hi_closed else "<")
        if self.lo is None and self.hi is None:
            return f"any {stat}"
        if self.lo is None:
            return f"{stat} {hi_op} {self.hi:g}"
        if self.hi is None:
            return f"{stat} {lo_op.replace('<', '>')} {self.lo:g}"
        return f"{self.lo:g} {lo_op} {stat} {hi_op} {self.hi:g}"


_NUM = r"[-+]?\d+(?:\.\d*)?"
_RANGE_RE = re.compile(rf"^\s*(?:(?P<op><=|>=|<|>)\s*(?P<v>{_NUM})|(?P<lo>{_NUM})\s*(?:-|\.\.)\s*(?P<hi>{_NUM}))\s*$")


def parse_range(text: str) -> Range:
    """Parse ``"<40"``, ``">170"``, ``"<=40"``, ``">=170"`` or ``"85-125"`` / ``"85..125"``
    (strict on both ends, as in Table 11) into a :class:`Range`."""
    m = _RANGE_RE.match(text)
    if not m:
        raise ValueError(f"cannot parse the range {text!r}; write '<40', '>170', '<=40', '>=170' "
                         f"or '85-125' (strict: 85 < value < 125).")
    if m.group("op"):
        v, op = float(m.group("v")), m.group("op")
        return Range(hi=v, hi_closed=op == "<=") if op.startswith("<") else Range(lo=v, lo_closed=op == ">=")
    return Range(float(m.group("lo")), float(m.group("hi")))


#: Table 11 of the paper: ``"<dataset>-<statistic>-<level>"`` → ``{statistic: Range}``.
PRESETS: dict[str, dict[str, Range]] = {
    "svhn-brightness-low": {"brightness": Range(hi=60)},
    "svhn-brightness-medium": {"brightness": Range(100, 150)},
    "svhn-brightness-high": {"brightness": Range(lo=160)},
    "svhn-contrast-low": {"contrast": Range(hi=70)},
    "svhn-contrast-medium": {"contrast": Range(80, 90)},
    "svhn-contrast-high": {"contrast": Range(lo=190)},
    "gtsrb-brightness-low": {"brightness": Range(hi=40)},
    "gtsrb-brightness-medium": {"brightness": Range(85, 125)},
    "gtsrb-brightness-high": {"brightness": Range(lo=170)},
    "gtsrb-contrast-low": {"contrast": Range(hi=70)},
    "gtsrb-contrast-medium": {"contrast": Range(150, 200)},
    "gtsrb-contrast-high": {"contrast": Range(lo=240)},
}


def preset(name: str) -> dict[str, Range]:
    """The thresholds of a Table 11 preset, e.g. ``preset("gtsrb-brightness-low")``."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}.")
    return dict(PRESETS[key])


_STATS = {"brightness": (brightness, "B"), "contrast": (contrast, "C")}


def curate(dataset: ImageDataset, brightness: Range | tuple | str | None = None,
           contrast: Range | tuple | str | None = None, allow_empty: bool = False) -> ImageDataset:
    """Keep the images whose brightness and contrast fall in the given ranges.

    Args:
        dataset: images to filter.
        brightness: ``(lo, hi)`` with strict bounds and ``None`` for unbounded (``(None, 40)``
            means B < 40), a :class:`Range`, or text such as ``"<40"``.
        contrast: the same for C(x).
        allow_empty: return an empty dataset instead of raising when nothing is selected.

    Returns:
        The selected subset, in the original order.

    Raises:
        ValueError: a range selects no image; the message says how many images lie below,
            inside and above it, and the statistic's observed range.

    Example:
        >>> # ds = load_dataset("gtsrb:train?classes=largest10")
        >>> # night = curate(ds, brightness=(None, 40))      # 4,261 images
    """
    out = dataset
    for stat, spec in (("brightness", brightness), ("contrast", contrast)):
        if spec is None:
            continue
        rng = Range.coerce(spec)
        fn, letter = _STATS[stat]
        values = fn(out)
        keep = rng.mask(values)
        if not bool(keep.any()) and not allow_empty:
            raise ValueError(_empty_message(out, stat, letter, rng, values))
        out = out.subset(keep)
    return out


def _empty_message(ds: ImageDataset, stat: str, letter: str, rng: Range, values: Tensor) -> str:
    n = values.numel()
    head = f"{stat} filter {rng.describe(letter)} selects no image of {ds.name!r} ({n} images"
    if n == 0:
        return head + "); an earlier filter already removed every image."
    parts = []
    if rng.lo is not None:
        below = int((~Range(lo=rng.lo, lo_closed=rng.lo_closed).mask(values)).sum())
        parts.append(f"{below} have {letter} {'<' if rng.lo_closed else '<='} {rng.lo:g}")
    if rng.hi is not None:
        above = int((~Range(hi=rng.hi, hi_closed=rng.hi_closed).mask(values)).sum())
        parts.append(f"{above} have {letter} {'>' if rng.hi_closed else '>='} {rng.hi:g}")
    return (head + f"; {', '.join(parts)}; observed {letter} from {float(values.min()):.4g} to "
            f"{float(values.max()):.4g}). Widen the thresholds or check the data.")
