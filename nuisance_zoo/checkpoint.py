"""Run checkpoints for ``train``, ``fit`` and ``fit-structured``: one format, atomic, exact resume.

One checkpoint is ONE safetensors file (default name :data:`CHECKPOINT_NAME`). Its tensors:

- ``model.<key>``: the state dict of the module being trained (a classifier, or a generator
  trainer holding generator and discriminators);
- ``optim.<name>.state.<param id>.<key>``: every optimizer's tensor state (Adam moments,
  step counts), one ``name`` per optimizer;
- ``rng.torch.cpu`` and ``rng.torch.cuda.<i>``: the global torch RNG states (they drive
  dropout and any draw made without an explicit generator);
- ``rng.<name>``: the state of each explicit :class:`torch.Generator` the run draws from;
- ``extra.<name>``: any other tensor the caller needs back (e.g. a data sampler's permutation).

Its JSON metadata: ``format`` (:data:`FORMAT`), ``state`` (the caller's run record: counters,
config, metrics) and ``optimizers`` (per optimizer: param groups and non-tensor state).

Writes go to a temporary name in the same folder and are renamed with :func:`os.replace`, so a
run killed at any moment leaves the previous checkpoint or the new one, never a torn file; a
copy of ``state`` is written beside it as ``<stem>.json`` for people (never read back).
Nothing is pickled: weights and state are safetensors + JSON only.

This module sits at the base of the package (it imports nothing else from it) so that both the
classifier trainer (``training/``) and the generator trainers (``learned/``) can use it.

Example:
    >>> import torch, tempfile, os
    >>> from nuisance_zoo.checkpoint import save_checkpoint, load_checkpoint
    >>> m = torch.nn.Linear(2, 2); opt = torch.optim.Adadelta(m.parameters())
    >>> p = os.path.join(tempfile.mkdtemp(), "checkpoint.safetensors")
    >>> save_checkpoint(p, m, opt, {"global_step": 3})
    >>> load_checkpoint(p, m, opt)["global_step"]
    3
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

import torch
from torch import Tensor, nn

__all__ = [
    "CHECKPOINT_NAME", "FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "restore_checkpoint", "optimizer_to_flat", "optimizer_from_flat",
]

CHECKPOINT_NAME = "checkpoint.safetensors"
FORMAT = "nuisance-zoo/checkpoint/1"
#: The name a lone optimizer (not given in a mapping) is stored under.
DEFAULT_OPTIMIZER = "main"
_GLOBAL_RNG = "torch"

Optimizers = Union[torch.optim.Optimizer, Mapping[str, torch.optim.Optimizer], None]


@dataclass
class Checkpoint:
    """A checkpoint read from disk, before anything is restored from it.

    Attributes:
        path: where it was read from.
        state: the caller's run record (JSON).
        tensors: every tensor in the file, under its full key (``model.*``, ``optim.*``, ...).
        optimizers: per optimizer name, its param groups and non-tensor state (JSON).
    """

    path: Path
    state: dict
    tensors: dict[str, Tensor]
    optimizers: dict = field(default_factory=dict)

    def extra(self, name: str) -> Tensor:
        """The tensor saved with ``extras={name: ...}``."""
        key = f"extra.{name}"
        if key not in self.tensors:
            raise KeyError(f"{self.path} holds no tensor {name!r} (saved extras: "
                           f"{sorted(k[6:] for k in self.tensors if k.startswith('extra.'))}).")
        return self.tensors[key]


def _named_optimizers(optimizers: Optimizers) -> dict[str, torch.optim.Optimizer]:
    if optimizers is None:
        return {}
    if isinstance(optimizers, torch.optim.Optimizer):
        return {DEFAULT_OPTIMIZER: optimizers}
    return dict(optimizers)


def optimizer_to_flat(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split ``optimizer.state_dict()`` into named tensors and a JSON-able remainder.

    Args:
        name: the optimizer's name in the checkpoint (tensor keys start ``optim.<name>.``).
        optimizer: any torch optimizer.

    Returns:
        ``(tensors, meta)``: tensors keyed ``optim.<name>.state.<param id>.<key>``; ``meta`` holds
        the param groups and the non-tensor state entries (e.g. SGD's ``momentum_buffer=None``).
    """
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for key, v in st.items():
            if isinstance(v, Tensor):
                tensors[f"optim.{name}.state.{pid}.{key}"] = v.detach().cpu().contiguous().clone()
            else:
                scalars[f"{pid}.{key}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(name: str, optimizer: torch.optim.Optimizer, tensors: Mapping[str, Tensor],
                        meta: dict) -> None:
    """Inverse of :func:`optimizer_to_flat`: load the saved state into ``optimizer``."""
    prefix = f"optim.{name}.state."
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix):
            pid, entry = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[entry] = v
    for key, v in meta.get("scalars", {}).items():
        pid, entry = key.split(".", 1)
        state.setdefault(int(pid), {})[entry] = v
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):  # JSON has no tuples; Adam's betas are one
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(path: str | Path, model: nn.Module, optimizers: Optimizers, state: dict, *,
                    generators: Mapping[str, torch.Generator] | None = None,
                    extras: Mapping[str, Tensor] | None = None) -> None:
    """Atomically write a checkpoint (format in the module docstring).

    Args:
        path: the ``.safetensors`` file to write (its folder is created).
        model: the module being trained; its whole state dict is saved.
        optimizers: one optimizer, a mapping name → optimizer, or None.
        state: the run record (JSON-able: counters, config, metrics).
        generators: explicit random generators by name (``rng.<name>``); ``"torch"`` is reserved
            for the global RNG, which is always saved.
        extras: other tensors by name (``extra.<name>``).
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    optim_meta: dict[str, dict] = {}
    for name, opt in _named_optimizers(optimizers).items():
        optim_tensors, optim_meta[name] = optimizer_to_flat(name, opt)
        tensors.update(optim_tensors)
    tensors[f"rng.{_GLOBAL_RNG}.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.{_GLOBAL_RNG}.cuda.{i}"] = s
    for name, gen in (generators or {}).items():
        if name == _GLOBAL_RNG:
            raise ValueError(f"generator name {_GLOBAL_RNG!r} is reserved for the global torch RNG.")
        tensors[f"rng.{name}"] = gen.get_state()
    for name, t in (extras or {}).items():
        tensors[f"extra.{name}"] = t.detach().cpu().contiguous().clone()
    text = json.dumps(state)
    metadata = {"format": FORMAT, "state": text, "optimizers": json.dumps(optim_meta)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # atomic: readers see the old checkpoint or the new one, never half of one
    _atomic_write_text(path.with_suffix(".json"), json.dumps(state, indent=2) + "\n")


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` without restoring anything.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ValueError: the file is not a checkpoint in this format.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a nuisance-zoo checkpoint (format {metadata.get('format')!r}, "
                         f"expected {FORMAT!r}).")
    return Checkpoint(path=path, state=json.loads(metadata["state"]), tensors=load_file(str(path)),
                      optimizers=json.loads(metadata.get("optimizers", "{}")))


def restore_checkpoint(ckpt: Checkpoint, model: nn.Module, optimizers: Optimizers = None, *,
                       generators: Mapping[str, torch.Generator] | None = None, restore_rng: bool = True,
                       strict: bool = True) -> dict:
    """Load ``ckpt`` into ``model``, the optimizers and the generators; return its ``state``.

    Args:
        ckpt: from :func:`read_checkpoint`.
        model: receives the ``model.*`` tensors.
        optimizers: as given to :func:`save_checkpoint` (same names).
        generators: as given to :func:`save_checkpoint` (same names); their states are restored.
        restore_rng: also restore the global torch RNG, so that δ draws and dropout continue
            exactly where they stopped.
        strict: passed to :meth:`torch.nn.Module.load_state_dict`.
    """
    t = ckpt.tensors
    model.load_state_dict({k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}, strict=strict)
    for name, opt in _named_optimizers(optimizers).items():
        if name not in ckpt.optimizers:
            raise ValueError(f"{ckpt.path} holds no optimizer {name!r} (it has {sorted(ckpt.optimizers)}).")
        optimizer_from_flat(name, opt, t, ckpt.optimizers[name])
    for name, gen in (generators or {}).items():
        gen.set_state(t[f"rng.{name}"])
    if restore_rng:
        torch.set_rng_state(t[f"rng.{_GLOBAL_RNG}.cpu"])
        cuda = [t[f"rng.{_GLOBAL_RNG}.cuda.{i}"] for i in range(len(t)) if f"rng.{_GLOBAL_RNG}.cuda.{i}" in t]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
    return ckpt.state


def load_checkpoint(path: str | Path, model: nn.Module, optimizers: Optimizers = None, *,
                    generators: Mapping[str, torch.Generator] | None = None, restore_rng: bool = True) -> dict:
    """:func:`read_checkpoint` then :func:`restore_checkpoint`; returns the saved ``state``."""
    return restore_checkpoint(read_checkpoint(path), model, optimizers, generators=generators,
                              restore_rng=restore_rng)
