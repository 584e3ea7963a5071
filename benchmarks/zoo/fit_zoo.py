"""Train the generator of one zoo model (or all) from its two domains.

    python -m benchmarks.zoo.fit_zoo gtsrb-brightness --iterations 6000 --device cuda --out runs/zoo
    python -m benchmarks.zoo.fit_zoo gtsrb-brightness --config small-keep --until plateau \
        --iterations 2500 --out runs/zoo-keep       # the label/structure/diversity terms + monitor

Writes ``OUT/NAME/`` (checkpoints, grids, log, and ``model/``: the Hub folder) and
``OUT/NAME/fit.json`` (iterations, wall time, device). Resumable with ``--resume``.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from nuisance_zoo.data import load_dataset
from nuisance_zoo.learned.fit import fit, fit_needs_classifier
from nuisance_zoo.training.trainer import train

from .experiments import EXPERIMENTS


def domain_classifier(spec: str, epochs: int, device: str, data_root: str | None, seed: int = 0):
    """The frozen judge of the label term and the monitor: the paper's CNN trained (ERM) on domain A only."""
    res = train(model="paper-cnn", algorithm="erm", data=spec, epochs=epochs, device=device, data_root=data_root,
                seed=seed, progress=False)
    return res.model.eval()


def fit_one(name: str, out: Path, iterations: int, batch_size: int, config: str, device: str,
            data_root: str | None, resume: bool, seed: int, progress: bool,
            time_budget: float | None = None, chunk: int = 500, until: str | None = None,
            classifier_epochs: int = 5, monitor_every: int | None = None) -> dict:
    """Train ``name``'s generator for ``iterations`` (or, with ``time_budget``, in resumable
    chunks of ``chunk`` iterations until the budget would be exceeded: the model folder is
    valid after every chunk, so a deadline never leaves a half-trained run without a model).

    When the config has the label term or a monitor (``small-keep``), a paper CNN is first
    trained on domain A for ``classifier_epochs`` epochs (seed ``seed``; deterministic, so a
    resume rebuilds the same judge) and passed to the fit frozen."""
    exp = EXPERIMENTS[name]
    a = load_dataset(exp.domain_a, root=data_root)
    b = load_dataset(exp.domain_b, root=data_root)
    run_dir = out / name
    t0 = time.time()
    cpu0 = time.process_time()
    info = {"domains": {"A": exp.domain_a, "B": exp.domain_b}, "selection": exp.description,
            "dataset": exp.dataset}
    classifier = None
    if fit_needs_classifier(config, until, monitor_every):
        classifier = domain_classifier(exp.domain_a, classifier_epochs, device, data_root, seed)
        info["label_classifier"] = f"paper-cnn, ERM on domain A ({exp.domain_a}), {classifier_epochs} epochs, seed {seed}"
    common = dict(config=config, batch_size=batch_size, out_dir=run_dir, seed=seed, device=device,
                  progress=progress, training_info=info, classifier=classifier, until=until,
                  monitor_every=monitor_every)
    if time_budget is None:
        fit(a, b, iterations=iterations, resume=resume, grid_every=max(iterations // 4, 1),
            checkpoint_every=max(iterations // 10, 1), **common)
    else:
        done, per_chunk = 0, 0.0
        while done < iterations:
            target = min(done + chunk, iterations)
            if done and time.time() - t0 + per_chunk > time_budget:
                break
            c0 = time.time()
            fit(a, b, iterations=target, resume=resume or done > 0, grid_every=chunk, checkpoint_every=chunk,
                **common)
            per_chunk = max(per_chunk, time.time() - c0)
            done = target
        iterations = done
    record = {
        "name": name, "iterations": iterations, "batch_size": batch_size, "config": config,
        "device": device if device == "cpu" else torch.cuda.get_device_name(0),
        "wall_s": round(time.time() - t0, 1), "process_cpu_s": round(time.process_time() - cpu0, 1),
        "n_a": len(a), "n_b": len(b), "seed": seed, "host": platform.node(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    (run_dir / "fit.json").write_text(json.dumps(record, indent=2))
    return record


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=list(EXPERIMENTS), help="zoo names (default: all)")
    p.add_argument("--out", default="runs/zoo")
    p.add_argument("--iterations", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--config", default="small")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-root", default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--time-budget", type=float, default=None,
                   help="stop (with a saved model) before this many seconds, at a multiple of --chunk iterations")
    p.add_argument("--chunk", type=int, default=500)
    p.add_argument("--until", choices=("iterations", "plateau"), default=None,
                   help="plateau: stop when the monitor's score stops improving (--iterations is the cap)")
    p.add_argument("--monitor-every", type=int, default=None, help="quality check interval (default: the config's)")
    p.add_argument("--classifier-epochs", type=int, default=5,
                   help="epochs of the domain-A classifier the label term and the monitor use")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for n in args.names:
        if n not in EXPERIMENTS:
            raise SystemExit(f"unknown zoo experiment {n!r}; choose from {sorted(EXPERIMENTS)}")
        rec = fit_one(n, Path(args.out), args.iterations, args.batch_size, args.config, args.device,
                      args.data_root, args.resume, args.seed, not args.no_progress, args.time_budget, args.chunk,
                      args.until, args.classifier_epochs, args.monitor_every)
        print(json.dumps(rec))


if __name__ == "__main__":
    main()
