"""Training checkpoints: one safetensors file, written atomically, enough for an exact resume.

A checkpoint holds the classifier's weights (``model.*``), the optimizer's tensors
(``optim.<param id>.<key>``), the torch RNG states as uint8 tensors (``rng.cpu``,
``rng.cuda.<i>``: they drive δ draws and dropout) and, in the file's JSON metadata, the
counters, the optimizer's param groups and the metrics so far. Everything goes into ONE file
so that ``os.replace`` of a temporary file makes the update atomic: a run killed at any moment
leaves either the previous checkpoint or the new one, never a mix. Nothing is pickled.

Example:
    >>> import torch
    >>> from nuisance_zoo.training.checkpoint import save_checkpoint, load_checkpoint
    >>> m = torch.nn.Linear(2, 2); opt = torch.optim.Adadelta(m.parameters())
    >>> import tempfile, os; p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> save_checkpoint(p, m, opt, {"global_step": 3})
    >>> load_checkpoint(p, m, opt)["global_step"]
    3
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["save_checkpoint", "load_checkpoint", "optimizer_to_flat", "optimizer_from_flat"]

_FORMAT = "nuisance-zoo-train-checkpoint/1"


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split ``optimizer.state_dict()`` into named tensors and a JSON-able remainder."""
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for key, v in st.items():
            if isinstance(v, Tensor):
                tensors[f"optim.{pid}.{key}"] = v.detach().cpu().contiguous().clone()
            else:
                scalars[f"{pid}.{key}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict) -> None:
    """Inverse of :func:`optimizer_to_flat`: load the state into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for name, v in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    for name, v in meta.get("scalars", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    state: dict) -> None:
    """Atomically write the model, optimizer, RNG states and ``state`` (JSON-able) to ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    optim_meta: dict = {}
    if optimizer is not None:
        optim_tensors, optim_meta = optimizer_to_flat(optimizer)
        tensors.update(optim_tensors)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    metadata = {"format": _FORMAT, "state": json.dumps(state), "optimizer": json.dumps(optim_meta)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    restore_rng: bool = True) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Restores the torch RNG states too (``restore_rng``), so that δ draws and dropout continue
    exactly where they stopped. Returns the ``state`` dict that was saved.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a nuisance-zoo training checkpoint (format {metadata.get('format')!r}).")
    tensors = load_file(str(path))
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    if optimizer is not None:
        optimizer_from_flat(optimizer, tensors, json.loads(metadata["optimizer"]))
    if restore_rng:
        torch.set_rng_state(tensors["rng.cpu"])
        cuda = [tensors[f"rng.cuda.{i}"] for i in range(len(tensors)) if f"rng.cuda.{i}" in tensors]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
    return json.loads(metadata["state"])
