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

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from .. import model_folder
from ..model_folder import CARD_NAME, CONFIG_NAME, GRID_NAME, WEIGHTS_NAME
from ..version import __version__

__all__ = ["PretrainedMixin", "render_model_card", "FORMAT_VERSION"]

#: Bumped when config.json changes incompatibly; loaders refuse newer formats.
FORMAT_VERSION = 1
_DEFAULT_TAGS = ("nuisance-zoo", "model-of-natural-variation", "robustness", "pytorch", "safetensors")
_MAX_LISTED = 8


def _listing(items: list, fmt=str) -> str:
    shown = ", ".join(fmt(i) for i in items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _plain(obj: Any, what: str) -> Any:
    """``obj`` as JSON-ready data, or a clear error naming ``what`` held the offending value."""
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must hold only JSON data (str, numbers, bools, None, lists, dicts): {e}") from e


def _tensors_for_safetensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors, none sharing memory (safetensors refuses shared storage)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, t in state.items():
        t = t.detach().cpu().contiguous()
        if t.numel():
            # Tied weights (two keys, one storage) and views into a larger storage: save an
            # independent copy, so every tensor owns exactly its bytes.
            if t.untyped_storage().data_ptr() in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
                t = t.clone()
            seen.add(t.untyped_storage().data_ptr())
        out[key] = t
    return out


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` to a :class:`~nuisance_zoo.NuisanceModel` subclass.

    The class defines ``architecture`` (a name registered with
    :func:`nuisance_zoo.register_architecture`) and ``config()``, the keyword arguments that
    rebuild it with ``cls(**config)``. Put the mixin first: ``class G(PretrainedMixin, NuisanceModel)``.

    Optional hooks: ``input_spec()`` (channels and size of the images the model was trained
    on; by default read from ``config()`` keys ``in_channels``/``channels`` and
    ``image_size``/``size``).

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
        """Write ``model.safetensors``, ``config.json`` and ``README.md`` (the model card).

        Args:
            save_directory: folder to write (created if needed; existing files are replaced).
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

        Example:
            >>> # G.save_pretrained("hub_cards/gtsrb-brightness", training={...}, card={...})
        """
        from safetensors.torch import save_file

        arch = getattr(type(self), "architecture", "")
        if not isinstance(arch, str) or not arch:
            raise TypeError(f"{type(self).__name__} needs a class attribute architecture = '<name>' "
                            f"(registered with register_architecture) to be saved.")
        model_config = _plain(self.config(), f"{type(self).__name__}.config()")
        training = _plain(dict(training or {}), "training")
        card = dict(card or {})
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)

        weights = folder / WEIGHTS_NAME
        tmp = folder / (WEIGHTS_NAME + ".tmp")
        save_file(_tensors_for_safetensors(self.state_dict()), str(tmp), metadata={"format": "pt"})
        tmp.replace(weights)  # never leave a half-written weights file under the real name
        sha = model_folder.sha256_file(weights)

        train_info = {"domains": training.pop("domains", None), "selection": training.pop("selection", None),
                      "iterations": training.pop("iterations", None), **training}
        config = {
            "architecture": arch,
            "model_config": model_config,
            "delta_space": self.delta_space(),
            "differentiable": bool(getattr(self, "differentiable", True)),
            "kind": getattr(self, "kind", "learned"),
            "input": _plain(self.input_spec(), "input_spec()"),
            "training": train_info,
            "library": model_folder.LIBRARY_NAME,
            "library_version": __version__,
            "format_version": FORMAT_VERSION,
            "sha256": sha,
        }
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

        grid = card.pop("grid", None)
        if grid is not None:
            src = Path(grid)
            if not src.is_file():
                raise FileNotFoundError(f"card['grid'] = {grid!r} is not a file; give the path of a grid image.")
            if src.resolve() != (folder / GRID_NAME).resolve():
                shutil.copyfile(src, folder / GRID_NAME)
        card.setdefault("description", _first_paragraph(type(self).__doc__))
        text = render_model_card(config, card, has_grid=(folder / GRID_NAME).is_file())
        (folder / CARD_NAME).write_text(text, encoding="utf-8")
        return folder

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, folder: str | Path, **overrides: Any):
        """Build the model from ``folder/config.json`` and load its weights bit-exactly.

        The weights are read once, hashed and compared with ``config.json``'s ``sha256``
        before they are parsed (safetensors; nothing is unpickled), then loaded strictly.

        Args:
            folder: a model folder written by :meth:`save_pretrained`.
            **overrides: replace ``model_config`` entries (e.g. a runtime option). Overrides
                that change a weight's shape give an error naming the keys.

        Returns:
            The model, in eval mode, on the CPU.

        Raises:
            ChecksumMismatchError: the weights do not hash to ``config.json``'s ``sha256``.
            ValueError: the weights do not fit the model (missing/unexpected keys, shapes, dtypes).
        """
        from safetensors.torch import load as load_bytes

        folder = Path(folder)
        cfg = model_folder.load_config(folder)
        arch = cfg.get("architecture")
        if cls.architecture and arch != cls.architecture:
            raise ValueError(f"{folder / CONFIG_NAME} is for architecture {arch!r}, not {cls.architecture!r} "
                             f"({cls.__name__}); load it with nuisance_zoo.load('local-dir:{folder}').")
        if int(cfg.get("format_version", 1)) > FORMAT_VERSION:
            raise ValueError(f"{folder / CONFIG_NAME} has format_version {cfg['format_version']}, newer than this "
                             f"nuisance-zoo understands ({FORMAT_VERSION}); upgrade nuisance-zoo.")
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{folder} has no {WEIGHTS_NAME}; re-save the model or re-download it.")
        data = weights.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        declared = cfg.get("sha256")
        if actual != declared:
            raise model_folder.ChecksumMismatchError(
                f"{weights}: sha256 mismatch for {WEIGHTS_NAME}: expected {declared} (the \"sha256\" in "
                f"{CONFIG_NAME}), got {actual}. The file is corrupt or was modified; it was NOT loaded. "
                f"Fix: re-download it (delete the cached copy) or re-save the model with save_pretrained.")

        kwargs = dict(cfg.get("model_config") or {})
        kwargs.update(overrides)
        try:
            model = cls(**kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}(**model_config) failed for {folder / CONFIG_NAME}: {e}. "
                            f"Check config.json's model_config and the overrides {sorted(overrides)}.") from e
        state = load_bytes(data)
        _check_fits(model, state, weights, overrides)
        model.load_state_dict(state, strict=True)
        return model.eval()


def _check_fits(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, overrides: dict) -> None:
    """Raise one error listing every key that is missing, unexpected, or of another shape/dtype."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    common = sorted(set(expected) & set(state))
    shapes = [(k, tuple(state[k].shape), tuple(expected[k].shape)) for k in common
              if state[k].shape != expected[k].shape]
    # A dtype change would make load_state_dict cast silently: no longer bit-exact.
    dtypes = [(k, state[k].dtype, expected[k].dtype) for k in common
              if state[k].shape == expected[k].shape and state[k].dtype != expected[k].dtype]
    if not (missing or unexpected or shapes or dtypes):
        return
    parts = []
    if missing:
        parts.append(f"missing from the file: {_listing(missing)}")
    if unexpected:
        parts.append(f"unexpected in the file: {_listing(unexpected)}")
    if shapes:
        parts.append("shape mismatch (file vs model): " + _listing(shapes, lambda s: f"{s[0]} {s[1]} vs {s[2]}"))
    if dtypes:
        parts.append("dtype mismatch (file vs model): " + _listing(dtypes, lambda s: f"{s[0]} {s[1]} vs {s[2]}"))
    hint = f" The overrides {overrides} may change the architecture." if overrides else ""
    raise ValueError(f"{path} does not fit {type(model).__name__}(**model_config): " + "; ".join(parts)
                     + f".{hint} The file was saved from a different architecture or config.")


# ---------------------------------------------------------------------------------- the card
def _first_paragraph(doc: str | None) -> str:
    lines = []
    for line in (doc or "").strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


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
    import yaml

    training = config.get("training") or {}
    tags = list(dict.fromkeys([*_DEFAULT_TAGS, *_as_list(card.get("tags"))]))
    datasets = _as_list(card.get("datasets", training.get("dataset")))
    meta = {"library_name": model_folder.LIBRARY_NAME, "license": card.get("license", "apache-2.0"), "tags": tags,
            "datasets": datasets, "pipeline_tag": "image-to-image"}
    name = card.get("name")
    repo_id = card.get("repo_id")
    title = card.get("title") or name or config["architecture"]
    space = config.get("delta_space") or {}
    inp = config.get("input") or {}

    out = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "", f"# {title}", ""]
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
    return "\n".join(out)
