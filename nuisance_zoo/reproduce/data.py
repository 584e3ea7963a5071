"""Data for the rows: the package's data specs, plus the rendered-letters set of Table 5's analogue.

``letters:train`` / ``letters:test`` render the 26 capital letters with PIL's FreeType font at a
random size, rotation, position and stroke width (28×28, white on black; 120 per class to train,
40 to test, seeds 1 and 2), exactly as ``benchmarks/zoo/reuse.py`` and docs/reuse.md do.
Options: ``colorize=MODE`` (as for MNIST) and ``per_class=N``. Every other spec goes to
:func:`nuisance_zoo.load_dataset`.

:func:`quick_spec` adds ``sample=N`` (a seeded random subset, taken before colourising or
synthesising, so a quick run stays cheap) to any spec.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

__all__ = ["load_domain", "quick_spec", "render_letters", "LETTERS_PER_CLASS"]

#: Letters per class in each split (docs/reuse.md's protocol).
LETTERS_PER_CLASS = {"train": 120, "test": 40}
_LETTERS_SEED = {"train": 1, "test": 2}


def quick_spec(spec: str, n: int) -> str:
    """``spec`` with ``sample=n`` added (an existing ``sample``/``limit`` is kept: it is smaller
    or deliberate). ``letters:`` specs get ``per_class`` instead."""
    head, _, query = spec.partition("?")
    opts = [o for o in query.split("&") if o]
    if head.startswith("letters"):
        if not any(o.startswith("per_class=") for o in opts):
            opts.append(f"per_class={max(1, n // 26)}")
    elif not any(o.startswith(("sample=", "limit=")) for o in opts):
        opts.insert(0, f"sample={n}")
    return head + ("?" + "&".join(opts) if opts else "")


def render_letters(per_class: int, seed: int):
    """26 classes of capital letters, white strokes on black, 28×28 uint8 (an ``ImageDataset``)."""
    from PIL import Image, ImageDraw, ImageFont

    from ..data import ImageDataset

    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label in range(26):
        ch = chr(ord("A") + label)
        for _ in range(per_class):
            font = ImageFont.load_default(size=int(rng.integers(16, 25)))
            im = Image.new("L", (56, 56))
            ImageDraw.Draw(im).text((28 + rng.normal(0, 2), 28 + rng.normal(0, 2)), ch, fill=255, font=font,
                                    anchor="mm", stroke_width=int(rng.integers(1, 3)), stroke_fill=255)
            im = im.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR).resize((28, 28), Image.BILINEAR)
            xs.append(np.asarray(im))
            ys.append(label)
    x = torch.from_numpy(np.stack(xs)).unsqueeze(1)
    return ImageDataset(x=x, y=torch.tensor(ys), name=f"letters(seed={seed})",
                        classes=[chr(65 + i) for i in range(26)])


def _letters(spec: str):
    from ..data import colorize

    head, _, query = spec.partition("?")
    split = head.partition(":")[2] or "train"
    if split not in LETTERS_PER_CLASS:
        raise ValueError(f"letters has splits train and test, got {split!r} in {spec!r}.")
    opts = dict(o.split("=", 1) for o in query.split("&") if o)
    unknown = set(opts) - {"colorize", "per_class"}
    if unknown:
        raise ValueError(f"letters: takes the options colorize and per_class, not {', '.join(sorted(unknown))}.")
    ds = render_letters(int(opts.get("per_class", LETTERS_PER_CLASS[split])), _LETTERS_SEED[split])
    if "colorize" in opts:
        ds = colorize(ds, opts["colorize"])
    ds.name = spec
    return ds


@lru_cache(maxsize=64)
def _load_one(spec: str, root: str | None):
    # Cached: a row evaluates the same test domains for every seed and column.
    if spec.startswith("letters:") or spec == "letters":
        return _letters(spec)
    from ..data import load_dataset

    return load_dataset(spec, root=root)


def load_domain(specs: str | Sequence[str], root: str | None = None):
    """One data set from one spec, or several specs concatenated (e.g. challenge levels 0 and 1)."""
    if isinstance(specs, str):
        return _load_one(specs, root)
    parts = [_load_one(s, root) for s in specs]
    if len(parts) == 1:
        return parts[0]
    from ..data import concat_datasets

    return concat_datasets(parts, name=" + ".join(specs))
