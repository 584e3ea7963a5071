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

Checkpoints use the package's one format (:mod:`nuisance_zoo.checkpoint`, via
:mod:`nuisance_zoo.learned.fit_loop`): all weights, Adam moments, random-generator and sampler
states in one safetensors file written atomically. Resuming continues bit-for-bit: ``2 + 2``
iterations with a resume equal ``4`` uninterrupted. :func:`nuisance_zoo.learned.fit.fit` is the
public entry point; it calls :func:`fit_munit` for MUNIT configs.

Example:
    >>> import torch
    >>> from nuisance_zoo.learned.fit_munit import fit_munit
    >>> a = torch.randint(0, 128, (16, 3, 32, 32), dtype=torch.uint8)    # darker domain
    >>> b = torch.randint(128, 256, (16, 3, 32, 32), dtype=torch.uint8)  # brighter domain
    >>> G = fit_munit(a, b, config="small", iterations=2, batch_size=2, progress=False)
    >>> G(torch.rand(4, 3, 32, 32)).shape
    torch.Size([4, 3, 32, 32])
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from ..checkpoint import CHECKPOINT_NAME, atomic_file, read_checkpoint
from ..run_lock import exclusive_out
from .config import FitConfig, GeneratorConfig
from .discriminator import MultiScaleDiscriminator
from .fit_loop import (EpochSampler, as_images, batch_images, check_discriminator, checkpoint_path, init_weights,
                       loop_setup, restore_run, save_model_folder, save_run_checkpoint)
from .fit_monitor import MonitoredRun, build_monitor, hold_out, monitor_settings
from .fit_terms import FrozenClassifier, diversity_loss, label_inputs, label_loss, structure_loss
from .generator import MunitGenerator, StyleEncoder

__all__ = ["fit_munit", "DomainAutoencoder", "MunitTrainer", "CHECKPOINT_NAME", "load_checkpoint_state", "FAMILY"]

#: How MUNIT runs are marked in their checkpoints.
FAMILY = "munit"


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
        init_weights(self.gen_a, cfg.init)
        init_weights(self.gen_b, cfg.init)
        init_weights(self.dis_a, "gaussian")
        init_weights(self.dis_b, "gaussian")
        opt = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.gen_opt = torch.optim.Adam(list(self.gen_a.parameters()) + list(self.gen_b.parameters()), **opt)
        self.dis_opt = torch.optim.Adam(list(self.dis_a.parameters()) + list(self.dis_b.parameters()), **opt)
        # The label term's judge: a FrozenClassifier (not a sub-module: outside the optimiser and
        # the checkpoint). None until fit_munit sets it.
        self.classifier: FrozenClassifier | None = None

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

    def gen_step(self, x_a: Tensor, x_b: Tensor, s_a: Tensor, s_b: Tensor, y_a: Tensor | None = None,
                 s_b2: Tensor | None = None) -> dict[str, float]:
        """One autoencoder update with MUNIT's losses and the configured extra terms.

        Args:
            x_a, x_b: the two domains' batches in the internal range.
            s_a, s_b: style draws for the B→A and A→B translations.
            y_a: labels of ``x_a`` (the label term in ``"ce"`` mode).
            s_b2: a second A→B style draw (the diversity term).

        Returns:
            The unweighted terms and the weighted total ``"G"``.
        """
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
        total = total + self._extra_terms(terms, x_a, x_ab, c_a, s_b, y_a, s_b2)
        total.backward()
        self.gen_opt.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["G"] = float(total.detach())
        return out

    def _extra_terms(self, terms: dict, x_a: Tensor, x_ab: Tensor, c_a: Tensor, s_b: Tensor, y_a: Tensor | None,
                     s_b2: Tensor | None) -> Tensor | float:
        """The weighted label, structure and diversity terms (:mod:`.fit_terms`); adds them to ``terms``."""
        c, total = self.cfg, 0.0
        if c.label_w > 0:
            if self.classifier is None:
                raise ValueError("label_w > 0 needs a frozen classifier of domain A: fit(..., classifier=model).")
            gb, ga = self.gen_b.gen, self.gen_a.gen
            terms["label"] = label_loss(self.classifier, gb.from_internal(x_ab), y_a, ga.from_internal(x_a),
                                        c.label_mode)
            total = total + c.label_w * terms["label"]
        if c.structure_w > 0:
            terms["struct"] = structure_loss(x_a, x_ab)
            total = total + c.structure_w * terms["struct"]
        if c.diversity_w > 0:
            if s_b2 is None:
                raise ValueError("diversity_w > 0 needs a second style draw s_b2.")
            terms["div"] = diversity_loss(x_ab, self.gen_b.decode(c_a, s_b2), s_b, s_b2, cap=c.diversity_cap)
            total = total + c.diversity_w * terms["div"]
        return total

    def generate_a2b(self, x01: Tensor, delta: Tensor) -> Tensor:
        """``G(x, δ)`` from [0, 1] images with the current weights (no copy; for monitoring)."""
        ga, gb = self.gen_a.gen, self.gen_b.gen
        return gb.from_internal(self.gen_b.decode(ga.encode_internal(ga.to_internal(x01)), delta))

    def generator_a2b(self) -> MunitGenerator:
        """The A→B model of natural variation ``Dec_B(Enc_A^c(x), δ)`` (a fresh module)."""
        return MunitGenerator.combine(self.gen_a.gen, self.gen_b.gen)

    def generator_b2a(self) -> MunitGenerator:
        """The B→A model ``Dec_A(Enc_B^c(x), δ)``."""
        return MunitGenerator.combine(self.gen_b.gen, self.gen_a.gen)


def load_checkpoint_state(path: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """Read a fit checkpoint: ``(run_state, tensors)`` under their full keys; nothing is unpickled."""
    ckpt = read_checkpoint(path)
    return ckpt.state, ckpt.tensors


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
    with atomic_file(path, "grid") as tmp:
        save_image(torch.cat(rows).clamp(0, 1).cpu(), str(tmp), format="png", nrow=2 + len(deltas), padding=1,
                   pad_value=1.0)


# ---------------------------------------------------------------------------------- fit
@exclusive_out("out_dir", "fit")
def fit_munit(
    domain_a: Any,
    domain_b: Any,
    config: str | Path | dict | FitConfig | None = "paper",
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
    classifier: nn.Module | Callable[[Tensor], Tensor] | None = None,
    labels_a: Any = None,
    until: str | None = None,
    monitor_every: int | None = None,
) -> MunitGenerator:
    """Learn ``G(x, δ)`` mapping domain A to domain B with MUNIT's objective.

    Same arguments, outputs and files as :func:`nuisance_zoo.learned.fit.fit` (which calls this
    for every config but ``"structured"``; its docstring describes each argument once), with
    ``config`` one of ``"small"``, ``"small-keep"``, ``"paper"``, a JSON/YAML file (zoo or
    MUNIT spelling), a dict or a :class:`~nuisance_zoo.learned.config.FitConfig`.

    Returns:
        The A→B generator in eval mode, on ``device``: with ``until="plateau"`` the best-scoring
        one the monitor saw, otherwise the last.
    """
    cfg = FitConfig.load(config, iterations=iterations, batch_size=batch_size, grid_every=grid_every,
                         checkpoint_every=checkpoint_every, until=until, monitor_every=monitor_every)
    xa_all, xb_all = as_images(domain_a, "domain_a"), as_images(domain_b, "domain_b")
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
    ya_all = label_inputs(cfg.label_w, cfg.label_mode, classifier, domain_a, labels_a, len(xa_all))
    xa_all, ya_all, held = hold_out(cfg, xa_all, ya_all, seed)
    size = list(xa_all.shape[-2:])
    cfg = replace(cfg, gen=replace(cfg.gen, image_size=size))
    device = torch.device(device)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = checkpoint_path(out, resume, overwrite)

    torch.manual_seed(seed)
    trainer = MunitTrainer(cfg, xa_all.shape[1], xb_all.shape[1]).to(device)
    check_discriminator({"domain_a": trainer.dis_a, "domain_b": trainer.dis_b}, cfg.dis, xa_all, xb_all, device)
    rng = torch.Generator().manual_seed(seed)
    samplers = {"a": EpochSampler(len(xa_all), rng), "b": EpochSampler(len(xb_all), rng)}
    frozen = FrozenClassifier(classifier, device) if classifier is not None else None
    trainer.classifier = frozen
    watch = MonitoredRun(build_monitor(cfg, held, frozen, xb_all, cfg.gen.style_dim, device, seed), cfg, trainer,
                         trainer.generate_a2b, lambda: trainer.generator_a2b().eval(), _save_model, out)
    start = 0
    if resume:
        start = restore_run(ckpt, FAMILY, trainer, rng, samplers, lambda saved: _config_mismatch(saved, cfg))
        watch.resume(ckpt, MunitGenerator.from_pretrained, device)
    info = dict(training_info or {})
    info["objective"] = describe_objective(cfg)
    if cfg.label_w > 0 or cfg.structure_w > 0 or cfg.diversity_w > 0:
        info.setdefault("trainer", "nuisance_zoo.learned.fit (MUNIT objective, Table 12 weights, + label/structure/"
                                   "diversity terms of nuisance_zoo.learned.fit_terms)")

    ga, gb, grid_deltas, run, bar, log = loop_setup(xa_all, xb_all, cfg, cfg.gen.style_dim, seed, start, out,
                                                    device, progress, desc="fit")
    t0, snapshots = time.perf_counter(), set(int(s) for s in snapshots)
    done = start
    stopped = watch.begin(run)  # True for a resumed run that had already plateaued
    trainer.train()
    try:
        for it in range(start, cfg.iterations):
            if stopped:
                break
            lr = trainer.set_lr(it)
            bs = cfg.batch_size
            idx_a = samplers["a"].next(bs)
            x_a = trainer.gen_a.gen.to_internal(batch_images(xa_all, idx_a, device))
            x_b = trainer.gen_b.gen.to_internal(batch_images(xb_all, samplers["b"].next(bs), device))
            # A fifth draw only when the diversity term needs it: default runs keep today's random stream.
            s = torch.randn(5 if cfg.diversity_w > 0 else 4, bs, cfg.gen.style_dim, generator=rng).to(device)
            y_a = ya_all[idx_a].to(device) if ya_all is not None else None
            losses = trainer.dis_step(x_a, x_b, s[0], s[1])
            losses.update(trainer.gen_step(x_a, x_b, s[2], s[3], y_a=y_a, s_b2=s[4] if len(s) > 4 else None))
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
            stopped = watch.step(done, run, info, log, bar)
            if bar is not None:
                bar.update(1)
            if out is None:
                continue
            run["iteration"] = done
            last = done == cfg.iterations or stopped
            if cfg.grid_every and (done % cfg.grid_every == 0 or last):
                _save_grid(out / "grids" / f"iter_{done:07d}.png", trainer, ga, gb, grid_deltas)
            if done in snapshots:  # before the checkpoint, so that a resume from it redoes a cut snapshot
                _save_model(trainer.generator_a2b(), out / "snapshots" / f"iter_{done:07d}", done, info, "snapshot")
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or last:
                save_run_checkpoint(ckpt, FAMILY, trainer, run, rng, samplers)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()

    G = watch.finish(trainer.generator_a2b().eval(), done, info)
    if out is not None:
        _save_model(G, out / "model", done, info)
    return G


def describe_objective(cfg: FitConfig) -> dict:
    """The loss weights and monitoring of a fit, for the model card's ``training`` section."""
    return {"gan_w": cfg.gan_w, "recon_x_w": cfg.recon_x_w, "recon_c_w": cfg.recon_c_w, "recon_s_w": cfg.recon_s_w,
            "recon_x_cyc_w": cfg.recon_x_cyc_w, "label_w": cfg.label_w, "label_mode": cfg.label_mode,
            "structure_w": cfg.structure_w, "diversity_w": cfg.diversity_w, "diversity_cap": cfg.diversity_cap,
            **monitor_settings(cfg)}


def _save_model(G: MunitGenerator, folder: Path, iterations: int, training_info: dict | None,
                point: str = "model") -> None:
    if not hasattr(G, "save_pretrained"):  # pragma: no cover - only before learned/pretrained.py existed
        return
    info = dict(training_info or {})
    info.setdefault("iterations", iterations)
    info.setdefault("trainer", "nuisance_zoo.learned.fit (MUNIT objective, Table 12 weights)")
    save_model_folder(G, folder, info, point)


def _config_mismatch(saved: dict, cfg: FitConfig) -> list[str]:
    """The fields of ``cfg`` that a resume cannot change from the interrupted run's ``saved`` config."""
    old = FitConfig.from_dict(saved)
    return [k for k in ("gen", "dis", "lr", "betas", "weight_decay", "lr_step", "lr_gamma", "gan_w",
                        "recon_x_w", "recon_c_w", "recon_s_w", "recon_x_cyc_w", "batch_size", "label_w",
                        "label_mode", "structure_w", "diversity_w", "diversity_cap", "monitor_every", "monitor_n")
            if getattr(old, k) != getattr(cfg, k)]
