"""Shared test fixtures: where the real data lives, and small structured test images."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Tests are small; one thread each keeps `pytest -n 2` on 2 cores from oversubscribing.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real GTSRB/MNIST files (../shared/data beside the project). Fails clearly if absent."""
    root = Path(os.environ.get("NUISANCE_ZOO_DATA", SHARED_DATA))
    if not (root / "gtsrb").is_dir() or not (root / "mnist").is_dir():
        pytest.fail(
            f"real-data test: no GTSRB/MNIST under {root}. Put ../shared/data beside the project "
            f"or set NUISANCE_ZOO_DATA; deselect these tests with -m 'not slow'."
        )
    return root


def structured_image(c: int = 3, h: int = 12, w: int = 12, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """A (1, C, H, W) image like a sign or a digit: a dark border (background) around a textured,
    bright object, with no value near the usual thresholds (12/255 and 0.5) so hard masks
    are differentiable where gradcheck probes."""
    g = torch.Generator().manual_seed(seed)
    x = 0.55 + 0.4 * torch.rand(1, c, h, w, generator=g, dtype=torch.float64)
    border = max(1, min(h, w) // 4)
    x[..., :border, :] = 0.01
    x[..., -border:, :] = 0.01
    x[..., :, :border] = 0.01
    x[..., :, -border:] = 0.01
    return x.to(dtype)
