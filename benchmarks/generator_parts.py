"""Encode, decode and full-forward throughput of the learned generators, on CPU.

Complements ``benchmarks/generator_throughput.py`` (encode + decode together, and the
trainer; see ``docs/benchmarks/generator_throughput.md``) with the parts separately, because
the training wrappers encode once per batch and decode ``k`` times: MDA-k costs about
``encode(B) + decode(k·B)``, so the decode rate sets the price of every extra draw.

Configurations: the presets ``"small"`` and ``"paper"``, every trained zoo generator
(``nz.list_models(kind="learned")``, loaded by name), and a MUNIT-default-sized generator
(dim 64, n_downsample 2, n_res 4, mlp_dim 256, style_dim 8; MUNIT's ``AdaINGen`` defaults).
Input 32×32, batch 256, ``torch.inference_mode()``, images/s from the best of a few runs.

Usage:
    python benchmarks/generator_parts.py
    python benchmarks/generator_parts.py --quick                     # batch 64, 1 rep
    python benchmarks/generator_parts.py --configs small --batch 8 --reps 1 --out /tmp/b.md
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import nuisance_zoo as nz  # noqa: E402
from nuisance_zoo.learned.generator import MunitGenerator  # noqa: E402
from _common import DOCS, best_time, load_now, machine_line, md_table, write_section  # noqa: E402

SECTION = "generator_parts"
MUNIT_DEFAULT = dict(dim=64, n_downsample=2, n_res=4, mlp_dim=256, style_dim=8)


def build(name: str):
    """``(generator, description)`` for a preset, ``"munit-default"`` or a zoo model name."""
    if name in ("small", "paper"):
        return MunitGenerator(name), f"preset `{name}`"
    if name == "munit-default":
        return MunitGenerator("paper", **MUNIT_DEFAULT), "MUNIT default (" + ", ".join(
            f"{k} {v}" for k, v in MUNIT_DEFAULT.items()) + ")"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nz.load(name), f'`nz.load("{name}")`'


def channels(G) -> int:
    cfg = G.config() if hasattr(G, "config") else {}
    cfg = cfg.get("config", cfg) if isinstance(cfg, dict) else {}
    return int(cfg.get("in_channels", 3)) if isinstance(cfg, dict) else 3


def bench(name: str, batch: int, reps: int, size: int = 32) -> dict:
    torch.manual_seed(0)
    G, desc = build(name)
    G = G.eval()
    c = channels(G)
    x = torch.rand(batch, c, size, size)
    d = G.sample_delta(batch)
    with torch.inference_mode():
        content = G.encode(x)
        once = best_time(lambda: G(x, d), 1, warmup=0)
        # Slow configurations (seconds per call): no separate warm-up, fewer runs.
        big = once > 1.0
        r, w = (max(1, reps - 1), 0) if big else (reps, 1)
        t_enc = best_time(lambda: G.encode(x), r, warmup=w, min_time=0.05)
        t_dec = best_time(lambda: G.decode(content, d), r, warmup=w, min_time=0.05)
        t_fwd = min(once, best_time(lambda: G(x, d), r, warmup=w, min_time=0.05))
    return {"name": name, "desc": desc, "params": sum(p.numel() for p in G.parameters()), "channels": c,
            "batch": batch, "encode": batch / t_enc, "decode": batch / t_dec, "forward": batch / t_fwd}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="batch 64, 1 rep")
    p.add_argument("--configs", nargs="*", default=None,
                   help="small, paper, munit-default and/or zoo model names (default: all)")
    p.add_argument("--batch", type=int, default=None, help="default 256 (64 with --quick)")
    p.add_argument("--reps", type=int, default=None, help="best of; default 3 (1 with --quick)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(DOCS))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = load_now()
    batch = args.batch or (64 if args.quick else 256)
    reps = args.reps or (1 if args.quick else 3)
    names = args.configs or ["small", "paper", *nz.list_models(kind="learned"), "munit-default"]
    rows = []
    for name in names:
        r = bench(name, batch, reps)
        rows.append(r)
        print(f"{name:24s} {r['params']:>10,d} params  encode {r['encode']:9,.0f}  decode {r['decode']:9,.0f}  "
              f"forward {r['forward']:9,.0f} img/s", flush=True)
    body = [[r["name"], r["desc"], f"{r['params']:,}", str(r["channels"]), f"{r['encode']:,.0f}",
             f"{r['decode']:,.0f}", f"{r['forward']:,.0f}"] for r in rows]
    lines = ["## Learned generators: encode, decode and forward throughput", "",
             machine_line(args.threads, load0), "",
             f"`python benchmarks/generator_parts.py{' --quick' if args.quick else ''}`: 32×32 inputs, batch "
             f"{batch}, `torch.inference_mode()`, images/s from the best of {reps} runs (each ≥ 50 ms; "
             "configurations slower than 1 s per call get no separate warm-up and one run fewer). "
             "**forward** is `G(x, δ)` (input checks + encode + decode). The MUNIT-style zoo models are the "
             "`small` architecture; the structured ones run known models driven by a small MLP. Encode + decode of the presets together, the trainer's speed and an "
             "idle-host reference run: [generator_throughput.md](benchmarks/generator_throughput.md).", "",
             md_table(["config", "what", "parameters", "channels", "encode img/s", "decode img/s",
                       "forward img/s"], body, "---|---|---:|---:|---:|---:|---:|"), ""]
    write_section(SECTION, "\n".join(lines), args.out)
    print(f"wrote section {SECTION!r} of {args.out}")
    return rows


if __name__ == "__main__":
    main()
