"""The picture on a zoo card: domain-A inputs, what G makes of them, and real domain-B images.

    python -m benchmarks.zoo.card_grid gtsrb-brightness --model hub_cards/gtsrb-brightness --out grid.png

Rows, eight images each: the domain-A test images x; G(x, δ) at three prior draws; one image
swept along δ₀ and along δ₁ over [-2, 2] (the nuisance space, the other coordinate at 0); and
eight real domain-B test images, so the generated rows can be judged against the real shift.
``measure_zoo.py`` writes it as ``grid.png``; ``make_card.py`` puts it on the card.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.data import load_dataset
from nuisance_zoo.eval.grid import delta_grid, save_image_grid

from .experiments import EXPERIMENTS

COLUMNS, DRAWS, SWEEP = 8, 3, (-2.0, 2.0)

#: The caption ``make_card.py`` prints under the picture (rows of :func:`card_grid`).
CAPTION = ("Rows: eight domain-A test images x; G(x, δ) at three draws of δ from the prior; the first image "
           "with δ₀ swept from -2 to 2 (δ₁ = 0), then δ₁ swept (δ₀ = 0); eight real domain-B test images.")


def _spread(n: int, count: int) -> torch.Tensor:
    """``count`` indices spread evenly over ``range(n)`` (different classes, not the first few)."""
    return torch.linspace(0, n - 1, count).round().long()


@torch.no_grad()
def card_grid(G, a_test, b_test, path: Path, seed: int = 0) -> Path:
    """Write the card picture of ``G`` (inputs from ``a_test``, real targets from ``b_test``) to ``path``."""
    G = G.cpu().eval()
    x = a_test.x[_spread(len(a_test.x), COLUMNS)].float() / 255
    b = b_test.x[_spread(len(b_test.x), COLUMNS)].float() / 255
    gen = torch.Generator().manual_seed(seed)
    draws = [G(x, generator=gen) for _ in range(DRAWS)]
    base = torch.zeros(G.delta_dim)
    sweeps = [delta_grid(G, x[0], dims=d, value_range=SWEEP, steps=COLUMNS, base_delta=base)[0]
              for d in range(min(G.delta_dim, 2))]
    # ASCII labels: PIL's default font has no Greek letters.
    labels = ["x (A)"] + [f"G(x, d{i + 1})" for i in range(DRAWS)] + [f"sweep d{d}" for d in range(len(sweeps))]
    return save_image_grid(torch.stack([x, *draws, *sweeps, b]), path, row_labels=labels + ["real B"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(EXPERIMENTS))
    p.add_argument("--model", required=True, help="a model folder (fit_zoo's OUT/NAME/model, or a hub_cards/ folder)")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--data-root", default=None)
    args = p.parse_args(argv)
    exp = EXPERIMENTS[args.name]
    G = nz.load(f"local-dir:{args.model}")
    print(card_grid(G, load_dataset(exp.test_a, root=args.data_root), load_dataset(exp.test_b, root=args.data_root),
                    Path(args.out)))


if __name__ == "__main__":
    main()
