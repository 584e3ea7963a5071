"""Run one row end to end and keep its results in ``RESULTS/ROW.json``, resumable per unit.

A *unit* is one (seed, column): one classifier trained for the row's epochs, evaluated on every
test domain after every epoch. Each finished unit is written into the JSON at once (temp file +
``os.replace``), so a killed run loses at most the unit in flight, and that one continues from
the trainer's own checkpoint (``RESULTS/.work/ROW/...``). A rerun skips finished units.

Accuracies are in percent. *Peak* is the best epoch's test accuracy, which selects the epoch on
the test set: it is what the paper reports ("peak test accuracies"), and optimistic for that
reason; *final* is the last epoch's, which selects nothing.

Example:
    >>> from nuisance_zoo.reproduce import reproduce
    >>> res = reproduce("t2-mnist-blue-red", quick=True, out="/tmp/results")   # doctest: +SKIP
    >>> res["summary"]["B"]["MDA-5"]["peak_mean"]                               # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .architectures import build_classifier
from .data import load_domain, quick_spec
from .models import build_model
from .rows import PGD_KWARGS, ROWS, Column, Row

__all__ = ["reproduce", "get_row", "rows_of_table", "unit_key", "column_plan", "hardware_info", "protocol_for",
           "extends_protocol", "write_results", "QUICK", "SCHEMA", "DEFAULT_OUT", "QUICK_OUT", "PEAK_NOTE"]

SCHEMA = "nuisance-zoo/reproduce/1"
#: Where results go by default (relative to the current directory: run from the project root).
DEFAULT_OUT = Path("docs/results")
QUICK_OUT = DEFAULT_OUT / "quick"
PEAK_NOTE = ("peak = the best epoch's test accuracy (the paper reports peak, which selects the epoch on "
             "the test set and is optimistic for it); final = the last epoch's.")

#: The quick (CI) version of every row: a few hundred images, one epoch, one seed, tiny k.
QUICK = {"n_train": 128, "n_test": 128, "epochs": 1, "seeds": 1, "k_max": 2, "pgd_steps": 2}


def get_row(name: str | Row) -> Row:
    """The row called ``name``; an unknown name raises a ``KeyError`` naming close matches."""
    if isinstance(name, Row):
        return name
    if name in ROWS:
        return ROWS[name]
    import difflib

    close = difflib.get_close_matches(name, list(ROWS), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown row {name!r}.{hint} `nuisance-zoo reproduce --list` shows all {len(ROWS)} rows.")


def rows_of_table(table: str) -> list[str]:
    """The rows of one paper table: ``"2"``, ``"Table 2"``, ``"t2"``, ``"f11"`` or ``"Figure 11"``."""
    from .rows import TABLES

    key = table.strip().lower().replace("table", "t").replace("figure", "f").replace(" ", "")
    if key.isdigit():
        key = "t" + key
    for name in TABLES:
        short = name.lower().replace("table ", "t").replace("figure ", "f")
        if short == key:
            return [r.name for r in ROWS.values() if r.table == name]
    raise KeyError(f"unknown table {table!r}; choose one of {', '.join(TABLES)} (e.g. --table 2 or --table f11).")


def unit_key(seed: int, label: str) -> str:
    """The JSON key of one unit: ``"seed0/MDA-5"``."""
    return f"seed{seed}/{label}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def hardware_info(device: str) -> dict:
    """Where a run ran: device, CPU count, torch threads, platform and GPU name (for the JSONs)."""
    hw = {"device": str(device), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
          "platform": platform.platform(), "gpu": None}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        hw["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return hw


def _versions() -> dict:
    from .. import __version__

    return {"nuisance_zoo": __version__, "torch": torch.__version__, "python": sys.version.split()[0]}


def write_results(path: Path, data: dict) -> None:
    """Write a results JSON atomically (the package's one atomic writer): a reader, or a kill,
    never sees half a file."""
    from ..checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1) + "\n", point="reproduce-json")


def column_plan(col: Column, quick: bool) -> dict:
    """Algorithm, k and wrapper arguments of a column (quick runs cap k and PGD's steps)."""
    k = col.k
    kwargs: dict[str, Any] = dict(PGD_KWARGS) if col.algorithm == "pgd" else {}
    kwargs.update(col.kwargs)
    if col.algorithm == "pgd" and quick:
        kwargs["steps"] = min(kwargs["steps"], QUICK["pgd_steps"])
    if quick and k is not None:
        k = min(k, QUICK["k_max"])
    return {"label": col.label, "algorithm": col.algorithm, "k": k, "model": col.model, "kwargs": kwargs}


def _command(row: Row, seeds: list[int], quick: bool, epochs: int | None, device: str) -> str:
    parts = ["nuisance-zoo reproduce", row.name]
    if quick:
        parts.append("--quick")
    else:
        parts.append(f"--seeds {len(seeds)}" if seeds == list(range(len(seeds))) else
                     "--seed-list " + ",".join(map(str, seeds)))
    if epochs is not None:
        parts.append(f"--epochs {epochs}")
    if device != "cpu":
        parts.append(f"--device {device}")
    return " ".join(parts)


def _mean_std(values: list[float]) -> tuple[float, float]:
    # Sample standard deviation (n - 1), 0 for a single seed.
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return round(mean, 2), round(std, 2)


def summarize(result: dict) -> dict:
    """``{test: {column: {final_mean, final_std, peak_mean, peak_std, n, final, peak}}}`` over
    the finished units (peak = best epoch per seed, then averaged over seeds, as the paper does)."""
    summary: dict[str, dict] = {}
    for test in result["protocol"]["tests"]:
        per_col: dict[str, dict] = {}
        for col in result["protocol"]["columns"]:
            units = [u for u in result["units"].values()
                     if u["column"] == col["label"] and u.get("status") == "done"]
            if not units:
                continue
            finals = [u["acc"][test][-1] for u in units]
            peaks = [max(u["acc"][test]) for u in units]
            fm, fs = _mean_std(finals)
            pm, ps = _mean_std(peaks)
            per_col[col["label"]] = {"final_mean": fm, "final_std": fs, "peak_mean": pm, "peak_std": ps,
                                     "n": len(units), "final": finals, "peak": peaks}
        summary[test] = per_col
    return summary


def protocol_for(row: Row, quick: bool, epochs: int, device: str) -> dict:
    """Everything that makes results comparable (data, classifier, optimiser, columns, models):
    resuming refuses a JSON whose protocol differs."""
    train = [quick_spec(s, QUICK["n_train"] // len(row.train)) if quick else s for s in row.train]
    tests = {k: quick_spec(v, QUICK["n_test"]) if quick else v for k, v in row.tests.items()}
    return {
        "train": train, "tests": tests, "classifier": row.classifier, "num_classes": row.num_classes,
        "in_chans": 3, "epochs": epochs, "batch_size": 64, "optimizer": "adadelta", "lr": 1.0, "lam": 1.0,
        "lam_pgd": 0.0, "quick": quick,
        "columns": [column_plan(c, quick) for c in row.columns],
        "models": {"main": _identity(row.model), **{k: _identity(m) for k, m in row.extra_models.items()}},
    }


def extends_protocol(old: dict, new: dict) -> bool:
    """True when ``new`` is ``old``, or ``old`` plus columns (and the models they need): every
    finished unit of ``old`` is then a unit of ``new``, so a row that gains a column keeps them."""
    rest = lambda p: {k: v for k, v in p.items() if k not in ("columns", "models")}  # noqa: E731
    if not old or rest(old) != rest(new):
        return False
    new_columns = {c["label"]: c for c in new.get("columns", [])}
    return (all(new_columns.get(c["label"]) == c for c in old.get("columns", []))
            and all(new.get("models", {}).get(k) == m for k, m in old.get("models", {}).items()))


def _identity(recipe) -> dict:
    """A recipe as the protocol records it: for zoo names also the sha256 of the weights behind
    them, so that resuming refuses results made with another model under the same name (a zoo
    name's default can change, as ``gtsrb-brightness`` did from MUNIT to the structured model)."""
    from ..catalogue import PretrainedEntry, UnknownModelError, get_entry

    d = recipe.as_dict()
    if recipe.kind == "load":
        shas = []
        for name in recipe.names:
            try:
                entry = get_entry(name)
            except UnknownModelError:  # hf-hub:, local-dir: names: their folders are verified on load
                entry = None
            shas.append(entry.sha256 if isinstance(entry, PretrainedEntry) else None)
        if any(shas):
            d["sha256"] = shas
    return d


def reproduce(
    row: str | Row,
    seeds: int | Sequence[int] = 3,
    quick: bool = False,
    out: str | Path | None = None,
    resume: bool = True,
    device: str = "cpu",
    epochs: int | None = None,
    data_root: str | None = None,
    progress: bool = True,
    on_unit_done: Callable[[str, dict], None] | None = None,
) -> dict:
    """Run ``row`` end to end: data → domains → model → every column × seed → ``OUT/ROW.json``.

    Args:
        row: a row name (``nuisance-zoo reproduce --list``) or a :class:`~.rows.Row`.
        seeds: how many seeds (0, 1, ...) or the seeds themselves. Quick runs use one.
        quick: the CI version (:data:`QUICK`: 128 training and test images, one epoch, one seed,
            k ≤ 2, PGD 2 steps, a 2-iteration fit); its numbers only show that the row runs.
        out: the results folder (default ``docs/results``, quick: ``docs/results/quick``);
            work files (checkpoints, fitted models) go to ``OUT/.work/ROW``.
        resume: keep the finished units of an earlier run with the same protocol (and continue
            the unit in flight from its checkpoint); False starts afresh.
        device: ``"cpu"``, ``"cuda"``, ...
        epochs: override the row's epochs.
        data_root: root folder of the data specs.
        progress: show progress bars.
        on_unit_done: called as ``f(key, unit)`` after each unit is saved (a hook for progress
            reporting; an exception raised there stops the run like a kill would).

    Returns:
        The results dict, as written to ``OUT/ROW.json``.

    Raises:
        KeyError: an unknown row name (with close matches).
        ValueError: ``resume=True`` over results made with another protocol.
    """
    from tqdm.auto import tqdm

    from ..training.trainer import train

    row = get_row(row)
    seed_list = [0] if quick else (list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds])
    if not seed_list:
        raise ValueError("seeds must name at least one seed.")
    n_epochs = epochs if epochs is not None else (QUICK["epochs"] if quick else row.epochs)
    out_dir = Path(out) if out is not None else (QUICK_OUT if quick else DEFAULT_OUT)
    path = out_dir / f"{row.name}.json"
    work = out_dir / ".work" / row.name
    protocol = protocol_for(row, quick, n_epochs, device)

    result: dict[str, Any] | None = None
    if resume and path.is_file():
        old = json.loads(path.read_text())
        extends = extends_protocol(old.get("protocol") or {}, protocol)
        if not extends and old.get("status") != "data-unavailable":
            raise ValueError(
                f"{path} holds results of another protocol (other epochs, data, columns or models); "
                f"rerun with --no-resume (resume=False) to start afresh, or choose another --out.")
        if extends:
            result = old
            result["protocol"] = protocol  # the same, or the same plus new columns
    if result is None:
        shutil.rmtree(work, ignore_errors=True)  # stale checkpoints of another protocol
        result = {"schema": SCHEMA, "row": row.name, "table": row.table, "title": row.title,
                  "analogue": row.analogue, "note": row.note, "started": _now(), "protocol": protocol,
                  "units": {}, "models": {}, "paper": {t: row.paper_for(t) for t in row.tests},
                  "main_test": row.main_test}
    runs_units = any(unit_key(s, c.label) not in result["units"] for s in seed_list for c in row.columns)
    if runs_units or "hardware" not in result:
        # Where and how the units are computed; a call with nothing left to run keeps the record
        # of the calls that computed them.
        result.update(command=_command(row, seed_list, quick, epochs, device),
                      hardware=hardware_info(device), versions=_versions())
    result.update(seeds=sorted(set(seed_list) | set(result.get("seeds", []))), epochs=n_epochs, quick=quick,
                  peak_note=PEAK_NOTE)

    # Data first: a row whose data is absent (torchvision sets never downloaded) is recorded as such.
    t_run = t0 = time.perf_counter()
    try:
        train_data = load_domain(tuple(protocol["train"]), data_root)
        tests = {k: load_domain(v, data_root) for k, v in protocol["tests"].items()}
    except Exception as e:  # noqa: BLE001 -- only rows marked optional_data tolerate it
        if not row.optional_data:
            raise
        result.update(status="data-unavailable", reason=f"{type(e).__name__}: {e}".splitlines()[0][:240],
                      updated=_now(), summary={})
        write_results(path, result)
        return result
    result.setdefault("timing", {})["data_s"] = round(time.perf_counter() - t0, 2)

    models: dict[str, Any] = {}
    needed = {c.model for c in row.columns if c.algorithm in ("mrt", "mat", "mda")}
    recipes = {"main": row.model, **row.extra_models}
    for key in sorted(needed):
        G, record = build_model(recipes[key], work / "fit" / key, quick=quick, device=device, root=data_root,
                                progress=progress and not quick)
        models[key] = G
        prev = result["models"].get(key, {})
        record.setdefault("fit_wall_s", prev.get("fit_wall_s"))
        result["models"][key] = {k: v for k, v in record.items() if v is not None}
    result["status"] = "partial"
    write_results(path, result)

    input_size = tuple(train_data.x.shape[2:])
    plans = {c["label"]: c for c in protocol["columns"]}
    todo = [(s, c) for s in seed_list for c in row.columns if unit_key(s, c.label) not in result["units"]]
    bar = tqdm(todo, desc=row.name, unit="unit", disable=not progress)
    for seed, col in bar:
        key = unit_key(seed, col.label)
        bar.set_postfix_str(key)
        plan = plans[col.label]
        G = models.get(col.model) if col.algorithm in ("mrt", "mat", "mda") else None
        if col.algorithm == "mat" and not G.differentiable:
            # As the paper's "–": MAT needs ∂G/∂δ.
            unit = {"seed": seed, "column": col.label, "status": "not-applicable",
                    "reason": "the model is not differentiable in δ; MAT needs ∂G/∂δ"}
        else:
            unit_dir = work / "units" / f"seed{seed}" / _slug(col.label)
            torch.manual_seed(seed)  # the classifier's initialisation, when built here
            model = build_classifier(row.classifier, row.num_classes, 3, input_size)
            t_unit = time.perf_counter()
            # A quick unit is two steps: a checkpoint would cost more than a rerun.
            res = train(model, nuisance=G, algorithm=plan["algorithm"], k=plan["k"], data=train_data,
                        test_domains=tests, epochs=n_epochs, seed=seed, out=None if quick else unit_dir,
                        resume=True, device=device, in_chans=3, num_classes=row.num_classes,
                        algorithm_kwargs=dict(plan["kwargs"]), progress=progress and not quick)
            unit = {"seed": seed, "column": col.label, "status": "done",
                    "acc": {t: [round(100 * m[f"acc/{t}"], 2) for m in res.metrics] for t in tests},
                    "train_loss": [round(m["train_loss"], 4) for m in res.metrics],
                    "wall_s": round(time.perf_counter() - t_unit, 2),
                    "train_s": res.metrics[-1]["time_s"] if res.metrics else None}
            shutil.rmtree(unit_dir, ignore_errors=True)  # its numbers are in the JSON now
        result["units"][key] = unit
        result["summary"] = summarize(result)
        result["updated"] = _now()
        write_results(path, result)
        if on_unit_done is not None:
            on_unit_done(key, unit)

    result["summary"] = summarize(result)
    expected = {unit_key(s, c.label) for s in result["seeds"] for c in row.columns}
    result["status"] = "complete" if expected <= set(result["units"]) else "partial"
    result["timing"]["units_s"] = round(sum(u.get("wall_s", 0) for u in result["units"].values()), 2)
    if todo:
        # Wall time of the invocations that ran units (data, models, units), summed over resumes.
        result["timing"]["run_s"] = round(result["timing"].get("run_s", 0.0) + time.perf_counter() - t_run, 2)
    result["updated"] = _now()
    write_results(path, result)
    if result["status"] == "complete":
        shutil.rmtree(work / "units", ignore_errors=True)
    return result
