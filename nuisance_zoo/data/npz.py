"""`.npz` data sets: explicit files and named sets under the data root.

A file holds ``x`` (uint8, N×H×W×C, or N×H×W for gray) and ``y`` (integers); other arrays
whose first dimension is N (GTSRB's ``track_id``, ``orig_size_roi``) become ``meta``. A named
set ``NAME`` lives in ``<root>/<name>/`` as ``<split>.npz`` or ``<split>_part0.npz``,
``<split>_part1.npz``, ... (concatenated in order), the layout of ``../shared/data``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .dataset import ImageDataset, concat_datasets
from .paths import HOW_TO_POINT

__all__ = ["load_npz", "named_set_files", "list_named_sets", "KNOWN_CLASS_NAMES"]

#: Class names for named sets that have short, unambiguous ones.
KNOWN_CLASS_NAMES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
}


def load_npz(paths: Sequence[str | Path] | str | Path, name: str | None = None,
             classes: list[str] | None = None) -> ImageDataset:
    """Load one or more ``.npz`` files (concatenated in order) into an :class:`ImageDataset`."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    parts = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"no .npz file at {p}. " + HOW_TO_POINT)
        with np.load(p, allow_pickle=False) as d:
            for key in ("x", "y"):
                if key not in d.files:
                    raise ValueError(f"{p} has no array {key!r} (arrays: {d.files}); a data file needs "
                                     f"x (uint8 N×H×W×C) and y (int labels).")
            x, y = d["x"], d["y"]
            if x.ndim == 3:
                x = x[..., None]
            if x.ndim != 4 or x.dtype != np.uint8:
                raise ValueError(f"{p}: x must be uint8 N×H×W×C, got {x.dtype} {x.shape}.")
            meta = {k: torch.from_numpy(np.ascontiguousarray(d[k])) for k in d.files
                    if k not in ("x", "y") and d[k].ndim >= 1 and d[k].shape[0] == x.shape[0]}
        parts.append(ImageDataset.from_numpy(x, y, layout="NHWC", name=str(p), classes=classes, meta=meta))
    if not parts:
        raise ValueError("load_npz needs at least one path.")
    ds = parts[0] if len(parts) == 1 else concat_datasets(parts)
    return ds.replace(name=name or ds.name)


def named_set_files(root: Path, set_name: str, split: str) -> list[Path]:
    """The files of named set ``set_name``'s ``split`` under ``root``.

    Raises:
        FileNotFoundError: the folder or the split is missing; the message lists what exists.
    """
    folder = root / set_name
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder} for data set {set_name!r}. " + HOW_TO_POINT)
    single = folder / f"{split}.npz"
    parts = sorted(folder.glob(f"{split}_part*.npz"),
                   key=lambda p: int(re.search(r"_part(\d+)\.npz$", p.name).group(1))  # type: ignore[union-attr]
                   if re.search(r"_part(\d+)\.npz$", p.name) else 0)
    if single.is_file():
        return [single]
    if parts:
        return parts
    splits = sorted({re.sub(r"_part\d+$", "", p.stem) for p in folder.glob("*.npz")})
    raise FileNotFoundError(f"no split {split!r} of {set_name!r} in {folder} (looked for {split}.npz and "
                            f"{split}_part*.npz); splits there: {splits or 'none'}. " + HOW_TO_POINT)


def list_named_sets(root: Path) -> list[str]:
    """Folders under ``root`` that hold ``.npz`` files."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.npz")))
