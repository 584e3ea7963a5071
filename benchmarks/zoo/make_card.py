"""Bundle one trained zoo model as ``hub_cards/NAME/``: weights, config and a card with measured numbers.

    python -m benchmarks.zoo.make_card gtsrb-contrast --run runs/zoo_gpu

Reads ``RUN/NAME/model`` (from ``fit_zoo``), ``RUN/NAME/fit.json``, ``RUN/NAME/metrics.json`` and
``RUN/NAME/grid.png`` (from ``measure_zoo``), measures size and CPU throughput here (d), and writes
the card. The card states whether the learned model beats the closest known model.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.zoo import zoo_status_line

from .experiments import EXPERIMENTS

REPO_ORG = "nuisance-zoo"


def cpu_throughput(G, size, threads: int = 2, batch: int = 256, repeats: int = 5) -> float:
    """Images/s of encode + decode at prior draws, on ``threads`` CPU threads (best of ``repeats``)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        G = G.cpu().eval()
        x = torch.rand(batch, G.config()["in_channels"], *size)
        d = G.sample_delta(batch, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            G(x, d)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                G(x, d)
                best = min(best, time.perf_counter() - t)
        return batch / best
    finally:
        torch.set_num_threads(old)


def _fmt(v: dict) -> str:
    return f"{v['mean']:.1f} ± {v['std']:.1f}"


def card_text(name: str, metrics: dict, fit: dict, facts: dict) -> str:
    exp = EXPERIMENTS[name]
    buys = metrics.get("test_B_accuracy", {})
    erm = buys.get("ERM")
    learned = buys.get("MDA-5 (this model)")
    known_key = next((k for k in buys if k.startswith("MDA-5 (known")), None)
    known = buys.get(known_key) if known_key else None
    if learned and known and erm:
        if learned["mean"] > known["mean"]:
            verdict = (f"**Verdict: it earns its place.** MDA-5 with this model beats MDA-5 with the closest "
                       f"known model ({_fmt(learned)} vs {_fmt(known)}) and ERM ({_fmt(erm)}).")
        else:
            verdict = (f"**Verdict: it does not (yet) earn its place.** MDA-5 with this model reaches "
                       f"{_fmt(learned)} on domain B, below the closest known model's {_fmt(known)}"
                       f"{' and below ERM' if learned['mean'] < erm['mean'] else ''} ({_fmt(erm)}). Use the known "
                       f"model ({' then '.join(exp.known)}) for training; this one is kept for comparison"
                       f" and as a baseline for better generators.")
    else:
        verdict = "Downstream accuracy was not measured."
    s = metrics["shift"]
    lp = metrics["label_preservation"]
    lines = [exp.description + ".", "", verdict, "", zoo_status_line(name, metrics), "",
             "## Measured numbers", "",
             f"All from `benchmarks/zoo/` (see *Reproduce*). Classifier numbers: the paper's CNN, "
             f"{metrics['epochs']} epochs, Adadelta lr 1.0, batch 64, λ = 1, seeds {metrics['seeds']}, "
             f"mean ± std; trained on {metrics['device']}.", "",
             "### (a) What it does", "",
             f"{s['statistic']} on domain-A test images, δ from the prior:", "",
             "| domain A | G(domain A) | domain B |", "|---|---|---|",
             f"| {s['A']} | {s['G(A)']} | {s['B']} |", ""]
    if "shift" in s:
        lines += [f"Shift produced: {s['shift']:+}; real gap between the domains: {s['real_gap']:+}.", ""]
    lines += ["### (b) Label preservation", "",
              f"{lp['classifier']}: accuracy on domain-A test images {lp['acc_x']:.1f}%, on G(x, δ) "
              f"{lp['acc_G(x)']:.1f}%.", "",
              "### (c) What it buys: test accuracy on domain B (%)", "",
              "| training | accuracy | per seed |", "|---|---|---|"]
    for k, v in buys.items():
        lines.append(f"| {k} | {_fmt(v)} | {', '.join(f'{a:.1f}' for a in v['accs'])} |")
    for k, v in metrics.get("paper", {}).items():
        lines.append(f"| paper, Table 2: {k} | {v} | |")
    lines += ["", "### (d) Cost", "",
              "| | |", "|---|---|",
              f"| parameters | {facts['parameters']:,} |",
              f"| weights file | {facts['weights_bytes'] / 1024:.0f} KiB |",
              f"| forward (encode + decode), 2 CPU threads | {facts['cpu_images_per_s']:,.0f} images/s "
              f"({facts['cpu']}) |",
              f"| training | {fit['iterations']:,} iterations, batch {fit['batch_size']}, config "
              f"`{fit['config']}`, {fit['wall_s']:.0f} s wall on {fit['device']} "
              f"({fit['process_cpu_s']:.0f} s process CPU time; five models trained side by side) |", "",
              "### (e) Nuisance space", "",
              "See the nuisance-space grid below.", "",
              "## Reproduce", "", "```bash",
              f"python -m benchmarks.zoo.fit_zoo {name} --iterations {fit['iterations']} --batch-size "
              f"{fit['batch_size']} --config {fit['config']} --device cuda --out runs/zoo_gpu",
              f"python -m benchmarks.zoo.measure_zoo {name} --model runs/zoo_gpu/{name}/model --device cuda "
              f"--out runs/zoo_gpu",
              f"python -m benchmarks.zoo.make_card {name} --run runs/zoo_gpu", "```", "",
              "Data: `../shared/data` (or `--data-root`); specs:", ""]
    lines += [f"- {k}: `{v}`" for k, v in metrics["domains"].items()]
    return "\n".join(lines)


def make_card(name: str, run: Path, out_root: Path) -> Path:
    exp = EXPERIMENTS[name]
    run_dir = run / name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fit = json.loads((run_dir / "fit.json").read_text())
    G = nz.load(f"local-dir:{run_dir / 'model'}")
    cfg = json.loads((run_dir / "model" / "config.json").read_text())
    size = cfg["input"]["size"]
    facts = {
        "parameters": sum(p.numel() for p in G.parameters()),
        "weights_bytes": (run_dir / "model" / "model.safetensors").stat().st_size,
        "cpu_images_per_s": cpu_throughput(G, size),
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    text = card_text(name, metrics, fit, facts)
    folder = out_root / name
    G.save_pretrained(
        folder,
        training={**cfg["training"], "batch_size": fit["batch_size"], "config": fit["config"],
                  "device": fit["device"], "wall_s": fit["wall_s"]},
        card={"name": name, "repo_id": f"{REPO_ORG}/{name}", "title": f"nuisance-zoo: {name}",
              "description": text, "grid": str(run_dir / "grid.png"),
              "grid_caption": "One domain-A test image under δ on a 7 × 7 grid over [-2, 2]² "
                              "(rows: δ₀ from -2 to 2; columns: δ₁ from -2 to 2).",
              "datasets": [exp.dataset.lower()], "tags": ["robustness", exp.dataset.lower()]},
    )
    (folder / "metrics.json").write_text(json.dumps({**metrics, "cost": facts, "fit": fit}, indent=2))
    return folder


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=list(EXPERIMENTS))
    p.add_argument("--run", default="runs/zoo_gpu", help="folder holding fit_zoo/measure_zoo outputs")
    p.add_argument("--out", default="hub_cards")
    args = p.parse_args(argv)
    for n in args.names:
        print(make_card(n, Path(args.run), Path(args.out)))


if __name__ == "__main__":
    main()
