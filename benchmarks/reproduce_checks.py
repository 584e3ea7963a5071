"""The mid-size checks behind docs/results.md: a full row changed in one named way.

A check tests one explanation of a difference from the paper by running the row with one named
thing changed (the classes, the classifier, a column's algorithm settings, the data size; or a
named pair of such changes), with the same code path as ``nuisance-zoo reproduce``. Results go
to ``docs/results/checks/NAME.json`` and appear in docs/results.md's *Mid-size checks* table; a
killed check resumes like a row does.

Usage:
    python -m benchmarks.reproduce_checks --list
    python -m benchmarks.reproduce_checks NAME [NAME ...] --data-root ../shared/data [--threads 1]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from nuisance_zoo.reproduce import reproduce
from nuisance_zoo.reproduce.run import write_results
from nuisance_zoo.reproduce.rows import AUTHORS_PGD_COLUMN, ROWS, Column, Row

CHECKS_DIR = Path(__file__).resolve().parent.parent / "docs" / "results" / "checks"


def _columns(row: str, *labels: str) -> tuple[Column, ...]:
    by_label = {c.label: c for c in ROWS[row].columns}
    return tuple(by_label[lab] for lab in labels)


@dataclass(frozen=True)
class Check:
    """A row (``base``) with ``changes`` (``Row`` fields) applied, run for ``seeds`` seeds."""

    base: str
    question: str
    changes: dict[str, Any] = field(default_factory=dict)
    seeds: int = 1
    epochs: int | None = None

    def row(self, name: str) -> Row:
        return replace(ROWS[self.base], name=name, **self.changes)


def _mnist_10k_5_epochs(base: str, question: str, train_colors: str, main_test: str) -> Check:
    """An MNIST row on its first 10,000 training images for 5 epochs: the whole red test set as
    the main test, 2,000 images of the training colours as test A."""
    return Check(base, question,
                 dict(train=(f"mnist:train?limit=10000&colorize={train_colors}",),
                      tests={main_test: "mnist:test?colorize=red",
                             "A": f"mnist:test?limit=2000&colorize={train_colors}"}),
                 epochs=5)


CHECKS: dict[str, Check] = {
    "sanity-mnist-gray-rgb": Check(
        "t2-mnist-gray-rgb", "Do the model-based methods beat Vanilla on 2,000 MNIST images in 3 epochs?",
        dict(train=("mnist:train?limit=2000&colorize=gray",),
             tests={"B": "mnist:test?limit=1000&colorize=gray-rgb&seed=0", "A": "mnist:test?limit=1000&colorize=gray"},
             columns=_columns("t2-mnist-gray-rgb", "Vanilla", "MRT-1", "MDA-5")),
        seeds=1, epochs=3),
    "gtsrb-contrast-pgd-authors-code": Check(
        "t2-gtsrb-contrast", "Does the PGD of the authors' public code (raw steps of the batch-mean gradient "
        "from δ = 0, ε = 8/255, 10 steps) learn where the paper's stated PGD (ε = 0.3) does not?",
        dict(columns=(AUTHORS_PGD_COLUMN,))),
    "gtsrb-brightness-43-classes": Check(
        "t2-gtsrb-brightness", "Is Vanilla night → day near the paper's 65 % with all 43 classes (the authors' "
        "public GTSRB loader has its ten-largest-classes filter commented out)?",
        dict(train=("gtsrb:train?brightness=<40",),
             tests={"B": "gtsrb:test?brightness=>170", "A": "gtsrb:test?brightness=<40"},
             num_classes=43, columns=_columns("t2-gtsrb-brightness", "Vanilla")), seeds=3),
    "gtsrb-brightness-authors-classifier": Check(
        "t2-gtsrb-brightness", "Is Vanilla night → day nearer the paper's 65 % with the classifier of the authors' "
        "public code (BasicNet: Table 7's architecture A, one convolution block fewer than the paper's CNN)?",
        dict(classifier="paper-cnn-a", columns=_columns("t2-gtsrb-brightness", "Vanilla")), seeds=3),
    "gtsrb-brightness-43-classes-authors-classifier": Check(
        "t2-gtsrb-brightness", "With both: all 43 classes and the authors' BasicNet (architecture A)?",
        dict(train=("gtsrb:train?brightness=<40",),
             tests={"B": "gtsrb:test?brightness=>170", "A": "gtsrb:test?brightness=<40"},
             num_classes=43, classifier="paper-cnn-a", columns=_columns("t2-gtsrb-brightness", "Vanilla"))),
    "gtsrb-contrast-pgd-eps-8-255": Check(
        "t2-gtsrb-contrast", "Does the paper's PGD (sign steps of 0.01, random start, 20 steps) learn at the "
        "authors' code's ε = 8/255 instead of the paper's ε = 0.3?",
        dict(columns=(Column("PGD (ε = 8/255)", "pgd", kwargs=(("eps", 8 / 255),)),))),
    # The full MNIST rows cost 34-45 CPU-hours each (docs/results/estimates/); these run every
    # column of two of them on a sixth of the training set for a quarter of the epochs (about an
    # hour on one core), so Section 6's ordering claims get an MNIST data point without a device.
    "mnist-blue-red-10k-5-epochs": _mnist_10k_5_epochs(
        "t2-mnist-blue-red", "Do Section 6's orderings (model-based above Vanilla and PGD; MDA-5 vs MRT-1; MAT "
        "on a learned model) hold on MNIST blue → red with the first 10,000 training images and 5 epochs?",
        train_colors="blue", main_test="B"),
    "mnist-one-red-10k-5-epochs": _mnist_10k_5_epochs(
        "t3-mnist-one-red", "Does the model fitted on red 0 / blue 1–9 (A = B) lift red-background accuracy from "
        "the paper's 9.8 % towards 97 %, with the first 10,000 training images and 5 epochs?",
        train_colors="red0-blue1-9", main_test="red"),
}


def run_check(name: str, data_root: str | None, progress: bool = True, quick: bool = False,
              out: Path = CHECKS_DIR) -> dict:
    """Run (or resume) one check; returns its results dict, also written to ``out/NAME.json``.
    ``quick`` runs it at CI size (the same caps as ``reproduce --quick``)."""
    if name not in CHECKS:
        raise KeyError(f"unknown check {name!r}; choose from {', '.join(CHECKS)}.")
    check = CHECKS[name]
    result = reproduce(check.row(name), seeds=check.seeds, epochs=check.epochs, out=out, quick=quick,
                       data_root=data_root, progress=progress)
    # reproduce records how to rerun a *row*; a check reruns through this module (with the threads
    # of the call that computed its units, which reproduce keeps in ``hardware``).
    threads = result.get("hardware", {}).get("torch_threads", torch.get_num_threads())
    result["command"] = f"python -m benchmarks.reproduce_checks {name} (torch threads: {threads})"
    result["question"] = check.question
    result["base"] = check.base
    write_results(Path(out) / f"{name}.json", result)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="checks to run (see --list)")
    p.add_argument("--list", action="store_true", help="list the checks and their questions")
    p.add_argument("--data-root", default=None, help="root of the data (default: the package's search)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.list or not args.names:
        for name, c in CHECKS.items():
            print(f"{name}: {c.question} (row {c.base}, {c.seeds} seed(s))")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.names:
        res = run_check(name, args.data_root, progress=not args.no_progress)
        print(name, res["status"], json.dumps(res.get("summary", {}), indent=1)[:2000])


if __name__ == "__main__":
    main()
