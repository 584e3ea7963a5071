"""Names → nuisance models: ``register_model``, ``list_models``, ``load``, ``info``.

Modelled on timm's registry. A *known* entry is a class (or factory) registered by name and
built with keyword arguments. A *pretrained* entry (learned zoo models) names a hub repo, a
revision and the sha256 of its weights; :mod:`nuisance_zoo.hub` turns it into a verified local
folder and :func:`build_from_folder` turns the folder's ``config.json`` into a model through
the architecture table (``register_architecture``).

Names also accept the prefixes ``hf-hub:ORG/REPO[@REVISION]`` and ``local-dir:PATH``, and
compositions written as in Python, with spaces around ``@``: ``"haze @ brightness"`` is
``load("haze") @ load("brightness")`` (brightness first), so the CLI can name them too.

The tables and the decorators live in :mod:`nuisance_zoo.catalogue`, at the base of the
package, so that models register themselves without importing this layer; this module imports
the model packages (which fills the tables) and re-exports the decorators.
"""
from __future__ import annotations

import fnmatch
import re
import warnings
from pathlib import Path
from typing import Any

# Importing the model packages and the zoo table fills the catalogue; they sit below this layer.
from . import hub, known, learned, model_folder, zoo  # noqa: F401
from .base import NuisanceModel
from .learned.pretrained import PretrainedMixin
from .catalogue import (
    EXPERIMENTAL_PREFIX,
    ModelEntry,
    PretrainedEntry,
    UnknownModelError,
    architectures,
    create,
    entries,
    get_architecture,
    get_entry,
    pretrained_entries,
    register_architecture,
    register_model,
    register_pretrained,
    unregister,
    unregister_architecture,
)

__all__ = [
    "register_model", "register_pretrained", "register_architecture", "list_models", "load",
    "info", "ModelEntry", "PretrainedEntry", "build_from_folder", "UnknownModelError", "get_entry",
    "unregister", "unregister_architecture", "summarize_delta_space", "KINDS", "ExperimentalModelWarning",
]


class ExperimentalModelWarning(UserWarning):
    """A zoo model that fails the zoo's criteria (it changes labels, or training with it does
    not beat ERM; see :func:`nuisance_zoo.zoo.zoo_verdict`) was loaded."""


def _listed_name(name: str, entry) -> str:
    """The name ``list_models`` shows: ``experimental/<name>`` for an experimental zoo model."""
    return EXPERIMENTAL_PREFIX + name if getattr(entry, "experimental", "") else name


def list_models(pattern: str = "*", kind: str | None = None, experimental: bool = False) -> list[str]:
    """Sorted registered names matching an fnmatch ``pattern`` (e.g. ``"gtsrb-*"``).

    Zoo models that fail the zoo's criteria (``nuisance_zoo.zoo.zoo_verdict``: they change
    labels, or training with them does not beat ERM) are not listed unless ``experimental``;
    then they appear as ``"experimental/<name>"``, the name to load them by.

    Args:
        pattern: shell-style wildcard, matched against the name with and without its
            ``experimental/`` prefix.
        kind: ``"known"``, ``"learned"`` or ``"composed"`` to filter; None for all.
        experimental: also list the experimental zoo models.

    Example:
        >>> import nuisance_zoo as nz
        >>> "brightness" in nz.list_models(kind="known"), "brightness" in nz.list_models(kind="learned")
        (True, False)
        >>> "experimental/gtsrb-contrast" in nz.list_models(experimental=True)
        True
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (or None for all), got {kind!r}.")
    out = []
    for bare, e in entries().items():
        n = _listed_name(bare, e)
        if (experimental or n == bare) and (kind is None or e.kind == kind) and (
                fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(bare, pattern)):
            out.append(n)
    return sorted(out)


#: The kinds a registered name can have (``ModelEntry.kind``); ``info`` reports compositions as "composed".
KINDS = ("known", "learned", "composed")

#: ``info`` lists every coordinate of Δ up to this many; beyond, it summarises (per-pixel models).
INFO_MAX_COORDINATES = 16


def summarize_delta_space(space: dict, limit: int = INFO_MAX_COORDINATES) -> dict:
    """``space`` (from ``G.delta_space()``) with long coordinate lists summarised.

    A per-pixel model such as ``additive-l2`` has 3,072 coordinates; listing them helps no one.
    Beyond ``limit`` coordinates, ``names`` keeps the first three and the last, and ``bounds``
    becomes the overall ``[min low, max high]`` (None when unbounded); the model's own keys (its
    set, radius and image shape, for the additive models) are kept. Parts of a composition are
    summarised the same way.

    Example:
        >>> import nuisance_zoo as nz
        >>> s = summarize_delta_space(nz.load("additive-l2").delta_space())
        >>> s["dim"], s["set"], s["radius"], s["image_shape"], len(s["names"])
        (3072, 'l2-ball', 0.5, [3, 32, 32], 5)
    """
    out = dict(space)
    if "parts" in space:
        out["parts"] = [summarize_delta_space(p, limit) for p in space["parts"]]
    names, bounds = space.get("names") or [], space.get("bounds")
    if len(names) <= limit:
        return out
    out["names"] = [*names[:3], f"... {len(names) - 4} more ...", names[-1]]
    out["summarised"] = True
    if bounds is not None:
        known = [b for b in bounds if b is not None]
        out["bounds"] = ([min(b[0] for b in known), max(b[1] for b in known)]
                         if known and len(known) == len(bounds) else None)
    return out


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
        name: a registered name (``list_models()``; an experimental zoo model as
            ``"experimental/NAME"``, see ``list_models(experimental=True)``; it loads with an
            :class:`ExperimentalModelWarning`), ``"hf-hub:ORG/REPO[@REVISION]"``,
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
        # The zoo entries tell the hub which repos have a bundled copy to fall back on.
        folder = hub.resolve_folder(name, entries=pretrained_entries())
        return build_from_folder(folder, verified=True, **kwargs).eval()
    entry = get_entry(name)
    if isinstance(entry, PretrainedEntry):
        if entry.experimental:
            _warn_experimental(name, entry)
        folder = hub.resolve_entry(entry)
        return build_from_folder(folder, verified=True, **kwargs).eval()
    return create(name, **kwargs)


def _warn_experimental(name: str, entry: PretrainedEntry) -> None:
    """Say what an experimental zoo model fails, and how to name it (or what to use instead)."""
    explicit = EXPERIMENTAL_PREFIX + entry.name
    how = ("" if name == explicit else
           f" Load it as {explicit!r} to say so: its plain name stops resolving in a later release.")
    warnings.warn(
        f"{entry.name} is an experimental zoo model, not listed by nuisance_zoo.list_models(): it "
        f"{entry.experimental} (its card, hub_cards/{entry.name}/README.md).{how} The card names the "
        f"closest known model, which may serve better.",
        ExperimentalModelWarning, stacklevel=3)


def build_from_folder(folder: str | Path, *, verified: bool = False, **kwargs: Any) -> NuisanceModel:
    """Build a model from a model folder holding ``config.json`` and weights.

    ``config.json`` is validated (:func:`nuisance_zoo.model_folder.load_config`) and its
    architecture looked up before anything is built; the architecture's class then checks its
    own ``model_config`` keys and types, and the weights (``from_pretrained``).

    Args:
        folder: the model folder.
        verified: the hub has just verified the folder's hashes (skip hashing the weights again).
        **kwargs: ``model_config`` overrides.

    Raises:
        ModelFolderError: the folder or its config is invalid, or names an unknown architecture.
    """
    folder = Path(folder)
    cfg = model_folder.load_config(folder)
    arch = cfg["architecture"]
    cls = get_architecture(arch)
    if cls is None:
        raise model_folder.ModelFolderError(
            f"{folder / model_folder.CONFIG_NAME}: unknown architecture {arch!r}; this nuisance-zoo knows "
            f"{architectures()}. Upgrade nuisance-zoo or check the file."
        )
    if isinstance(cls, type) and issubclass(cls, PretrainedMixin):
        return cls.from_pretrained(folder, verified=verified, **kwargs)
    return cls.from_pretrained(folder, **kwargs)


def info(name: str) -> dict:
    """A plain dict describing a model: Δ, prior, differentiability, kind, source, licence.

    Keys: ``name``, ``kind`` (``known``, ``learned`` or ``composed``), ``description``,
    ``delta_dim``, ``delta_space`` (:func:`summarize_delta_space` of ``G.delta_space()``: Δ with
    more than 16 coordinates is summarised, e.g. shape, norm and radius of a per-pixel ball),
    ``prior``, ``differentiable``, ``source``, ``license``, ``paper`` (and ``hub_id``/
    ``revision``/``sha256`` for pretrained entries).

    Example:
        >>> import nuisance_zoo as nz
        >>> nz.info("haze")["kind"]
        'known'
    """
    if _composition(name) is not None:
        model = load(name)
        entry = ModelEntry(name=name, factory=type(model), kind="composed", source=name, license="see its parts",
                           description=f"composition: {name} (the rightmost model is applied first)", paper="")
    elif name.startswith(("hf-hub:", "local-dir:")):
        # Not registered: describe the model itself; source is where it came from.
        model = load(name)
        entry = ModelEntry(name=name, factory=type(model), kind=model.kind, source=name, license="see its model card",
                           description=((type(model).__doc__ or "").strip().splitlines() or [""])[0])
    else:
        entry = get_entry(name)
        model = load(name)
    space = summarize_delta_space(model.delta_space())
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
