"""`ImageDataset`: a labelled image set held as one uint8 tensor.

Every loader in :mod:`nuisance_zoo.data` returns this class. Images stay uint8 in memory
(GTSRB's 39k training images are 120 MB this way, 480 MB as float32) and become float in
[0, 1] only per item or per batch, which is what the nuisance models and wrappers expect.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["ImageDataset", "concat_datasets"]


class ImageDataset(Dataset):
    """A labelled image set: uint8 images ``x`` (N, C, H, W) and int64 labels ``y`` (N,).

    Args:
        x: uint8 images, channels first. Use :meth:`from_numpy` for channels-last arrays.
        y: integer labels, one per image.
        name: a human-readable name (loaders put the spec string here).
        classes: class names, ``classes[k]`` names label ``k``; ``None`` when unknown.
        meta: extra per-image tensors (first dimension N), kept aligned by :meth:`subset`,
            e.g. GTSRB's ``track_id`` or CURE-TSR's ``challenge`` / ``level``.
        transform: optional callable applied to the float (C, H, W) image in ``__getitem__``.

    Shape:
        - ``x``: :math:`(N, C, H, W)`, uint8.
        - ``y``: :math:`(N,)`, int64.
        - ``dataset[i]``: ``(image (C, H, W) float32 in [0, 1], label int)``.

    Example:
        >>> import torch
        >>> ds = ImageDataset(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.arange(4))
        >>> img, label = ds[1]
        >>> img.shape, img.dtype, label
        (torch.Size([1, 8, 8]), torch.float32, 1)
        >>> len(ds.subset([0, 2]))
        2
    """

    def __init__(self, x: Tensor, y: Tensor | Sequence[int], name: str = "dataset",
                 classes: list[str] | None = None, meta: dict[str, Tensor] | None = None,
                 transform: Callable[[Tensor], Tensor] | None = None) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: x must be a torch.Tensor, got {type(x).__name__}. "
                            f"For numpy arrays use ImageDataset.from_numpy(x, y).")
        if x.dtype != torch.uint8:
            raise TypeError(f"{name}: x must be uint8 (0..255), got {x.dtype}. Convert float "
                            f"images in [0, 1] with (x * 255).round().to(torch.uint8).")
        if x.ndim != 4:
            raise ValueError(f"{name}: x must have shape (N, C, H, W), got {tuple(x.shape)}.")
        y = torch.as_tensor(y)
        if y.dtype.is_floating_point or y.dtype == torch.bool:
            raise TypeError(f"{name}: labels y must be integers, got {y.dtype}.")
        y = y.to(torch.int64).reshape(-1)
        if y.numel() != x.shape[0]:
            raise ValueError(f"{name}: {x.shape[0]} images but {y.numel()} labels.")
        self.x = x
        self.y = y
        self.name = name
        self.classes = list(classes) if classes is not None else None
        self.meta: dict[str, Tensor] = {}
        for key, value in (meta or {}).items():
            value = torch.as_tensor(value)
            if value.ndim == 0 or value.shape[0] != x.shape[0]:
                raise ValueError(f"{name}: meta[{key!r}] must have first dimension {x.shape[0]}, "
                                 f"got shape {tuple(value.shape)}.")
            self.meta[key] = value
        self.transform = transform

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_numpy(cls, x: np.ndarray, y: np.ndarray | Sequence[int], layout: str = "NHWC",
                   **kwargs) -> "ImageDataset":
        """Build from numpy arrays; ``layout`` is ``"NHWC"`` (the ``.npz`` layout), ``"NCHW"``
        or ``"NHW"`` (gray images without a channel axis)."""
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise TypeError(f"x must be uint8, got {x.dtype}.")
        layout = layout.upper()
        if layout == "NHW":
            if x.ndim != 3:
                raise ValueError(f"layout NHW needs a 3-d array, got shape {x.shape}.")
            t = torch.from_numpy(np.ascontiguousarray(x))[:, None]
        elif layout == "NHWC":
            if x.ndim != 4:
                raise ValueError(f"layout NHWC needs a 4-d array, got shape {x.shape}.")
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        elif layout == "NCHW":
            t = torch.from_numpy(np.ascontiguousarray(x))
        else:
            raise ValueError(f"layout must be 'NHWC', 'NCHW' or 'NHW', got {layout!r}.")
        return cls(t, torch.from_numpy(np.asarray(y).astype(np.int64)), **kwargs)

    # -- torch Dataset ------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        img = self.x[index].to(torch.float32).div_(255.0)
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.y[index])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, int]]:
        # DataLoader calls this with a whole batch of indices: one gather and one conversion
        # instead of a Python loop of tensor ops per image.
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        imgs = self.x[idx].to(torch.float32).div_(255.0)
        labels = self.y[idx].tolist()
        if self.transform is not None:
            return [(self.transform(i), lab) for i, lab in zip(imgs, labels)]
        return list(zip(imgs.unbind(0), labels))

    # -- views and conversions ----------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """``len(classes)`` when known, else ``max(y) + 1`` (0 for an empty set)."""
        if self.classes is not None:
            return len(self.classes)
        return int(self.y.max()) + 1 if len(self) else 0

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.x.shape[2]), int(self.x.shape[3])

    def to_float(self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        """All images as float in [0, 1], shape (N, C, H, W). Allocates N·C·H·W floats:
        for large sets iterate over batches instead (e.g. a ``DataLoader``)."""
        return self.x.to(device=device, dtype=dtype).div_(255.0)

    float = to_float  # torch-style spelling: ``ds.float()``

    def subset(self, indices: Sequence[int] | Tensor) -> "ImageDataset":
        """A new dataset with the images at ``indices`` (ints or a boolean mask), in that order."""
        idx = torch.as_tensor(indices)
        if idx.dtype == torch.bool:
            if idx.numel() != len(self):
                raise ValueError(f"{self.name}: boolean mask has {idx.numel()} entries for "
                                 f"{len(self)} images.")
            idx = idx.nonzero().reshape(-1)
        idx = idx.to(torch.long).reshape(-1)
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise IndexError(f"{self.name}: indices must lie in [0, {len(self)}), got "
                             f"{int(idx.min())}..{int(idx.max())}.")
        return self.replace(x=self.x[idx], y=self.y[idx],
                            meta={k: v[idx] for k, v in self.meta.items()})

    def replace(self, **changes) -> "ImageDataset":
        """A copy with some of ``x``, ``y``, ``name``, ``classes``, ``meta``, ``transform`` changed
        (tensors are shared, not copied)."""
        fields = dict(x=self.x, y=self.y, name=self.name, classes=self.classes, meta=self.meta,
                      transform=self.transform)
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"replace() got unknown fields {sorted(unknown)}; known: {sorted(fields)}.")
        fields.update(changes)
        return type(self)(**fields)

    def label_counts(self) -> dict[int, int]:
        """label → number of images."""
        labels, counts = torch.unique(self.y, return_counts=True)
        return {int(k): int(v) for k, v in zip(labels, counts)}

    def save_npz(self, path: str | Path, compressed: bool = True) -> Path:
        """Write ``x`` (uint8 NHWC), ``y`` and the meta arrays, the layout ``npz:`` specs read."""
        path = Path(path)
        arrays = {"x": self.x.permute(0, 2, 3, 1).numpy(), "y": self.y.numpy()}
        arrays.update({k: v.numpy() for k, v in self.meta.items() if k not in arrays})
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
        return path

    def __repr__(self) -> str:
        c, h, w = self.x.shape[1:] if self.x.ndim == 4 else (0, 0, 0)
        return (f"ImageDataset(name={self.name!r}, n={len(self)}, image=({c}, {h}, {w}), "
                f"classes={self.num_classes})")


def concat_datasets(datasets: Sequence[ImageDataset], name: str | None = None) -> ImageDataset:
    """Concatenate datasets with the same image shape; meta keys present in all are kept."""
    if not datasets:
        raise ValueError("concat_datasets needs at least one dataset.")
    shapes = {tuple(d.x.shape[1:]) for d in datasets}
    if len(shapes) > 1:
        raise ValueError(f"cannot concatenate images of different shapes {sorted(shapes)}; "
                         f"resize first (spec option size=H or size=HxW).")
    keys = set.intersection(*(set(d.meta) for d in datasets))
    first = datasets[0]
    return ImageDataset(torch.cat([d.x for d in datasets]), torch.cat([d.y for d in datasets]),
                        name=name or "+".join(d.name for d in datasets), classes=first.classes,
                        meta={k: torch.cat([d.meta[k] for d in datasets]) for k in sorted(keys)})
