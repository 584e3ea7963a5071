"""The MNIST sample bundled with the package, so that demos and tests run on a fresh machine.

``nuisance_zoo/assets/mnist_sample.npz``: 6,000 training images (the first 600 of each digit
in the official order) and 1,000 test images (the first 100 of each digit), with their
indices into the official splits; built by ``tools/make_mnist_sample.py``. MNIST: Y. LeCun,
C. Cortes, C. J. C. Burges, CC BY-SA 3.0 (see ``assets/MNIST_LICENSE.md``).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .dataset import ImageDataset

__all__ = ["sample_mnist", "MNIST_SAMPLE_PATH"]

#: Location of the bundled archive.
MNIST_SAMPLE_PATH = Path(str(resources.files("nuisance_zoo") / "assets" / "mnist_sample.npz"))


def sample_mnist(split: str = "train") -> ImageDataset:
    """The bundled MNIST sample: ``split="train"`` (6,000 images) or ``"test"`` (1,000).

    Returns:
        1×28×28 uint8 images, labels 0..9, ``meta["index"]`` = index in the official split.

    Example:
        >>> ds = sample_mnist("test")
        >>> len(ds), ds.x.shape[1:]
        (1000, torch.Size([1, 28, 28]))
    """
    if split not in ("train", "test"):
        raise ValueError(f"the MNIST sample has splits 'train' and 'test', got {split!r}.")
    if not MNIST_SAMPLE_PATH.is_file():
        raise FileNotFoundError(f"bundled MNIST sample missing at {MNIST_SAMPLE_PATH}; reinstall the package "
                                f"or rebuild it with tools/make_mnist_sample.py.")
    with np.load(MNIST_SAMPLE_PATH, allow_pickle=False) as d:
        x, y, idx = d[f"x_{split}"], d[f"y_{split}"], d[f"index_{split}"]
    return ImageDataset.from_numpy(x, y, layout="NHWC", name=f"mnist-sample:{split}",
                                   classes=[str(k) for k in range(10)],
                                   meta={"index": torch.from_numpy(idx.astype(np.int64))})
