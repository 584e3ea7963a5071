"""Save and load learned nuisance models in the hub format: safetensors + config.json + model card.

A model folder (what ``hub_cards/<name>/`` holds and what is uploaded to the Hub) is::

    model.safetensors   the state dict (safetensors, metadata {"format": "pt"}); never a pickle
    config.json         how to rebuild the model and what it is (schema below)
    README.md           the model card: YAML front matter + what, domains, training, grid, numbers
    grid.png            (optional) a nuisance-space grid image the card links

``config.json`` keys: ``architecture`` (the name registered with
:func:`nuisance_zoo.register_architecture`), ``model_config`` (keyword arguments: the model is
``cls(**model_config)``), ``delta_space`` (``G.delta_space()``: dim, names, bounds, prior),
``differentiable``, ``input`` (``channels``, ``size`` ``[H, W]``, ``range`` ``[0, 1]``),
``training`` (``domains``, ``selection``, ``iterations`` and any other facts given),
``library``/``library_version``, ``format_version`` and ``sha256`` (of ``model.safetensors``).

Example:
    >>> import torch, nuisance_zoo as nz
    >>> from nuisance_zoo.learned.pretrained import PretrainedMixin
    >>> @nz.register_architecture("doc-gain")
    ... class Gain(PretrainedMixin, nz.NuisanceModel):
    ...     '''Learned global gain: G(x, δ) = clamp(x · exp(s·δ)).'''
    ...     architecture = "doc-gain"; delta_dim = 1; prior = "normal"; kind = "learned"
    ...     def __init__(self, channels: int = 3):
    ...         super().__init__(); self.channels = channels
    ...         self.s = torch.nn.Parameter(torch.tensor([0.3]))
    ...     def config(self): return {"channels": self.channels}
    ...     def decode(self, x, delta):
    ...         return (x * torch.exp(self.s * delta).view(-1, 1, 1, 1)).clamp(0, 1)
    >>> import tempfile
    >>> d = Gain().save_pretrained(tempfile.mkdtemp(), training={"iterations": 10})
    >>> G = nz.load(f"local-dir:{d}")
    >>> torch.equal(G.s, Gain().s)
    True
"""
from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import json
import os
import re
import shutil
import types
import typing
import uuid
from pathlib import Path, PurePath
from typing import Any

import torch

from .. import model_folder
from ..model_folder import CARD_FILES, CARD_NAME, CONFIG_NAME, FORMAT_VERSION, GRID_NAME, WEIGHTS_NAME, ModelFolderError
from ..version import __version__

__all__ = ["PretrainedMixin", "render_model_card", "FORMAT_VERSION", "check_model_config", "model_config_schema"]

_DEFAULT_TAGS = ("nuisance-zoo", "model-of-natural-variation", "robustness", "pytorch", "safetensors")
_MAX_LISTED = 8
# safetensors header dtype names -> torch dtypes, to compare a file with a model before loading it.
_ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
              "BOOL": torch.bool}
#: How a JSON value is checked against a plain type annotation (a bool is not a number).
_JSON_TYPES = {
    bool: lambda v: isinstance(v, bool), str: lambda v: isinstance(v, str), type(None): lambda v: v is None,
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _listing(items: list) -> str:
    shown = ", ".join(map(str, items[:_MAX_LISTED]))
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _plain(obj: Any, what: str) -> Any:
    """``obj`` as JSON-ready data, or a clear error naming ``what`` held the offending value."""
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must hold only JSON data (str, numbers, bools, None, lists, dicts): {e}") from e


# ---------------------------------------------------------------------------------- model_config schema
def model_config_schema(cls: type) -> dict[str, Any]:
    """The keys ``config.json``'s ``model_config`` may hold for ``cls``, each with its type.

    A class may declare ``config_schema()`` (a classmethod returning ``{key: type}``);
    otherwise the schema is derived from the constructor's signature: every named parameter
    with its annotation. A ``**kwargs`` parameter accepts the fields of a dataclass named in
    another parameter's annotation (``MunitGenerator(config: GeneratorConfig | ..., **overrides)``
    accepts ``GeneratorConfig``'s fields) and nothing else. A parameter whose annotation admits a
    file path (``Path``) is never settable from a file: a model folder names no paths.
    """
    declared = getattr(cls, "config_schema", None)
    if callable(declared):
        return dict(declared())
    return _signature_schema(cls)


def _signature_schema(cls: type) -> dict[str, Any]:
    owner = next((k for k in cls.__mro__ if "__init__" in vars(k)), object)
    if owner in (object, PretrainedMixin) or owner.__module__ == "torch.nn.modules.module":
        return {}
    init = vars(owner)["__init__"]
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 -- an unresolvable annotation: treat its type as unknown (any JSON)
        hints = {}
    schema: dict[str, Any] = {}
    forwards = False
    for name, p in inspect.signature(init).parameters.items():
        if name == "self" or p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.VAR_KEYWORD:
            forwards = True
            continue
        hint = hints.get(name, Any)
        if _admits_path(hint):
            for dc in _dataclasses_in(hint):
                dc_hints = typing.get_type_hints(dc)
                schema.update({f.name: dc_hints.get(f.name, Any) for f in dataclasses.fields(dc)})
            continue
        schema[name] = hint
    if forwards:
        # **kwargs: what the parent's constructor accepts (a subclass forwarding to super()); a
        # key no constructor names is refused rather than passed through blind.
        parent = owner.__mro__[1] if len(owner.__mro__) > 1 else object
        schema = {**_signature_schema(parent), **schema}
    return schema


_UNIONS = (typing.Union, types.UnionType)


def _args(hint: Any) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in _UNIONS else (hint,)


def _admits_path(hint: Any) -> bool:
    return any(isinstance(a, type) and issubclass(a, PurePath) for a in _args(hint))


def _dataclasses_in(hint: Any) -> list[type]:
    return [a for a in _args(hint) if isinstance(a, type) and dataclasses.is_dataclass(a)]


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a (simple) type annotation; unknown annotations accept any JSON."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin in _UNIONS:
        return any(_fits(value, a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    plain = _JSON_TYPES.get(type(None) if hint is None else hint)
    if plain is not None:
        return plain(value)
    base = origin or hint
    if base in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, list):
            return False
        inner = typing.get_args(hint)
        return not inner or all(_fits(v, inner[0]) for v in value)
    if base in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    return False  # a class JSON cannot express (a tensor, a dtype, a path): not settable from a file


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_model_config(cls: type, model_config: dict, where: str = CONFIG_NAME) -> None:
    """Check ``model_config`` against ``cls``'s schema before anything is built.

    Every key must be one the architecture accepts (:func:`model_config_schema`) and every value
    of the declared type; then ``cls.validate_model_config(model_config)``, when the class
    defines it, checks meaning (ranges, the names a structured chain may use).

    Raises:
        ModelFolderError: naming the key and the expected type, never quoting the value.
    """
    schema = model_config_schema(cls)
    for key, value in model_config.items():
        if not isinstance(key, str) or key not in schema:
            raise ModelFolderError(f"{where}: 'model_config' key {str(key)[:40]!r} is not accepted by "
                                   f"{getattr(cls, 'architecture', cls.__name__)!r}; it accepts {sorted(schema)}.")
        if not _fits(value, schema[key]):
            raise ModelFolderError(f"{where}: 'model_config.{key}' must be {_hint_name(schema[key])}, got "
                                   f"{'null' if value is None else type(value).__name__}.")
    check = getattr(cls, "validate_model_config", None)
    if callable(check):
        try:
            check(model_config)
        except ModelFolderError:
            raise
        except (ValueError, TypeError, KeyError) as e:
            raise ModelFolderError(f"{where}: 'model_config' is invalid: {e}") from None


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` to a :class:`~nuisance_zoo.NuisanceModel` subclass.

    The class defines ``architecture`` (a name registered with
    :func:`nuisance_zoo.register_architecture`) and ``config()``, the keyword arguments that
    rebuild it with ``cls(**config)``. Put the mixin first: ``class G(PretrainedMixin, NuisanceModel)``.

    Optional hooks: ``input_spec()`` (channels and size of the images the model was trained
    on; by default read from ``config()`` keys ``in_channels``/``channels`` and
    ``image_size``/``size``); ``config_schema()`` (the keys and types ``model_config`` may hold;
    by default derived from the constructor's signature); ``validate_model_config(cfg)`` (checks
    of meaning made before the model is built from a file).

    Example:
        >>> # see the module docstring for a complete save/load round trip
    """

    architecture: str = ""

    def config(self) -> dict:
        """Keyword arguments that rebuild this model: ``type(self)(**self.config())``."""
        raise NotImplementedError(f"{type(self).__name__} must define config() to be saved with save_pretrained.")

    def input_spec(self) -> dict:
        """What the model expects: ``{"channels", "size": [H, W], "range": [0.0, 1.0]}``."""
        cfg = self.config()
        channels = next((cfg[k] for k in ("in_channels", "channels", "input_channels") if k in cfg), None)
        size = next((cfg[k] for k in ("image_size", "size", "input_size") if k in cfg), None)
        if isinstance(size, int):
            size = [size, size]
        return {"channels": channels, "size": list(size) if size is not None else None, "range": [0.0, 1.0]}

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, save_directory: str | Path, *, training: dict | None = None,
                        card: dict | None = None) -> Path:
        """Write the model folder (``model.safetensors``, ``config.json``, ``README.md``) atomically.

        Everything is written into a temporary sibling folder, which is then renamed into place.
        An existing folder is renamed aside first, the new one renamed in, and the old one
        removed: a crash between the two renames leaves no folder at ``save_directory`` (the old
        one intact beside it, as ``.<name>.old-*``), never a mix of old and new files. Files of
        the old folder that this save does not write (``grid.png``, ``metrics.json``,
        ``.gitattributes``) are carried over.

        Args:
            save_directory: folder to write. If it exists it may hold only model-folder files
                (``CARD_FILES``); anything else is refused rather than deleted.
            training: facts about training, stored in ``config.json`` and shown on the card:
                ``domains`` (e.g. ``{"source": "day", "target": "night"}``), ``selection`` (how the
                domains were selected, e.g. "GTSRB brightness thresholds of Table 11"),
                ``iterations``, ``dataset``, and anything else JSON-serialisable.
            card: model-card content: ``name`` (zoo name), ``repo_id``, ``title``,
                ``description`` (what the nuisance is; default: the class docstring),
                ``license`` (default ``apache-2.0``), ``tags``, ``datasets``, ``metrics`` (a dict
                of metric → value, or row → {column → value}, rendered as a table), ``grid``
                (path of a nuisance-space grid image, copied to ``grid.png``; an existing
                ``grid.png`` in the folder is linked too), ``grid_caption`` (what the grid's rows and
                columns are), ``citation``.

        Returns:
            The folder, as a :class:`~pathlib.Path`.

        Raises:
            FileExistsError: ``save_directory`` is a file, or a folder holding other files.

        Example:
            >>> # G.save_pretrained("hub_cards/gtsrb-brightness", training={...}, card={...})
        """
        from safetensors.torch import save_model

        arch = getattr(type(self), "architecture", "")
        if not isinstance(arch, str) or not arch:
            raise TypeError(f"{type(self).__name__} needs a class attribute architecture = '<name>' "
                            f"(registered with register_architecture) to be saved.")
        model_config = _plain(self.config(), f"{type(self).__name__}.config()")
        training = _plain(dict(training or {}), "training")
        card = dict(card or {})
        folder = Path(save_directory)
        if folder.exists() and not folder.is_dir():
            raise FileExistsError(f"{folder} is a file; save_pretrained writes a folder.")
        if folder.is_dir():
            foreign = sorted(p.name for p in folder.iterdir() if p.name not in CARD_FILES or not p.is_file())
            if foreign:
                raise FileExistsError(f"{folder} holds files that are not part of a model folder ({_listing(foreign)}); "
                                      f"save into an empty or new folder.")
        grid = card.pop("grid", None)
        if grid is not None and not Path(grid).is_file():
            raise FileNotFoundError(f"card['grid'] = {grid!r} is not a file; give the path of a grid image.")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = folder.parent / f".{folder.name}.tmp-{tag}"
        tmp.mkdir()
        try:
            # save_model drops the duplicate names of shared (tied) tensors and makes every
            # tensor contiguous; load_model restores the ties.
            save_model(self, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"}, force_contiguous=True)
            sha = model_folder.sha256_file(tmp / WEIGHTS_NAME)
            train_info = {"domains": training.pop("domains", None), "selection": training.pop("selection", None),
                          "iterations": training.pop("iterations", None), **training}
            config = dict(architecture=arch, model_config=model_config, delta_space=self.delta_space(),
                          differentiable=bool(getattr(self, "differentiable", True)),
                          kind=getattr(self, "kind", "learned"), input=_plain(self.input_spec(), "input_spec()"),
                          training=train_info,
                          library=model_folder.LIBRARY_NAME, library_version=__version__,
                          format_version=FORMAT_VERSION, sha256=sha)  # the keys of model_folder.CONFIG_KEYS
            (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            if grid is not None:
                shutil.copyfile(grid, tmp / GRID_NAME)
            for name in CARD_FILES:  # carry over what this save does not rewrite (the card is always rewritten)
                if name != CARD_NAME and not (tmp / name).exists() and (folder / name).is_file():
                    shutil.copyfile(folder / name, tmp / name)
            card.setdefault("description", _first_paragraph(type(self).__doc__))
            text = render_model_card(config, card, has_grid=(tmp / GRID_NAME).is_file())
            (tmp / CARD_NAME).write_text(text, encoding="utf-8")
            _swap_in(tmp, folder, tag)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, folder: str | Path, *, verified: bool = False, **overrides: Any):
        """Build the model from ``folder/config.json`` and load its weights bit-exactly.

        Order: the folder's files are checked to lie inside it; ``config.json`` is validated
        (:func:`nuisance_zoo.model_folder.validate_config`, then :func:`check_model_config` for
        this architecture); the weights are hashed once and compared with ``config.json``'s
        ``sha256`` and their safetensors header checked; only then is the model built and the
        weights loaded (``safetensors.torch.load_model``; nothing is unpickled).

        Args:
            folder: a model folder written by :meth:`save_pretrained`.
            verified: the caller (``nuisance_zoo.load``, through the hub) has just verified the
                folder with :func:`~nuisance_zoo.model_folder.verify_folder`; skip hashing again.
            **overrides: replace ``model_config`` entries (e.g. a runtime option). Overrides
                that change a weight's shape give an error naming the keys.

        Returns:
            The model, in eval mode, on the CPU.

        Raises:
            ModelFolderError: the folder, config or weights are invalid, or do not fit the model.
            ChecksumMismatchError: the weights do not hash to ``config.json``'s ``sha256``.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_model

        folder = Path(folder)
        where = str(folder / CONFIG_NAME)
        cfg = model_folder.load_config(folder)
        arch = cfg["architecture"]
        if cls.architecture and arch != cls.architecture:
            raise ModelFolderError(f"{where} is for architecture {arch!r}, not {cls.architecture!r} "
                                   f"({cls.__name__}); load it with nuisance_zoo.load('local-dir:{folder}').")
        check_model_config(cls, cfg["model_config"], where)
        kwargs = {**cfg["model_config"], **overrides}
        weights = folder / WEIGHTS_NAME
        if verified:
            model_folder.check_folder(folder)
        else:  # hashes the weights and checks their header
            model_folder.verify_folder(folder, config=cfg, fix="re-download it (delete the cached copy) or re-save "
                                                                "the model with save_pretrained.")
        header = model_folder.check_safetensors(weights)
        _check_size_before_building(cls, kwargs, header, weights, overrides)
        try:
            model = cls(**kwargs)
        except (TypeError, ValueError) as e:
            raise ModelFolderError(f"{cls.__name__}(**model_config) failed for {where}: {e}. Check config.json's "
                                   f"model_config and the overrides {sorted(overrides)}.") from None
        _check_fits(model, header, weights, overrides)
        try:
            missing, unexpected = load_model(model, str(weights), strict=False)
        except (SafetensorError, OSError, RuntimeError) as e:
            raise ModelFolderError(f"{weights} could not be read as safetensors ({type(e).__name__}); it was "
                                   f"NOT loaded. Re-download or re-save the model.") from None
        _raise_misfit(weights, model, {"missing from the file": sorted(missing),
                                       "unexpected in the file": sorted(unexpected)})
        return model.eval()


def _check_size_before_building(cls: type, kwargs: dict, header: dict, path: Path, overrides: dict) -> None:
    """Refuse a config that asks for far more memory than the weights file holds, before allocating it.

    The model is first built on the ``meta`` device (shapes only, no memory): its shapes are
    compared with the header, and its size with the file's, so a config cannot make the loader
    allocate beyond about twice the file it verified. An architecture whose constructor cannot
    run on the meta device skips this probe (its sizes are bounded by its own
    ``validate_model_config``).
    """
    try:
        with torch.device("meta"):
            probe = cls(**kwargs)
    except Exception:  # noqa: BLE001 -- data-dependent constructors; the real build reports real errors
        return
    _check_fits(probe, header, path, overrides)
    tensors = {id(t): t for t in [*probe.parameters(), *probe.buffers()]}.values()  # tied ones once
    wanted = sum(t.numel() * t.element_size() for t in tensors)
    # check_safetensors made the tensors tile the data section: its end is the bytes stored.
    stored = max(t["data_offsets"][1] for k, t in header.items() if k != "__metadata__")
    if wanted > 2 * stored + (1 << 20):
        raise ModelFolderError(f"{path.parent / CONFIG_NAME}: model_config asks for a model of {wanted} bytes, but "
                               f"{path.name} holds {stored}; refused before allocating it.")


def _swap_in(tmp: Path, folder: Path, tag: str) -> None:
    """Rename the finished ``tmp`` folder to ``folder``, replacing an existing one.

    ``os.rename`` of a folder onto an existing non-empty folder fails, so the old one is renamed
    aside first. Crash window: between the two renames ``folder`` does not exist (a loader gets
    "no config.json", never a mix); the old folder survives as ``.<name>.old-<tag>`` beside it.
    """
    if not folder.exists():
        os.rename(tmp, folder)
        return
    old = folder.parent / f".{folder.name}.old-{tag}"
    os.rename(folder, old)
    try:
        os.rename(tmp, folder)
    except BaseException:
        os.rename(old, folder)  # put the old folder back: the save failed, nothing changed
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_fits(model: torch.nn.Module, header: dict, path: Path, overrides: dict) -> None:
    """Raise one error listing every tensor whose shape or dtype in the file differs from the model's.

    Read from the safetensors header, before any tensor is loaded. A dtype change would make
    ``load_state_dict`` cast silently: no longer bit-exact.
    """
    expected = model.state_dict()
    common = sorted(k for k in header if k != "__metadata__" and k in expected)
    shapes = [f"{k} {tuple(header[k]['shape'])} vs {tuple(expected[k].shape)}" for k in common
              if list(expected[k].shape) != header[k]["shape"]]
    dtypes = [f"{k} {header[k]['dtype']} vs {expected[k].dtype}" for k in common
              if list(expected[k].shape) == header[k]["shape"] and _ST_DTYPES.get(header[k]["dtype"]) != expected[k].dtype]
    _raise_misfit(path, model, {"shape mismatch (file vs model)": shapes, "dtype mismatch (file vs model)": dtypes},
                  f" The overrides {overrides} may change the architecture." if overrides else "")


def _raise_misfit(path: Path, model: torch.nn.Module, problems: dict[str, list[str]], hint: str = "") -> None:
    """The one "file does not fit the model" error: each non-empty list of ``problems``, named."""
    parts = [f"{what}: {_listing(items)}" for what, items in problems.items() if items]
    if parts:
        raise ModelFolderError(f"{path} does not fit {type(model).__name__}(**model_config): " + "; ".join(parts)
                               + f".{hint} The file was saved from a different architecture or config.")


# ---------------------------------------------------------------------------------- the card
def _first_paragraph(doc: str | None) -> str:
    return " ".join(line.strip() for line in re.split(r"\n\s*\n", (doc or "").strip())[0].splitlines())


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _metrics_table(metrics: dict) -> str:
    """A Markdown table: metric → value, or row → {column → value}."""
    if all(isinstance(v, dict) for v in metrics.values()):
        cols: list[str] = []
        for row in metrics.values():
            cols += [c for c in row if c not in cols]
        lines = ["| | " + " | ".join(map(_cell, cols)) + " |", "|---|" + "---:|" * len(cols)]
        lines += [f"| {_cell(name)} | " + " | ".join(_cell(row.get(c, "")) for c in cols) + " |"
                  for name, row in metrics.items()]
    else:
        lines = ["| metric | value |", "|---|---:|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in metrics.items()]
    return "\n".join(lines)


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def render_model_card(config: dict, card: dict, has_grid: bool = False) -> str:
    """The model card (``README.md``) for a model folder: YAML front matter and Markdown body.

    Args:
        config: the folder's ``config.json`` contents.
        card: see :meth:`PretrainedMixin.save_pretrained`.
        has_grid: whether ``grid.png`` is in the folder (the card then links it).
    """
    from huggingface_hub import ModelCard, ModelCardData

    training = config.get("training") or {}
    tags = list(dict.fromkeys([*_DEFAULT_TAGS, *_as_list(card.get("tags"))]))
    datasets = _as_list(card.get("datasets", training.get("dataset")))
    meta = ModelCardData(library_name=model_folder.LIBRARY_NAME, license=card.get("license", "apache-2.0"),
                         tags=tags, datasets=datasets, pipeline_tag="image-to-image")
    name = card.get("name")
    repo_id = card.get("repo_id")
    title = card.get("title") or name or config["architecture"]
    space = config.get("delta_space") or {}
    inp = config.get("input") or {}

    out = ["---", meta.to_yaml(), "---", "", f"# {title}", ""]
    out += [card.get("description") or "A learned model of natural variation G(x, δ).", ""]
    out += ["A *model of natural variation* G(x, δ) (Robey, Hassani, Pappas, *Model-Based Robust Deep "
            "Learning*, 2020) for the `nuisance-zoo` library: it maps an "
            "image x and a nuisance parameter δ to the same scene under another condition. Use it for "
            "model-based robust training (MRT, MAT, MDA) or to test a classifier's robustness.", ""]
    load_name = name or (f"hf-hub:{repo_id}" if repo_id else "local-dir:PATH")
    out += ["## Usage", "", "```python", "import torch, nuisance_zoo as nz",
            f"G = nz.load({json.dumps(load_name)})",
            f"x = torch.rand(8, {inp.get('channels') or 3}, {', '.join(map(str, inp.get('size') or [32, 32]))})"
            "  # images in [0, 1]",
            "y = G(x)  # δ drawn from the prior",
            "ys, deltas = G.forward_multi(x, k=5)  # 5 draws per image, one encode", "```", ""]
    bounds = space.get("bounds")
    out += ["## Nuisance space Δ", "", "| | |", "|---|---|",
            f"| dimension q | {space.get('dim')} |", f"| prior | {space.get('prior')} |",
            f"| coordinates | {', '.join(space.get('names') or [])} |",
            f"| bounds | {bounds if bounds is not None else 'unbounded'} |",
            f"| differentiable in δ | {'yes' if config.get('differentiable') else 'no'} |",
            f"| input | {inp.get('channels')} channels, {inp.get('size')} pixels, values in "
            f"{inp.get('range', [0.0, 1.0])} |", ""]
    domains = training.get("domains")
    out += ["## Domains", ""]
    if isinstance(domains, dict):
        out += [f"- **{_cell(k)}**: {_cell(v)}" for k, v in domains.items()]
    elif domains:
        out += [f"- {_cell(d)}" for d in _as_list(domains)]
    else:
        out += ["(not recorded)"]
    if training.get("selection"):
        out += ["", f"Selected by: {training['selection']}"]
    out += ["", "## Training", ""]
    facts = {k: v for k, v in training.items() if k not in ("domains", "selection") and v is not None}
    out += [f"- {k}: {_cell(v) if not isinstance(v, (dict, list)) else json.dumps(v)}" for k, v in facts.items()] \
        or ["(not recorded)"]
    out += [f"- architecture: `{config['architecture']}`, config: `{json.dumps(config.get('model_config'))}`", ""]
    if has_grid:
        out += ["## Nuisance-space grid", "", card.get("grid_caption", "Rows: images; columns: draws of δ."), "",
                f"![nuisance-space grid]({GRID_NAME})", ""]
    metrics = card.get("metrics")
    if metrics:
        out += ["## Measured numbers", "", _metrics_table(metrics), ""]
    out += ["## Files", "", f"- `{WEIGHTS_NAME}` (safetensors) sha256 `{config.get('sha256')}`",
            f"- `{CONFIG_NAME}`: how to rebuild the model; written by nuisance-zoo "
            f"{config.get('library_version')}", ""]
    out += ["## Citation", "", "```bibtex", card.get("citation") or (
        "@misc{robey2020model,\n  title={Model-Based Robust Deep Learning},\n"
        "  author={Robey, Alexander and Hassani, Hamed and Pappas, George J.},\n  year={2020}\n}"), "```", ""]
    # ModelCard parses the front matter back: a card that would not load on the Hub fails here.
    return ModelCard("\n".join(out)).content
