"""Class selection and relabelling, including GTSRB's "ten largest classes".

Section 6.1.3 of the paper classifies "the ten largest classes" of GTSRB. They are ranked by
the number of *training* images (2,250 down to 1,470), so a test split selects the same
classes as its training split.

Example:
    >>> import torch
    >>> from nuisance_zoo.data import ImageDataset, select_classes
    >>> ds = ImageDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.tensor([5, 7, 5, 9]))
    >>> sub = select_classes(ds, [7, 5])
    >>> sub.y.tolist(), sub.classes
    ([1, 0, 1], ['7', '5'])
"""
from __future__ import annotations

import re
from typing import Sequence

import torch

from .dataset import ImageDataset

__all__ = ["GTSRB_CLASSES_BY_SIZE", "GTSRB_LARGEST10", "select_labels", "select_classes",
           "largest_classes", "parse_label_list"]

#: All 43 GTSRB classes ordered by training-set size, largest first (ties by class id),
#: counted on the official training set (39,209 images).
GTSRB_CLASSES_BY_SIZE: tuple[int, ...] = (
    2, 1, 13, 12, 38, 10, 4, 5, 25, 9, 7, 3, 8, 11, 18, 35, 17, 14, 31, 33, 15, 26, 28, 23, 30,
    6, 16, 34, 22, 36, 20, 40, 21, 39, 24, 29, 27, 32, 41, 42, 0, 19, 37)

#: The paper's "ten largest classes" of GTSRB, relabelled 0..9 in this order.
GTSRB_LARGEST10: tuple[int, ...] = GTSRB_CLASSES_BY_SIZE[:10]


def parse_label_list(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4,7"`` → ``[0, 1, 2]`` / ``[0, 1, 2, 3, 4, 7]`` (order kept)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a > b:
                raise ValueError(f"label range {part!r} runs backwards; write {b}-{a}.")
            out.extend(range(a, b + 1))
        elif re.fullmatch(r"\d+", part):
            out.append(int(part))
        else:
            raise ValueError(f"cannot parse labels {text!r}: write integers and ranges like '0,1,2' or '0-4,7'.")
    if len(set(out)) != len(out):
        raise ValueError(f"labels {text!r} repeat a label.")
    return out


def _check_present(ds: ImageDataset, labels: Sequence[int]) -> None:
    present = set(ds.label_counts())
    missing = [lab for lab in labels if lab not in present]
    if missing:
        shown = sorted(present)
        shown_text = ", ".join(map(str, shown[:50])) + (" ..." if len(shown) > 50 else "")
        raise ValueError(f"label(s) {missing} do not occur in {ds.name!r}; its labels are "
                         f"{{{shown_text}}}.")


def select_labels(ds: ImageDataset, labels: Sequence[int]) -> ImageDataset:
    """Keep the images whose label is in ``labels``; labels keep their values.

    Raises:
        ValueError: a requested label does not occur in the data.
    """
    labels = [int(v) for v in labels]
    _check_present(ds, labels)
    return ds.subset(torch.isin(ds.y, torch.tensor(labels, dtype=torch.long)))


def select_classes(ds: ImageDataset, classes: Sequence[int]) -> ImageDataset:
    """Keep the images of ``classes`` and relabel ``classes[k]`` → ``k``.

    The new ``classes`` attribute names each new label after the old class (its name when
    known, else the old label as text).
    """
    classes = [int(v) for v in classes]
    _check_present(ds, classes)
    sub = select_labels(ds, classes)
    lut = torch.full((int(max(classes)) + 1,), -1, dtype=torch.long)
    lut[torch.tensor(classes)] = torch.arange(len(classes))
    old = ds.classes
    names = [old[c] if old is not None and c < len(old) else str(c) for c in classes]
    return sub.replace(y=lut[sub.y], classes=names)


def largest_classes(ds: ImageDataset, k: int, gtsrb: bool | None = None) -> list[int]:
    """The ``k`` largest classes, largest first.

    For GTSRB (``gtsrb=True``, or a dataset whose name mentions gtsrb) the fixed training-set
    ranking :data:`GTSRB_CLASSES_BY_SIZE` is used so that train and test agree; otherwise the
    classes are ranked by their count in ``ds`` itself (ties by label).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    if gtsrb is None:
        gtsrb = "gtsrb" in ds.name.lower()
    if gtsrb:
        if k > len(GTSRB_CLASSES_BY_SIZE):
            raise ValueError(f"GTSRB has {len(GTSRB_CLASSES_BY_SIZE)} classes, asked for the {k} largest.")
        return list(GTSRB_CLASSES_BY_SIZE[:k])
    counts = ds.label_counts()
    if k > len(counts):
        raise ValueError(f"{ds.name!r} has {len(counts)} classes, asked for the {k} largest.")
    return sorted(counts, key=lambda c: (-counts[c], c))[:k]
