"""The model folder: its file names, its ``config.json`` schema, and the checks made before a model is built.

A model folder (written by ``save_pretrained``, downloaded by :mod:`nuisance_zoo.hub`, bundled
in ``hub_cards/<name>/``) holds ``config.json``, ``model.safetensors`` and ``README.md``. Every
file in it is untrusted (SECURITY.md). This module is the one place that checks a folder before
anything is built from it:

* :func:`check_folder`: the files are regular files inside the folder (no symlink out of it);
* :func:`load_config`: ``config.json`` is small, valid JSON and follows the schema of
  :data:`FORMAT_VERSION` (:func:`validate_config`): allowed keys, types, ranges;
* :func:`check_safetensors`: the weights' header is honest (length, dtypes, shapes, offsets that
  tile the data exactly); a pickle named ``.safetensors`` is refused, never opened by a loader;
* :func:`verify_folder`: the weights hash to the ``"sha256"`` in ``config.json`` (and to the zoo
  entry's, when given).

Every problem is a :class:`ModelFolderError` whose message names the file and the field, never
the file's contents. The keys each architecture accepts in ``model_config`` are checked by the
model layer (:func:`nuisance_zoo.learned.pretrained.check_model_config`): this module knows files,
not models. It sits at the base of the package (it imports nothing else from it), so that models
can write folders and the hub can fetch them without either importing the other.

Example:
    >>> from nuisance_zoo.model_folder import is_sha256, validate_config, ModelFolderError
    >>> is_sha256("0" * 64), is_sha256("abc")
    (True, False)
    >>> try:
    ...     validate_config({"architecture": "x", "model_config": [], "sha256": "0" * 64})
    ... except ModelFolderError as e:
    ...     print(e)
    config.json: 'model_config' must be an object of keyword arguments, got list.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "GRID_NAME", "METRICS_NAME", "CARD_FILES", "LIBRARY_NAME",
    "FORMAT_VERSION", "CONFIG_KEYS", "MAX_CONFIG_BYTES", "HubError", "ChecksumMismatchError", "ModelFolderError",
    "sha256_file", "is_sha256", "load_config", "validate_config", "check_folder", "check_safetensors", "verify_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
GRID_NAME = "grid.png"
#: The measured numbers behind a zoo card, machine-readable (a test re-checks the card against them).
METRICS_NAME = "metrics.json"
#: Every file a model folder may hold (what is uploaded); the first three are required.
CARD_FILES = (CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, GRID_NAME, METRICS_NAME, ".gitattributes")
LIBRARY_NAME = "nuisance-zoo"
#: The config.json format this version reads and writes; newer formats are refused.
FORMAT_VERSION = 1
#: A config.json is a few KiB; anything near this is not one (and is not read into memory).
MAX_CONFIG_BYTES = 1 << 20

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_ARCH_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_MAX_DEPTH = 16


class HubError(RuntimeError):
    """A hub or local name could not be turned into a usable, verified model folder."""


class ModelFolderError(HubError, ValueError):
    """A model folder is malformed or hostile: a bad ``config.json``, weights or file layout.

    It is a :class:`ValueError` (bad input) and a :class:`HubError` (the folder is not usable).
    Messages name the file and the field, never the file's contents.
    """


class ChecksumMismatchError(ModelFolderError):
    """``model.safetensors`` does not hash to the expected sha256 (corrupt or tampered file)."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a lower-case hex sha256 digest."""
    return isinstance(value, str) and bool(_SHA256_RE.match(value))


# ---------------------------------------------------------------------------------- the files
def check_folder(folder: str | Path, names: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME)) -> Path:
    """Check that ``names`` are regular files that really live inside ``folder``.

    A symlink is allowed only when it resolves inside the folder or inside a Hugging Face cache
    (``.../blobs/``), which stores snapshot files as links to its blobs; a link anywhere else
    (``/etc/passwd``, ``../other-model``) is refused before anything is read.

    Raises:
        ModelFolderError: a file is missing, not a regular file, or points outside the folder.
    """
    folder = Path(folder)
    root = folder.resolve()
    for name in names:
        path = folder / name
        if not path.exists() and not path.is_symlink():
            raise ModelFolderError(f"{folder} has no {name}; is it a nuisance-zoo model folder (written by "
                                   f"save_pretrained)?")
        real = path.resolve()
        inside = real.parent == root
        # huggingface_hub's cache: snapshots/<commit>/<file> -> ../../blobs/<hash>, same repo folder.
        in_cache = (real.parent.name == "blobs" and root.parent.name == "snapshots"
                    and real.parent.parent == root.parent.parent)
        if path.is_symlink() and not (inside or in_cache):
            raise ModelFolderError(f"{path} is a symbolic link to a file outside the model folder; a model "
                                   f"folder is self-contained. It was not read.")
        if not real.is_file():
            raise ModelFolderError(f"{path} is not a regular file.")
    return folder


# ---------------------------------------------------------------------------------- config.json
def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_config(folder: str | Path, where: str | None = None) -> dict:
    """Read ``folder/config.json`` (at most :data:`MAX_CONFIG_BYTES`) and validate it (:func:`validate_config`).

    Args:
        folder: the model folder.
        where: how messages name the file (default: its path). A message never quotes the file.

    Raises:
        ModelFolderError: missing, too large, not JSON, or not following the schema.
    """
    path = check_folder(folder, (CONFIG_NAME,)) / CONFIG_NAME
    where = where or str(path)
    with open(path, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelFolderError(f"{where} is larger than {MAX_CONFIG_BYTES} bytes; not a model config.")
    try:
        cfg = json.loads(data, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        # e.msg / lineno / colno place the problem; str(e) alone is safe too, but the document is not.
        raise ModelFolderError(f"{where} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                               f"re-download or re-save the model.") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFolderError(f"{where} is not valid JSON ({type(e).__name__}: NaN/Infinity, bad encoding or "
                               f"nesting too deep); re-download or re-save the model.") from None
    return validate_config(cfg, where)


def _type(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _pair(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v)


def _depth(v: Any, limit: int = _MAX_DEPTH) -> int:
    if limit < 0:
        return 1 << 30
    if isinstance(v, (dict, list)):
        return 1 + max((_depth(x, limit - 1) for x in (v.values() if isinstance(v, dict) else v)), default=0)
    return 0


def _str(v: Any) -> bool:
    return isinstance(v, str)


#: The config.json schema (format 1): key -> (test, what the value must be); a dict is the schema
#: of a nested object, which may also be null. Keys the table lacks are refused.
CONFIG_KEYS: dict[str, Any] = {
    "architecture": (lambda v: _str(v) and bool(_ARCH_RE.match(v)), "a registered architecture name "
                     "(lower-case letters, digits, '.', '_', '-'; at most 64)"),
    "model_config": (lambda v: isinstance(v, dict), "an object of keyword arguments"),
    "sha256": (is_sha256, f"the sha256 of {WEIGHTS_NAME}"),
    "format_version": (lambda v: _int(v) and v >= 1, "an int >= 1"),
    "delta_space": {
        "dim": (lambda v: _int(v) and 0 <= v <= 1 << 24, "an int in [0, 2**24]"),
        "names": (lambda v: isinstance(v, list) and all(map(_str, v)), "a list of strings"),
        "bounds": (lambda v: v is None or isinstance(v, list) and all(b is None or _pair(b) for b in v),
                   "null or a list of [low, high] number pairs (or nulls)"),
        "prior": (_str, "a string"),
        "parts": (lambda v: isinstance(v, list), "a list"),
    },
    "differentiable": (lambda v: isinstance(v, bool), "true or false"),
    "kind": (_str, "a string"),
    "input": {
        "channels": (lambda v: v is None or _int(v) and 1 <= v <= 64, "null or an int in [1, 64]"),
        "size": (lambda v: v is None or isinstance(v, list) and len(v) == 2 and all(_int(x) and x >= 1 for x in v),
                 "null or [H, W] with ints >= 1"),
        "range": (_pair, "[low, high] numbers"),
    },
    "training": (lambda v: v is None or isinstance(v, dict), "an object"),
    "library": (lambda v: v == LIBRARY_NAME, f"'{LIBRARY_NAME}' (else the folder is not a nuisance-zoo model)"),
    "library_version": (_str, "a string"),
}


def validate_config(cfg: Any, where: str = CONFIG_NAME) -> dict:
    """Check a parsed config.json against the format-1 schema (:data:`CONFIG_KEYS`); returns it unchanged.

    Required: ``architecture`` (a registered name), ``model_config`` (an object with string keys:
    which keys and types an architecture accepts is checked by the model layer) and ``sha256``
    (of ``model.safetensors``). Optional: ``format_version`` (an int in ``[1, FORMAT_VERSION]``),
    ``delta_space`` (descriptive: Δ comes from the built model), ``differentiable``, ``kind``,
    ``input``, ``training`` (facts for the card, never interpreted: a path here is text),
    ``library``, ``library_version``. Nesting deeper than 16 levels is refused.

    Raises:
        ModelFolderError: the first problem found, naming the key and the expected type.
    """
    def bad(msg: str) -> ModelFolderError:
        return ModelFolderError(f"{where}: {msg}")

    if not isinstance(cfg, dict):
        raise bad(f"must hold a JSON object, got {_type(cfg)}.")
    if _depth(cfg) > _MAX_DEPTH:
        raise bad(f"nested deeper than {_MAX_DEPTH} levels; not a model config.")
    for key in ("architecture", "model_config"):
        if key not in cfg:
            raise bad(f"lacks '{key}', which must be {CONFIG_KEYS[key][1]}.")
    sha = cfg.get("sha256")
    if not is_sha256(sha):
        got = f"a {len(sha)}-character string" if isinstance(sha, str) else _type(sha)
        raise bad(f"has no valid \"sha256\" of {WEIGHTS_NAME} (got {got}); weights cannot be verified. "
                  f"Re-save the model with save_pretrained.")
    _check_object(cfg, CONFIG_KEYS, bad)
    if cfg.get("format_version", 1) > FORMAT_VERSION:
        raise bad(f"has format_version {cfg['format_version']}, newer than this nuisance-zoo understands "
                  f"({FORMAT_VERSION}); upgrade nuisance-zoo.")
    return cfg


def _check_object(obj: dict, schema: dict, bad, prefix: str = "") -> None:
    """Check ``obj``'s keys and values against a :data:`CONFIG_KEYS`-style table."""
    unknown = sorted(k for k in obj if k not in schema)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise bad(f"{repr(prefix[:-1]) + ' has ' if prefix else ''}unknown key(s) {shown}; format "
                  f"{FORMAT_VERSION} allows {sorted(schema)}.")
    for key in (k for k in schema if k in obj):
        rule, value, name = schema[key], obj[key], prefix + key
        if isinstance(rule, dict) and isinstance(value, dict):
            _check_object(value, rule, bad, name + ".")
        elif isinstance(rule, dict) and value is not None:
            raise bad(f"'{name}' must be an object, got {_type(value)}.")
        elif not isinstance(rule, dict) and not rule[0](value):
            raise bad(f"'{name}' must be {rule[1]}, got {_type(value)}.")


# ---------------------------------------------------------------------------------- weights
#: What safetensors found wrong (its own message can quote the file) -> how we say it.
_SAFETENSORS_PROBLEMS = {
    "header too small": "it is shorter than its 8-byte header length",
    "header too large": "its header length does not fit the file",
    "invalid header length": "its header length does not fit the file",
    "invalid JSON": "its header is not valid JSON, or lists a tensor with an unknown dtype or an invalid shape",
    "invalid offset": "a tensor overlaps another or leaves a gap in the data section; the header lies",
    "invalid shape": "a tensor's offsets do not match its dtype and shape; the header lies about its size",
    "incomplete metadata": "the header does not describe the data section exactly; it is truncated or padded",
}


def check_safetensors(path: str | Path) -> dict:
    """Check a safetensors file's structure without loading a tensor; returns its header.

    ``safetensors.safe_open`` validates the header (100 MiB at most): its length fits the file,
    it is a JSON object of tensors with a known dtype and a shape of non-negative ints, and their
    ``data_offsets`` tile the data section exactly (no gap, overlap or byte past the end) with
    sizes matching dtype × shape. A pickle or zip (``torch.save``) renamed to
    ``model.safetensors`` is named as such before any parser sees it. Nothing is unpickled and
    no tensor is read.

    Raises:
        ModelFolderError: what is wrong, without quoting the file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise ModelFolderError(f"{path} is a pickle or torch.save zip, not a safetensors file; nuisance-zoo "
                                   f"never unpickles. It was NOT loaded.")
        try:
            with safe_open(str(path), framework="numpy") as st:
                empty = not st.keys()
        except SafetensorError as e:
            problem = next((ours for theirs, ours in _SAFETENSORS_PROBLEMS.items() if theirs in str(e)),
                           "its header is malformed")
            raise ModelFolderError(f"{path} is not a safetensors file: {problem}. It was NOT loaded.") from None
        if empty:
            raise ModelFolderError(f"{path}: holds no tensors.")
        return json.loads(f.read(struct.unpack("<Q", head)[0]))


def verify_folder(folder: str | Path, expected_sha256: str | None = None, *, fix: str | None = None,
                  config: dict | None = None) -> Path:
    """Check a model folder: layout, ``config.json`` schema, weights hash, safetensors header.

    Args:
        folder: a model folder (``config.json`` + ``model.safetensors``).
        expected_sha256: a second expected hash (the registry entry's), checked too.
        fix: what the error should tell the user to do on a mismatch.
        config: the already validated config.json, if the caller has read it.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        ModelFolderError: a file is missing, outside the folder, malformed or lying.
        ChecksumMismatchError: a hash differs.
    """
    folder = Path(folder)
    fix = fix or "re-save the folder with save_pretrained or copy the original files again."
    check_folder(folder)
    cfg = config if config is not None else load_config(folder)
    weights = folder / WEIGHTS_NAME
    actual = sha256_file(weights)
    pinned = ((expected_sha256, "the zoo registry entry"), (cfg["sha256"], f'the "sha256" in {CONFIG_NAME}'))
    for expected, against in pinned:
        if expected and actual != expected.lower():
            raise ChecksumMismatchError(f"{weights}: sha256 mismatch for {WEIGHTS_NAME}: expected {expected.lower()} "
                                        f"({against}), got {actual}. The file is corrupt or was modified; it was NOT "
                                        f"loaded. Fix: {fix}")
    # A file whose hash matches can still be unreadable (the config was written for it by a
    # hostile or buggy writer): check its structure so the loader never meets a raw parser error.
    check_safetensors(weights)
    return folder

