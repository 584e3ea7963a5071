"""Names → nuisance models: ``register_model``, ``list_models``, ``load``, ``info``.

Modelled on timm's registry. A *known* entry is a class (or factory) registered by name and
built with keyword arguments. A *pretrained* entry (learned zoo models) names a hub repo, a
revision and the sha256 of its weights; :mod:`nuisance_zoo.hub` turns it into a verified local
folder and :func:`build_from_folder` turns the folder's ``config.json`` into a model through
the architecture table (``register_architecture``).

Names also accept the prefixes ``hf-hub:ORG/REPO[@REVISION]`` and ``local-dir:PATH``, and
compositions written as in Python, with spaces around ``@``: ``"haze @ brightness"`` is
``load("haze") @ load("brightness")`` (brightness first), so the CLI can name them too.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .base import NuisanceModel

__all__ = [
    "register_model", "register_pretrained", "register_architecture", "list_models", "load",
    "info", "ModelEntry", "PretrainedEntry", "build_from_folder", "UnknownModelError",
]


class UnknownModelError(KeyError):
    """An unknown model name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


@dataclass
class ModelEntry:
    """A registered known (analytic) model."""

    name: str
    factory: Callable[..., NuisanceModel]
    kind: str = "known"
    source: str = "nuisance-zoo (analytic)"
    license: str = "Apache-2.0"
    paper: str = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020"
    description: str = ""


@dataclass
class PretrainedEntry:
    """A zoo model whose weights live on the Hub (bundled copy in ``hub_cards/<name>/``)."""

    name: str
    hub_id: str
    revision: str
    sha256: str
    kind: str = "learned"
    source: str = ""
    license: str = "Apache-2.0"
    paper: str = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020"
    description: str = ""
    input_size: tuple = (3, 32, 32)
    extra: dict = field(default_factory=dict)


_MODELS: dict[str, ModelEntry | PretrainedEntry] = {}
_ARCHITECTURES: dict[str, Callable[..., NuisanceModel]] = {}


def register_model(name: str, *, source: str | None = None, license: str | None = None,
                   paper: str | None = None, kind: str = "known"):
    """Class or factory decorator that registers a model under ``name``.

    The decorated object is called with ``load``'s keyword arguments. The first line of its
    docstring becomes the entry's description.

    Example:
        >>> import nuisance_zoo as nz
        >>> @nz.register_model("my-invert")
        ... class Invert(nz.NuisanceModel):
        ...     '''Blend toward the negative image.'''
        ...     delta_dim = 1
        ...     def __init__(self):
        ...         super().__init__(); self.set_delta_box([0.0], [1.0])
        ...     def decode(self, x, delta):
        ...         t = delta.view(-1, 1, 1, 1)
        ...         return (1 - t) * x + t * (1 - x)
        >>> "my-invert" in nz.list_models("my-*")
        True
    """

    def deco(obj):
        if name in _MODELS:
            raise ValueError(f"a model named {name!r} is already registered")
        doc = (getattr(obj, "__doc__", "") or "").strip().splitlines()
        entry = ModelEntry(name=name, factory=obj, kind=kind, description=doc[0] if doc else "")
        if source is not None:
            entry.source = source
        if license is not None:
            entry.license = license
        if paper is not None:
            entry.paper = paper
        _MODELS[name] = entry
        return obj

    return deco


def register_pretrained(entry: PretrainedEntry) -> PretrainedEntry:
    """Register a pretrained (hub) zoo entry."""
    if entry.name in _MODELS:
        raise ValueError(f"a model named {entry.name!r} is already registered")
    _MODELS[entry.name] = entry
    return entry


def register_architecture(name: str):
    """Register a class that ``config.json``'s ``"architecture"`` field can name.

    The class must provide ``from_pretrained(folder: Path) -> NuisanceModel``.
    """

    def deco(cls):
        _ARCHITECTURES[name] = cls
        return cls

    return deco


def list_models(pattern: str = "*", kind: str | None = None) -> list[str]:
    """Sorted registered names matching an fnmatch ``pattern`` (e.g. ``"gtsrb-*"``).

    Args:
        pattern: shell-style wildcard.
        kind: ``"known"`` or ``"learned"`` to filter; None for all.
    """
    _ensure_loaded()
    return sorted(n for n, e in _MODELS.items()
                  if fnmatch.fnmatchcase(n, pattern) and (kind is None or e.kind == kind))


def _entry(name: str) -> ModelEntry | PretrainedEntry:
    _ensure_loaded()
    if name in _MODELS:
        return _MODELS[name]
    close = difflib.get_close_matches(name, list(_MODELS), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"unknown nuisance model {name!r}.{hint} See nuisance_zoo.list_models() for all "
        f"{len(_MODELS)} names, or use 'hf-hub:ORG/REPO' / 'local-dir:PATH'."
    )


# " @ " with spaces: "hf-hub:ORG/REPO@REV" (no spaces) stays one name.
_COMPOSE_SEP = re.compile(r"\s+@\s+")


def _composition(name: str) -> list[str] | None:
    """The part names of ``"G2 @ G1"`` (in the written order), or None for a single name."""
    parts = _COMPOSE_SEP.split(name.strip())
    if len(parts) < 2:
        return None
    if any(not p for p in parts):
        raise ValueError(f"bad composition {name!r}: write it as 'G2 @ G1' with a name on each side of each '@'.")
    return parts


def load(name: str, **kwargs: Any) -> NuisanceModel:
    """Build a nuisance model by name; keyword arguments configure it.

    Args:
        name: a registered name (``list_models()``), ``"hf-hub:ORG/REPO[@REVISION]"``,
            ``"local-dir:PATH"`` (a folder with ``config.json`` and ``model.safetensors``), or a
            composition of those, ``"G2 @ G1"`` (G1 applied first, as in Python).
        **kwargs: passed to the model's constructor, e.g. ``load("haze", max_density=2.0)``.

    Returns:
        The model, in eval mode.

    Example:
        >>> import nuisance_zoo as nz
        >>> G = nz.load("contrast")
        >>> G.delta_dim
        1
        >>> nz.load("haze @ contrast").delta_dim     # contrast, then haze
        3
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    parts = _composition(name)
    if parts is not None:
        if kwargs:
            raise TypeError(f"load({name!r}, ...): keyword arguments configure one model; build a configured "
                            f"composition in Python: nz.load('a', ...) @ nz.load('b', ...).")
        models = [load(p) for p in parts]
        G = models[-1]
        for m in reversed(models[:-1]):
            G = m @ G
        return G.eval()
    if name.startswith(("hf-hub:", "local-dir:")):
        from . import hub

        folder = hub.resolve_folder(name)
        return build_from_folder(folder, **kwargs).eval()
    entry = _entry(name)
    if isinstance(entry, PretrainedEntry):
        from . import hub

        folder = hub.resolve_entry(entry)
        return build_from_folder(folder, **kwargs).eval()
    try:
        model = entry.factory(**kwargs)
    except TypeError as e:
        raise TypeError(f"load({name!r}, ...): {e}. See help(nuisance_zoo.known) or info({name!r}).") from e
    return model.eval()


def build_from_folder(folder: str | Path, **kwargs: Any) -> NuisanceModel:
    """Build a model from a verified folder holding ``config.json`` and weights."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{folder} has no config.json; is it a nuisance-zoo model folder?")
    cfg = json.loads(cfg_path.read_text())
    arch = cfg.get("architecture")
    _ensure_loaded()
    if arch not in _ARCHITECTURES:
        raise ValueError(
            f"{cfg_path}: unknown architecture {arch!r}; this nuisance-zoo knows "
            f"{sorted(_ARCHITECTURES)}. Upgrade nuisance-zoo or check the file."
        )
    return _ARCHITECTURES[arch].from_pretrained(folder, **kwargs)


def info(name: str) -> dict:
    """A plain dict describing a model: Δ, prior, differentiability, kind, source, licence.

    Keys: ``name``, ``kind``, ``description``, ``delta_dim``, ``delta_space``, ``prior``,
    ``differentiable``, ``source``, ``license``, ``paper`` (and ``hub_id``/``revision``/
    ``sha256`` for pretrained entries).

    Example:
        >>> import nuisance_zoo as nz
        >>> nz.info("haze")["kind"]
        'known'
    """
    if _composition(name) is not None:
        model = load(name)
        entry = ModelEntry(name=name, factory=type(model), kind=model.kind, source=name, license="see its parts",
                           description=f"composition: {name} (the rightmost model is applied first)", paper="")
    elif name.startswith(("hf-hub:", "local-dir:")):
        # Not registered: describe the model itself; source is where it came from.
        model = load(name)
        entry = ModelEntry(name=name, factory=type(model), kind=model.kind, source=name, license="see its model card",
                           description=((type(model).__doc__ or "").strip().splitlines() or [""])[0])
    else:
        entry = _entry(name)
        model = load(name)
    space = model.delta_space()
    out = {
        "name": name,
        "kind": entry.kind,
        "description": entry.description,
        "delta_dim": model.delta_dim,
        "delta_space": space,
        "prior": space["prior"],
        "differentiable": bool(model.differentiable),
        "gray": model.gray_policy,
        "source": entry.source,
        "license": entry.license,
        "paper": entry.paper,
    }
    if isinstance(entry, PretrainedEntry):
        out.update(hub_id=entry.hub_id, revision=entry.revision, sha256=entry.sha256)
    return out


_LOADED = False


def _ensure_loaded() -> None:
    """Import the modules that register models (lazily, to keep ``base`` import-free)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib

    for mod in ("nuisance_zoo.known", "nuisance_zoo.learned", "nuisance_zoo.zoo"):
        importlib.import_module(mod)
