"""Throughput of the learned generator (encode + decode) and of its trainer, on CPU.

MDA-k evaluates G k times per training image, so G's speed decides whether model-based
training on a CPU is practical. This measures images/s of one ``encode`` + one ``decode`` at
32×32 for the zoo's ``"small"`` generator and the authors' MUNIT-like ``"paper"`` one, and
iterations/s of :func:`nuisance_zoo.learned.fit.fit` with each preset, with
``torch.set_num_threads(THREADS)`` (2 by default: the target machine class).

Two clocks are reported: wall time (what a user waits; inflated when other processes share the
cores) and process CPU time divided by the thread count (an estimate of the wall time on idle
cores; it overstates throughput when threads scale imperfectly).

Usage:
    python benchmarks/generator_throughput.py            # writes docs/benchmarks/generator_throughput.md
    python benchmarks/generator_throughput.py --threads 2 --batch 256 --no-fit
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from nuisance_zoo.learned.generator import MunitGenerator

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "generator_throughput.md"


def _time(fn, reps: int, warmup: int = 2) -> tuple[float, float]:
    """Median wall seconds and median process-CPU seconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def generator_throughput(preset: str, batch: int, reps: int, threads: int, size: int = 32) -> dict:
    torch.manual_seed(0)
    G = MunitGenerator(preset).eval()
    x = torch.rand(batch, 3, size, size)
    d = torch.randn(batch, G.delta_dim)

    def run():
        with torch.inference_mode():
            G.decode(G.encode(x), d)

    wall, cpu = _time(run, reps)
    return {"preset": preset, "params": sum(p.numel() for p in G.parameters()), "batch": batch,
            "wall_img_s": batch / wall, "cpu_img_s": batch * threads / cpu}


def fit_throughput(preset: str, iterations: int, threads: int, size: int = 32) -> dict:
    from nuisance_zoo.learned.fit import fit

    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 128, (256, 3, size, size), dtype=torch.uint8, generator=g)
    b = torch.randint(128, 256, (256, 3, size, size), dtype=torch.uint8, generator=g)
    fit(a, b, config=preset, iterations=2, progress=False)  # warm-up (allocations, kernels)
    w, c = time.perf_counter(), time.process_time()
    fit(a, b, config=preset, iterations=iterations, progress=False)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    from nuisance_zoo.learned.config import FitConfig

    cfg = FitConfig.preset(preset)
    return {"preset": preset, "batch": cfg.batch_size, "iterations": iterations, "wall_it_s": iterations / wall,
            "cpu_it_s": iterations * threads / cpu, "default_iterations": cfg.iterations,
            "minutes_default": cfg.iterations / (iterations / wall) / 60}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--fit-iterations", type=int, default=30)
    p.add_argument("--no-fit", action="store_true")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    gen_rows = []
    for preset in ("small", "paper"):
        reps = args.reps if preset == "small" else max(3, args.reps // 2)
        r = generator_throughput(preset, args.batch, reps, args.threads)
        gen_rows.append(r)
        print(f"generator {preset:5s}: {r['params']:>9,d} params  {r['wall_img_s']:8.0f} img/s wall  "
              f"{r['cpu_img_s']:8.0f} img/s (CPU-time estimate)", flush=True)
    fit_rows = []
    if not args.no_fit:
        for preset in ("small", "paper"):
            n = args.fit_iterations if preset == "small" else max(5, args.fit_iterations // 3)
            r = fit_throughput(preset, n, args.threads)
            fit_rows.append(r)
            print(f"fit {preset:5s}: batch {r['batch']}  {r['wall_it_s']:6.2f} it/s wall  {r['cpu_it_s']:6.2f} it/s "
                  f"(CPU-time estimate)  -> default {r['default_iterations']} iterations in "
                  f"{r['minutes_default']:.0f} min (wall)", flush=True)

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [
        "# Generator throughput (CPU)", "",
        f"Measured by `python benchmarks/generator_throughput.py` with `torch.set_num_threads({args.threads})`, "
        f"32×32 RGB inputs, batch {args.batch}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs visible, load average {load[0]:.1f} when it finished.", "",
        ("**Noisy:** other jobs shared the cores (load average above the thread count), so wall-clock numbers "
         "are pessimistic. The CPU-time column (batch × threads / process CPU seconds) estimates idle-machine "
         "throughput; rerun on an idle machine for publishable numbers." if load[0] > args.threads else
         "The machine was otherwise idle (load average below the thread count)."), "",
        "## G: one encode + one decode", "",
        "| config | parameters | images/s (wall) | images/s (CPU-time estimate) |", "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['preset']} | {r['params']:,} | {r['wall_img_s']:.0f} | {r['cpu_img_s']:.0f} |" for r in gen_rows]
    lines += ["", "Target for `small`: ≥ 1,000 images/s on 2 cores (MUNIT's default generator: ~60 images/s).", ""]
    if fit_rows:
        lines += ["## Training (`nuisance_zoo.learned.fit`)", "",
                  "| config | batch | iterations/s (wall) | iterations/s (CPU-time estimate) | default iterations | minutes (wall) |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['preset']} | {r['batch']} | {r['wall_it_s']:.2f} | {r['cpu_it_s']:.2f} | "
                  f"{r['default_iterations']:,} | {r['minutes_default']:.0f} |" for r in fit_rows]
        lines += [""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
