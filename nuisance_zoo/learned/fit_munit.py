"""Learn a model of natural variation from two unpaired image sets (paper Section 4.3, Appendix E).

:func:`fit` trains MUNIT's two autoencoders (one per domain: content encoder, style encoder,
MLP + AdaIN decoder) and two multi-scale LSGAN discriminators with MUNIT's four losses:

- image reconstruction ``||Dec_A(Enc_A(x_A)) - x_A||_1`` (and for B), weight λx;
- content reconstruction ``||Enc_B^c(Dec_B(c_A, s_B)) - c_A||_1`` (and B→A), weight λc;
- style reconstruction ``||Enc_B^s(Dec_B(c_A, s_B)) - s_B||_1`` (and B→A), weight λs;
- adversarial (LSGAN) on ``Dec_B(c_A, s_B)`` against real B (and B→A against A), weight 1,

with ``s ~ N(0, I)``; each iteration updates the discriminators, then the autoencoders. Losses
are computed in the generator's internal range ([-1, 1] for the zoo's ``io="symmetric"``,
as in MUNIT), so Table 12's weights keep their meaning. It returns the A→B generator
``G(x, δ) = Dec_B(Enc_A^c(x), δ)`` as a :class:`~nuisance_zoo.learned.generator.MunitGenerator`.

Checkpoints are one safetensors file (all weights, Adam moments, random-generator and sampler
states; the JSON run state in its metadata, copied to ``checkpoint.json`` for people) written
to a temporary name and renamed, so a crash never leaves a torn checkpoint. Resuming
continues bit-for-bit: ``2 + 2`` iterations with a resume equal ``4`` uninterrupted.

Example:
    >>> import torch
    >>> from nuisance_zoo.learned.fit import fit
    >>> a = torch.randint(0, 128, (16, 3, 32, 32), dtype=torch.uint8)    # darker domain
    >>> b = torch.randint(128, 256, (16, 3, 32, 32), dtype=torch.uint8)  # brighter domain
    >>> G = fit(a, b, config="small", iterations=2, batch_size=2, progress=False)
    >>> G(torch.rand(4, 3, 32, 32)).shape
    torch.Size([4, 3, 32, 32])
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from torch import Tensor, nn

from .config import FitConfig, GeneratorConfig
from .discriminator import MultiScaleDiscriminator
from .generator import MunitGenerator, StyleEncoder

if TYPE_CHECKING:  # only for the return annotation; importing it here would be circular
    from .structured import StructuredGenerator

__all__ = ["fit", "DomainAutoencoder", "MunitTrainer", "CHECKPOINT_NAME", "load_checkpoint_state"]

CHECKPOINT_NAME = "checkpoint.safetensors"
_FORMAT = "nuisance-zoo/munit-fit/1"
_GRID_ROWS = 8
_GRID_DRAWS = 6


class DomainAutoencoder(nn.Module):
    """One domain's MUNIT autoencoder: a :class:`MunitGenerator` plus a style encoder.

    ``encode`` gives ``(content, style)``; ``decode(content, style)`` the tanh image. Both work in
    the internal range (see :meth:`MunitGenerator.to_internal`).
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.gen = MunitGenerator(cfg)
        self.style = StyleEncoder(cfg)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.gen.encode_internal(x), self.style(x)

    def decode(self, content: Tensor, style: Tensor) -> Tensor:
        return self.gen.decode_internal(content, style)


def _init_weights(module: nn.Module, kind: str) -> None:
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


class MunitTrainer(nn.Module):
    """The four networks and the two optimisers of MUNIT training, with one-step updates.

    Args:
        cfg: the trainer configuration.
        channels_a, channels_b: image channels of the two domains.
    """

    def __init__(self, cfg: FitConfig, channels_a: int, channels_b: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.gen_a = DomainAutoencoder(replace(cfg.gen, in_channels=channels_a, out_channels=channels_a))
        self.gen_b = DomainAutoencoder(replace(cfg.gen, in_channels=channels_b, out_channels=channels_b))
        self.dis_a = MultiScaleDiscriminator(channels_a, cfg.dis)
        self.dis_b = MultiScaleDiscriminator(channels_b, cfg.dis)
        _init_weights(self.gen_a, cfg.init)
        _init_weights(self.gen_b, cfg.init)
        _init_weights(self.dis_a, "gaussian")
        _init_weights(self.dis_b, "gaussian")
        opt = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.gen_opt = torch.optim.Adam(list(self.gen_a.parameters()) + list(self.gen_b.parameters()), **opt)
        self.dis_opt = torch.optim.Adam(list(self.dis_a.parameters()) + list(self.dis_b.parameters()), **opt)

    @property
    def style_dim(self) -> int:
        return self.cfg.gen.style_dim

    def set_lr(self, iteration: int) -> float:
        """Step decay: ``lr · gamma^(iteration // lr_step)`` (stateless, so resume is exact)."""
        lr = self.cfg.lr * self.cfg.lr_gamma ** (iteration // self.cfg.lr_step)
        for opt in (self.gen_opt, self.dis_opt):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def dis_step(self, x_a: Tensor, x_b: Tensor, s_a: Tensor, s_b: Tensor) -> dict[str, float]:
        """One discriminator update on fresh cross-domain translations."""
        self.dis_opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            x_ba = self.gen_a.decode(self.gen_b.gen.encode_internal(x_b), s_a)
            x_ab = self.gen_b.decode(self.gen_a.gen.encode_internal(x_a), s_b)
        loss_a = self.dis_a.loss_d(x_ba, x_a)
        loss_b = self.dis_b.loss_d(x_ab, x_b)
        total = self.cfg.gan_w * (loss_a + loss_b)
        total.backward()
        self.dis_opt.step()
        return {"D": float(total.detach())}

    def gen_step(self, x_a: Tensor, x_b: Tensor, s_a: Tensor, s_b: Tensor) -> dict[str, float]:
        """One autoencoder update with MUNIT's losses; returns the (unweighted) terms."""
        c = self.cfg
        self.gen_opt.zero_grad(set_to_none=True)
        c_a, s_a_prime = self.gen_a.encode(x_a)
        c_b, s_b_prime = self.gen_b.encode(x_b)
        x_a_recon = self.gen_a.decode(c_a, s_a_prime)
        x_b_recon = self.gen_b.decode(c_b, s_b_prime)
        x_ba = self.gen_a.decode(c_b, s_a)
        x_ab = self.gen_b.decode(c_a, s_b)
        c_b_recon, s_a_recon = self.gen_a.encode(x_ba)
        c_a_recon, s_b_recon = self.gen_b.encode(x_ab)
        l1 = lambda u, v: (u - v).abs().mean()  # noqa: E731
        terms = {
            "x": l1(x_a_recon, x_a) + l1(x_b_recon, x_b),
            "c": l1(c_a_recon, c_a) + l1(c_b_recon, c_b),
            "s": l1(s_a_recon, s_a) + l1(s_b_recon, s_b),
            "gan": self.dis_a.loss_g(x_ba) + self.dis_b.loss_g(x_ab),
        }
        total = c.gan_w * terms["gan"] + c.recon_x_w * terms["x"] + c.recon_c_w * terms["c"] + c.recon_s_w * terms["s"]
        if c.recon_x_cyc_w > 0:
            x_aba = self.gen_a.decode(c_a_recon, s_a_prime)
            x_bab = self.gen_b.decode(c_b_recon, s_b_prime)
            terms["cyc"] = l1(x_aba, x_a) + l1(x_bab, x_b)
            total = total + c.recon_x_cyc_w * terms["cyc"]
        total.backward()
        self.gen_opt.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["G"] = float(total.detach())
        return out

    def generator_a2b(self) -> MunitGenerator:
        """The A→B model of natural variation ``Dec_B(Enc_A^c(x), δ)`` (a fresh module)."""
        return MunitGenerator.combine(self.gen_a.gen, self.gen_b.gen)

    def generator_b2a(self) -> MunitGenerator:
        """The B→A model ``Dec_A(Enc_B^c(x), δ)``."""
        return MunitGenerator.combine(self.gen_b.gen, self.gen_a.gen)


# ---------------------------------------------------------------------------------- data
def _as_images(data: Any, name: str) -> Tensor:
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


class _EpochSampler:
    """Shuffled passes over ``n`` indices drawn from a shared generator; state is two tensors."""

    def __init__(self, n: int, rng: torch.Generator) -> None:
        self.n, self.rng = n, rng
        self.perm = torch.randperm(n, generator=rng)
        self.pos = 0

    def next(self, k: int) -> Tensor:
        out = []
        while k > 0:
            if self.pos >= self.n:
                self.perm, self.pos = torch.randperm(self.n, generator=self.rng), 0
            take = min(k, self.n - self.pos)
            out.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            k -= take
        return torch.cat(out)


def _batch(x: Tensor, idx: Tensor, device: torch.device) -> Tensor:
    b = x[idx].to(device)
    return b.float() / 255.0 if b.dtype == torch.uint8 else b


# ---------------------------------------------------------------------------------- checkpoints
def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict) -> dict:
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if not isinstance(v, Tensor):
                raise TypeError(f"optimizer state {k!r} is not a tensor; cannot checkpoint it")
            tensors[f"{prefix}.state.{idx}.{k}"] = v.detach().cpu().contiguous()
    return {"param_groups": sd["param_groups"], "state_keys": {str(i): sorted(st) for i, st in sd["state"].items()}}


def _unflatten_optimizer(prefix: str, meta: dict, tensors: dict) -> dict:
    state = {int(i): {k: tensors[f"{prefix}.state.{i}.{k}"] for k in keys} for i, keys in meta["state_keys"].items()}
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def _save_checkpoint(path: Path, trainer: MunitTrainer, run: dict, rng: torch.Generator,
                     samplers: dict[str, _EpochSampler]) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in trainer.state_dict().items()}
    run = dict(run)
    run["optim"] = {"gen": _flatten_optimizer("optim.gen", trainer.gen_opt, tensors),
                    "dis": _flatten_optimizer("optim.dis", trainer.dis_opt, tensors)}
    tensors["rng.train"] = rng.get_state()
    for name, s in samplers.items():
        tensors[f"sampler.{name}.perm"] = s.perm.contiguous()
        run.setdefault("samplers", {})[name] = s.pos
    text = json.dumps(run)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": _FORMAT, "state": text})
    os.replace(tmp, path)  # atomic: readers see the old or the new checkpoint, never half of one
    human = path.with_suffix(".json")
    tmp_h = human.with_name(human.name + ".tmp")
    tmp_h.write_text(json.dumps(run, indent=2) + "\n")
    os.replace(tmp_h, human)


def load_checkpoint_state(path: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """Read a :func:`fit` checkpoint: ``(run_state, tensors)``; nothing is unpickled."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a nuisance-zoo fit checkpoint (format {meta.get('format')!r}, "
                         f"expected {_FORMAT!r}).")
    return json.loads(meta["state"]), load_file(str(path))


# ---------------------------------------------------------------------------------- grids
@torch.no_grad()
def _save_grid(path: Path, trainer: MunitTrainer, xa: Tensor, xb: Tensor, deltas: Tensor) -> None:
    """Rows: images of A then B. Columns: input, reconstruction, translations for fixed δ."""
    from torchvision.utils import save_image

    rows = []
    for x, own, other in ((xa, trainer.gen_a, trainer.gen_b), (xb, trainer.gen_b, trainer.gen_a)):
        g = own.gen
        xi = g.to_internal(x)
        c, s = own.encode(xi)
        cols = [x, g.from_internal(own.decode(c, s))]
        for d in deltas:
            cols.append(other.gen.from_internal(other.decode(c, d.expand(x.shape[0], -1))))
        cols = [t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t for t in cols]
        rows.append(torch.stack(cols, 1).flatten(0, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(torch.cat(rows).clamp(0, 1).cpu(), str(path), nrow=2 + len(deltas), padding=1, pad_value=1.0)


def loop_setup(xa_all: Tensor, xb_all: Tensor, cfg, delta_dim: int, seed: int, start: int, out: Path | None,
               device: torch.device, progress: bool, desc: str) -> tuple:
    """What every generator-training loop needs before its first iteration (shared by
    :func:`fit` and the structured trainer): fixed grid inputs and δ, the run record kept in
    checkpoints, the progress bar and the loss log.

    The grid's δ come from their own generator (``seed + 1``), so grids never consume training draws.
    """
    grid_rng = torch.Generator().manual_seed(seed + 1)
    ga = _batch(xa_all, torch.arange(min(_GRID_ROWS, len(xa_all))), device)
    gb = _batch(xb_all, torch.arange(min(_GRID_ROWS, len(xb_all))), device)
    grid_deltas = torch.randn(_GRID_DRAWS, 1, delta_dim, generator=grid_rng).to(device)
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


# ---------------------------------------------------------------------------------- fit
def fit(
    domain_a: Any,
    domain_b: Any,
    config: "str | Path | dict | FitConfig | None" = "paper",
    iterations: int | None = None,
    batch_size: int | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    seed: int = 0,
    grid_every: int | None = None,
    checkpoint_every: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    log_every: int = 50,
    snapshots: Sequence[int] = (),
    training_info: dict | None = None,
    overwrite: bool = False,
) -> "MunitGenerator | StructuredGenerator":
    """Learn ``G(x, δ)`` mapping domain A to domain B with MUNIT's objective.

    Args:
        domain_a, domain_b: the two unpaired image sets: :class:`nuisance_zoo.data.ImageDataset`
            (its ``.x``), or tensors/arrays ``(N, C, H, W)`` (uint8, or float in [0, 1]).
        config: ``"small"``, ``"paper"``, a JSON/YAML file (zoo or MUNIT spelling), a dict or a
            :class:`~nuisance_zoo.learned.config.FitConfig`. ``"structured"`` (or a
            :class:`~nuisance_zoo.learned.fit_structured.StructuredFitConfig`, or a dict/file with
            ``preset: structured``) trains a
            :class:`~nuisance_zoo.learned.structured.StructuredGenerator` instead, with
            :func:`~nuisance_zoo.learned.fit_structured.fit_structured`.
        iterations, batch_size, grid_every, checkpoint_every: override the config's values.
        out_dir: where grids (``grids/iter_XXXXXXX.png``), the checkpoint
            (``checkpoint.safetensors`` + ``checkpoint.json``), the loss log (``log.jsonl``),
            ``snapshots/`` and the final ``model/`` folder go. None: nothing is written.
        resume: continue from ``out_dir``'s checkpoint (an error if there is none). The config
            and data must be those of the interrupted run; ``iterations`` may be raised.
        seed: seeds initialisation, data order and style draws.
        device: where to train (``"cpu"``, ``"cuda"``); random draws are made on the CPU so
            that a seed means the same run everywhere.
        progress: show a tqdm bar with the loss terms.
        log_every: write the loss terms to ``log.jsonl`` (and the bar) every this many iterations.
        snapshots: iterations after which to save the A→B generator to
            ``out_dir/snapshots/iter_XXXXXXX`` (the paper's Section 7.2 compares such snapshots).
        training_info: extra facts for the saved model's card (``domains``, ``selection``, ...).
        overwrite: start afresh in an ``out_dir`` that already holds a checkpoint (otherwise an
            error: a run is never replaced silently).

    Returns:
        The A→B generator in eval mode, on ``device``.
    """
    from .fit_structured import fit_structured, is_structured_config

    if is_structured_config(config):
        # A structured generator (known models driven by a small MLP) has its own trainer.
        return fit_structured(domain_a, domain_b, config=config, iterations=iterations, batch_size=batch_size,
                              out_dir=out_dir, resume=resume, seed=seed, grid_every=grid_every,
                              checkpoint_every=checkpoint_every, device=device, progress=progress,
                              log_every=log_every, snapshots=snapshots, training_info=training_info,
                              overwrite=overwrite)
    cfg = FitConfig.load(config, iterations=iterations, batch_size=batch_size, grid_every=grid_every,
                         checkpoint_every=checkpoint_every)
    xa_all, xb_all = _as_images(domain_a, "domain_a"), _as_images(domain_b, "domain_b")
    if cfg.iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {cfg.iterations}.")
    if xa_all.shape[1:] != xb_all.shape[1:]:
        # G(x, δ) keeps the input's shape (the contract), so both domains must share it.
        raise ValueError(
            f"domain_a images are {tuple(xa_all.shape[1:])} and domain_b images {tuple(xb_all.shape[1:])} "
            f"(C, H, W); make them alike in the data specs with channels=1|3 and size=H."
        )
    step = 2 ** cfg.gen.n_downsample
    for name, x in (("domain_a", xa_all), ("domain_b", xb_all)):
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"{name} images are {tuple(x.shape[-2:])}; height and width must be divisible by "
                             f"2**n_downsample = {step}. Resize or pad them (e.g. size=32 in the data spec).")
    size = list(xa_all.shape[-2:])
    cfg = replace(cfg, gen=replace(cfg.gen, image_size=size))
    device = torch.device(device)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT_NAME if out is not None else None
    if resume and (ckpt is None or not ckpt.is_file()):
        raise FileNotFoundError(f"resume=True but {ckpt or 'out_dir=None'} has no checkpoint; run without --resume first.")
    if not resume and not overwrite and ckpt is not None and ckpt.is_file():
        raise ValueError(f"{out} already holds a training checkpoint; pass resume=True (--resume) to continue it, "
                         f"overwrite=True (--overwrite) to start afresh, or choose another output folder.")

    torch.manual_seed(seed)
    trainer = MunitTrainer(cfg, xa_all.shape[1], xb_all.shape[1]).to(device)
    _check_discriminator(trainer, xa_all, xb_all, device)
    rng = torch.Generator().manual_seed(seed)
    samplers = {"a": _EpochSampler(len(xa_all), rng), "b": _EpochSampler(len(xb_all), rng)}
    start = 0
    if resume:
        start = _restore(ckpt, trainer, rng, samplers, cfg, device)

    ga, gb, grid_deltas, run, bar, log = loop_setup(xa_all, xb_all, cfg, cfg.gen.style_dim, seed, start, out,
                                                    device, progress, desc="fit")
    t0, snapshots = time.perf_counter(), set(int(s) for s in snapshots)
    trainer.train()
    try:
        for it in range(start, cfg.iterations):
            lr = trainer.set_lr(it)
            bs = cfg.batch_size
            x_a = trainer.gen_a.gen.to_internal(_batch(xa_all, samplers["a"].next(bs), device))
            x_b = trainer.gen_b.gen.to_internal(_batch(xb_all, samplers["b"].next(bs), device))
            s = torch.randn(4, bs, cfg.gen.style_dim, generator=rng).to(device)
            losses = trainer.dis_step(x_a, x_b, s[0], s[1])
            losses.update(trainer.gen_step(x_a, x_b, s[2], s[3]))
            done = it + 1
            if not all(math.isfinite(v) for v in losses.values()):
                raise RuntimeError(f"fit: a loss became non-finite at iteration {done}: {losses}. Lower the learning "
                                   f"rate or check the data; the last checkpoint is in {out}.")
            if done % log_every == 0 or done == cfg.iterations:
                rec = {"iteration": done, "lr": lr, **{k: round(v, 5) for k, v in losses.items()},
                       "seconds": round(time.perf_counter() - t0, 2)}
                if log is not None:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                if bar is not None:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            if bar is not None:
                bar.update(1)
            if out is None:
                continue
            run["iteration"] = done
            if cfg.grid_every and (done % cfg.grid_every == 0 or done == cfg.iterations):
                _save_grid(out / "grids" / f"iter_{done:07d}.png", trainer, ga, gb, grid_deltas)
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.iterations:
                _save_checkpoint(ckpt, trainer, run, rng, samplers)
            if done in snapshots:
                _save_model(trainer.generator_a2b(), out / "snapshots" / f"iter_{done:07d}", done, training_info)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()

    G = trainer.generator_a2b().eval()
    if out is not None:
        _save_model(G, out / "model", cfg.iterations, training_info)
    return G


def _save_model(G: MunitGenerator, folder: Path, iterations: int, training_info: dict | None) -> None:
    if not hasattr(G, "save_pretrained"):  # pragma: no cover - only before learned/pretrained.py existed
        return
    info = dict(training_info or {})
    info.setdefault("iterations", iterations)
    info.setdefault("trainer", "nuisance_zoo.learned.fit (MUNIT objective, Table 12 weights)")
    G.save_pretrained(folder, training=info)


def _check_discriminator(trainer: MunitTrainer, xa: Tensor, xb: Tensor, device: torch.device) -> None:
    """Fail early, with a fix, when images are too small for the discriminator's scales."""
    for name, x, dis in (("domain_a", xa, trainer.dis_a), ("domain_b", xb, trainer.dis_b)):
        probe = torch.zeros(1, *x.shape[1:], device=device)
        try:
            with torch.no_grad():
                dis(probe)
        except RuntimeError as e:
            c = trainer.cfg.dis
            raise ValueError(f"{name} images {tuple(x.shape[-2:])} are too small for a discriminator with "
                             f"num_scales={c.num_scales} and n_layer={c.n_layer} ({e}). Use fewer scales or layers "
                             f"(config dis.num_scales / dis.n_layer) or larger images (e.g. size=32).") from None


def _restore(ckpt: Path, trainer: MunitTrainer, rng: torch.Generator, samplers: dict, cfg: FitConfig,
             device: torch.device) -> int:
    run, tensors = load_checkpoint_state(ckpt)
    saved = FitConfig.from_dict(run["config"])
    mismatched = [k for k in ("gen", "dis", "lr", "betas", "weight_decay", "lr_step", "lr_gamma", "gan_w",
                              "recon_x_w", "recon_c_w", "recon_s_w", "recon_x_cyc_w", "batch_size")
                  if getattr(saved, k) != getattr(cfg, k)]
    if mismatched:
        raise ValueError(f"cannot resume from {ckpt}: the config differs in {mismatched}. Resume with the "
                         f"interrupted run's config (saved in {ckpt.with_suffix('.json')}).")
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    trainer.load_state_dict(model, strict=True)
    trainer.to(device)
    trainer.gen_opt.load_state_dict(_unflatten_optimizer("optim.gen", run["optim"]["gen"], tensors))
    trainer.dis_opt.load_state_dict(_unflatten_optimizer("optim.dis", run["optim"]["dis"], tensors))
    rng.set_state(tensors["rng.train"])
    for name, s in samplers.items():
        s.perm = tensors[f"sampler.{name}.perm"].clone()
        s.pos = int(run["samplers"][name])
        if len(s.perm) != s.n:
            raise ValueError(f"cannot resume from {ckpt}: domain_{name} had {len(s.perm)} images, now {s.n}.")
    return int(run["iteration"])
