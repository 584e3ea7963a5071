"""Build ``nuisance_zoo/assets/mnist_sample.npz``, the MNIST sample bundled with the package.

Takes the first 600 training images and the first 100 test images of each digit, in the
official order, from the ``.npz`` copies of MNIST (``x`` uint8 N×28×28×1, ``y``), and stores
them compressed (about 1.2 MB) as ``x_train``, ``y_train``, ``index_train``, ``x_test``,
``y_test``, ``index_test`` (``index_*`` = position in the official split).

Usage:
    python tools/make_mnist_sample.py [--data-root ../shared/data] [--out nuisance_zoo/assets/mnist_sample.npz]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PER_CLASS = {"train": 600, "test": 100}
LIMIT_BYTES = 1_500_000


def first_per_class(y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` images of every label, in the original order."""
    idx = np.concatenate([np.flatnonzero(y == c)[:k] for c in np.unique(y)])
    return np.sort(idx)


def main(argv: list[str] | None = None) -> Path:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=here.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=here / "nuisance_zoo" / "assets" / "mnist_sample.npz")
    args = ap.parse_args(argv)
    arrays = {}
    for split, k in PER_CLASS.items():
        src = args.data_root / "mnist" / f"{split}.npz"
        if not src.is_file():
            raise SystemExit(f"missing {src}; pass --data-root pointing at the folder holding mnist/.")
        with np.load(src, allow_pickle=False) as d:
            x, y = d["x"], d["y"]
        idx = first_per_class(y, k)
        arrays[f"x_{split}"] = x[idx]
        arrays[f"y_{split}"] = y[idx].astype(np.int64)
        arrays[f"index_{split}"] = idx.astype(np.int32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size:,} bytes; train {len(arrays['y_train'])}, test {len(arrays['y_test'])})")
    if size > LIMIT_BYTES:
        raise SystemExit(f"{args.out} is {size:,} bytes, over the {LIMIT_BYTES:,}-byte limit.")
    return args.out


if __name__ == "__main__":
    main()
