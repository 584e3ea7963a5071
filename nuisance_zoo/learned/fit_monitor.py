"""Quality you can watch while fitting: label preservation and distance to domain B (issue 9).

Every ``monitor_every`` iterations :class:`FitMonitor` runs the generator on a fixed, held-out
batch of domain A at fixed prior draws and measures:

- ``label_acc``: the frozen classifier's accuracy on ``G(x, δ)`` against A's labels (and, once,
  ``label_acc_x`` on ``x`` itself, the ceiling);
- ``kid``: the kernel inception distance (cubic polynomial kernel, unbiased MMD², Bińkowski
  et al. 2018) between ``G(x, δ)`` and a fixed batch of B, on the features of a small random
  convolutional network with a fixed seed. Random features need no training and no download,
  and they see colour and local texture, which is what a photometric shift changes;
  ``kid_rel`` divides it by the same distance between A and B (1: no closer to B than the input;
  0: indistinguishable);
- ``stats``: brightness, contrast (standard deviation of the grey image), their spread across
  images, and mean RGB of ``G(x, δ)`` and of B (0..255), and ``stat_rel``: their summed absolute
  gap relative to A's gap (the spread is there so that a prior collapsed onto B's mean shows);
- ``score = label_acc − kid_w · min(kid_rel, 2) − stat_w · min(stat_rel, 2)``, the one number
  ``until="plateau"`` watches (higher is better; the caps stop one collapsed check from ruling).

The monitor keeps its history, the best score and the checks since the last improvement; its
:meth:`state_dict` is plain JSON, saved in the fit checkpoint's run record, so a resumed fit
continues the same patience count. :meth:`should_stop` is the plateau rule. :func:`save_plot`
draws the history into a PNG with PIL.

Every fit uses the monitor the same way, through the helpers at the end of this module (the
MUNIT fit, :mod:`nuisance_zoo.learned.fit_munit`, and the structured one,
:mod:`nuisance_zoo.learned.fit_structured`): :func:`check_monitor_fields` validates the config
fields, :func:`hold_out` sets the monitor's A images aside, :func:`build_monitor` makes the
monitor and :class:`MonitoredRun` runs the checks in the loop (log, plot, bar, ``OUT/best``, the
plateau stop, resume) and picks the model to return.

Example:
    >>> import torch
    >>> m = FitMonitor(None, torch.rand(8, 3, 16, 16), None, torch.rand(8, 3, 16, 16) * 0.5 + 0.5,
    ...                torch.randn(8, 2), patience=1)
    >>> e = m.measure(lambda x, d: x, iteration=10)   # the identity: no closer to B than A is
    >>> e["kid_rel"], e["label_acc"], e["improved"]
    (1.0, None, True)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ..checkpoint import atomic_file, read_checkpoint
from .fit_loop import batch_images

__all__ = ["FitMonitor", "kid", "random_features", "image_stats", "save_plot", "UNTIL", "MonitorSettings",
           "check_monitor_fields", "monitor_settings", "hold_out", "build_monitor", "MonitoredRun"]

#: Curves of the plot, in this order: (key in a history entry, colour).
PLOT_KEYS = (("label_acc", (31, 119, 180)), ("kid_rel", (214, 39, 40)), ("stat_rel", (255, 127, 14)),
             ("score", (44, 160, 44)))


class _RandomFeatures(nn.Module):
    """A fixed random conv net: 3 stride-2 3×3 convolutions with ReLU, then global mean and std."""

    def __init__(self, channels: int, width: int = 32, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        layers, c = [], channels
        for w in (width, 2 * width, 4 * width):
            conv = nn.Conv2d(c, w, 3, stride=2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c * 9)))
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
            c = w
        self.net = nn.Sequential(*layers).eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x01: Tensor) -> Tensor:
        h = self.net(x01 * 2.0 - 1.0)
        return torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3))], dim=1)


def random_features(channels: int, seed: int = 0) -> nn.Module:
    """The monitor's fixed feature network for ``channels``-channel images (same seed, same net)."""
    return _RandomFeatures(channels, seed=seed)


def kid(f1: Tensor, f2: Tensor) -> float:
    """Unbiased MMD² with the kernel ``(f·g / d + 1)³`` between two feature sets ``(n, d)``, ``(m, d)``."""
    d = f1.shape[1]
    k = lambda a, b: (a @ b.t() / d + 1.0) ** 3  # noqa: E731
    n, m = len(f1), len(f2)
    kxx, kyy, kxy = k(f1, f1), k(f2, f2), k(f1, f2)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(xx + yy - 2 * kxy.mean())


def image_stats(x01: Tensor) -> dict[str, float | list[float]]:
    """Brightness, contrast (std of the grey image) and RGB of images in [0, 1], on 0..255.

    ``brightness`` and ``contrast`` are means over images; ``brightness_sd`` and ``contrast_sd``
    their spread across images, so that a generator that hits B's mean with one look (a
    collapsed prior) is told apart from one that covers B's range.
    """
    grey = x01.mean(dim=1).flatten(1)
    b, c = grey.mean(dim=1), grey.std(dim=1)
    return {"brightness": round(255 * float(b.mean()), 2), "contrast": round(255 * float(c.mean()), 2),
            "brightness_sd": round(255 * float(b.std()), 2), "contrast_sd": round(255 * float(c.std()), 2),
            "rgb": [round(255 * float(v), 2) for v in x01.mean(dim=(0, 2, 3))]}


def _stat_gap(s: dict, ref: dict) -> float:
    """Summed absolute gap of the mean and spread of brightness and contrast and of mean RGB (0..255)."""
    keys = ("brightness", "contrast", "brightness_sd", "contrast_sd")
    return (sum(abs(s[k] - ref[k]) for k in keys)
            + sum(abs(a - b) for a, b in zip(s["rgb"], ref["rgb"])) / len(s["rgb"]))


class FitMonitor:
    """Measures a generator on fixed held-out A images and fixed B images; tracks the best score.

    Args:
        classifier: frozen classifier, [0, 1] images → logits (None: no label metric; the score
            then uses only the distance to B).
        xa, ya: the held-out domain-A images (float in [0, 1]) and their labels (None: no label metric).
        xb: the domain-B reference images (float in [0, 1]).
        deltas: the fixed prior draws, one row per image of ``xa``.
        kid_w, stat_w: weights of ``kid_rel`` and ``stat_rel`` in the score.
        patience: checks without an improvement of more than ``min_delta`` after which
            :meth:`should_stop` says stop (0: never).
        min_delta: the smallest score increase that counts as an improvement.
        seed: seed of the random feature network.
    """

    def __init__(self, classifier: Callable[[Tensor], Tensor] | None, xa: Tensor, ya: Tensor | None, xb: Tensor,
                 deltas: Tensor, kid_w: float = 0.5, stat_w: float = 0.5, patience: int = 0,
                 min_delta: float = 0.0, seed: int = 0) -> None:
        self.classifier, self.xa, self.ya, self.xb, self.deltas = classifier, xa, ya, xb, deltas
        self.kid_w, self.stat_w, self.patience, self.min_delta = kid_w, stat_w, patience, min_delta
        self.features = random_features(xa.shape[1], seed=seed).to(xa.device)
        with torch.no_grad():
            self._fb = self.features(xb)
            self._kid_ab = max(kid(self.features(xa), self._fb), 1e-12)
            self._stats_b = image_stats(xb)
            self._gap_ab = max(_stat_gap(image_stats(xa), self._stats_b), 1e-6)
            self._acc_x = self._accuracy(xa)
        self.history: list[dict] = []
        self.best: float | None = None
        self.best_iteration: int | None = None
        self.bad_checks = 0

    def _accuracy(self, x01: Tensor) -> float | None:
        if self.classifier is None or self.ya is None:
            return None
        correct = 0
        for i in range(0, len(x01), 256):
            correct += int((self.classifier(x01[i:i + 256]).argmax(1) == self.ya[i:i + 256].to(x01.device)).sum())
        return correct / len(x01)

    @torch.no_grad()
    def measure(self, generate: Callable[[Tensor, Tensor], Tensor], iteration: int) -> dict:
        """Measure ``generate(x01, delta) -> G(x, δ)`` in [0, 1]; record it and update the best score.

        Returns:
            The history entry: ``iteration``, ``label_acc``, ``label_acc_x``, ``kid``, ``kid_rel``,
            ``stat_rel``, ``stats`` (of G(x, δ)), ``stats_b``, ``score``, ``improved``.
        """
        g = torch.cat([generate(self.xa[i:i + 256], self.deltas[i:i + 256]) for i in range(0, len(self.xa), 256)])
        g = g.clamp(0, 1)
        k = kid(self.features(g), self._fb)
        stats = image_stats(g)
        acc = self._accuracy(g)
        kid_rel, stat_rel = k / self._kid_ab, _stat_gap(stats, self._stats_b) / self._gap_ab
        score = (acc if acc is not None else 0.0) - self.kid_w * min(kid_rel, 2.0) - self.stat_w * min(stat_rel, 2.0)
        return self.record({"iteration": iteration, "label_acc": None if acc is None else round(acc, 4),
                            "label_acc_x": None if self._acc_x is None else round(self._acc_x, 4), "kid": round(k, 6),
                            "kid_rel": round(kid_rel, 4), "stat_rel": round(stat_rel, 4), "stats": stats,
                            "stats_b": self._stats_b, "score": round(score, 4)})

    def record(self, entry: dict) -> dict:
        """Append a check (``iteration`` and ``score`` at least) and apply the plateau rule to its score.

        Sets ``entry["improved"]``; the best score and the count of checks without improvement follow.
        """
        score = entry["score"]
        improved = self.best is None or score > self.best + self.min_delta
        if improved:
            self.best, self.best_iteration, self.bad_checks = score, entry["iteration"], 0
        else:
            self.bad_checks += 1
        entry["improved"] = improved
        self.history.append(entry)
        return entry

    def should_stop(self) -> bool:
        """True once ``patience`` checks in a row brought no improvement (never when patience is 0)."""
        return self.patience > 0 and self.bad_checks >= self.patience

    def postfix(self) -> dict[str, str]:
        """The last check, short, for the progress bar."""
        if not self.history:
            return {}
        e = self.history[-1]
        out = {"acc": f"{e['label_acc']:.2f}"} if e.get("label_acc") is not None else {}
        if e.get("kid_rel") is not None:
            out["kid"] = f"{e['kid_rel']:.2f}"
        out["score"] = f"{e['score']:.3f}"
        return out

    def state_dict(self) -> dict:
        """JSON-serialisable state (history, best, patience count): what a resume must restore."""
        return {"history": self.history, "best": self.best, "best_iteration": self.best_iteration,
                "bad_checks": self.bad_checks}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
        self.history = list(state["history"])
        self.best, self.best_iteration, self.bad_checks = state["best"], state["best_iteration"], int(state["bad_checks"])


def save_plot(path: str | Path, history: list[dict], size: tuple[int, int] = (640, 360)) -> None:
    """Draw the monitor's curves (label_acc, kid_rel, stat_rel, score) against iterations into a PNG.

    The y axis spans the values drawn (at least [0, 1]); the best score is marked with a ring.
    """
    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 48, 110, 12, 28
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    its = [e["iteration"] for e in history]
    vals = [e[k] for e in history for k, _ in PLOT_KEYS if e.get(k) is not None]
    lo, hi = min([0.0] + vals), max([1.0] + vals)
    x0, x1 = (min(its), max(its)) if its else (0, 1)
    x1 = x1 if x1 > x0 else x0 + 1
    px = lambda it: left + (it - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
    py = lambda v: top + (hi - v) / (hi - lo) * (h - top - bottom)  # noqa: E731
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    for v in (lo, 0.0, 1.0, hi):
        draw.line([left - 4, py(v), left, py(v)], fill="black")
        draw.text((2, py(v) - 6), f"{v:.2f}", fill="black")
    draw.text((left, h - bottom + 6), f"iteration {x0}", fill="black")
    draw.text((w - right - 60, h - bottom + 6), f"{x1}", fill="black")
    for i, (key, colour) in enumerate(PLOT_KEYS):
        pts = [(px(e["iteration"]), py(e[key])) for e in history if e.get(key) is not None]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for x, y in pts:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        draw.text((w - right + 8, top + 16 * i), key, fill=colour)
    scored = [e for e in history if e.get("score") is not None]
    if scored:
        best = max(scored, key=lambda e: e["score"])
        x, y = px(best["iteration"]), py(best["score"])
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], outline=(0, 0, 0), width=2)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")  # explicit: callers write to a temporary name first


# ---------------------------------------------------------------------------------- in a fit
#: What ``until`` may be: run all ``iterations``, or stop on the monitor's plateau.
UNTIL = ("iterations", "plateau")


@dataclass
class MonitorSettings:
    """The monitor and plateau fields every fit config has (``FitConfig`` and
    ``StructuredFitConfig`` inherit them): one declaration, one set of defaults.

    Attributes:
        monitor_every: a check every this many iterations (0: the monitor is off).
        monitor_n: held-out domain-A images and domain-B images per check.
        monitor_kid_w, monitor_stat_w: weights of the distance to B in the check's score.
        until: ``"iterations"`` (run them all) or ``"plateau"`` (stop when the score stops improving).
        patience: checks without a better score before the plateau stop.
        min_delta: how much better a score must be to count as better.
    """

    monitor_every: int = 0
    monitor_n: int = 256
    monitor_kid_w: float = 0.5
    monitor_stat_w: float = 0.5
    until: str = "iterations"
    patience: int = 4
    min_delta: float = 0.0


def check_monitor_fields(cfg: Any, where: str) -> None:
    """Validate the monitor fields every fit config has (``monitor_every``, ``monitor_n``,
    ``monitor_kid_w``, ``monitor_stat_w``, ``until``, ``patience``, ``min_delta``).

    Args:
        cfg: a :class:`~nuisance_zoo.learned.config.FitConfig` or
            :class:`~nuisance_zoo.learned.fit_structured.StructuredFitConfig`.
        where: its class name, for the messages.

    Raises:
        ValueError: a field out of range, or ``until="plateau"`` without a monitor to measure it.
    """
    if cfg.until not in UNTIL:
        raise ValueError(f"{where}.until must be 'iterations' or 'plateau', got {cfg.until!r}.")
    for name in ("monitor_kid_w", "monitor_stat_w"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{where}.{name} must be >= 0, got {getattr(cfg, name)}.")
    if cfg.monitor_every < 0 or cfg.monitor_n < 2 or cfg.patience < 0:
        raise ValueError(f"{where}: monitor_every and patience must be >= 0 and monitor_n >= 2.")
    if cfg.until == "plateau" and (cfg.monitor_every < 1 or cfg.patience < 1):
        raise ValueError(f"{where}: until='plateau' needs monitor_every >= 1 and patience >= 1 (the plateau is "
                         f"measured by the monitor).")


def monitor_settings(cfg: Any) -> dict:
    """The monitor settings a fit records in its model's ``training.objective``."""
    return {"monitor_every": cfg.monitor_every, "monitor_n": cfg.monitor_n, "until": cfg.until,
            "patience": cfg.patience, "min_delta": cfg.min_delta}


def hold_out(cfg: Any, xa: Tensor, ya: Tensor | None, seed: int
             ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor | None] | None]:
    """Set ``cfg.monitor_n`` domain-A images aside for the monitor, when it is on.

    The monitor's label accuracy is measured on images the generator never trained on, so it is
    not a training score. The split has its own generator (``seed + 2``); with the monitor off
    nothing is drawn and nothing is removed, so such runs train on the same data in the same
    order as before the monitor existed.

    Returns:
        ``(xa, ya, held)``: the training images and labels (in their original order) and
        ``held = (held_a, held_y)``, or the inputs unchanged and ``None`` when the monitor is off.

    Raises:
        ValueError: fewer than ``2 · monitor_n`` images of A.
    """
    if cfg.monitor_every <= 0:
        return xa, ya, None
    if len(xa) < 2 * cfg.monitor_n:
        raise ValueError(f"monitor_n={cfg.monitor_n} needs at least {2 * cfg.monitor_n} domain_a images "
                         f"(half held out at most); got {len(xa)}. Lower monitor_n.")
    perm = torch.randperm(len(xa), generator=torch.Generator().manual_seed(seed + 2))
    held, keep = perm[:cfg.monitor_n], perm[cfg.monitor_n:].sort().values
    held_y = ya[held] if ya is not None else None
    return xa[keep], (ya[keep] if ya is not None else None), (xa[held], held_y)


def build_monitor(cfg: Any, held: tuple[Tensor, Tensor | None] | None, classifier: Callable[[Tensor], Tensor] | None,
                  xb: Tensor, delta_dim: int, device: torch.device, seed: int) -> FitMonitor | None:
    """The fit's :class:`FitMonitor` on :func:`hold_out`'s images (None when the monitor is off).

    Domain B's reference images (``seed + 3``) and the fixed prior draws (``seed + 4``) have
    their own generators, so the monitor never takes draws from training. Without a
    ``classifier`` (or without labels) it measures the distance to B only.
    """
    if held is None:
        return None
    held_a, held_y = held
    b_idx = torch.randperm(len(xb), generator=torch.Generator().manual_seed(seed + 3))[:cfg.monitor_n]
    deltas = torch.randn(cfg.monitor_n, delta_dim, generator=torch.Generator().manual_seed(seed + 4))
    return FitMonitor(classifier, batch_images(held_a, torch.arange(len(held_a)), device), held_y,
                      batch_images(xb, b_idx, device), deltas.to(device), kid_w=cfg.monitor_kid_w,
                      stat_w=cfg.monitor_stat_w, patience=cfg.patience if cfg.until == "plateau" else 0,
                      min_delta=cfg.min_delta, seed=seed)


class MonitoredRun:
    """A fit loop's use of its monitor: checks, ``OUT/best``, the plateau stop, resume, the result.

    One implementation for every trainer; a trainer supplies how to run, copy and save its
    generator. With ``monitor=None`` (the monitor off) every method leaves the run as it is.

    Args:
        monitor: the run's monitor (:func:`build_monitor`) or None.
        cfg: the fit config (``monitor_every``, ``iterations``, ``until``).
        trainer: the trainer module, put in eval mode while measured.
        generate: ``generate(x01, delta)``: ``G(x, δ)`` in [0, 1] with the current weights.
        current: a new eval-mode generator with the current weights (kept as the best; it must
            not share them with the trainer, which goes on training).
        save: ``save(G, folder, iteration, training_info, point)`` writes a model folder.
        out: the output folder (None: nothing is written).

    Example (the loop of a fit, in outline)::

        watch = MonitoredRun(build_monitor(...), cfg, trainer, generate, current, save, out)
        if resume:
            watch.resume(ckpt, Generator.from_pretrained, device)
        stopped = watch.begin(run)
        for it in range(start, cfg.iterations):
            if stopped:
                break
            ...  # one training step
            stopped = watch.step(done, run, info, log, bar)
        G = watch.finish(last_generator, done, info)
    """

    def __init__(self, monitor: FitMonitor | None, cfg: Any, trainer: nn.Module,
                 generate: Callable[[Tensor, Tensor], Tensor], current: Callable[[], nn.Module],
                 save: Callable[[nn.Module, Path, int, dict, str], None], out: Path | None) -> None:
        self.monitor, self.cfg, self.trainer, self.out = monitor, cfg, trainer, out
        self.generate, self.current, self.save = generate, current, save
        self.best: nn.Module | None = None  # the best check's generator

    def resume(self, ckpt: Path, load: Callable[[Path], nn.Module], device: torch.device) -> None:
        """Restore the monitor from ``ckpt``'s run record and the best generator from ``OUT/best``."""
        # A run killed before its first checkpoint restarts from 0 (restore_run): nothing to read.
        saved = read_checkpoint(ckpt).state.get("monitor") if ckpt.is_file() else None
        if self.monitor is not None and saved is not None:
            self.monitor.load_state_dict(saved)
            if (self.out / "best").is_dir():
                self.best = load(self.out / "best").to(device)

    def begin(self, run: dict) -> bool:
        """Put the monitor's state into the run record; True if a resumed run had already plateaued."""
        if self.monitor is None:
            return False
        run["monitor"] = self.monitor.state_dict()
        return self.monitor.should_stop()

    def step(self, done: int, run: dict, info: dict, log: Any, bar: Any) -> bool:
        """After iteration ``done``: a check when one is due; return whether to stop (the plateau).

        A check is measured, logged to ``log.jsonl``, drawn into ``monitor.png`` and shown on the
        bar; an improvement is kept (and saved to ``OUT/best``); the run record gets the state.
        """
        if self.monitor is None:
            return False
        if done % self.cfg.monitor_every and done != self.cfg.iterations:
            return self.monitor.should_stop()
        entry = self._check(done, log, bar)
        if entry["improved"]:
            self.best = self.current()
            if self.out is not None:
                self.save(self.best, self.out / "best", done, {**info, "selected_iteration": done}, "best")
        run["monitor"] = self.monitor.state_dict()
        return self.monitor.should_stop()

    def _check(self, done: int, log: Any, bar: Any) -> dict:
        """One check: measure, log to log.jsonl, redraw the plot, show it on the bar."""
        self.trainer.eval()
        try:
            entry = self.monitor.measure(self.generate, done)
        finally:
            self.trainer.train()
        if log is not None:
            log.write(json.dumps({"iteration": done, "monitor": entry}) + "\n")
            log.flush()
        if self.out is not None:
            with atomic_file(self.out / "monitor.png", "plot") as tmp:  # renamed into place whole, like the grids
                save_plot(tmp, self.monitor.history)
        if bar is not None:
            bar.set_postfix(self.monitor.postfix(), refresh=False)
        return entry

    def finish(self, G: nn.Module, done: int, info: dict) -> nn.Module:
        """The model the fit returns and saves: ``G`` (the last), or the best under ``until="plateau"``.

        Adds the monitor's summary (``info["monitor"]``) and, when the best is chosen,
        ``info["selected_iteration"]`` to the model's ``training`` facts.
        """
        m = self.monitor
        if m is None:
            return G
        info["monitor"] = {"best_score": m.best, "best_iteration": m.best_iteration, "stopped_at": done,
                           "until": self.cfg.until,
                           "best": next((e for e in m.history if e["iteration"] == m.best_iteration), None)}
        if self.cfg.until == "plateau" and self.best is not None:
            G = self.best.eval()
            info["selected_iteration"] = m.best_iteration
        return G
