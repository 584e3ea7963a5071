"""Why the paper's stated PGD (ℓ∞, ε = 0.3) cannot train on the GTSRB rows, and the authors' could.

Two measurements on each GTSRB row's domain-A training images:

1. **ε-ball overlap.** The ℓ∞ distance from each image to the nearest training image of another
   class. Where it is ≤ 2ε, the two ε-balls intersect (their midpoint is within ε of both and
   inside [0, 1]), so no classifier is right on all of both balls: Madry et al.'s objective,
   which trains on the worst point of each ball only, then has no low-loss solution.
2. **How far each PGD moves the images**, on a paper-cnn trained by ERM on domain A (5 epochs,
   seed 0): mean and largest |δ|, and accuracy on x and on x + δ, for the PGD the paper states
   (ε 0.3, 20 sign steps of 0.01, random start) and the PGD of the authors' public code (δ = 0
   start, 10 raw steps of 0.01 × the batch-mean gradient, ε = 8/255; see
   ``nuisance_zoo.reproduce.rows.AUTHORS_PGD``).

Usage:
    python -m benchmarks.pgd_gap --data-root ../shared/data [--threads 1]

Writes ``docs/results/analysis/pgd-gap.json`` (docs/results.md's notes quote it).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.reproduce.data import load_domain
from nuisance_zoo.reproduce.rows import AUTHORS_PGD, PGD_KWARGS, ROWS
from nuisance_zoo.training import PGDWrapper


OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "analysis" / "pgd-gap.json"
ROW_NAMES = ("t2-gtsrb-contrast", "t2-gtsrb-brightness")
N_PROBE = 512  # images on which the two PGDs are run


def nearest_other_class(x: torch.Tensor, y: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """ℓ∞ distance (image units) from each image to the nearest image of another class."""
    flat = x.flatten(1).float()
    out = torch.empty(len(x))
    for s in range(0, len(x), chunk):
        d = torch.cdist(flat[s:s + chunk], flat, p=float("inf"))
        d[y[s:s + chunk, None] == y[None, :]] = float("inf")
        out[s:s + chunk] = d.min(1).values
    return out


def pgd_displacement(clf: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, **kwargs) -> dict:
    """How far one PGD moves ``x`` and what it does to ``clf``'s accuracy."""
    wrapper = PGDWrapper(clf, image_shape=tuple(x.shape[1:]), **kwargs)
    x_adv = torch.cat([wrapper.search(x[s:s + 64], y[s:s + 64])[0] for s in range(0, len(x), 64)])
    delta = (x_adv - x).abs()
    clf.eval()
    with torch.no_grad():
        acc = lambda z: float((clf(z).argmax(1) == y).float().mean() * 100)  # noqa: E731
        return {"mean_abs_delta": float(delta.mean()), "max_abs_delta": float(delta.max()),
                "acc_clean": acc(x), "acc_adv": acc(x_adv)}


def measure_row(name: str, data_root: str | None) -> dict:
    row = ROWS[name]
    data = load_domain(row.train, data_root)
    x, y = data.to_float(), data.y
    dist = nearest_other_class(x, y)
    res = {"train": list(row.train), "n_train": len(x),
           "nearest_other_class_linf": {"median": float(dist.median()), "max": float(dist.max())},
           "fraction_balls_overlap": {f"eps={e:.4g}": float((dist <= 2 * e).float().mean())
                                      for e in (PGD_KWARGS["eps"], 8 / 255)}}
    result = nz.train("paper-cnn", data=data, algorithm="erm", epochs=5, seed=0, in_chans=3,
                      num_classes=row.num_classes, data_root=data_root, progress=False)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(x), generator=g)[:N_PROBE]
    res["pgd"] = {
        "paper text (eps 0.3, 20 sign steps of 0.01, random start)":
            pgd_displacement(result.model, x[idx], y[idx], generator=g, **PGD_KWARGS),
        "authors' code (eps 8/255, 10 raw steps of 0.01 x batch-mean gradient, from 0)":
            pgd_displacement(result.model, x[idx], y[idx], **dict(AUTHORS_PGD)),
    }
    return res


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"command": f"python -m benchmarks.pgd_gap (torch threads: {torch.get_num_threads()})",
           "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
           "rows": {name: measure_row(name, args.data_root) for name in ROW_NAMES}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
