"""Small fake data sets the data tests build on disk: .npz roots, image folders, CURE-TSR
folders and torchvision's raw IDX files."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def const_images(values, c: int = 3, h: int = 4, w: int = 4) -> np.ndarray:
    """N×H×W×C uint8 images, image i filled with values[i]."""
    return np.stack([np.full((h, w, c), v, dtype=np.uint8) for v in values])


def write_npz(path: Path, x: np.ndarray, y, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, y=np.asarray(y, dtype=np.int64), **extra)
    return path


def fake_root(tmp_path: Path) -> Path:
    """A data root with a 'toy' set: train in two parts (labels 0..3), test in one file.

    train: 8 images; image i has value 10 + 20*i in every pixel and label i % 4,
    part0 = images 0..4, part1 = images 5..7; meta array track_id = 100 + i.
    test: 4 images of value 0, 50, 100, 250 and labels 3, 2, 1, 0.
    """
    root = tmp_path / "data"
    vals = [10 + 20 * i for i in range(8)]
    x = const_images(vals)
    y = np.arange(8) % 4
    tid = 100 + np.arange(8)
    write_npz(root / "toy" / "train_part0.npz", x[:5], y[:5], track_id=tid[:5])
    write_npz(root / "toy" / "train_part1.npz", x[5:], y[5:], track_id=tid[5:])
    write_npz(root / "toy" / "test.npz", const_images([0, 50, 100, 250]), [3, 2, 1, 0])
    return root


def save_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    Image.fromarray(a).save(path)
    return path


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array in the IDX format MNIST's raw files use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape)
    path.write_bytes(header + a.tobytes())
    return path
