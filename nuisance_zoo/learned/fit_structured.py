r"""Fit a :class:`~nuisance_zoo.learned.structured.StructuredGenerator` from two unpaired image sets.

The objective is the paper's unpaired eq. (4.3) reduced to what a structured model needs: a
multi-scale LSGAN discriminator ``D`` tells ``G_θ(x_A, δ)`` from real ``x_B`` and ``G_θ`` is
trained to fool it. No content reconstruction is needed: ``K`` (known photometric models and
blur) cannot move content. One regulariser keeps the nuisance code meaningful, a hinged
*mode-seeking* term (Mao et al., 2019)::

    ratio = mean|G(x, δ1) − G(x, δ2)| / mean|δ1 − δ2|,     L_div = relu(div_target − ratio)

Without it the GAN may map every δ to the one most B-like setting (the code collapses); with it
two codes must give images at least ``div_target`` apart per unit of code distance, and beyond
that the term is zero and leaves the GAN alone. The generator loss is
``gan_w · L_GAN + div_w · L_div + label_w · L_label``.

``K`` cannot move content, but it can still destroy it: a gain that brightens a night image
to daylight clips its highlights, and haze or blur wash a sign out. The optional label term
(``label_w``, preset ``"structured-keep"``) is the MUNIT fit's
(:func:`~nuisance_zoo.learned.fit_terms.label_loss`): a frozen classifier of domain A
penalises ``G(x, δ)`` for changing the class, so ``h_θ`` learns the settings that reach B
without crossing into that loss.

The quality monitor is the MUNIT fit's (:mod:`nuisance_zoo.learned.fit_monitor`, off by
default): ``monitor_every`` > 0 measures label preservation on held-out A images and the
distance to B into ``log.jsonl``, ``monitor.png`` and the progress bar, and ``until="plateau"``
stops once the score stops improving and returns (and saves to ``model/``) the best generator.

Checkpoints use the package's one format (:mod:`nuisance_zoo.checkpoint`, via
:mod:`nuisance_zoo.learned.fit_loop`), like the MUNIT trainer's; resuming is bit-exact.

Example:
    >>> import torch
    >>> from nuisance_zoo.learned.fit import fit
    >>> a = torch.randint(0, 128, (16, 3, 32, 32), dtype=torch.uint8)
    >>> b = torch.randint(128, 256, (16, 3, 32, 32), dtype=torch.uint8)
    >>> G = fit(a, b, config="structured", iterations=2, batch_size=4, progress=False)
    >>> G.architecture
    'structured-generator'
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..checkpoint import atomic_file
from ..run_lock import exclusive_out
from .config import DiscriminatorConfig, load_config_file
from .discriminator import MultiScaleDiscriminator
from .fit_loop import (EpochSampler, as_images, batch_images, check_discriminator, checkpoint_path, init_weights,
                       loop_setup, restore_run, save_model_folder, save_run_checkpoint)
from .fit_monitor import MonitoredRun, MonitorSettings, build_monitor, check_monitor_fields, hold_out, monitor_settings
from .fit_terms import LABEL_MODES, FrozenClassifier, label_inputs, label_loss
from .structured import DEFAULT_CHAIN, StructuredGenerator

__all__ = ["StructuredFitConfig", "StructuredTrainer", "fit_structured", "is_structured_config", "PRESET_NAME",
           "PRESETS", "FAMILY"]

PRESET_NAME = "structured"
#: The structured presets: field overrides of :class:`StructuredFitConfig`'s defaults.
#: ``structured-keep-adaptive`` lets h_θ see per-channel image statistics (``summary="stats"``), so
#: that one draw of δ can stretch a dull image more than a bright one: a contrast shift to a
#: near-full pixel range needs a gain per image, which ``summary="none"`` cannot give.
#: ``structured-keep-light`` weighs the label term 10× less: where the shift keeps content (a
#: contrast stretch), a full-weight term mostly removes variety; a tenth of it still keeps labels
#: (gtsrb-contrast: 96.5 % kept, as at weight 0.3; 90.2 % with no term) and buys more (docs/zoo.md).
PRESETS = {PRESET_NAME: {}, "structured-keep": {"label_w": 1.0},
           "structured-keep-light": {"label_w": 0.1},
           "structured-keep-adaptive": {"label_w": 1.0, "summary": "stats"}}
#: How structured runs are marked in their checkpoints.
FAMILY = "structured"


@dataclass
class StructuredFitConfig(MonitorSettings):
    """Everything :func:`fit_structured` needs besides the data.

    Attributes:
        delta_dim, chain, summary, hidden, layers: the generator (see
            :class:`~nuisance_zoo.learned.structured.StructuredGenerator`).
        dis: the discriminator (default: the ``"small"`` preset).
        lr, betas, weight_decay: Adam, for both networks.
        gan_w: weight of the LSGAN generator loss.
        div_w, div_target: weight and target of the hinged mode-seeking term (module docstring).
        label_w, label_mode: weight of the label term (0: off; it needs ``fit(..., classifier=)``)
            and its form, ``"ce"`` (to domain A's labels) or ``"kl"`` (to the classifier's
            prediction on x).
        iterations, batch_size, grid_every, checkpoint_every: the run.
        monitor_every, monitor_n, monitor_kid_w, monitor_stat_w, until, patience, min_delta: the
            quality monitor and the plateau stop, inherited from
            :class:`~nuisance_zoo.learned.fit_monitor.MonitorSettings` (``monitor_every`` 0: off,
            in every structured preset).

    Example:
        >>> cfg = StructuredFitConfig.load("structured", until="plateau", monitor_every=100)
        >>> cfg.monitor_every, cfg.monitor_n, cfg.patience
        (100, 256, 4)
    """

    delta_dim: int = 2
    chain: list = field(default_factory=lambda: list(DEFAULT_CHAIN))
    summary: str = "none"
    hidden: int = 32
    layers: int = 2
    dis: DiscriminatorConfig = field(default_factory=lambda: DiscriminatorConfig.preset("small"))
    lr: float = 1e-3
    betas: tuple = (0.5, 0.999)
    weight_decay: float = 0.0
    gan_w: float = 1.0
    div_w: float = 1.0
    div_target: float = 0.05
    label_w: float = 0.0
    label_mode: str = "ce"
    iterations: int = 2000
    batch_size: int = 32
    grid_every: int = 500
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if isinstance(self.dis, dict):
            self.dis = replace(DiscriminatorConfig.preset("small"), **self.dis)
        self.betas = tuple(float(b) for b in self.betas)
        self.chain = list(self.chain)
        if self.batch_size < 2:
            raise ValueError("StructuredFitConfig.batch_size must be >= 2 (the discriminator compares batches).")
        if self.iterations < 0 or self.div_w < 0 or self.div_target < 0 or self.gan_w < 0 or self.label_w < 0:
            raise ValueError("StructuredFitConfig: iterations, gan_w, div_w, div_target and label_w must be >= 0.")
        if self.label_mode not in LABEL_MODES:
            raise ValueError(f"StructuredFitConfig.label_mode must be one of {LABEL_MODES}, got {self.label_mode!r}.")
        check_monitor_fields(self, "StructuredFitConfig")

    @classmethod
    def from_dict(cls, data: dict, where: str = "StructuredFitConfig") -> "StructuredFitConfig":
        """Build from a dict of fields; a ``"preset"`` key names the defaults the fields override."""
        data = dict(data)
        preset = data.pop("preset", PRESET_NAME)
        if preset not in PRESETS:
            raise ValueError(f"{where}: unknown structured preset {preset!r}; choose from {sorted(PRESETS)}.")
        data = {**PRESETS[preset], **data}
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; StructuredFitConfig has "
                             f"{sorted(f.name for f in fields(cls))}.")
        return cls(**data)

    @classmethod
    def load(cls, spec: Any, **overrides: Any) -> "StructuredFitConfig":
        """From a preset name (``"structured"``, ``"structured-keep"``), a dict, a JSON/YAML path
        (with ``preset: structured``) or an instance; ``overrides`` that are not None replace
        fields (``iterations=``, ``until=``, ``monitor_every=``, ...)."""
        if isinstance(spec, cls):
            cfg = spec
        elif spec is None or (isinstance(spec, str) and spec in PRESETS):
            cfg = cls(**PRESETS[spec or PRESET_NAME])
        elif isinstance(spec, dict):
            cfg = cls.from_dict(spec)
        elif isinstance(spec, (str, Path)):
            cfg = cls.from_dict(load_config_file(spec), where=str(spec))
        else:
            raise TypeError(f"structured config must be 'structured', a dict, a file or a StructuredFitConfig; "
                            f"got {type(spec).__name__}.")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(cfg, **overrides) if overrides else cfg

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        d["preset"] = PRESET_NAME
        return d


def is_structured_config(spec: Any) -> bool:
    """Whether ``fit``'s ``config`` asks for the structured trainer.

    True for a structured preset name (``"structured"``, ``"structured-keep"``), a
    :class:`StructuredFitConfig`, a dict whose ``"preset"`` is one, or a JSON/YAML file whose
    top-level ``preset`` is one.
    """
    if isinstance(spec, StructuredFitConfig):
        return True
    if isinstance(spec, dict):
        return spec.get("preset") in PRESETS
    if isinstance(spec, str) and spec in PRESETS:
        return True
    if isinstance(spec, (str, Path)) and Path(spec).is_file():
        try:
            data = load_config_file(spec)
        except Exception:  # an unreadable file is reported by the MUNIT loader, with its message
            return False
        return isinstance(data, dict) and data.get("preset") in PRESETS
    return False


class StructuredTrainer(nn.Module):
    """The generator, the discriminator on domain B and their optimisers, with one-step updates."""

    def __init__(self, cfg: StructuredFitConfig, channels: int, image_size: list) -> None:
        super().__init__()
        self.cfg = cfg
        # The label term's judge (not a sub-module: outside the optimiser and the checkpoints).
        self.classifier: FrozenClassifier | None = None
        self.gen = StructuredGenerator(delta_dim=cfg.delta_dim, chain=cfg.chain, summary=cfg.summary,
                                       channels=channels, hidden=cfg.hidden, layers=cfg.layers,
                                       image_size=image_size)
        self.dis = MultiScaleDiscriminator(channels, cfg.dis)
        init_weights(self.dis, "gaussian")
        opt = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.gen_opt = torch.optim.Adam(self.gen.parameters(), **opt)
        self.dis_opt = torch.optim.Adam(self.dis.parameters(), **opt)

    @staticmethod
    def _internal(x: Tensor) -> Tensor:
        # The discriminator sees [-1, 1] images, as in the MUNIT trainer.
        return 2 * x - 1

    def dis_step(self, x_a: Tensor, x_b: Tensor, d: Tensor) -> dict[str, float]:
        self.dis_opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = self.gen.decode(self.gen.encode(x_a), d)
        loss = self.cfg.gan_w * self.dis.loss_d(self._internal(fake), self._internal(x_b))
        loss.backward()
        self.dis_opt.step()
        return {"D": float(loss.detach())}

    def gen_step(self, x_a: Tensor, d1: Tensor, d2: Tensor, y_a: Tensor | None = None) -> dict[str, float]:
        c = self.cfg
        self.gen_opt.zero_grad(set_to_none=True)
        content = self.gen.encode(x_a)
        y1, y2 = self.gen.decode(content, d1), self.gen.decode(content, d2)
        gan = 0.5 * (self.dis.loss_g(self._internal(y1)) + self.dis.loss_g(self._internal(y2)))
        ratio = (y1 - y2).abs().mean() / (d1 - d2).abs().mean().clamp_min(1e-8)
        div = torch.relu(c.div_target - ratio)
        total = c.gan_w * gan + c.div_w * div
        out = {}
        if c.label_w > 0:
            if self.classifier is None:
                raise ValueError("label_w > 0 needs a frozen classifier of domain A: fit(..., classifier=model).")
            label = 0.5 * (label_loss(self.classifier, y1, y_a, x_a, c.label_mode)
                           + label_loss(self.classifier, y2, y_a, x_a, c.label_mode))
            total = total + c.label_w * label
            out["label"] = float(label.detach())
        total.backward()
        self.gen_opt.step()
        return {"gan": float(gan.detach()), "ratio": float(ratio.detach()), **out, "G": float(total.detach())}

    def generate(self, x01: Tensor, delta: Tensor) -> Tensor:
        """``G(x, δ)`` with the current weights (no copy; for monitoring)."""
        return self.gen.decode(self.gen.encode(x01), delta)

    def generator_copy(self) -> StructuredGenerator:
        """A copy of the generator in eval mode, its weights apart from the ones training goes on changing."""
        return copy.deepcopy(self.gen).eval()


def _config_mismatch(saved: dict, cfg: StructuredFitConfig) -> list[str]:
    """The fields of ``cfg`` that a resume cannot change from the interrupted run's ``saved`` config."""
    old = StructuredFitConfig.from_dict(saved)
    keys = ("delta_dim", "chain", "summary", "hidden", "layers", "dis", "lr", "betas", "weight_decay", "gan_w",
            "div_w", "div_target", "label_w", "label_mode", "batch_size", "monitor_every", "monitor_n")
    return [k for k in keys if getattr(old, k) != getattr(cfg, k)]


@torch.no_grad()
def _save_grid(path: Path, G: StructuredGenerator, xa: Tensor, xb: Tensor, deltas: Tensor) -> None:
    """Rows: images of A. Columns: input, G(x, δ) for fixed δ, then a real B image for reference."""
    from torchvision.utils import save_image

    c = G.encode(xa)
    cols = [xa] + [G.decode(c, d.expand(xa.shape[0], -1)) for d in deltas]
    cols.append(xb[torch.arange(xa.shape[0]) % xb.shape[0]])
    cols = [t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t for t in cols]
    with atomic_file(path, "grid") as tmp:
        save_image(torch.stack(cols, 1).flatten(0, 1).clamp(0, 1).cpu(), str(tmp), format="png", nrow=len(cols),
                   padding=1, pad_value=1.0)


@exclusive_out("out_dir", "fit")
def fit_structured(
    domain_a: Any,
    domain_b: Any,
    config: Any = PRESET_NAME,
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
    classifier: nn.Module | Any = None,
    labels_a: Any = None,
    until: str | None = None,
    monitor_every: int | None = None,
) -> StructuredGenerator:
    """Learn a structured ``G(x, δ) = K(x, h_θ(δ, x))`` mapping domain A toward domain B.

    Same arguments, outputs and files as :func:`nuisance_zoo.learned.fit.fit` (which calls this
    for ``config="structured"``): ``grids/iter_XXXXXXX.png`` (rows: A images; columns: input,
    six fixed δ, a B image), ``checkpoint.safetensors`` + ``checkpoint.json``, ``log.jsonl``,
    ``snapshots/`` and ``model/``. ``classifier`` and ``labels_a`` serve the label term
    (``label_w > 0``, e.g. ``config="structured-keep"``) and the quality monitor, as in the MUNIT
    fit; with the monitor on (``monitor_every`` > 0) it also writes ``monitor.png`` and ``best/``,
    and ``until="plateau"`` stops early.

    Returns:
        The generator in eval mode, on ``device``: with ``until="plateau"`` the best-scoring one
        the monitor saw, otherwise the last.
    """
    cfg = StructuredFitConfig.load(config, iterations=iterations, batch_size=batch_size, grid_every=grid_every,
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
    ya_all = label_inputs(cfg.label_w, cfg.label_mode, classifier, domain_a, labels_a, len(xa_all))
    xa_all, ya_all, held = hold_out(cfg, xa_all, ya_all, seed)
    device = torch.device(device)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = checkpoint_path(out, resume, overwrite)

    torch.manual_seed(seed)
    trainer = StructuredTrainer(cfg, xa_all.shape[1], list(xa_all.shape[-2:])).to(device)
    frozen = FrozenClassifier(classifier, device) if classifier is not None else None
    trainer.classifier = frozen
    info = dict(training_info or {})
    info["objective"] = describe_objective(cfg)
    check_discriminator({"domain_a": trainer.dis, "domain_b": trainer.dis}, cfg.dis, xa_all, xb_all, device)
    rng = torch.Generator().manual_seed(seed)
    samplers = {"a": EpochSampler(len(xa_all), rng), "b": EpochSampler(len(xb_all), rng)}
    watch = MonitoredRun(build_monitor(cfg, held, frozen, xb_all, cfg.delta_dim, device, seed), cfg, trainer,
                         trainer.generate, trainer.generator_copy, _save_model, out)
    start = 0
    if resume:
        start = restore_run(ckpt, FAMILY, trainer, rng, samplers, lambda saved: _config_mismatch(saved, cfg))
        watch.resume(ckpt, StructuredGenerator.from_pretrained, device)

    ga, gb, grid_deltas, run, bar, log = loop_setup(xa_all, xb_all, cfg, cfg.delta_dim, seed, start, out, device,
                                                    progress, desc="fit structured")
    t0, snapshots = time.perf_counter(), set(int(s) for s in snapshots)
    done = start
    stopped = watch.begin(run)  # True for a resumed run that had already plateaued
    trainer.train()
    try:
        for it in range(start, cfg.iterations):
            if stopped:
                break
            bs = cfg.batch_size
            idx_a = samplers["a"].next(bs)
            x_a = batch_images(xa_all, idx_a, device)
            x_b = batch_images(xb_all, samplers["b"].next(bs), device)
            y_a = ya_all[idx_a].to(device) if ya_all is not None and cfg.label_w > 0 else None
            d = torch.randn(3, bs, cfg.delta_dim, generator=rng).to(device)
            losses = trainer.dis_step(x_a, x_b, d[0])
            losses.update(trainer.gen_step(x_a, d[1], d[2], y_a))
            done = it + 1
            if not all(math.isfinite(v) for v in losses.values()):
                raise RuntimeError(f"fit: a loss became non-finite at iteration {done}: {losses}. Lower the learning "
                                   f"rate or check the data; the last checkpoint is in {out}.")
            if done % log_every == 0 or done == cfg.iterations:
                rec = {"iteration": done, **{k: round(v, 5) for k, v in losses.items()},
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
                trainer.eval()
                _save_grid(out / "grids" / f"iter_{done:07d}.png", trainer.gen, ga, gb, grid_deltas)
                trainer.train()
            if done in snapshots:  # before the checkpoint, so that a resume from it redoes a cut snapshot
                _save_model(trainer.gen, out / "snapshots" / f"iter_{done:07d}", done, info, "snapshot")
            if (cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or last:
                save_run_checkpoint(ckpt, FAMILY, trainer, run, rng, samplers)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()

    G = watch.finish(trainer.gen.eval(), done, info)
    if out is not None:
        _save_model(G, out / "model", done, info)
    return G


def describe_objective(cfg: StructuredFitConfig) -> dict:
    """The loss weights and monitoring of a structured fit, for the model card's ``training`` section."""
    return {"gan_w": cfg.gan_w, "div_w": cfg.div_w, "div_target": cfg.div_target, "label_w": cfg.label_w,
            "label_mode": cfg.label_mode, **monitor_settings(cfg)}


def _save_model(G: StructuredGenerator, folder: Path, iterations: int, training_info: dict | None,
                point: str = "model") -> None:
    info = dict(training_info or {})
    info.setdefault("iterations", iterations)
    label = " + label term" if (info.get("objective") or {}).get("label_w") else ""
    info.setdefault("trainer", f"nuisance_zoo.learned.fit_structured (LSGAN eq. 4.3 + hinged mode-seeking term{label})")
    save_model_folder(G, folder, info, point)
