"""Learn a model of natural variation from two unpaired image sets: the one entry point, ``fit``.

``fit`` picks the trainer from the config: a MUNIT generator (paper Section 4.3, Appendix E;
:mod:`nuisance_zoo.learned.fit_munit`) for ``"small"``, ``"paper"`` and MUNIT-style configs,
or a :class:`~nuisance_zoo.learned.structured.StructuredGenerator`
(:mod:`nuisance_zoo.learned.fit_structured`) for ``"structured"``. Both share one loop set-up
and one checkpoint format (:mod:`nuisance_zoo.learned.fit_loop`, :mod:`nuisance_zoo.checkpoint`).

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

from pathlib import Path
from typing import Any, Sequence

import torch

from .config import FitConfig
from .fit_munit import CHECKPOINT_NAME, DomainAutoencoder, MunitTrainer, fit_munit, load_checkpoint_state
from .fit_structured import StructuredFitConfig, fit_structured, is_structured_config
from .generator import MunitGenerator
from .structured import StructuredGenerator

__all__ = ["fit", "fit_needs_classifier", "DomainAutoencoder", "MunitTrainer", "CHECKPOINT_NAME",
           "load_checkpoint_state"]


def fit_needs_classifier(config: Any, until: str | None = None, monitor_every: int | None = None) -> bool:
    """Whether :func:`fit` with this ``config`` (and these overrides) needs ``classifier=``: a label
    term or a quality monitor, in a MUNIT or a structured fit.

    Example:
        >>> fit_needs_classifier("small"), fit_needs_classifier("small-keep"), fit_needs_classifier("structured-keep")
        (False, True, True)
        >>> fit_needs_classifier("structured"), fit_needs_classifier("structured", "plateau", monitor_every=100)
        (False, True)
    """
    kind = StructuredFitConfig if is_structured_config(config) else FitConfig
    cfg = kind.load(config, until=until, monitor_every=monitor_every)
    return cfg.label_w > 0 or cfg.monitor_every > 0


def fit(
    domain_a: Any,
    domain_b: Any,
    config: str | Path | dict | FitConfig | StructuredFitConfig | None = "paper",
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
    classifier: Any = None,
    labels_a: Any = None,
    until: str | None = None,
    monitor_every: int | None = None,
) -> MunitGenerator | StructuredGenerator:
    """Learn ``G(x, δ)`` mapping domain A to domain B.

    Args:
        domain_a, domain_b: the two unpaired image sets: :class:`nuisance_zoo.data.ImageDataset`
            (its ``.x``), or tensors/arrays ``(N, C, H, W)`` (uint8, or float in [0, 1]).
        config: ``"small"``, ``"paper"``, a JSON/YAML file (zoo or MUNIT spelling), a dict or a
            :class:`~nuisance_zoo.learned.config.FitConfig` train a MUNIT generator
            (:func:`~nuisance_zoo.learned.fit_munit.fit_munit`). ``"structured"`` (or a
            :class:`~nuisance_zoo.learned.fit_structured.StructuredFitConfig`, or a dict/file with
            ``preset: structured``; ``"structured-keep"`` adds the label term) trains a
            :class:`~nuisance_zoo.learned.structured.StructuredGenerator` instead, with
            :func:`~nuisance_zoo.learned.fit_structured.fit_structured`.
        iterations, batch_size, grid_every, checkpoint_every: override the config's values.
        out_dir: where grids (``grids/iter_XXXXXXX.png``), the checkpoint
            (``checkpoint.safetensors`` + ``checkpoint.json``), the loss log (``log.jsonl``),
            ``snapshots/`` and the final ``model/`` folder go, each renamed into place whole. None:
            nothing is written. The run holds ``out_dir/.lock``: a second run into the same folder
            raises :class:`~nuisance_zoo.run_lock.RunLockedError` naming this run's pid.
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
            error: a run is never replaced silently); the previous run's outputs are deleted first.
        classifier: a classifier of domain A (``nn.Module`` or callable, [0, 1] images → logits),
            used frozen by the label term and the quality monitor (MUNIT and structured fits; see
            :mod:`nuisance_zoo.learned.fit_terms`, :mod:`nuisance_zoo.learned.fit_monitor`). The
            monitor runs without one too, and then measures the distance to B only.
        labels_a: domain A's labels (default: ``domain_a.y``).
        until: ``"plateau"`` (stop when the monitor's score stops improving; keep the best, in
            ``out_dir/best`` and ``out_dir/model``) or ``"iterations"`` (default: the config's).
        monitor_every: measure quality every this many iterations into ``log.jsonl``,
            ``out_dir/monitor.png`` and the bar (0: never; default: the config's).

    Returns:
        The A→B generator in eval mode, on ``device``.
    """
    common = dict(config=config, iterations=iterations, batch_size=batch_size, out_dir=out_dir, resume=resume,
                  seed=seed, grid_every=grid_every, checkpoint_every=checkpoint_every, device=device,
                  progress=progress, log_every=log_every, snapshots=snapshots, training_info=training_info,
                  overwrite=overwrite, classifier=classifier, labels_a=labels_a, until=until,
                  monitor_every=monitor_every)
    if is_structured_config(config):
        return fit_structured(domain_a, domain_b, **common)
    return fit_munit(domain_a, domain_b, **common)
