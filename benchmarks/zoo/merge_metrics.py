"""Merge ``measure_zoo`` runs of one model into the one ``metrics.json`` a card is made from.

    python -m benchmarks.zoo.merge_metrics runs/measure-s01/gtsrb-brightness runs/measure-s2/gtsrb-brightness \
        --out runs/zoo/gtsrb-brightness

On a CPU the seeds and trainings of a card are run as separate processes, one thread each, side
by side (``measure_zoo ... --seeds 0 1`` and ``--seeds 2``; ``--variants mrt10`` later). This joins
their ``test_B_accuracy`` per seed, and refuses runs that disagree: a different model or
reference classifier (the shift or label preservation differ), other domains or epochs, or two
different accuracies for the same seed and training. The first run that has them gives the
shift and the label preservation; ``wall_s`` is the sum. ``grid.png`` is copied from the first
run that has one. ``--borrow`` takes the trainings that do not use the model (ERM, MDA-5 with the
known model) from runs of another variant of the same name.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from .measure_zoo import KNOWN_PREFIX

#: Fields every run of the same protocol must agree on (when both have them) ...
PROTOCOL = ("name", "epochs", "domains", "paper", "device")
#: ... and of the same model.
SAME = PROTOCOL + ("shift", "label_preservation")


def model_free(label: str) -> bool:
    """Whether a training of (c) does not use the measured model (ERM, MDA-5 with the known model)."""
    return label == "ERM" or label.startswith(KNOWN_PREFIX)


def merge(runs: list[dict], borrowed: list[dict] = ()) -> dict:
    """One metrics dict from several ``measure_zoo`` metrics dicts of the same model.

    ``borrowed`` are runs of *another* model of the same experiment and protocol: only their
    trainings that do not use the model (:func:`model_free`) are taken, so that a new variant
    shares the ERM and known-model numbers already measured for the name.

    Example:
        >>> a = {"name": "m", "seeds": [0, 1], "test_B_accuracy": {"ERM": {"accs": [80.0, 82.0]}}}
        >>> b = {"name": "m", "seeds": [2], "test_B_accuracy": {"ERM": {"accs": [84.0]}}}
        >>> merge([a, b])["test_B_accuracy"]["ERM"]
        {'accs': [80.0, 82.0, 84.0], 'mean': 82.0, 'std': 1.63}
    """
    if not runs:
        raise ValueError("merge needs at least one metrics.json.")
    out: dict = {}
    per_seed: dict[str, dict[int, float]] = {}
    lent = [{**b, "test_B_accuracy": {k: v for k, v in b.get("test_B_accuracy", {}).items() if model_free(k)}}
            for b in borrowed]
    for i, run in enumerate([*runs, *lent]):
        for key in (SAME if i < len(runs) else PROTOCOL):
            if key in run and key in out and run[key] != out[key]:
                raise ValueError(f"run {i + 1} has another {key!r} than the runs before it ({run[key]!r} vs "
                                 f"{out[key]!r}): merge only runs of the same model, reference and protocol.")
            if key in run:
                out[key] = run[key]
        for label, v in run.get("test_B_accuracy", {}).items():
            seen = per_seed.setdefault(label, {})
            # A run cut short holds accuracies for its first seeds only, in order.
            for seed, acc in zip(run["seeds"], v["accs"]):
                if seed in seen and seen[seed] != acc:
                    raise ValueError(f"{label}, seed {seed}: run {i + 1} says {acc}, an earlier run {seen[seed]}.")
                seen[seed] = acc
    seeds = sorted({s for seen in per_seed.values() for s in seen})
    missing = {label: sorted(set(seeds) - set(seen)) for label, seen in per_seed.items() if set(seen) != set(seeds)}
    if missing:
        raise ValueError(f"every training needs every seed {seeds}; missing: "
                         + "; ".join(f"{label}: seeds {m}" for label, m in missing.items()))
    out["seeds"] = seeds
    out["test_B_accuracy"] = {}
    # The card's order, whichever run came first: ERM, this model, the known model, then the rest.
    order = lambda label: (label != "ERM", label != "MDA-5 (this model)", not label.startswith(KNOWN_PREFIX))  # noqa: E731
    for label, seen in sorted(per_seed.items(), key=lambda kv: order(kv[0])):
        accs = [seen[s] for s in seeds]
        out["test_B_accuracy"][label] = {"accs": accs, "mean": round(statistics.mean(accs), 2),
                                         "std": round(statistics.pstdev(accs), 2)}
    out["wall_s"] = round(sum(r.get("wall_s", 0.0) for r in runs), 1)
    out["merged_runs"] = len(runs) + len(lent)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="measure_zoo output folders (OUT/NAME), each holding metrics.json")
    p.add_argument("--borrow", nargs="*", default=[], metavar="RUN",
                   help="runs of another model of the same experiment: take only their ERM and known-model trainings")
    p.add_argument("--out", required=True, help="folder to write metrics.json (and grid.png) into")
    args = p.parse_args(argv)
    folders = [Path(r) for r in args.runs]
    read = lambda f: json.loads((Path(f) / "metrics.json").read_text())  # noqa: E731
    merged = merge([read(f) for f in folders], [read(f) for f in args.borrow])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(merged, indent=2, ensure_ascii=False))
    grid = next((f / "grid.png" for f in folders if (f / "grid.png").is_file()), None)
    if grid is not None and grid.resolve() != (out / "grid.png").resolve():
        shutil.copyfile(grid, out / "grid.png")
    print(json.dumps(merged["test_B_accuracy"], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
