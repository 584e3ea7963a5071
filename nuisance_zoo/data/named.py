"""Named data sets by name, the torchvision way: ``gtsrb``, ``mnist``, ``fashion-mnist``,
``kmnist``, ``emnist``, ``qmnist``, ``usps``, ``svhn``.

A named set's split is read from ``<root>/<folder>/<split>.npz`` (or ``<split>_part*.npz``)
under the first of :func:`~nuisance_zoo.data.paths.named_set_roots` that has it: the data root
(``root=`` / ``$NUISANCE_ZOO_DATA`` / ``../shared/data``), then the dataset cache. When none
has it, the split comes from ``torchvision.datasets`` (files under ``<cache>/torchvision``,
downloaded only when the caller allows it) and is converted once into
``<cache>/<folder>/<split>.npz`` (``x`` uint8 N×H×W×C, ``y`` int64, the layout of
``../shared/data``), so every later load reads that file without torchvision.

``<folder>`` is the set's name, except for EMNIST, whose variants are different data sets:
``emnist-<variant>`` (default ``emnist-letters``). QMNIST's ``variant`` (torchvision's ``what``:
``test10k``, ``test50k``, ``nist``) names the file instead of the split.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import ImageDataset
from .npz import load_npz, named_set_files
from .paths import HOW_TO_POINT, dataset_cache_dir, named_set_roots

__all__ = ["NamedSet", "NAMED_SETS", "NAMED_ALIASES", "canonical_name", "load_named_set", "DOWNLOAD_HINT"]

_DIGITS = [str(d) for d in range(10)]

#: How to ask for a download, named in every "not found" message.
DOWNLOAD_HINT = ("add ?download=1 to the spec (load_dataset(..., download=True) in Python, --download "
                 "on the command line)")


@dataclass(frozen=True)
class NamedSet:
    """One named set: its torchvision class, the splits that class has, the variant option
    (``None`` when it takes none), the image size GTSRB's variable-size images are resized to,
    and short class names (``None``: the labels are the names)."""

    torchvision: str
    splits: tuple[str, ...] = ("train", "test")
    default_variant: str | None = None
    size: tuple[int, int] | None = None
    classes: tuple[str, ...] | None = None


#: The named sets that fall back to torchvision, by spec name.
NAMED_SETS: dict[str, NamedSet] = {
    # 32×32 RGB like ../shared/data/gtsrb (whole frame resized, bilinear), so both sources match
    "gtsrb": NamedSet("GTSRB", size=(32, 32)),
    "mnist": NamedSet("MNIST", classes=tuple(_DIGITS)),
    "fashion-mnist": NamedSet("FashionMNIST", classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
    "kmnist": NamedSet("KMNIST", classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")),
    "emnist": NamedSet("EMNIST", default_variant="letters"),
    # "": takes a variant (torchvision's what=), but by default the split is the what
    "qmnist": NamedSet("QMNIST", splits=("train", "test"), default_variant="", classes=tuple(_DIGITS)),
    "usps": NamedSet("USPS", classes=tuple(_DIGITS)),
    "svhn": NamedSet("SVHN", splits=("train", "test", "extra"), classes=tuple(_DIGITS)),
}

#: Other spellings users type, → the spec name.
NAMED_ALIASES: dict[str, str] = {"fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
                                 "fmnist": "fashion-mnist"}


def canonical_name(name: str) -> str:
    """The spec name for ``name`` (lower case, aliases resolved); unknown names pass through."""
    key = name.strip().lower()
    return NAMED_ALIASES.get(key, key)


def _folder_and_file(name: str, split: str, variant: str | None) -> tuple[str, str]:
    info = NAMED_SETS[name]
    if name == "emnist":
        return f"emnist-{variant or info.default_variant}", split
    if name == "qmnist" and variant:
        return name, variant
    return name, split


def _find(folder: str, file: str, root: str | os.PathLike | None) -> list[Path] | None:
    """The files of ``folder/file`` under the first root of the search order that has them."""
    for r in named_set_roots(root):
        try:
            return named_set_files(r, folder, file)
        except FileNotFoundError:
            continue
    return None


def _write_npz(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Write atomically: a half-written cache file would otherwise be read as the data set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # uncompressed: the cache exists to load fast; the data set is already on disk raw
            np.savez(f, x=x, y=y)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_named_set(name: str, split: str = "train", root: str | os.PathLike | None = None,
                   variant: str | None = None, download: bool = False) -> ImageDataset:
    """Load a named set's split from the data root or the cache, else via torchvision.

    Args:
        name: a key of :data:`NAMED_SETS` or :data:`NAMED_ALIASES`, e.g. ``"fashion-mnist"``.
        split: ``"train"`` or ``"test"`` (SVHN also ``"extra"``).
        root: the data root to look in first (default: ``$NUISANCE_ZOO_DATA``, ``../shared/data``).
        variant: EMNIST's split (default ``letters``) or QMNIST's ``what``.
        download: let torchvision download the files into the cache when no copy exists
            (refused while ``NUISANCE_ZOO_OFFLINE=1``).

    Returns:
        The split as an :class:`ImageDataset`, read from a ``.npz`` file.

    Raises:
        FileNotFoundError: no copy and downloading is off (or failed); the message says where
            it looked, how to allow the download, and where to put files by hand.
        ValueError: an unknown split or a variant for a set that has none.

    Example:
        >>> ds = load_named_set("fashion-mnist", "test", download=True)  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        torch.Size([10000, 1, 28, 28])
    """
    name = canonical_name(name)
    info = NAMED_SETS[name]
    if variant and info.default_variant is None:
        raise ValueError(f"option variant= applies to emnist and qmnist, not to {name!r}.")
    folder, file = _folder_and_file(name, split, variant)
    classes = list(info.classes) if info.classes else None
    files = _find(folder, file, root)
    if files is not None:
        return load_npz(files, classes=classes)
    if split not in info.splits and not (name == "qmnist" and variant):
        raise ValueError(f"data set {name!r} has splits {', '.join(info.splits)}; got {split!r}.")
    from .tv import TorchvisionMissing, default_torchvision_root, torchvision_arrays

    cache = dataset_cache_dir()
    tv_root = default_torchvision_root()
    offline = os.environ.get("NUISANCE_ZOO_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        x, y = torchvision_arrays(info.torchvision, tv_root, split, variant, download=download and not offline,
                                  size=info.size)
    except TorchvisionMissing as err:
        looked = [str(r / folder) for r in named_set_roots(root)]
        if err.download_error is not None:
            how = (f"downloading it into {tv_root} failed ({err.download_error}). Download it on a machine "
                   f"with internet and copy {cache} here, or")
        elif download and offline:
            how = "downloading is off because NUISANCE_ZOO_OFFLINE=1. Unset it, or"
        else:
            how = f"downloading is off: to fetch it through torchvision, {DOWNLOAD_HINT}. Or"
        raise FileNotFoundError(
            f"data set {name!r} ({file}): no folder {looked[0]} with {file}.npz or {file}_part*.npz "
            f"(looked in {', '.join(looked)}) and no torchvision copy of it under {tv_root}; {how} put "
            f"{folder}/{file}.npz (x uint8 N×H×W×C, y int64) under a data root, or torchvision's files under "
            f"{tv_root}. " + HOW_TO_POINT) from None
    target = cache / folder / f"{file}.npz"
    _write_npz(target, x, y)
    # read back through the one .npz path, so the first load equals every later one
    return load_npz([target], classes=classes)
