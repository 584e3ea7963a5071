"""What every generator-training loop shares: data, sampling, set-up, checkpoints.

Used by :mod:`nuisance_zoo.learned.fit_munit` (MUNIT) and :mod:`nuisance_zoo.learned.fit_structured`
(structured generator); :func:`nuisance_zoo.learned.fit.fit` chooses between them. A trainer
here is an ``nn.Module`` holding its networks plus two Adam optimisers, ``gen_opt`` and ``dis_opt``.

Checkpoints use the package's one format (:mod:`nuisance_zoo.checkpoint`): the trainer's
weights, both optimisers, the training generator (``rng.train``), the global torch RNG and
the data samplers' permutations (``extra.sampler.<domain>.perm``), with the run record as
JSON. Resuming is bit-exact.

Writes (the files of ``out_dir``): every artefact is renamed into place whole
(:func:`~nuisance_zoo.checkpoint.atomic_file`, :func:`~nuisance_zoo.checkpoint.atomic_folder`),
and an iteration's grid and snapshot are written before its checkpoint, so a resume from the
checkpoint redoes any of them a kill cut short. ``log.jsonl`` is append-only; a resume first
trims it to the checkpoint's iteration. The run holds ``out_dir/.lock``
(:mod:`nuisance_zoo.run_lock`), taken by :func:`~nuisance_zoo.learned.fit_munit.fit_munit` and
:func:`~nuisance_zoo.learned.fit_structured.fit_structured`.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ..checkpoint import (CHECKPOINT_NAME, atomic_folder, atomic_write_text, clean_leftovers, read_checkpoint,
                          repair_json_copy, restore_checkpoint, save_checkpoint)
from ..run_lock import held_lock

__all__ = [
    "CHECKPOINT_NAME", "GRID_ROWS", "GRID_DRAWS", "as_images", "EpochSampler", "batch_images", "init_weights",
    "check_discriminator", "loop_setup", "checkpoint_path", "save_run_checkpoint", "restore_run",
    "save_model_folder", "LOG_NAME", "RUN_OUTPUTS",
]

LOG_NAME = "log.jsonl"
#: What a fit writes into ``out_dir`` (besides ``.lock``); a fresh start removes the last run's.
RUN_OUTPUTS = (CHECKPOINT_NAME, Path(CHECKPOINT_NAME).with_suffix(".json").name, LOG_NAME, "grids", "snapshots",
               "model", "best", "monitor.png")

#: Images per domain shown in the progress grids, and δ draws per image.
GRID_ROWS = 8
GRID_DRAWS = 6


# ---------------------------------------------------------------------------------- data
def as_images(data: Any, name: str) -> Tensor:
    """Images ``(N, C, H, W)`` (uint8, or float in [0, 1]) from a data set, tensor or array."""
    x = getattr(data, "x", data)
    if not isinstance(x, Tensor):
        try:
            import numpy as np

            if isinstance(x, np.ndarray):
                x = torch.from_numpy(x)
        except ImportError:  # pragma: no cover
            pass
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be an ImageDataset (with .x), a tensor or an array of images (N, C, H, W); "
                        f"got {type(data).__name__}. Load one with nuisance_zoo.data.load_dataset(spec).")
    if x.ndim != 4:
        raise ValueError(f"{name} must hold images (N, C, H, W); got shape {tuple(x.shape)}.")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        raise ValueError(f"{name} looks channels-last {tuple(x.shape)}; pass x.permute(0, 3, 1, 2).")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: the domain selected no images.")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise TypeError(f"{name} must be uint8 (0..255) or float in [0, 1], got {x.dtype}.")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{name} must hold values in [0, 1]; got min {lo:.3g}, max {hi:.3g} (divide 0..255 data by 255).")
    return x.float()


class EpochSampler:
    """Shuffled passes over ``n`` indices drawn from a shared generator; state is two tensors."""

    def __init__(self, n: int, rng: torch.Generator) -> None:
        self.n, self.rng = n, rng
        self.perm = torch.randperm(n, generator=rng)
        self.pos = 0

    def next(self, k: int) -> Tensor:
        """The next ``k`` indices, starting a new shuffled pass when one runs out."""
        out = []
        while k > 0:
            if self.pos >= self.n:
                self.perm, self.pos = torch.randperm(self.n, generator=self.rng), 0
            take = min(k, self.n - self.pos)
            out.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            k -= take
        return torch.cat(out)


def batch_images(x: Tensor, idx: Tensor, device: torch.device) -> Tensor:
    """``x[idx]`` on ``device`` as float in [0, 1]."""
    b = x[idx].to(device)
    return b.float() / 255.0 if b.dtype == torch.uint8 else b


# ---------------------------------------------------------------------------------- networks
def init_weights(module: nn.Module, kind: str) -> None:
    """MUNIT's initialisations: convolution and linear weights drawn, biases zero."""
    if kind == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if kind == "kaiming":
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif kind == "xavier":
                nn.init.xavier_normal_(m.weight, gain=math.sqrt(2))
            elif kind == "orthogonal":
                nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
            elif kind == "gaussian":
                nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def check_discriminator(discriminators: dict[str, nn.Module], dis_cfg: Any, xa: Tensor, xb: Tensor,
                        device: torch.device) -> None:
    """Fail early, with a fix, when images are too small for the discriminator's scales.

    Args:
        discriminators: ``{"domain_a": D_A, "domain_b": D_B}`` (the same module twice is fine).
        dis_cfg: the discriminator config (``num_scales``, ``n_layer``), for the message.
        xa, xb: the two domains' images.
        device: where the discriminators live.
    """
    for name, x in (("domain_a", xa), ("domain_b", xb)):
        probe = torch.zeros(1, *x.shape[1:], device=device)
        try:
            with torch.no_grad():
                discriminators[name](probe)
        except RuntimeError as e:
            raise ValueError(f"{name} images {tuple(x.shape[-2:])} are too small for a discriminator with "
                             f"num_scales={dis_cfg.num_scales} and n_layer={dis_cfg.n_layer} ({e}). Use fewer "
                             f"scales or layers (config dis.num_scales / dis.n_layer) or larger images "
                             f"(e.g. size=32).") from None


# ---------------------------------------------------------------------------------- set-up
def loop_setup(xa_all: Tensor, xb_all: Tensor, cfg, delta_dim: int, seed: int, start: int, out: Path | None,
               device: torch.device, progress: bool, desc: str) -> tuple:
    """What every generator-training loop needs before its first iteration: fixed grid inputs
    and δ, the run record kept in checkpoints, the progress bar and the loss log.

    The grid's δ come from their own generator (``seed + 1``), so grids never consume training draws.

    Returns:
        ``(grid_a, grid_b, grid_deltas, run, bar, log)``.
    """
    grid_rng = torch.Generator().manual_seed(seed + 1)
    ga = batch_images(xa_all, torch.arange(min(GRID_ROWS, len(xa_all))), device)
    gb = batch_images(xb_all, torch.arange(min(GRID_ROWS, len(xb_all))), device)
    grid_deltas = torch.randn(GRID_DRAWS, 1, delta_dim, generator=grid_rng).to(device)
    run = {"iteration": start, "seed": seed, "config": cfg.to_dict(), "channels": [xa_all.shape[1], xb_all.shape[1]],
           "sizes": [list(xa_all.shape[-2:]), list(xb_all.shape[-2:])], "n": [len(xa_all), len(xb_all)]}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.iterations, initial=start, desc=desc, unit="it", dynamic_ncols=True)
    log = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _trim_log(out / LOG_NAME, start)
        log = open(out / LOG_NAME, "a")
    return ga, gb, grid_deltas, run, bar, log


def _trim_log(path: Path, start: int) -> None:
    """Keep the records of iterations up to ``start`` (the checkpoint's): a killed run may have
    logged iterations after its last checkpoint, which the resume runs and logs again."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            if int(json.loads(line)["iteration"]) <= start:
                keep.append(line if line.endswith("\n") else line + "\n")
        except (ValueError, KeyError, TypeError):  # a torn last line, or not a record of ours
            continue
    if keep != lines:
        atomic_write_text(path, "".join(keep), "log.trim")


# ---------------------------------------------------------------------------------- checkpoints
def checkpoint_path(out: Path | None, resume: bool, overwrite: bool) -> Path | None:
    """``out``'s checkpoint file, after refusing a resume without one or a silent overwrite.

    Called with ``out``'s run lock held. It also readies the folder: a killed run's temporaries
    are removed; a fresh start (no resume) removes the previous run's outputs
    (:data:`RUN_OUTPUTS`). A resume in a folder where a run started but stopped before its first
    checkpoint (killed: its stale lock was taken over; or failed: its ``log.jsonl`` is there)
    starts from iteration 0: there is nothing to restore, and :func:`restore_run` returns 0.
    """
    ckpt = out / CHECKPOINT_NAME if out is not None else None
    if out is not None:
        clean_leftovers(out)
    if resume and (ckpt is None or not ckpt.is_file()):
        lock = held_lock(out) if out is not None else None
        started = (lock is not None and lock.previous is not None) or (out is not None and (out / LOG_NAME).is_file())
        if not started:
            raise FileNotFoundError(f"resume=True but {ckpt or 'out_dir=None'} has no checkpoint; run without --resume first.")
        resume = False  # stopped before its first checkpoint: the run starts again from 0
    if not resume and not overwrite and ckpt is not None and ckpt.is_file():
        raise ValueError(f"{out} already holds a training checkpoint; pass resume=True (--resume) to continue it, "
                         f"overwrite=True (--overwrite) to start afresh, or choose another output folder.")
    if not resume and out is not None:
        for name in RUN_OUTPUTS:
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    return ckpt


def save_run_checkpoint(path: Path, family: str, trainer: nn.Module, run: dict, rng: torch.Generator,
                        samplers: dict[str, EpochSampler]) -> None:
    """Write the whole training state of a generator trainer (see the module docstring).

    ``family`` (``"munit"``, ``"structured"``) is recorded so that a resume with the other
    trainer fails with a clear message instead of a config error.
    """
    run = {**run, "family": family, "samplers": {name: s.pos for name, s in samplers.items()}}
    save_checkpoint(path, trainer, {"gen": trainer.gen_opt, "dis": trainer.dis_opt}, run, generators={"train": rng},
                    extras={f"sampler.{name}.perm": s.perm for name, s in samplers.items()})


def restore_run(path: Path, family: str, trainer: nn.Module, rng: torch.Generator,
                samplers: dict[str, EpochSampler], config_mismatch: Callable[[dict], list[str]]) -> int:
    """Restore :func:`save_run_checkpoint`'s state; return the iteration to continue from.

    Args:
        path: the checkpoint file.
        family: the generator family being trained (as given to :func:`save_run_checkpoint`).
        trainer: the freshly built trainer (same config) to load into.
        rng: the training generator; samplers: the data samplers (their generator is ``rng``).
        config_mismatch: given the saved run record's ``"config"``, the names of the fields
            that differ from the current config (a resume needs the interrupted run's config).
    """
    if not path.is_file():  # the run was killed before its first checkpoint (see checkpoint_path)
        return 0
    ckpt = read_checkpoint(path)
    run = ckpt.state
    if run.get("family") != family:
        raise ValueError(f"cannot resume from {path}: it is not a {family} fit checkpoint (it is "
                         f"{run.get('family')!r}); resume it with the config it was trained with.")
    mismatched = config_mismatch(run["config"])
    if mismatched:
        raise ValueError(f"cannot resume from {path}: the config differs in {mismatched}. Resume with the "
                         f"interrupted run's config (saved in {path.with_suffix('.json')}).")
    restore_checkpoint(ckpt, trainer, {"gen": trainer.gen_opt, "dis": trainer.dis_opt}, generators={"train": rng})
    repair_json_copy(ckpt)
    for name, s in samplers.items():
        s.perm, s.pos = ckpt.extra(f"sampler.{name}.perm").clone(), int(run["samplers"][name])
        if len(s.perm) != s.n:
            raise ValueError(f"cannot resume from {path}: domain_{name} had {len(s.perm)} images, now {s.n}.")
    return int(run["iteration"])


def save_model_folder(G: nn.Module, folder: Path, training: dict, point: str) -> None:
    """``G.save_pretrained`` into a temporary folder renamed onto ``folder`` when complete, so a
    loader never finds a model folder with weights but no config (or the reverse).

    Args:
        G: a model with ``save_pretrained`` (a learned generator).
        folder: ``out/model`` or ``out/snapshots/iter_N``.
        training: the ``training`` facts for its config and card.
        point: the write point's name (``"model"``, ``"snapshot"``).
    """
    with atomic_folder(folder, point) as tmp:
        G.save_pretrained(tmp, training=training)
