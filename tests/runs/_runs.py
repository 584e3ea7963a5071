"""Tiny train/fit runs, a fork-and-kill runner, and folder comparisons for the run-fault tests.

A run "killed at a write point" is a forked child with ``NUISANCE_ZOO_CRASH_AT=NAME:N`` in its
environment: at the N-th time it reaches write point NAME, :func:`nuisance_zoo.checkpoint.write_point`
sends it SIGKILL (kill -9: no cleanup, no ``finally``, its lock dropped only by the kernel).
A fork shares the test process's imports, so a case costs a tiny run, not a Python start.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch

from nuisance_zoo.base import NuisanceModel
from nuisance_zoo.checkpoint import CRASH_ENV, TMP_SUFFIX, read_checkpoint, reset_write_points

#: Keys that hold wall-clock times: the one thing a resumed run may not reproduce.
TIME_KEYS = {"time_s", "elapsed", "seconds"}


# ---------------------------------------------------------------------------------- the runs
class Shift(NuisanceModel):
    """Stand-in nuisance: add δ to every pixel (differentiable, box [0, 0.3])."""

    delta_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.set_delta_box([0.0], [0.3])

    def decode(self, x, delta):
        return (x + delta.view(-1, 1, 1, 1)).clamp(0, 1)


def toy_data(n: int = 16, size: int = 12, seed: int = 0):
    """Two classes told apart by which half of the image is bright (uint8, NCHW)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randint(0, 40, (n, 3, size, size), generator=g)
    half = size // 2
    x[y == 0, :, :, :half] += 180
    x[y == 1, :, :, half:] += 180
    return x.to(torch.uint8), y


def fit_domains(n: int = 6):
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 100, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    b = torch.randint(150, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    return a, b


#: A MUNIT trainer config small enough for a few iterations in well under a second.
TINY_MUNIT = {
    "preset": "small",
    "gen": {"dim": 4, "mlp_dim": 8, "style_width": 4, "style_n_downsample": 1},
    "dis": {"dim": 4, "n_layer": 2, "num_scales": 2},
    "batch_size": 2,
}
TINY_STRUCTURED = {"preset": "structured", "hidden": 8, "batch_size": 2,
                   "dis": {"dim": 4, "n_layer": 2, "num_scales": 1}}


def run_train(out: Path, resume: bool = False):
    """4 steps of MDA (2 epochs of 2), a checkpoint mid-epoch 2 and at each epoch end."""
    from nuisance_zoo.training.trainer import train

    return train("paper-cnn", nuisance=Shift(), algorithm="mda", k=2, data=toy_data(),
                 test_domains={"toy": toy_data(8, seed=1)}, epochs=2, batch_size=8, out=out, seed=0,
                 checkpoint_every=3, progress=False, resume=resume)


def _run_fit(config: dict, out: Path, resume: bool):
    from nuisance_zoo.learned.fit import fit

    a, b = fit_domains()
    # snapshot 2 shares its iteration with a checkpoint (the case that used to be lost), 3 does not
    return fit(a, b, config=config, iterations=4, out_dir=out, seed=3, grid_every=2, checkpoint_every=2,
               snapshots=[2, 3], log_every=1, progress=False, resume=resume)


def run_munit(out: Path, resume: bool = False):
    return _run_fit(TINY_MUNIT, out, resume)


def run_structured(out: Path, resume: bool = False):
    return _run_fit(TINY_STRUCTURED, out, resume)


FAMILIES: dict[str, Callable] = {"train": run_train, "fit-munit": run_munit, "fit-structured": run_structured}


# ---------------------------------------------------------------------------------- fork and kill
def in_child(fn: Callable[[], object], crash_at: str | None = None, wait: bool = True) -> int:
    """Run ``fn`` in a forked child (with ``NUISANCE_ZOO_CRASH_AT=crash_at``).

    Returns:
        The child's pid when ``wait`` is False, else its wait status. A child that returns exits
        0, one that raises exits 1 (traceback on stderr): neither runs any of the test's code.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if crash_at is not None:
                os.environ[CRASH_ENV] = crash_at
            reset_write_points()  # NAME:N counts this run's points only
            warnings.simplefilter("ignore")
            fn()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    if not wait:
        return pid
    return os.waitpid(pid, 0)[1]


def killed_by_sigkill(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


# ---------------------------------------------------------------------------------- folders
def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def folder_state(out: Path) -> dict[str, object]:
    """Every file under ``out`` by relative path, as comparable content: bytes, except that
    wall-clock times are dropped from JSON, JSON lines, CSV and the checkpoint's run record."""
    state: dict[str, object] = {}
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(out).as_posix()
        if p.name.endswith(".safetensors") and p.name.startswith("checkpoint"):
            ckpt = read_checkpoint(p)
            state[rel] = (_strip(ckpt.state), ckpt.optimizers,
                          {k: (str(v.dtype), tuple(v.shape), v.numpy().tobytes()) for k, v in ckpt.tensors.items()})
        elif p.suffix == ".json":
            state[rel] = _strip(json.loads(p.read_text()))
        elif p.suffix == ".jsonl":
            state[rel] = [_strip(json.loads(line)) for line in p.read_text().splitlines()]
        elif p.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(p.read_text())))
            state[rel] = [_strip(r) for r in rows]
        else:
            state[rel] = p.read_bytes()
    return state


def check_loadable(out: Path) -> list[str]:
    """Load everything a loader would look at in ``out`` (every name that is not a temporary
    or hidden); return the temporaries found. Raises if anything in plain sight is torn."""
    from PIL import Image

    from nuisance_zoo.training.classifiers import load_classifier

    temps = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if any(part.startswith(".") for part in rel.parts) or p.name.endswith(TMP_SUFFIX):
            if p.name != ".lock":
                temps.append(rel.as_posix())
            continue
        if p.is_dir():
            if (p / "config.json").exists() or p.name == "model" or p.parent.name == "snapshots":
                import nuisance_zoo as nz

                nz.load(f"local-dir:{p}")  # a model folder: config, sha256-checked weights, build
            continue
        if p.name == "checkpoint.safetensors":
            read_checkpoint(p)
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".jsonl":
            [json.loads(line) for line in p.read_text().splitlines()]
        elif p.suffix == ".csv":
            list(csv.DictReader(io.StringIO(p.read_text())))
        elif p.suffix == ".png":
            with Image.open(p) as im:
                im.load()
    if (out / "classifier.json").exists():
        load_classifier(out)  # the pair: config and weights that fit it
    return temps


# ---------------------------------------------------------------------------------- references
_REF_ROOT: Path | None = None
_REFS: dict[str, tuple[list[str], Path]] = {}


def reference(family: str) -> tuple[list[str], Path]:
    """The family's uninterrupted run (made once per process): its write points, in order, and
    its output folder. Test collection calls it to enumerate the points, so that a new write
    point in train or fit gets its kill test without anyone listing it."""
    global _REF_ROOT
    if family not in _REFS:
        from nuisance_zoo.checkpoint import recording_write_points

        if _REF_ROOT is None:
            import atexit
            import shutil
            import tempfile

            _REF_ROOT = Path(tempfile.mkdtemp(prefix="nz-runs-ref-"))
            atexit.register(shutil.rmtree, _REF_ROOT, True)
        out = _REF_ROOT / family
        with recording_write_points() as points:
            FAMILIES[family](out)
        _REFS[family] = (list(points), out)
    return _REFS[family]


def assert_same_folder(out: Path, ref: Path) -> None:
    """``out`` holds exactly ``ref``'s files, with the same content (times aside)."""
    got, want = folder_state(out), folder_state(ref)
    assert sorted(got) == sorted(want), f"files differ: extra {sorted(set(got) - set(want))}, " \
                                        f"missing {sorted(set(want) - set(got))}"
    differ = [k for k in want if got[k] != want[k]]
    assert not differ, f"content differs from the uninterrupted run in {differ}"
