"""Image folders: one sub-folder per class, like ``torchvision.datasets.ImageFolder``.

``PATH/<class>/<image>`` with classes sorted by folder name and labelled 0..K-1. If ``PATH``
has ``train``/``test``/``val`` sub-folders, the requested split's folder is used.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .dataset import ImageDataset
from .paths import HOW_TO_POINT

__all__ = ["IMAGE_EXTENSIONS", "read_images", "load_image_folder", "SPLIT_NAMES"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp")
SPLIT_NAMES = ("train", "test", "val", "valid", "validation")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS


def read_images(paths: Sequence[Path], size: tuple[int, int] | None = None,
                channels: int | None = None) -> torch.Tensor:
    """Decode image files into one uint8 tensor (N, C, H, W).

    Args:
        paths: image files.
        size: ``(H, W)`` to resize every image to (PIL bilinear); required when sizes differ.
        channels: 1 or 3; by default 1 if every image is gray, else 3.

    Raises:
        ValueError: the images differ in size and ``size`` is not given.
    """
    arrays: list[np.ndarray] = []
    for p in paths:
        with Image.open(p) as im:
            gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
            want = channels if channels is not None else None
            mode = "L" if (want == 1 or (want is None and gray)) else "RGB"
            im = im.convert(mode)
            if size is not None and im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
        arrays.append(a[..., None] if a.ndim == 2 else a)
    if not arrays:
        return torch.zeros(0, channels or 3, *(size or (1, 1)), dtype=torch.uint8)
    if channels is None and len({a.shape[2] for a in arrays}) > 1:
        arrays = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in arrays]
    shapes = Counter(a.shape[:2] for a in arrays)
    if len(shapes) > 1:
        examples = []
        for shape, _ in shapes.most_common(4):
            i = next(i for i, a in enumerate(arrays) if a.shape[:2] == shape)
            examples.append(f"{shape[0]}x{shape[1]} ({shapes[shape]} images, e.g. {paths[i].name})")
        raise ValueError(f"images have different sizes: {'; '.join(examples)}{' ...' if len(shapes) > 4 else ''}. "
                         f"Add the spec option size=H (or size=HxW), e.g. '?size=32', or pass size=(H, W).")
    x = np.stack(arrays).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x))


def load_image_folder(path: str | Path, split: str | None = None, size: tuple[int, int] | None = None,
                      channels: int | None = None, name: str | None = None) -> ImageDataset:
    """Load ``path/<class>/<image files>`` into an :class:`ImageDataset`.

    Args:
        path: the folder of class folders, or a folder with ``train``/``test`` sub-folders.
        split: which split folder to use when ``path`` has split sub-folders.
        size: ``(H, W)`` to resize to (needed when image sizes differ).
        channels: 1 or 3 (default: 1 if all images are gray).
        name: the dataset name (default: the path).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist. " + HOW_TO_POINT)
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [p for p in subdirs if p.name.lower() in SPLIT_NAMES]
    if split_dirs:
        chosen = [p for p in split_dirs if p.name.lower() == (split or "train").lower()]
        if not chosen:
            raise FileNotFoundError(f"{root} has split folders {[p.name for p in split_dirs]} but no "
                                    f"{split!r}; choose one of them.")
        root = chosen[0]
        subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_dirs = [d for d in subdirs if any(_is_image(f) for f in d.iterdir())]
    if not class_dirs:
        raise FileNotFoundError(f"no class folders with images ({', '.join(IMAGE_EXTENSIONS)}) in {root}; "
                                f"expected {root}/<class name>/<image files>.")
    files: list[Path] = []
    labels: list[int] = []
    for k, d in enumerate(class_dirs):
        imgs = sorted(f for f in d.iterdir() if _is_image(f))
        files.extend(imgs)
        labels.extend([k] * len(imgs))
    x = read_images(files, size=size, channels=channels)
    return ImageDataset(x, torch.tensor(labels, dtype=torch.long), name=name or str(root),
                        classes=[d.name for d in class_dirs])
