"""How long a full row would take here, measured, before committing hours to it.

A full row is seeds × columns units, each ``epochs × (steps_per_epoch training steps + one
evaluation)``, plus fitting G when the row fits it on the spot. :func:`estimate` times a few real
training steps of every column on the row's full data, one evaluation pass, and (for fitted
rows) a few fitting iterations, then multiplies out. Nothing is written into the row's results.

The per-step time is read off one short run per column, between the trainer's step callbacks
after ``warmup`` steps and after ``warmup + steps``, so set-up (building the wrapper, moving G)
and the first, slower steps fall outside it. It assumes the machine is as busy during the full run
as while timing, so time on an otherwise idle machine.

Example:
    >>> from nuisance_zoo.reproduce.estimate import estimate
    >>> e = estimate("t2-gtsrb-brightness", seeds=3, data_root="../shared/data")   # doctest: +SKIP
    >>> round(e["total_s"] / 3600, 1), e["columns"]["PGD"]["unit_s"]               # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from .architectures import build_classifier
from .data import load_domain
from .models import ZOO_FIT_RECIPE, build_model
from .run import column_plan, hardware_info, protocol_for, get_row
from .rows import Row

__all__ = ["estimate", "format_estimate"]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _fit_cost(recipe, device: str, root: str | None, iterations: int) -> tuple[Any, float]:
    """A model with the fitted recipe's architecture, and the seconds per fitting iteration."""
    import nuisance_zoo as nz

    a, b = load_domain(recipe.domain_a, root), load_domain(recipe.domain_b, root)
    cfg = dict(config=ZOO_FIT_RECIPE["config"], batch_size=ZOO_FIT_RECIPE["batch_size"],
               seed=ZOO_FIT_RECIPE["seed"], device=device, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        short = _timed(lambda: nz.fit(a, b, iterations=2, out_dir=Path(tmp) / "short", **cfg))
        box: dict[str, Any] = {}
        long = _timed(lambda: box.setdefault("G", nz.fit(a, b, iterations=2 + iterations,
                                                        out_dir=Path(tmp) / "long", **cfg)))
    # The difference cancels set-up; on a busy machine it can come out <= 0, then the whole long
    # run per iteration (set-up included: an over- rather than an under-estimate).
    per_iteration = (long - short) / iterations
    return box["G"], per_iteration if per_iteration > 0 else long / (2 + iterations)


def estimate(row: str | Row, seeds: int = 3, device: str = "cpu", data_root: str | None = None,
             epochs: int | None = None, steps: int = 4, warmup: int = 2, fit_iterations: int = 4) -> dict:
    """Measured cost of the full version of ``row`` on this machine.

    Args:
        row: a row name (``nuisance-zoo reproduce --list``) or a :class:`~.rows.Row`.
        seeds: seeds the full run would use.
        device: where to time (``"cpu"``, ``"cuda"``, ...).
        data_root: root folder of the data specs.
        epochs: override the row's epochs.
        steps: training steps timed per column (after ``warmup`` untimed ones).
        warmup: steps run first and not timed (set-up and first-call costs).
        fit_iterations: fitting iterations timed, for rows that fit G on the spot.

    Returns:
        For a row marked ``optional_data`` whose data is absent, ``{"row", "status":
        "data-unavailable", "reason"}``; otherwise ``{"row", "status": "estimated", "seeds", "epochs", "n_train", "steps_per_epoch", "eval_s", "fit_s",
        "columns": {label: {"step_ms", "unit_s"}}, "total_s", "hardware", "load_average"}``; ``unit_s`` is one
        (seed, column) unit, evaluation included; ``total_s`` the whole row.
    """
    from ..training.classifiers import create_classifier
    from ..training.metrics import accuracy
    from ..training.trainer import train

    if steps < 1 or warmup < 1:
        raise ValueError(f"steps and warmup must be >= 1, got steps={steps}, warmup={warmup}.")
    row = get_row(row)
    n_epochs = epochs if epochs is not None else row.epochs
    protocol = protocol_for(row, False, n_epochs, device)
    try:
        train_data = load_domain(tuple(protocol["train"]), data_root)
        tests = {k: load_domain(v, data_root) for k, v in protocol["tests"].items()}
    except Exception as e:  # noqa: BLE001 -- as reproduce() does: only rows marked optional_data tolerate it
        if not row.optional_data:
            raise
        return {"row": row.name, "status": "data-unavailable",
                "reason": f"{type(e).__name__}: {e}".splitlines()[0][:240]}
    n_train = len(train_data.y)
    steps_per_epoch = math.ceil(n_train / protocol["batch_size"])
    input_size = tuple(train_data.x.shape[2:])

    recipes = {"main": row.model, **row.extra_models}
    needed = {c.model for c in row.columns if c.algorithm in ("mrt", "mat", "mda")}
    models: dict[str, Any] = {}
    fit_s = 0.0
    for key in sorted(needed):
        if recipes[key].kind == "fit":
            models[key], per_iteration = _fit_cost(recipes[key], device, data_root, fit_iterations)
            fit_s += per_iteration * ZOO_FIT_RECIPE["iterations"]
        else:
            models[key], _ = build_model(recipes[key], Path(tempfile.gettempdir()), device=device, root=data_root,
                                         progress=False)

    clf = build_classifier(row.classifier, row.num_classes, 3, input_size)
    if isinstance(clf, str):  # a name the trainer builds itself
        clf = create_classifier(clf, row.num_classes, 3, input_size)
    clf = clf.to(device)
    eval_s = sum(_timed(lambda d=d: accuracy(clf, d, in_chans=3, device=device)) for d in tests.values())

    columns: dict[str, dict] = {}
    for col in row.columns:
        plan = column_plan(col, quick=False)
        G = models.get(col.model) if col.algorithm in ("mrt", "mat", "mda") else None
        if col.algorithm == "mat" and not G.differentiable:
            columns[col.label] = {"step_ms": None, "unit_s": 0.0, "note": "not applicable (G not differentiable)"}
            continue

        # Stamps at the end of step `warmup` and of step `warmup + steps`. Every full row has more
        # steps per epoch than that, so no evaluation falls between them (a tiny test row's may; its
        # numbers only check the sums).
        stamps: dict[int, float] = {}
        marks = (warmup, warmup + steps)

        def stamp(info: dict) -> None:
            if info["global_step"] in marks:
                stamps[info["global_step"]] = time.perf_counter()

        torch.manual_seed(0)
        model = build_classifier(row.classifier, row.num_classes, 3, input_size)
        train(model, nuisance=G, algorithm=plan["algorithm"], k=plan["k"], data=train_data,
              epochs=math.ceil(marks[1] / steps_per_epoch), max_steps=marks[1], out=None, device=device,
              in_chans=3, num_classes=row.num_classes, algorithm_kwargs=dict(plan["kwargs"]), progress=False,
              callback=stamp)
        step_s = (stamps[marks[1]] - stamps[marks[0]]) / steps
        unit_s = n_epochs * (steps_per_epoch * step_s + eval_s)
        columns[col.label] = {"step_ms": round(1000 * step_s, 2), "unit_s": round(unit_s, 1)}

    total = seeds * sum(c["unit_s"] for c in columns.values()) + fit_s
    # Timings scale with how busy the machine was: keep the load beside them.
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"load_average": load, "row": row.name, "status": "estimated", "seeds": seeds, "epochs": n_epochs, "n_train": n_train,
            "steps_per_epoch": steps_per_epoch, "eval_s": round(eval_s, 2), "fit_s": round(fit_s, 1),
            "columns": columns, "total_s": round(total, 1), "hardware": hardware_info(device),
            "method": f"{steps} timed steps per column after {warmup} warm-up steps"
                      + (f"; {fit_iterations} timed fitting iterations" if fit_s else "")}


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def format_estimate(e: dict) -> str:
    """One row's estimate as a few readable lines."""
    if e.get("status") == "data-unavailable":
        return f"{e['row']}: not estimated, its data is absent ({e['reason'][:160]})"
    hw = e["hardware"]
    where = hw["gpu"] or f"{hw['cpu_count']} CPU cores, {hw['torch_threads']} torch threads"
    lines = [f"{e['row']}: about {_hours(e['total_s'])} for {e['seeds']} seeds × {e['epochs']} epochs "
             f"({e['n_train']} training images, {e['steps_per_epoch']} steps per epoch) on {where}"]
    if e["fit_s"]:
        lines.append(f"  fitting G: {_hours(e['fit_s'])}")
    if e.get("load_average"):
        lines.append(f"  (load average while timing: {e['load_average'][0]}; a busier machine times slower)")
    width = max(len(label) for label in e["columns"])
    for label, c in e["columns"].items():
        step = f"{c['step_ms']:.1f} ms/step" if c["step_ms"] is not None else c.get("note", "")
        lines.append(f"  {label:<{width}}  {step:>16}   {_hours(c['unit_s'])} per seed")
    return "\n".join(lines)
