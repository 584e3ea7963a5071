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

Every other artefact of a run goes through the same two helpers: :func:`atomic_file` (a file
written under ``<name>.tmp`` and renamed into place) and :func:`atomic_folder` (a folder
written as the hidden sibling ``.<name>.tmp`` and renamed into place). Each calls
:func:`write_point` just before its rename: the moment a kill would leave a finished but
uncommitted temporary behind. :func:`clean_leftovers` removes such temporaries when the next
run (or resume) takes the folder. ``write_point`` is also the fault-injection hook of the
tests: ``NUISANCE_ZOO_CRASH_AT=checkpoint:2`` kills the process (SIGKILL, like ``kill -9``:
no cleanup, no ``finally``) the second time it reaches the ``checkpoint`` point.

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
import shutil
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Union

import torch
from torch import Tensor, nn

__all__ = [
    "CHECKPOINT_NAME", "FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint", "read_checkpoint",
    "restore_checkpoint", "optimizer_to_flat", "optimizer_from_flat",
    "write_point", "recording_write_points", "reset_write_points", "InjectedCrash", "CRASH_ENV",
    "atomic_file", "atomic_folder", "atomic_write_text", "clean_leftovers", "TMP_SUFFIX", "repair_json_copy",
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


# ---------------------------------------------------------------------------------- write points
#: ``NAME:N[:ACTION]``: at the N-th time this process reaches write point NAME, ACTION it:
#: ``kill`` (default; SIGKILL to itself, i.e. ``kill -9``), ``stop`` (SIGSTOP: frozen while
#: holding its lock, until someone kills or continues it) or ``raise`` (:class:`InjectedCrash`).
CRASH_ENV = "NUISANCE_ZOO_CRASH_AT"
#: A file to which every write point reached is appended as ``NAME:N`` (one per line).
WRITE_POINTS_ENV = "NUISANCE_ZOO_WRITE_POINTS"

_point_counts: dict[str, int] = {}
#: Open recordings: the list of tags each one collects, with its own counts.
_recorders: list[tuple[list[str], dict[str, int]]] = []


class InjectedCrash(RuntimeError):
    """Raised at a write point named in ``NUISANCE_ZOO_CRASH_AT`` with the ``raise`` action."""


def reset_write_points() -> None:
    """Start counting write points from zero again (``NAME:N`` counts from here)."""
    _point_counts.clear()


@contextmanager
def recording_write_points() -> Iterator[list[str]]:
    """Collect the write points reached inside the block, as ``NAME:N`` (N counted from the
    block's start), in order.

    Example:
        >>> with recording_write_points() as points:   # doctest: +SKIP
        ...     train(..., out="run")
        >>> points                                      # doctest: +SKIP
        ['classifier.weights:1', 'classifier.config:1', 'metrics.json:1', ...]
    """
    entry: tuple[list[str], dict[str, int]] = ([], {})
    _recorders.append(entry)
    try:
        yield entry[0]
    finally:
        _recorders.remove(entry)


def write_point(name: str) -> None:
    """Mark the moment just before an artefact named ``name`` is committed (renamed into place).

    Costs a dictionary update and an environment look-up; its only effects are the test hooks
    in the module docstring (record, kill, stop or raise at the N-th time).
    """
    n = _point_counts[name] = _point_counts.get(name, 0) + 1
    tag = f"{name}:{n}"
    for seen, counts in _recorders:
        counts[name] = counts.get(name, 0) + 1
        seen.append(f"{name}:{counts[name]}")
    log = os.environ.get(WRITE_POINTS_ENV)
    if log:
        with open(log, "a") as f:
            f.write(tag + "\n")
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, rest = spec.partition(":")
    count, _, action = rest.partition(":")
    if point != name or count != str(n):
        return
    action = action or "kill"
    if action == "raise":
        raise InjectedCrash(f"injected crash at write point {tag} ({CRASH_ENV}={spec})")
    sig = getattr(signal, "SIGSTOP" if action == "stop" else "SIGKILL", None)
    if sig is None:  # no such signal here (Windows): end the process without any cleanup instead
        os._exit(137)
    os.kill(os.getpid(), sig)


# ---------------------------------------------------------------------------------- atomic writes
#: Suffix of a file being written (``name.tmp``); folders are written as ``.name.tmp``.
TMP_SUFFIX = ".tmp"
_OLD_SUFFIX = ".old"


@contextmanager
def atomic_file(path: str | Path, point: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends, rename it onto ``path``.

    A reader of ``path`` sees the old file or the new one, never half of one. If the block
    raises, the temporary is removed; if the process is killed, :func:`clean_leftovers` does it.

    Args:
        path: the file to write (its folder is created).
        point: the write point's name (see :func:`write_point`), reached just before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        yield tmp
        write_point(point)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str, point: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(path, point) as tmp:
        tmp.write_bytes(text.encode("utf-8"))  # bytes: no newline translation (CSV brings its own \r\n)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # an old C library
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def _replace_folder(src: Path, dst: Path) -> None:
    """Move folder ``src`` onto ``dst`` (POSIX cannot rename onto a non-empty folder).

    A new ``dst`` appears in one rename. An existing one (rewritten by a resume) is swapped with
    ``src`` in one step where the system can (Linux), and the old content, now under ``src``'s
    temporary name, is removed. Elsewhere it is first renamed aside to ``.dst.old``: a reader
    then finds the old folder, no folder, or the new one, never a mix.
    """
    if not dst.exists():
        os.replace(src, dst)
        return
    if _exchange(src, dst):
        shutil.rmtree(src, ignore_errors=True)  # the old folder; a kill here leaves a temporary
        return
    old = dst.with_name(f".{dst.name}{_OLD_SUFFIX}")
    if old.exists():
        shutil.rmtree(old)
    os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_folder(path: str | Path, point: str) -> Iterator[Path]:
    """Yield an empty hidden temporary folder beside ``path``; when the block ends, rename it
    onto ``path`` (a model folder: weights, config and card appear together or not at all).

    Args:
        path: the folder to write (its parent is created).
        point: the write point's name (see :func:`write_point`), reached just before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        write_point(point)
        _replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_leftovers(folder: str | Path) -> list[Path]:
    """Remove what a killed run left half-done in ``folder`` and its direct subfolders.

    Call it only while holding the folder's run lock (nobody else is writing there): temporary
    files ``*.tmp`` and folders ``.*.tmp`` are removed, and a folder swap that was cut between
    its two renames (``.name.old`` present, ``name`` missing) is rolled back.

    Returns:
        The paths removed or restored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    done: list[Path] = []
    places = [folder] + [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for place in places:
        for p in list(place.iterdir()):
            if p.is_dir() and p.name.startswith(".") and p.name.endswith(_OLD_SUFFIX):
                target = p.with_name(p.name[1:-len(_OLD_SUFFIX)])
                if target.exists():
                    shutil.rmtree(p)
                else:
                    os.replace(p, target)
                done.append(p)
            elif p.name.endswith(TMP_SUFFIX) and (p.is_file() or (p.is_dir() and p.name.startswith("."))):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
                done.append(p)
    return done


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
    # atomic: readers see the old checkpoint or the new one, never half of one
    with atomic_file(path, "checkpoint") as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    # The JSON copy follows; a kill between the two leaves it one checkpoint behind, which the
    # resume (it redoes the steps after the checkpoint and writes both again) repairs.
    atomic_write_text(path.with_suffix(".json"), json.dumps(state, indent=2) + "\n", "checkpoint.json")


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


def repair_json_copy(ckpt: Checkpoint) -> bool:
    """Rewrite the people's copy ``<stem>.json`` from ``ckpt`` when it is missing or differs.

    A run killed between the checkpoint's rename and its JSON copy's leaves the copy one
    checkpoint behind; a resume calls this so the folder ends consistent even when nothing is
    left to train. Returns whether it wrote.
    """
    path = ckpt.path.with_suffix(".json")
    text = json.dumps(ckpt.state, indent=2) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    atomic_write_text(path, text, "checkpoint.json")
    return True


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
