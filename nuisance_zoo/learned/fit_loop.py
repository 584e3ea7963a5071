"""What every generator-training loop shares: data, sampling, set-up, checkpoints.

Used by :mod:`nuisance_zoo.learned.fit_munit` (MUNIT) and :mod:`nuisance_zoo.learned.fit_structured`
(structured generator); :func:`nuisance_zoo.learned.fit.fit` chooses between them. A trainer
here is an ``nn.Module`` holding its networks plus two Adam optimisers, ``gen_opt`` and ``dis_opt``.

Checkpoints use the package's one format (:mod:`nuisance_zoo.checkpoint`): the trainer's
weights, both optimisers, the training generator (``rng.train``), the global torch RNG and
the data samplers' permutations (``extra.sampler.<domain>.perm``), with the run record as
JSON. Resuming is bit-exact.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ..checkpoint import CHECKPOINT_NAME, read_checkpoint, restore_checkpoint, save_checkpoint

__all__ = [
    "CHECKPOINT_NAME", "GRID_ROWS", "GRID_DRAWS", "as_images", "EpochSampler", "batch_images", "init_weights",
    "check_discriminator", "loop_setup", "checkpoint_path", "save_run_checkpoint", "restore_run",
]

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
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.jsonl", "a") if out is not None else None
    return ga, gb, grid_deltas, run, bar, log


# ---------------------------------------------------------------------------------- checkpoints
def checkpoint_path(out: Path | None, resume: bool, overwrite: bool) -> Path | None:
    """``out``'s checkpoint file, after refusing a resume without one or a silent overwrite."""
    ckpt = out / CHECKPOINT_NAME if out is not None else None
    if resume and (ckpt is None or not ckpt.is_file()):
        raise FileNotFoundError(f"resume=True but {ckpt or 'out_dir=None'} has no checkpoint; run without --resume first.")
    if not resume and not overwrite and ckpt is not None and ckpt.is_file():
        raise ValueError(f"{out} already holds a training checkpoint; pass resume=True (--resume) to continue it, "
                         f"overwrite=True (--overwrite) to start afresh, or choose another output folder.")
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
    for name, s in samplers.items():
        s.perm, s.pos = ckpt.extra(f"sampler.{name}.perm").clone(), int(run["samplers"][name])
        if len(s.perm) != s.n:
            raise ValueError(f"cannot resume from {path}: domain_{name} had {len(s.perm)} images, now {s.n}.")
    return int(run["iteration"])
