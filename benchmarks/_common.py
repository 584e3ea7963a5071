"""Shared helpers of the benchmark scripts: best-of timing, machine description and the
marker-delimited sections of ``docs/benchmarks.md`` (each script rewrites only its own)."""
from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"

_HEADER = """# Benchmarks (CPU; GPU sections when a device is lent)

Each section below is written by one script in `benchmarks/` between its own
`<!-- name -->` … `<!-- /name -->` markers, so the scripts can be rerun independently
(`python benchmarks/<name>.py`, `--quick` for a short run, `--out FILE` to write elsewhere).
Timings are the best of several repetitions (the least disturbed run) of wall-clock time, or
with `--clock cpu` of the process's CPU time (repeatable on a shared machine); every section
names the machine, the threads, the clock and the load it ran under, and the command that
wrote it. The `gpu*` sections are written by `python benchmarks/gpu_training_step.py` on an
accelerator.
See also [generator_throughput.md](benchmarks/generator_throughput.md) (learned generator and
its trainer, `benchmarks/generator_throughput.py`). `tests/test_benchmarks_smoke.py` runs every
script with its smallest settings.
"""


def best_time(fn: Callable[[], object], reps: int, warmup: int = 1, min_time: float = 0.0,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Best seconds of one ``fn()`` call over ``reps`` repetitions after ``warmup`` calls.

    The minimum, not the mean: on a shared machine other processes only ever add time. With
    ``min_time`` each repetition runs ``fn`` enough times to last about that long (and the
    per-call time is reported), so millisecond-scale calls are not dominated by timer and
    scheduler noise. ``clock`` is wall time by default; ``time.process_time`` (CPU time of
    this process) ignores the time other processes hold the cores, which makes single-thread
    timings on a loaded machine repeatable.
    """
    for _ in range(warmup):
        fn()
    n = 1
    if min_time > 0:
        t = clock()
        fn()
        once = max(clock() - t, 1e-6)
        n = max(1, min(1000, int(min_time / once)))
    best = float("inf")
    for _ in range(max(1, reps)):
        t = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - t) / n)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    """The accelerator's name as its runtime reports it (``cpu_model()`` for the CPU)."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2 ** 30:.0f} GiB)"
    return cpu_model() if device.type == "cpu" else str(device)


def machine_line(threads: int, load_before: float) -> str:
    """One paragraph naming the machine, torch version, threads and load (shared or not)."""
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    load = max(load_before, load_after)
    shared = (f" **The machine was shared** (1-min load average up to {load:.1f} > 1.5: other "
              f"engineers' jobs ran on the same cores), so absolute numbers are pessimistic; "
              f"ratios measured in the same run are more reliable." if load > 1.5 else
              f" Load average {load:.1f} (machine otherwise quiet).")
    return (f"Machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"`torch.set_num_threads({threads})`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
            + shared)


def load_now() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def write_section(name: str, body: str, out: str | Path = DOCS) -> Path:
    """Replace (or append) the ``<!-- name -->`` … ``<!-- /name -->`` block of ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = out.read_text() if out.exists() else _HEADER
    block = f"<!-- {name} -->\n{body.rstrip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    out.write_text(text)
    return out


def add_timing_args(p) -> None:
    """The timing options the per-op benchmarks share: ``--reps``, ``--min-time``, ``--threads``, ``--clock``."""
    p.add_argument("--reps", type=int, default=None, help="timed repetitions (best of); default 3 (2 with --quick)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds each repetition lasts at least (short calls are repeated inside it)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or this process's CPU time (with --threads 1: repeatable on a loaded machine)")


def md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or ("---|" + "---:|" * (len(header) - 1))
    lines = ["| " + " | ".join(header) + " |", "|" + align]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
