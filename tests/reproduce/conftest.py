"""A tiny row on the bundled MNIST sample: runs everywhere, in seconds."""
from __future__ import annotations

import pytest

from nuisance_zoo.reproduce.rows import Column, Row, load


@pytest.fixture
def tiny_row() -> Row:
    """Three classifiers against the known background-colour model, 64 training images."""
    return Row(
        name="tiny", table="Table 2", title="MNIST sample gray → RGB (test row)",
        train=("mnist-sample:train?limit=64&colorize=gray",),
        tests={"B": "mnist-sample:test?limit=64&colorize=gray-rgb&seed=0", "A": "mnist-sample:test?limit=64&colorize=gray"},
        model=load("background-color"),
        columns=(Column("Vanilla", "erm"), Column("MRT-1", "mrt", 1), Column("MDA-2", "mda", 2)),
        paper={"Vanilla": 87.8, "MRT-1": 98.8}, epochs=2,
    )
