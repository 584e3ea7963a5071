"""torchvision data sets (``tv:NAME``): MNIST, FashionMNIST, KMNIST, QMNIST, EMNIST, USPS, SVHN,
GTSRB, CIFAR10/100, converted once into an :class:`ImageDataset`.

Files are looked for under ``root`` in torchvision's own layout (e.g. ``root/MNIST/raw``); if
absent they are downloaded there unless ``download=False`` or ``NUISANCE_ZOO_OFFLINE=1``.
Offline, the error says where to put the files.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .dataset import ImageDataset
from .folder import read_images
from .paths import HOW_TO_POINT

__all__ = ["TORCHVISION_SETS", "load_torchvision", "default_torchvision_root"]

#: lower-case spec name → torchvision class name.
TORCHVISION_SETS: dict[str, str] = {
    "mnist": "MNIST", "fashionmnist": "FashionMNIST", "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST", "qmnist": "QMNIST", "emnist": "EMNIST", "usps": "USPS", "svhn": "SVHN",
    "gtsrb": "GTSRB", "cifar10": "CIFAR10", "cifar100": "CIFAR100",
}


def default_torchvision_root() -> Path:
    """Where ``tv:`` sets go when no root is given: ``$XDG_CACHE_HOME/nuisance_zoo/torchvision``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nuisance_zoo" / "torchvision"


def _construct(cls_name: str, root: Path, split: str, variant: str | None, download: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    train = split == "train"
    if cls_name == "EMNIST":
        return cls(str(root), split=variant or "letters", train=train, download=download)
    if cls_name == "QMNIST":
        return cls(str(root), what=variant or split, download=download)
    if cls_name in ("SVHN", "GTSRB"):
        return cls(str(root), split=split, download=download)
    if split not in ("train", "test"):
        raise ValueError(f"tv:{cls_name} has splits 'train' and 'test', got {split!r}.")
    return cls(str(root), train=train, download=download)


def _to_tensor_set(ds, cls_name: str, size: tuple[int, int] | None, channels: int | None):
    data = getattr(ds, "data", None)
    if data is not None and not isinstance(data, list):
        x = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
        if x.dtype != torch.uint8:
            raise TypeError(f"tv:{cls_name}: expected uint8 images, got {x.dtype}.")
        if cls_name == "EMNIST":
            # EMNIST's IDX files store each image transposed; torchvision keeps them so.
            x = x.transpose(-1, -2)
        if x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.permute(0, 3, 1, 2)  # CIFAR stores NHWC
        targets = getattr(ds, "targets", None)
        if targets is None:
            targets = getattr(ds, "labels")
        y = torch.as_tensor(np.asarray(targets)).to(torch.long)
        if y.ndim == 2:  # QMNIST keeps 8 columns of metadata; the class is the first
            y = y[:, 0]
        return x.contiguous(), y
    samples = getattr(ds, "_samples", None)
    if samples is not None:  # GTSRB: (path, label) pairs of variable-size images
        x = read_images([Path(p) for p, _ in samples], size=size, channels=channels)
        return x, torch.tensor([int(t) for _, t in samples], dtype=torch.long)
    raise TypeError(f"tv:{cls_name}: don't know how to read this torchvision data set's images.")


def load_torchvision(name: str, root: str | Path | None = None, split: str = "train",
                     variant: str | None = None, download: bool | None = None,
                     size: tuple[int, int] | None = None, channels: int | None = None) -> ImageDataset:
    """Load a torchvision data set as an :class:`ImageDataset` (uint8, channels first).

    Args:
        name: a key of :data:`TORCHVISION_SETS` (case-insensitive), e.g. ``"FashionMNIST"``.
        root: the torchvision root (default :func:`default_torchvision_root`).
        split: ``"train"`` or ``"test"`` (SVHN also ``"extra"``).
        variant: EMNIST's split (default ``"letters"``) or QMNIST's ``what``.
        download: try downloading when the files are missing (default: yes unless
            ``NUISANCE_ZOO_OFFLINE=1``).
        size: resize for sets with variable image sizes (GTSRB).
        channels: for sets read from image files.

    Raises:
        FileNotFoundError: files missing and not downloadable; says where it looked.
    """
    key = name.strip().lower()
    if key not in TORCHVISION_SETS:
        raise ValueError(f"unknown torchvision data set {name!r}; known: "
                         f"{', '.join(sorted(set(TORCHVISION_SETS.values())))}.")
    cls_name = TORCHVISION_SETS[key]
    root = Path(root).expanduser() if root is not None else default_torchvision_root()
    if download is None:
        download = os.environ.get("NUISANCE_ZOO_OFFLINE", "0").lower() not in ("1", "true", "yes")
    try:
        ds = _construct(cls_name, root, split, variant, download=False)
    except ModuleNotFoundError as err:  # SVHN's .mat reader needs scipy, not a dependency here
        raise ImportError(f"tv:{cls_name} needs the package {err.name!r}: pip install {err.name}") from None
    except (RuntimeError, FileNotFoundError) as missing:
        if not download:
            raise FileNotFoundError(
                f"tv:{cls_name} ({split}) not found under {root} ({missing}); downloading is off. Put "
                f"torchvision's files there (e.g. {root}/{cls_name}/raw for the MNIST family) or allow "
                f"download. " + HOW_TO_POINT) from None
        try:
            root.mkdir(parents=True, exist_ok=True)
            ds = _construct(cls_name, root, split, variant, download=True)
        except Exception as err:  # any network/IO failure: say what to do instead
            raise FileNotFoundError(
                f"tv:{cls_name} ({split}) is not under {root} and downloading it failed "
                f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else err!r}). "
                f"Download it on a machine with internet into that folder, or " + HOW_TO_POINT[0].lower()
                + HOW_TO_POINT[1:]) from None
    x, y = _to_tensor_set(ds, cls_name, size, channels)
    classes = list(getattr(ds, "classes", []) or []) or None
    if classes is not None and len(y) and len(classes) <= int(y.max()):
        classes = None  # a list shorter than the labels would mislabel; better none
    return ImageDataset(x, y, name=f"tv:{cls_name}:{split}", classes=classes)
