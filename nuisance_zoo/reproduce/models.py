"""Build a row's model of natural variation: load it (zoo, known, composed) or fit it on the spot.

Fitting follows the zoo's recipe (``config="small"``, 2,500 iterations, batch 16, seed 0: what
``hub_cards/*/config.json`` records for every learned zoo model), with the checkpoint in the
row's work folder, so a killed fit resumes and a finished one is loaded, not refitted.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .data import load_domain, quick_spec
from .rows import ModelRecipe

__all__ = ["build_model", "ZOO_FIT_RECIPE", "QUICK_FIT_RECIPE"]

#: The zoo's fitting recipe (hub_cards/*/config.json, "training").
ZOO_FIT_RECIPE = {"config": "small", "iterations": 2500, "batch_size": 16, "seed": 0}
#: A quick run only checks that fitting works end to end.
QUICK_FIT_RECIPE = {"config": "small", "iterations": 2, "batch_size": 4, "seed": 0}
_QUICK_FIT_IMAGES = 32


def build_model(recipe: ModelRecipe, work: Path, quick: bool = False, device: str = "cpu",
                root: str | None = None, progress: bool = True) -> tuple[Any, dict]:
    """The model of ``recipe`` and a record of how it was obtained (for the results JSON).

    Args:
        recipe: what to build.
        work: a folder for a fitted model's checkpoint and ``model/`` folder.
        quick: fit with :data:`QUICK_FIT_RECIPE` on a few images instead of the zoo's recipe.
        device: where to fit.
        root: data root for the domains' specs.
        progress: show the fit's progress bar.
    """
    import nuisance_zoo as nz

    if recipe.kind == "load":
        models = [nz.load(n) for n in recipe.names]
        G = models[0]
        for inner in models[1:]:
            G = G @ inner
        return G, {**recipe.as_dict()}
    if recipe.kind != "fit":
        raise ValueError(f"unknown model recipe kind {recipe.kind!r}; use 'load' or 'fit'.")
    fit_cfg = QUICK_FIT_RECIPE if quick else ZOO_FIT_RECIPE
    a_spec, b_spec = recipe.domain_a, recipe.domain_b
    if quick:
        a_spec, b_spec = quick_spec(a_spec, _QUICK_FIT_IMAGES), quick_spec(b_spec, _QUICK_FIT_IMAGES)
    record = {**recipe.as_dict(), "domain_a": a_spec, "domain_b": b_spec, "recipe": dict(fit_cfg)}
    out = Path(work)
    model_dir = out / "model"
    if (model_dir / "config.json").is_file():
        # Finished before (an earlier, interrupted reproduce run): load, do not refit.
        return nz.load(f"local-dir:{model_dir}"), {**record, "reused": str(model_dir)}
    t0 = time.perf_counter()
    a, b = load_domain(a_spec, root), load_domain(b_spec, root)
    G = nz.fit(a, b, config=fit_cfg["config"], iterations=fit_cfg["iterations"],
               batch_size=fit_cfg["batch_size"], seed=fit_cfg["seed"], out_dir=out,
               resume=(out / "checkpoint.safetensors").is_file(), device=device, progress=progress,
               training_info={"domains": {"A": a_spec, "B": b_spec}, "selection": recipe.describe()})
    record["fit_wall_s"] = round(time.perf_counter() - t0, 2)
    # Reload from disk so a fresh run and a resumed one use bit-identical weights and state.
    return nz.load(f"local-dir:{model_dir}").to(device), record
