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


#: Set to 1 (as .ci/run does) to turn a missing-data skip into a failure, so CI never skips.
REQUIRE_DATA_ENV = "NUISANCE_ZOO_REQUIRE_DATA"


def find_data_root(*subfolders: str) -> Path | None:
    """The first data root that holds every one of ``subfolders``, searched as the package
    searches for named sets (``$NUISANCE_ZOO_DATA``, then ``../shared/data``, then the dataset
    cache); None when there is none."""
    from nuisance_zoo.data.paths import named_set_roots

    candidates = named_set_roots()
    if not os.environ.get("NUISANCE_ZOO_DATA"):
        candidates.append(SHARED_DATA.resolve())  # the checkout's neighbour, if the package is installed
    for root in candidates:
        if all((root / sub).is_dir() for sub in subfolders):
            return root
    return None


def need_data(*subfolders: str) -> Path:
    """Return the data root holding ``subfolders``, or skip with a one-line reason when it is
    absent (a fresh clone without ../shared). With NUISANCE_ZOO_REQUIRE_DATA=1 the absence fails."""
    root = find_data_root(*subfolders)
    if root is not None:
        return root
    what = " and ".join(subfolders)
    msg = (f"needs the real {what} data (../shared/data beside the project, or "
           f"NUISANCE_ZOO_DATA=PATH); not found")
    if os.environ.get(REQUIRE_DATA_ENV) == "1":
        pytest.fail(f"{msg}, and {REQUIRE_DATA_ENV}=1 forbids skipping it", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real GTSRB/MNIST files; skips (or fails under NUISANCE_ZOO_REQUIRE_DATA=1) if absent."""
    return need_data("gtsrb", "mnist")


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
