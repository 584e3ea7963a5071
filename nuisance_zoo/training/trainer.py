"""The thin classifier trainer: ERM, PGD, MRT, MAT or MDA against a nuisance model, resumable.

:func:`train` is the paper's protocol as one function (Section 6: Adadelta with learning rate
1.0, batches of 64, λ = 1): it builds the classifier, wraps it with the chosen algorithm,
trains, evaluates on named test domains after every epoch, and writes into ``out``:

- ``model.safetensors`` + ``classifier.json``: the classifier (a plain state dict; rebuild it
  with :func:`~nuisance_zoo.training.classifiers.load_classifier`), updated every epoch;
- ``metrics.csv`` and ``metrics.json``: one row per epoch (train loss, test accuracies, time);
- ``checkpoint.safetensors``: weights, optimizer, RNG states and counters, written atomically
  every ``checkpoint_every`` steps and at each epoch end.

Every file is written under a temporary name and renamed into place, and an epoch's classifier
and metrics are written before that epoch's checkpoint, so a kill at any moment leaves only
whole files, and a resume redoes whatever the checkpoint does not cover. The run holds
``out/.lock`` (:mod:`nuisance_zoo.run_lock`): a second run into the same ``out`` is refused.

A run stopped at any point (killed, ``max_steps``, an exception) and restarted with
``resume=True`` ends with the same weights as an uninterrupted run with the same seed: the
data order of each epoch is a seeded permutation, the torch RNG state (δ draws, dropout) is
checkpointed with the step counter, and evaluation draws no global random numbers.

Example:
    >>> from nuisance_zoo.training.trainer import train
    >>> result = train("paper-cnn", nuisance="background-color", algorithm="mda", k=5,
    ...                data="mnist-sample:train", in_chans=3,
    ...                test_domains={"gray": "mnist-sample:test"}, epochs=1, out="runs/mda")  # doctest: +SKIP
    >>> result.metrics[-1]["acc/gray"]                                                      # doctest: +SKIP
    0.97
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import check_image
from ..checkpoint import (CHECKPOINT_NAME, atomic_write_text, clean_leftovers, read_checkpoint, repair_json_copy,
                          restore_checkpoint, save_checkpoint)
from ..run_lock import exclusive_out
from .classifiers import create_classifier, save_classifier
from .inputs import DataTensors, as_tensors, check_label_values, check_range, epoch_order, to_model_input
from .metrics import accuracy

__all__ = ["train", "TrainResult", "ERMObjective", "build_objective", "build_optimizer", "ALGORITHMS"]

ALGORITHMS = ("erm", "pgd", "mrt", "mat", "mda")
#: The paper's k for each algorithm (MDA-5, MRT-10, MAT-10; Table 2).
DEFAULT_K = {"mda": 5, "mrt": 10, "mat": 10}
#: Learning rates used when ``lr`` is None: Adadelta 1.0 as in the paper, the usual for the rest.
DEFAULT_LR = {"adadelta": 1.0, "sgd": 0.01, "adam": 1e-3, "adamw": 1e-3}

CHECKPOINT = CHECKPOINT_NAME
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"


class ERMObjective(nn.Module):
    """Plain training (the paper's "Vanilla"), with the wrappers' interface.

    Training mode: ``objective(x, y)`` is the mean cross-entropy; eval mode: ``objective(x)``
    is ``model(x)``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if not self.training:
            return self.model(x)
        if y is None:
            raise ValueError("ERMObjective is in training mode: call objective(x, y) for the loss.")
        return F.cross_entropy(self.model(x), y)


def build_objective(algorithm: str, model: nn.Module, G: Any = None, k: int | None = None,
                    lam: float | None = None, **kwargs) -> nn.Module:
    """Wrap ``model`` for ``algorithm`` (``erm``, ``pgd``, ``mrt``, ``mat`` or ``mda``).

    ``kwargs`` go to the wrapper (e.g. ``selection="sample"`` for MRT, ``step_size`` for MAT,
    ``eps``/``steps``/``image_shape`` for PGD). ``k`` defaults to the paper's (MDA-5, MRT-10,
    MAT-10); ``lam=None`` keeps each wrapper's default (1 for the model-based algorithms, as in
    the paper; 0 for PGD, Madry et al.'s adversarial-only objective).
    """
    if lam is not None:
        kwargs["lam"] = float(lam)
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}.")
    if algorithm == "erm":
        return ERMObjective(model)
    if algorithm == "pgd":
        return _wrapper_class("PGDWrapper")(model, **kwargs)
    if G is None:
        raise ValueError(
            f"algorithm {algorithm!r} needs a nuisance model: pass nuisance='background-color' "
            f"(any name from `nuisance-zoo list`) or a NuisanceModel."
        )
    if algorithm == "mat" and not G.differentiable:
        raise ValueError(
            f"MAT ascends the gradient in δ, but {type(G).__name__} is not differentiable; use "
            f"mrt or mda (the paper omits MAT for its non-differentiable known models)."
        )
    k = DEFAULT_K[algorithm] if k is None else int(k)
    cls = {"mda": "MDAWrapper", "mrt": "MRTWrapper", "mat": "MATWrapper"}[algorithm]
    return _wrapper_class(cls)(model, G, k=k, **kwargs)


def _wrapper_class(name: str):
    """The wrapper class ``name`` from :mod:`nuisance_zoo.training` (imported late: the
    wrappers import the trainer's package)."""
    import importlib

    training = importlib.import_module(__package__)
    try:
        return getattr(training, name)
    except AttributeError:
        raise ImportError(f"nuisance_zoo.training does not provide {name}; is the package complete?") from None


def build_optimizer(name: str, params, lr: float | None = None, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``adadelta`` (the paper's), ``sgd`` (momentum 0.9), ``adam`` or ``adamw``."""
    name = name.lower()
    if name not in DEFAULT_LR:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(DEFAULT_LR)}.")
    lr = DEFAULT_LR[name] if lr is None else float(lr)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained classifier (eval mode), without wrapper.
        metrics: one dict per finished epoch (the rows of ``metrics.json``).
        out: the output folder (None when training in memory only).
        global_step: optimizer steps taken in total.
        completed: False when the run stopped early (``max_steps``); resume it with ``resume=True``.
    """

    model: nn.Module
    metrics: list = field(default_factory=list)
    out: Path | None = None
    global_step: int = 0
    completed: bool = True


def _test_domains(test_domains, root) -> dict[str, DataTensors]:
    if test_domains is None:
        return {}
    if isinstance(test_domains, dict):
        items = list(test_domains.items())
    else:
        items = []
        for spec in test_domains:
            if not isinstance(spec, str):
                raise TypeError("a list of test domains must hold spec strings; use a dict {name: data} for datasets.")
            items.append((spec, spec))
    return {str(name): as_tensors(d, root=root, split="test") for name, d in items}


def _write_metrics(out: Path, history: list[dict]) -> None:
    """Rewrite metrics.json and metrics.csv from the whole history (each atomic, resume-safe)."""
    atomic_write_text(out / METRICS_JSON, json.dumps(history, indent=2) + "\n", "metrics.json")
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=columns)
    w.writeheader()
    w.writerows(history)
    atomic_write_text(out / METRICS_CSV, text.getvalue(), "metrics.csv")


#: What a run writes into ``out`` (besides ``.lock``); a fresh start removes the last run's.
RUN_FILES = (CHECKPOINT, Path(CHECKPOINT).with_suffix(".json").name, METRICS_JSON, METRICS_CSV)


def _start_fresh(out: Path) -> None:
    """Remove the previous run's files before a fresh start (``overwrite``, or a resume of a run
    killed before its first checkpoint): a crash before this run's first checkpoint must not
    let ``resume`` continue the old run, and old metrics must not pass for this run's."""
    from .classifiers import CLASSIFIER_CONFIG, CLASSIFIER_WEIGHTS

    # The checkpoint first: a kill in the middle must not leave the old run to be resumed. Then
    # the classifier's config: without it the folder is no classifier, never a mix of two runs.
    for name in (*RUN_FILES, CLASSIFIER_CONFIG, CLASSIFIER_WEIGHTS):
        (out / name).unlink(missing_ok=True)


def check_nuisance_size(G, size: tuple, name: str | None = None) -> None:
    """Raise a clear error when a learned nuisance model was trained on another image size.

    Learned generators are convolutional and would run on other sizes, but what they learned
    (and their card's numbers) holds for the size they were trained on; known models take any size.
    """
    want = G.input_spec().get("size")  # a composition answers for all its parts
    if want and tuple(want) != tuple(size):
        raise ValueError(
            f"the nuisance model {name or type(G).__name__} was trained on {want[0]}×{want[1]} images "
            f"but the data are {size[0]}×{size[1]}; resize the data in its spec with "
            f"'size={want[0]}' (e.g. 'mnist:train?size={want[0]}'), or use a model trained at "
            f"{size[0]}×{size[1]}."
        )


@exclusive_out("out", "train")
def train(
    model: str | nn.Module = "paper-cnn",
    nuisance: Any = None,
    algorithm: str = "mda",
    k: int | None = None,
    lam: float | None = None,
    data: Any = "mnist-sample:train",
    test_domains: dict | list | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float | None = None,
    optimizer: str = "adadelta",
    out: str | Path | None = None,
    seed: int = 0,
    resume: bool = False,
    device: str | torch.device = "cpu",
    data_root: str | None = None,
    n_train: int | None = None,
    in_chans: int | None = None,
    num_classes: int | None = None,
    input_size: int | tuple | None = None,
    weight_decay: float = 0.0,
    algorithm_kwargs: dict | None = None,
    checkpoint_every: int | None = 500,
    max_steps: int | None = None,
    callback: Callable[[dict], None] | None = None,
    eval_batch_size: int = 256,
    progress: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train a classifier with ERM, PGD, MRT, MAT or MDA and evaluate it on test domains.

    Args:
        model: ``"paper-cnn"``, a timm model name, or an ``nn.Module`` classifier (images in
            [0, 1] → logits; saved weights then need the same module to load).
        nuisance: a nuisance model or a zoo name (``"background-color"``); needed by mrt,
            mat and mda, ignored by erm and pgd.
        algorithm: ``erm``, ``pgd``, ``mrt``, ``mat`` or ``mda``.
        k: draws (MDA, MRT) or ascent steps (MAT); default the paper's 5 / 10 / 10.
        lam: λ, the weight of the clean term; None: 1 for mrt/mat/mda (the paper's), 0 for
            pgd (Madry et al.'s objective, the paper's PGD baseline).
        data: training data: a spec (``"mnist-sample:train"``, ``"npz:PATH"``), an
            ``ImageDataset`` or an ``(x, y)`` pair.
        test_domains: ``{name: data}`` or a list of specs (named by themselves), evaluated
            (clean accuracy) after every epoch.
        epochs: passes over the training data.
        batch_size: images per step (paper: 64); the last batch of an epoch may be smaller.
        lr: learning rate (default 1.0 for Adadelta, as in the paper).
        optimizer: ``adadelta``, ``sgd``, ``adam`` or ``adamw``.
        out: output folder (see the module docstring); None keeps everything in memory. The run
            holds its lock (``out/.lock``): a second run into the same folder raises
            :class:`~nuisance_zoo.run_lock.RunLockedError` naming this run's pid.
        seed: seeds initialisation, data order, δ draws and dropout.
        resume: continue from ``out/checkpoint.safetensors`` when it exists.
        device: ``"cpu"``, ``"cuda"``, ...
        data_root: root folder for data specs (default: the data package's lookup).
        n_train: train on a seeded random subset of this many images (None: all).
        in_chans: channels the classifier takes (default: the data's; gray data is stacked
            to 3 channels when 3 is asked, as the paper does for MNIST).
        num_classes: default: from the data.
        input_size: default: the data's ``(H, W)``.
        weight_decay: passed to the optimizer.
        algorithm_kwargs: extra wrapper arguments (``selection``, ``step_size``, ``eps``, ...).
        checkpoint_every: also checkpoint every this many steps (None: only at epoch ends).
        max_steps: stop (with a checkpoint) once this many steps have been taken in total;
            the result then has ``completed=False``.
        callback: called after every step with ``{"global_step", "epoch", "step", "loss"}``.
        eval_batch_size: batch size of the per-epoch evaluation.
        progress: show tqdm bars.
        overwrite: allow starting afresh in an ``out`` that holds a checkpoint (the previous
            run's checkpoint, metrics and classifier are deleted first).

    Returns:
        A :class:`TrainResult`.
    """
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}.")
    # Every numeric argument against its range, before anything is loaded or written.
    epochs = check_range("epochs", epochs, 0, integer=True, model="train")
    batch_size = check_range("batch_size", batch_size, 1, integer=True, model="train")
    eval_batch_size = check_range("eval_batch_size", eval_batch_size, 1, integer=True, model="train")
    seed = check_range("seed", seed, 0, integer=True, model="train")
    weight_decay = check_range("weight_decay", weight_decay, 0, model="train")
    if lr is not None:
        lr = check_range("lr", lr, 0, open_low=True, why="the learning rate", model="train")
    if k is not None:
        k = check_range("k", k, 0, integer=True, why="draws (mda, mrt) or ascent steps (mat)", model="train")
    if lam is not None:
        lam = check_range("lam", lam, 0, why="λ, the weight of the clean term", model="train")
    if n_train is not None:
        # A negative n would silently train on all but |n| images (a slice from the end).
        n_train = check_range("n_train", n_train, 1, integer=True, why="images; None: all", model="train")
    if checkpoint_every is not None:
        checkpoint_every = check_range("checkpoint_every", checkpoint_every, 1, integer=True,
                                       why="steps; None: at epoch ends only", model="train")
    if max_steps is not None:
        max_steps = check_range("max_steps", max_steps, 0, integer=True, model="train")
    for name, value in (("in_chans", in_chans), ("num_classes", num_classes)):
        if value is not None:
            check_range(name, value, 1, integer=True, model="train")
    device = torch.device(device)
    out = Path(out) if out is not None else None
    ckpt_path = out / CHECKPOINT if out is not None else None
    if ckpt_path is not None and ckpt_path.exists() and not resume and not overwrite:
        raise ValueError(
            f"{out} already holds a training checkpoint; pass resume=True (--resume) to continue "
            f"it, overwrite=True to start afresh, or choose another output folder."
        )

    torch.manual_seed(seed)
    train_data = as_tensors(data, root=data_root, split="train").subset(n_train, seed)
    if len(train_data) == 0:
        raise ValueError("the training data is empty.")
    tests = _test_domains(test_domains, data_root)
    check_image(train_data.x, "the training images")  # once, so a NaN pixel is named, not a NaN loss
    in_chans = int(in_chans or train_data.x.shape[1])
    num_classes = int(num_classes or train_data.num_classes)
    check_label_values(train_data.y, num_classes, name="the training labels", mode="full")
    input_size = input_size or tuple(train_data.x.shape[2:])

    G = None
    nuisance_name = None
    if nuisance is not None and algorithm in ("mrt", "mat", "mda"):
        if isinstance(nuisance, str):
            from ..registry import load

            nuisance_name, G = nuisance, load(nuisance)
        else:
            G, nuisance_name = nuisance, type(nuisance).__name__
        G = G.to(device)
        check_nuisance_size(G, tuple(train_data.x.shape[2:]), nuisance_name)

    if isinstance(model, str):
        model_name = model
        clf = create_classifier(model, num_classes, in_chans, input_size)
    else:
        clf = model
        # timm models know their architecture name; other modules are saved under their class
        # name (load_classifier cannot rebuild those: load the state dict into your module).
        model_name = (getattr(clf, "pretrained_cfg", None) or {}).get("architecture") or type(clf).__name__
    clf = clf.to(device)
    algorithm_kwargs = dict(algorithm_kwargs or {})
    if algorithm == "pgd":
        # The additive ℓ∞ model has one δ coordinate per input value.
        algorithm_kwargs.setdefault("image_shape", (in_chans, *train_data.x.shape[2:]))
    objective = build_objective(algorithm, clf, G, k, lam, **algorithm_kwargs).to(device)
    lam = getattr(objective, "lam", lam)
    opt = build_optimizer(optimizer, clf.parameters(), lr, weight_decay)

    n, steps_per_epoch = len(train_data), math.ceil(len(train_data) / batch_size)
    run_config = {
        "algorithm": algorithm, "nuisance": nuisance_name, "k": getattr(objective, "k", None),
        "lam": lam, "data": train_data.name, "n_train": n, "epochs": epochs,
        "batch_size": batch_size, "optimizer": optimizer, "lr": opt.param_groups[0]["lr"],
        "seed": seed,
    }
    state = {"epoch": 0, "step": 0, "global_step": 0, "loss_sum": 0.0, "history": [],
             "elapsed": 0.0, "config": run_config}
    if out is not None:
        clean_leftovers(out)  # we hold the lock: any temporary here is a killed run's
    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = read_checkpoint(ckpt_path)
        state = restore_checkpoint(ckpt, clf, opt)
        repair_json_copy(ckpt)
        old = state.get("config", {})
        changed = {key: (old.get(key), v) for key, v in run_config.items()
                   if key not in ("epochs",) and old.get(key) != v}
        if changed:
            raise ValueError(
                f"cannot resume {out}: the run was started with different settings "
                f"{ {key: f'{a!r} -> {b!r}' for key, (a, b) in changed.items()} }; use the same "
                f"arguments (only epochs may grow) or another output folder."
            )
        state["config"] = run_config
    elif out is not None:
        _start_fresh(out)

    def snapshot() -> None:
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, clf, opt, state)

    extra = {"algorithm": algorithm, "nuisance": nuisance_name, "k": run_config["k"], "lam": lam,
             "data": train_data.name, "seed": seed, "classes": train_data.classes or None}
    completed = True
    t_start = time.perf_counter() - state["elapsed"]
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        order = epoch_order(n, seed, epoch)
        objective.train()
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps_per_epoch, initial=state["step"], desc=f"{algorithm} epoch {epoch + 1}/{epochs}",
                       unit="step", leave=False)
        while state["step"] < steps_per_epoch:
            if max_steps is not None and state["global_step"] >= max_steps:
                completed = False
                break
            s = state["step"]
            idx = order[s * batch_size:(s + 1) * batch_size]
            x = to_model_input(train_data.x[idx], in_chans, device)
            y = train_data.y[idx].to(device)
            loss = objective(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise RuntimeError(f"the loss became {loss_value} at step {state['global_step'] + 1}; "
                                   f"lower the learning rate.")
            state["loss_sum"] += loss_value
            state["step"] += 1
            state["global_step"] += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}")
            if checkpoint_every and state["global_step"] % checkpoint_every == 0:
                state["elapsed"] = time.perf_counter() - t_start
                snapshot()
            if callback is not None:
                callback({"global_step": state["global_step"], "epoch": epoch, "step": s, "loss": loss_value})
        if bar is not None:
            bar.close()
        if not completed:
            break

        objective.eval()
        row: dict[str, Any] = {"epoch": epoch + 1, "global_step": state["global_step"],
                               "train_loss": state["loss_sum"] / steps_per_epoch}
        for name, d in tests.items():
            row[f"acc/{name}"] = accuracy(clf, d, batch_size=eval_batch_size, in_chans=in_chans, device=device)
        state["elapsed"] = time.perf_counter() - t_start
        row["time_s"] = round(state["elapsed"], 3)
        state["history"].append(row)
        state.update(epoch=epoch + 1, step=0, loss_sum=0.0)
        if progress:
            from tqdm.auto import tqdm

            accs = "  ".join(f"{key[4:]}: {100 * v:.1f}%" for key, v in row.items() if key.startswith("acc/"))
            tqdm.write(f"[{algorithm}] epoch {epoch + 1}/{epochs}  loss {row['train_loss']:.4f}  {accs}")
        if out is not None:
            save_classifier(clf, out, model_name, num_classes, in_chans, input_size, extra=extra)
            _write_metrics(out, state["history"])
        snapshot()

    state["elapsed"] = time.perf_counter() - t_start
    if not completed:
        snapshot()
    elif out is not None and not (out / "model.safetensors").exists():
        save_classifier(clf, out, model_name, num_classes, in_chans, input_size, extra=extra)
    clf.eval()
    return TrainResult(model=clf, metrics=state["history"], out=out,
                       global_step=state["global_step"], completed=completed)
