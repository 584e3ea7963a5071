"""The name tables that models register into: known models, pretrained entries, architectures.

This module sits at the base of the package (it imports only :mod:`nuisance_zoo.base`), so that
model packages (``known/``, ``learned/``, ``adapters/``) can register themselves without
importing the layer above them. :mod:`nuisance_zoo.registry` (names → built models, through the
hub) reads these tables and re-exports the decorators; users normally call
``nuisance_zoo.register_model`` and ``nuisance_zoo.load``.

Example:
    >>> from nuisance_zoo import catalogue
    >>> catalogue.get_entry("brightness").kind
    'known'
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from .base import NuisanceModel

__all__ = [
    "UnknownModelError", "ModelEntry", "PretrainedEntry", "register_model", "register_pretrained",
    "register_architecture", "unregister", "unregister_architecture", "get_entry", "entries",
    "pretrained_entries", "get_architecture", "architectures", "create", "EXPERIMENTAL_PREFIX",
]

PAPER = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020"
#: The name prefix of zoo models that fail the zoo's criteria (``PretrainedEntry.experimental``).
EXPERIMENTAL_PREFIX = "experimental/"


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
    paper: str = PAPER
    description: str = ""


@dataclass
class PretrainedEntry:
    """A zoo model whose weights live on the Hub (bundled copy in ``hub_cards/<name>/``).

    It is also the repo spec :mod:`nuisance_zoo.hub` needs (``name``, ``hub_id``, ``revision``,
    ``sha256``), handed to it by the registry: the hub never looks names up itself.
    """

    name: str
    hub_id: str
    revision: str
    sha256: str
    kind: str = "learned"
    source: str = ""
    license: str = "Apache-2.0"
    paper: str = PAPER
    description: str = ""
    input_size: tuple = (3, 32, 32)
    extra: dict = field(default_factory=dict)
    #: Why the model is not listed as a zoo model (the criteria its card fails; see
    #: :func:`nuisance_zoo.zoo.zoo_verdict`), or "" for a listed one. An experimental model is
    #: loaded as ``"experimental/<name>"``, with a warning.
    experimental: str = ""


# Module-level tables: registration happens at import of the model packages, once per process.
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


def unregister(name: str) -> None:
    """Remove a registered name (no error if absent); for plugins and tests that register temporarily."""
    _MODELS.pop(name, None)


def unregister_architecture(name: str) -> None:
    """Remove a registered architecture (no error if absent)."""
    _ARCHITECTURES.pop(name, None)


def entries() -> dict[str, ModelEntry | PretrainedEntry]:
    """A copy of the name table: name → entry."""
    return dict(_MODELS)


def pretrained_entries() -> list[PretrainedEntry]:
    """The registered pretrained (hub) entries, in registration order."""
    return [e for e in _MODELS.values() if isinstance(e, PretrainedEntry)]


def get_entry(name: str) -> ModelEntry | PretrainedEntry:
    """The entry registered under ``name``.

    Raises:
        UnknownModelError: no such name; the message suggests close matches.
    """
    if name in _MODELS:
        return _MODELS[name]
    if name.startswith(EXPERIMENTAL_PREFIX):
        entry = _MODELS.get(name[len(EXPERIMENTAL_PREFIX):])
        if isinstance(entry, PretrainedEntry) and entry.experimental:
            return entry
        if entry is not None:
            bare = name[len(EXPERIMENTAL_PREFIX):]
            raise UnknownModelError(f"{bare!r} is not an experimental model; load it as {bare!r}.")
    close = difflib.get_close_matches(name, list(_MODELS), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"unknown nuisance model {name!r}.{hint} See nuisance_zoo.list_models() for all "
        f"{len(_MODELS)} names, or use 'hf-hub:ORG/REPO' / 'local-dir:PATH'."
    )


def architectures() -> list[str]:
    """Sorted names of the registered architectures."""
    return sorted(_ARCHITECTURES)


def get_architecture(name: str) -> Callable[..., NuisanceModel] | None:
    """The class registered for architecture ``name``, or None."""
    return _ARCHITECTURES.get(name)


def create(name: str, **kwargs: Any) -> NuisanceModel:
    """Build the *known* model registered as ``name`` (in eval mode); no hub, no files.

    Model packages use this to build known models by name (a challenge's model, a structured
    generator's chain); ``nuisance_zoo.load`` also handles pretrained and hub names.

    Raises:
        UnknownModelError: no such name.
        ValueError: ``name`` is a pretrained (hub) entry; use ``nuisance_zoo.load``.
        TypeError: ``kwargs`` do not fit the model's constructor.
    """
    entry = get_entry(name)
    if isinstance(entry, PretrainedEntry):
        raise ValueError(f"{name!r} is a pretrained zoo model with weights on the Hub; build it with "
                         f"nuisance_zoo.load({name!r}).")
    try:
        model = entry.factory(**kwargs)
    except TypeError as e:
        raise TypeError(f"load({name!r}, ...): {e}. See help(nuisance_zoo.known) or info({name!r}).") from e
    return model.eval()
