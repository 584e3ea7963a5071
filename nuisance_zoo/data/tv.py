"""torchvision data sets (``tv:NAME``): MNIST, FashionMNIST, KMNIST, QMNIST, EMNIST, USPS, SVHN,
GTSRB, CIFAR10/100, converted into an :class:`ImageDataset`.

Files are looked for under ``root`` in torchvision's own layout (e.g. ``root/MNIST/raw``),
by default ``<dataset cache>/torchvision``. They are downloaded there only when the caller asks
(``download=True``; ``?download=1`` in a spec; ``--download`` on the command line) and
``NUISANCE_ZOO_OFFLINE`` is not set; otherwise the error says how to ask and where to put the
files. The named sets (``fashion-mnist:test``, :mod:`.named`) use :func:`torchvision_arrays`
and keep a ``.npz`` copy, so prefer them; ``tv:`` reads torchvision's files on every load.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .dataset import ImageDataset
from .folder import read_images
from .paths import HOW_TO_POINT, dataset_cache_dir

__all__ = ["TORCHVISION_SETS", "load_torchvision", "default_torchvision_root", "torchvision_arrays",
           "TorchvisionMissing"]

#: lower-case spec name → torchvision class name.
TORCHVISION_SETS: dict[str, str] = {
    "mnist": "MNIST", "fashionmnist": "FashionMNIST", "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST", "qmnist": "QMNIST", "emnist": "EMNIST", "usps": "USPS", "svhn": "SVHN",
    "gtsrb": "GTSRB", "cifar10": "CIFAR10", "cifar100": "CIFAR100",
}


#: Sets whose files torchvision puts directly into its root; the cache gives each its own folder.
_FLAT = ("SVHN", "USPS")


class TorchvisionMissing(FileNotFoundError):
    """torchvision's files are absent (and were not, or could not be, downloaded).

    Attributes:
        download_error: why the download failed (one line), or ``None`` if none was tried.
    """

    def __init__(self, message: str, download_error: str | None = None) -> None:
        super().__init__(message)
        self.download_error = download_error


def default_torchvision_root() -> Path:
    """Where torchvision's files go when no root is given: ``<dataset cache>/torchvision``
    (see :func:`~nuisance_zoo.data.paths.dataset_cache_dir`)."""
    return dataset_cache_dir() / "torchvision"


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


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else repr(err)}"


def _open(cls_name: str, root: Path, split: str, variant: str | None, download: bool):
    """Construct torchvision's data set from local files, downloading them first if allowed.

    Raises:
        TorchvisionMissing: the files are absent and not downloaded (or the download failed).
    """
    try:
        return _construct(cls_name, root, split, variant, download=False)
    except ModuleNotFoundError as err:  # SVHN's .mat reader needs scipy, not a dependency here
        raise ImportError(f"tv:{cls_name} needs the package {err.name!r}: pip install {err.name}") from None
    except (RuntimeError, FileNotFoundError) as missing:
        if not download:
            raise TorchvisionMissing(_one_line(missing)) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        return _construct(cls_name, root, split, variant, download=True)
    except ModuleNotFoundError as err:  # SVHN: the download worked, reading the .mat needs scipy
        raise ImportError(f"tv:{cls_name} needs the package {err.name!r}: pip install {err.name}") from None
    except Exception as err:  # any network/IO failure: the caller says what to do instead
        raise TorchvisionMissing(_one_line(err), download_error=_one_line(err)) from None


def torchvision_arrays(cls_name: str, root: Path, split: str, variant: str | None = None,
                       download: bool = False, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision set's split as the ``.npz`` layout's arrays.

    Args:
        cls_name: the torchvision class, e.g. ``"FashionMNIST"``.
        root: torchvision's root folder (files in its own layout, e.g. ``root/FashionMNIST/raw``;
            SVHN's and USPS's files, which torchvision keeps directly in its root, in
            ``root/SVHN`` and ``root/USPS`` so that they do not mix).
        split: ``"train"``, ``"test"`` (SVHN also ``"extra"``).
        variant: EMNIST's split or QMNIST's ``what``.
        download: let torchvision download missing files into ``root``.
        size: ``(H, W)`` for sets of variable-size images (GTSRB).

    Returns:
        ``x`` uint8 N×H×W×C and ``y`` int64 N.

    Raises:
        TorchvisionMissing: the files are absent and not downloaded, or the download failed.
    """
    if cls_name in _FLAT:
        root = root / cls_name
    ds = _open(cls_name, root, split, variant, download)
    # GTSRB's frames are RGB files; fix the channels so one odd file cannot change the layout
    x, y = _to_tensor_set(ds, cls_name, size, 3 if cls_name == "GTSRB" else None)
    return x.permute(0, 2, 3, 1).contiguous().numpy(), y.numpy().astype(np.int64)


def load_torchvision(name: str, root: str | Path | None = None, split: str = "train",
                     variant: str | None = None, download: bool | None = None,
                     size: tuple[int, int] | None = None, channels: int | None = None) -> ImageDataset:
    """Load a torchvision data set as an :class:`ImageDataset` (uint8, channels first).

    Args:
        name: a key of :data:`TORCHVISION_SETS` (case-insensitive), e.g. ``"FashionMNIST"``.
        root: the torchvision root (default :func:`default_torchvision_root`).
        split: ``"train"`` or ``"test"`` (SVHN also ``"extra"``).
        variant: EMNIST's split (default ``"letters"``) or QMNIST's ``what``.
        download: download missing files (default no; never while ``NUISANCE_ZOO_OFFLINE=1``).
        size: resize for sets with variable image sizes (GTSRB).
        channels: for sets read from image files.

    Raises:
        FileNotFoundError: files missing and not downloadable; says where it looked, how to
            allow the download and where to put the files.
    """
    key = name.strip().lower()
    if key not in TORCHVISION_SETS:
        raise ValueError(f"unknown torchvision data set {name!r}; known: "
                         f"{', '.join(sorted(set(TORCHVISION_SETS.values())))}.")
    cls_name = TORCHVISION_SETS[key]
    root = Path(root).expanduser() if root is not None else default_torchvision_root()
    offline = os.environ.get("NUISANCE_ZOO_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        ds = _open(cls_name, root, split, variant, download=bool(download) and not offline)
    except TorchvisionMissing as err:
        if err.download_error is not None:
            raise FileNotFoundError(
                f"tv:{cls_name} ({split}) is not under {root} and downloading it failed ({err.download_error}). "
                f"Download it on a machine with internet into that folder, or " + HOW_TO_POINT[0].lower()
                + HOW_TO_POINT[1:]) from None
        why = ("NUISANCE_ZOO_OFFLINE=1 forbids it" if download and offline
               else "add ?download=1 to the spec (download=True in Python, --download on the command line) "
                    "to fetch it")
        raise FileNotFoundError(
            f"tv:{cls_name} ({split}) not found under {root} ({err}); downloading is off: {why}. Or put "
            f"torchvision's files there (e.g. {root}/{cls_name}/raw for the MNIST family). " + HOW_TO_POINT) from None
    x, y = _to_tensor_set(ds, cls_name, size, channels)
    classes = list(getattr(ds, "classes", []) or []) or None
    if classes is not None and len(y) and len(classes) <= int(y.max()):
        classes = None  # a list shorter than the labels would mislabel; better none
    return ImageDataset(x, y, name=f"tv:{cls_name}:{split}", classes=classes)
