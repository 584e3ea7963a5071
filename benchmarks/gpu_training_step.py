"""The GPU figures of docs/benchmarks.md in one run (well under 10 minutes on one accelerator).

Runs, on ``--device`` (default ``cuda``), with bf16 autocast and channels_last:

1. a host-sync check: one training step of every wrapper (MDA, MRT batch/sample, MAT, PGD)
   under ``torch.cuda.set_sync_debug_mode("error")``, after a warm-up step (the first step of a
   batch shape times the search plan, which synchronises once by design);
2. ``benchmarks/training_step.py`` for paper-cnn and resnet18 at 32×32, batch 256: eager, every
   method with both G; then ``--compile`` (``torch.compile`` of the classifier) for ERM, MDA-5,
   MRT-10 and MAT-10 with ``brightness`` (each method compiles its own graphs: the full matrix
   would not fit in the time);
3. ``benchmarks/known_models.py --quick`` (32×32, batch 256) eager, then ``--compile``.

Each part writes its own marked section of ``--out`` (``gpu_*``); this script writes the
``gpu`` section that names the device, lists the parts that ran (and any that timed out or
failed) and the sync check. Every part has its own time limit, so the whole run stays under
``--budget`` seconds (default 540) and whatever finished is written.

Usage:
    python benchmarks/gpu_training_step.py                    # on cuda, writes docs/benchmarks.md
    python benchmarks/gpu_training_step.py --budget 300 --out /tmp/gpu.md
    python benchmarks/gpu_training_step.py --device cpu --smoke   # a seconds-long dry run of the plumbing
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from _common import DOCS, device_name, write_section  # noqa: E402

SYNC_CHECK = r'''
import sys, torch, nuisance_zoo as nz
from nuisance_zoo.training import MATWrapper, MDAWrapper, MRTWrapper, PGDWrapper, paper_cnn
dev = torch.device(sys.argv[1]); b = int(sys.argv[2])
torch.manual_seed(0)
x = torch.rand(b, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (b,), device=dev)
def net():
    return paper_cnn(num_classes=10, in_chans=3, input_size=32).to(dev).to(memory_format=torch.channels_last)
G = nz.load("brightness").to(dev)
wrappers = {"MDA-5": lambda: MDAWrapper(net(), G, k=5), "MRT-10 batch": lambda: MRTWrapper(net(), G, k=10),
            "MRT-10 sample": lambda: MRTWrapper(net(), G, k=10, selection="sample"),
            "MAT-10": lambda: MATWrapper(net(), G, k=10), "PGD-20": lambda: PGDWrapper(net(), image_shape=(3, 32, 32)).to(dev)}
for name, make in wrappers.items():
    w = make().train()
    opt = torch.optim.SGD(w.parameters(), lr=0.01)
    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = w(x, y)
        loss.backward(); opt.step(); opt.zero_grad()
    step()  # warm-up: plan measurement (synchronises once), allocator
    torch.cuda.synchronize(dev)
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
        print(f"{name}: no host sync")
    except RuntimeError as e:
        print(f"{name}: SYNC: {str(e).splitlines()[0]}")
    finally:
        torch.cuda.set_sync_debug_mode("default")
'''


def _env() -> dict:
    """The parts import this checkout's package, installed or not."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(HERE.parent) + (os.pathsep + path if path else "")}


def run(cmd: list[str], limit: float, log: list[str]) -> bool:
    """Run one part with a time limit; record how it ended."""
    t = time.monotonic()
    shown = " ".join(cmd[1:]).replace(str(HERE.parent) + "/", "")
    if limit < 20:
        log.append(f"- skipped (no time left): `python {shown}`")
        return False
    try:
        p = subprocess.run(cmd, timeout=limit, capture_output=True, text=True, cwd=HERE.parent, env=_env())
    except subprocess.TimeoutExpired:
        log.append(f"- **timed out** after {limit:.0f} s: `python {shown}`")
        return False
    took = time.monotonic() - t
    sys.stdout.write(p.stdout[-3000:])
    if p.returncode:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [""]
        log.append(f"- **failed** (exit {p.returncode}, {took:.0f} s): `python {shown}`: {tail[0]}")
        return False
    log.append(f"- done in {took:.0f} s: `python {shown}`")
    return True


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget", type=float, default=540.0, help="seconds for the whole run")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--out", default=str(DOCS))
    p.add_argument("--smoke", action="store_true", help="tiny settings (a dry run of the plumbing, e.g. on CPU)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    start = time.monotonic()
    py = sys.executable
    batch = 8 if args.smoke else args.batch
    common = ["--device", args.device, "--amp", "bf16", "--channels-last", "--out", args.out]
    ts, km = str(HERE / "training_step.py"), str(HERE / "known_models.py")
    clfs = ["paper-cnn"] if args.smoke else ["paper-cnn", "resnet18"]
    smoke = ["--gs", "brightness", "--methods", "ERM", "MDA-5", "--reps", "1"] if args.smoke else ["--reps", "3"]
    parts = [
        # (command, share of the remaining budget it may use)
        ([py, ts, "--classifiers", *clfs, "--batch", str(batch), *smoke, *common,
          "--section", "gpu_training_step"], 0.45),
        ([py, ts, "--classifiers", *clfs, "--batch", str(batch), "--compile",
          *(smoke if args.smoke else ["--gs", "brightness", "--methods", "ERM", "MDA-5", "MRT-10", "MAT-10",
                                      "--reps", "3"]), *common, "--section", "gpu_training_step_compiled"], 0.6),
        ([py, km, "--quick", "--reps", "3", *(["--models", "brightness", "--min-time", "0"] if args.smoke else []),
          *common, "--section", "gpu_known_models"], 0.5),
        ([py, km, "--quick", "--reps", "3", "--compile",
          *(["--models", "brightness", "--min-time", "0"] if args.smoke else ["--models", "brightness", "contrast",
                                                                             "rotation", "gaussian-blur", "noise"]),
          *common, "--section", "gpu_known_models_compiled"], 1.0),
    ]
    log: list[str] = []
    sync_lines: list[str] = []
    if device.type == "cuda":
        try:
            out = subprocess.run([py, "-c", SYNC_CHECK, args.device, str(batch)], timeout=120, capture_output=True,
                                 text=True, cwd=HERE.parent, env=_env())
            sync_lines = [f"- {line}" for line in out.stdout.strip().splitlines()] or [f"- failed: {out.stderr[-300:]}"]
        except subprocess.TimeoutExpired:
            sync_lines = ["- timed out"]
    else:
        sync_lines = [f"- not run: `torch.cuda.set_sync_debug_mode` needs CUDA (device {args.device})."]
    for cmd, share in parts:
        left = args.budget - (time.monotonic() - start)
        run(cmd, left * share, log)
    body = "\n".join([
        f"## GPU: {device_name(device)}", "",
        f"Written by `python benchmarks/gpu_training_step.py{' --smoke' if args.smoke else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"{time.monotonic() - start:.0f} s in all. bf16 autocast and channels_last throughout; the sections "
        "`gpu_training_step` (eager), `gpu_training_step_compiled` (`torch.compile`), `gpu_known_models` and "
        "`gpu_known_models_compiled` follow. Wall time, the device synchronised around each timed call.", "",
        "Host syncs in one training step (after a warm-up step), `torch.cuda.set_sync_debug_mode(\"error\")`, "
        "default input checks:", "", *sync_lines, "", "Parts:", "", *log])
    write_section("gpu", body, args.out)
    print(body)


if __name__ == "__main__":
    main()
