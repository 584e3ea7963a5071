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
import os
import re
import struct
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "GRID_NAME", "METRICS_NAME", "CARD_FILES", "LIBRARY_NAME",
    "FORMAT_VERSION", "CONFIG_KEYS", "MAX_CONFIG_BYTES",
    "HubError", "ChecksumMismatchError", "ModelFolderError", "sha256_file", "is_sha256", "load_config",
    "parse_config", "validate_config", "check_folder", "check_safetensors", "verify_folder", "file_signature",
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
#: A safetensors header is JSON listing the tensors; 100 MiB is the limit safetensors itself uses.
MAX_HEADER_BYTES = 100 << 20

#: The top-level keys of config.json (format 1) and whether each is required.
CONFIG_KEYS = {
    "architecture": True, "model_config": True, "sha256": True, "format_version": False,
    "delta_space": False, "differentiable": False, "kind": False, "input": False, "training": False,
    "library": False, "library_version": False,
}

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_ARCH_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_MAX_DEPTH = 16
# safetensors dtype names -> bytes per element.
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}


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


def parse_config(text: bytes | str, where: str = CONFIG_NAME) -> dict:
    """Parse config.json text and validate it (:func:`validate_config`); the message never quotes it."""
    try:
        cfg = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        # e.msg / lineno / colno place the problem; str(e) alone is safe too, but the document is not.
        raise ModelFolderError(f"{where} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
                               f"re-download or re-save the model.") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFolderError(f"{where} is not valid JSON ({type(e).__name__}: NaN/Infinity, bad encoding or "
                               f"nesting too deep); re-download or re-save the model.") from None
    return validate_config(cfg, where)


def load_config(folder: str | Path) -> dict:
    """Read ``folder/config.json`` (at most :data:`MAX_CONFIG_BYTES`) and validate it.

    Raises:
        ModelFolderError: missing, too large, not JSON, or not following the schema.
    """
    folder = Path(folder)
    check_folder(folder, (CONFIG_NAME,))
    path = folder / CONFIG_NAME
    with open(path, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelFolderError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes; not a model config.")
    return parse_config(data, str(path))


def _type(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _depth(v: Any, limit: int = _MAX_DEPTH) -> int:
    if limit < 0:
        return 1 << 30
    if isinstance(v, dict):
        return 1 + max((_depth(x, limit - 1) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x, limit - 1) for x in v), default=0)
    return 0


def validate_config(cfg: Any, where: str = CONFIG_NAME) -> dict:
    """Check a parsed config.json against the format-1 schema; returns it unchanged.

    The schema (every key but ``architecture``, ``model_config`` and ``sha256`` is optional):

    - ``architecture``: a registered architecture name, ``[a-z0-9][a-z0-9._-]{0,63}``;
    - ``model_config``: an object with string keys (the keyword arguments; which keys and types
      an architecture accepts is checked by the model layer);
    - ``sha256``: 64 lower-case hex digits, the hash of ``model.safetensors``;
    - ``format_version``: an int in ``[1, FORMAT_VERSION]``;
    - ``delta_space``: ``{"dim": int >= 0, "names": [str], "bounds": null | [[lo, hi] | null],
      "prior": str, "parts": [...]}`` (descriptive: Δ comes from the built model);
    - ``differentiable``: bool; ``kind``, ``library_version``: str; ``library``: ``"nuisance-zoo"``;
    - ``input``: ``{"channels": null | int in [1, 64], "size": null | [H, W] ints >= 1,
      "range": [lo, hi] numbers}``;
    - ``training``: an object of facts for the card (never interpreted: a path here is text).

    Nesting deeper than 16 levels is refused.

    Raises:
        ModelFolderError: the first problem found, naming the key and the expected type.
    """
    def bad(msg: str) -> ModelFolderError:
        return ModelFolderError(f"{where}: {msg}")

    if not isinstance(cfg, dict):
        raise bad(f"must hold a JSON object, got {_type(cfg)}.")
    if _depth(cfg) > _MAX_DEPTH:
        raise bad(f"nested deeper than {_MAX_DEPTH} levels; not a model config.")
    for key, required in CONFIG_KEYS.items():
        if required and key not in cfg:
            if key == "sha256":
                raise bad(f"has no valid \"sha256\" of {WEIGHTS_NAME} (got None); weights cannot be verified. "
                          f"Re-save the model with save_pretrained.")
            if key == "architecture":
                raise bad("lacks 'architecture' (the class name registered with register_architecture).")
            raise bad(f"lacks the required key '{key}'.")
    unknown = sorted(k for k in cfg if k not in CONFIG_KEYS)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise bad(f"unknown key(s) {shown}; format {FORMAT_VERSION} allows {sorted(CONFIG_KEYS)}.")
    arch = cfg["architecture"]
    if not isinstance(arch, str) or not _ARCH_RE.match(arch):
        raise bad(f"'architecture' must be a registered architecture name (lower-case letters, digits, "
                  f"'.', '_', '-'; at most 64), got a {_type(arch)}.")
    if not is_sha256(cfg["sha256"]):
        got = _type(cfg["sha256"]) if not isinstance(cfg["sha256"], str) else f"a {len(cfg['sha256'])}-character string"
        raise bad(f"has no valid \"sha256\" of {WEIGHTS_NAME} (got {got}); weights cannot be verified. "
                  f"Re-save the model with save_pretrained.")
    mc = cfg["model_config"]
    if not isinstance(mc, dict):
        raise bad(f"'model_config' must be an object of keyword arguments, got {_type(mc)}.")
    fv = cfg.get("format_version", 1)
    if not _int(fv) or fv < 1:
        raise bad(f"'format_version' must be an int >= 1, got {_type(fv)}.")
    if fv > FORMAT_VERSION:
        raise bad(f"has format_version {fv}, newer than this nuisance-zoo understands ({FORMAT_VERSION}); "
                  f"upgrade nuisance-zoo.")
    for key in ("kind", "library_version"):
        if key in cfg and not isinstance(cfg[key], str):
            raise bad(f"'{key}' must be a string, got {_type(cfg[key])}.")
    if "library" in cfg and cfg["library"] != LIBRARY_NAME:
        raise bad(f"'library' must be '{LIBRARY_NAME}'; this folder is not a nuisance-zoo model.")
    if "differentiable" in cfg and not isinstance(cfg["differentiable"], bool):
        raise bad(f"'differentiable' must be true or false, got {_type(cfg['differentiable'])}.")
    if "training" in cfg and not isinstance(cfg["training"], (dict, type(None))):
        raise bad(f"'training' must be an object, got {_type(cfg['training'])}.")
    _check_delta_space(cfg.get("delta_space"), bad)
    _check_input(cfg.get("input"), bad)
    return cfg


def _check_delta_space(space: Any, bad) -> None:
    if space is None:
        return
    if not isinstance(space, dict):
        raise bad(f"'delta_space' must be an object, got {_type(space)}.")
    extra = sorted(set(space) - {"dim", "names", "bounds", "prior", "parts"})
    if extra:
        raise bad(f"'delta_space' has unknown key(s) {[k[:40] for k in extra[:5]]}.")
    dim = space.get("dim", 0)
    if not _int(dim) or not 0 <= dim <= 1 << 24:
        raise bad(f"'delta_space.dim' must be an int in [0, 2**24], got {_type(dim)}.")
    names = space.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad("'delta_space.names' must be a list of strings.")
    bounds = space.get("bounds")
    if bounds is not None and not (isinstance(bounds, list) and all(
            b is None or (isinstance(b, list) and len(b) == 2 and all(_number(v) for v in b)) for b in bounds)):
        raise bad("'delta_space.bounds' must be null or a list of [low, high] number pairs (or nulls).")
    if "prior" in space and not isinstance(space["prior"], str):
        raise bad(f"'delta_space.prior' must be a string, got {_type(space['prior'])}.")
    if "parts" in space and not isinstance(space["parts"], list):
        raise bad(f"'delta_space.parts' must be a list, got {_type(space['parts'])}.")


def _check_input(inp: Any, bad) -> None:
    if inp is None:
        return
    if not isinstance(inp, dict):
        raise bad(f"'input' must be an object, got {_type(inp)}.")
    extra = sorted(set(inp) - {"channels", "size", "range"})
    if extra:
        raise bad(f"'input' has unknown key(s) {[k[:40] for k in extra[:5]]}.")
    ch = inp.get("channels")
    if ch is not None and not (_int(ch) and 1 <= ch <= 64):
        raise bad(f"'input.channels' must be null or an int in [1, 64], got {_type(ch)}.")
    size = inp.get("size")
    if size is not None and not (isinstance(size, list) and len(size) == 2 and all(_int(v) and v >= 1 for v in size)):
        raise bad("'input.size' must be null or [H, W] with ints >= 1.")
    rng = inp.get("range", [0.0, 1.0])
    if not (isinstance(rng, list) and len(rng) == 2 and all(_number(v) for v in rng)):
        raise bad("'input.range' must be [low, high] numbers.")


# ---------------------------------------------------------------------------------- weights
def check_safetensors(path: str | Path) -> dict:
    """Check a safetensors file's structure without loading a tensor; returns its header.

    The header length must fit the file, the header must be a JSON object of tensors with a
    known dtype, a shape of non-negative ints and ``data_offsets`` that tile the data section
    exactly (no gap, overlap or byte past the end), and whose sizes match dtype × shape. A
    pickle or zip (``torch.save``) renamed to ``model.safetensors`` is named as such. Nothing is
    unpickled: this reads the first ``8 + header`` bytes only.

    Raises:
        ModelFolderError: what is wrong, without quoting the file.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise ModelFolderError(f"{path} is a pickle or torch.save zip, not a safetensors file; nuisance-zoo "
                                   f"never unpickles. It was NOT loaded.")
        if len(head) < 8:
            raise ModelFolderError(f"{path} is not a safetensors file (shorter than its 8-byte header length).")
        n = struct.unpack("<Q", head)[0]
        if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
            raise ModelFolderError(f"{path} is not a safetensors file: its header length ({n} bytes) does not fit "
                                   f"the file ({size} bytes). It was NOT loaded.")
        raw = f.read(n)
    try:
        header = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFolderError(f"{path} is not a safetensors file: its header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: the safetensors header must be a JSON object.")
    meta = header.get("__metadata__")
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise ModelFolderError(f"{path}: the safetensors '__metadata__' must map strings to strings.")
    spans = []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        shown = name[:60]
        if not isinstance(t, dict) or t.get("dtype") not in _DTYPE_BYTES:
            raise ModelFolderError(f"{path}: tensor {shown!r} has no known dtype.")
        shape, offs = t.get("shape"), t.get("data_offsets")
        if not (isinstance(shape, list) and all(_int(d) and d >= 0 for d in shape)):
            raise ModelFolderError(f"{path}: tensor {shown!r} has an invalid shape.")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_int(o) for o in offs) and 0 <= offs[0] <= offs[1]):
            raise ModelFolderError(f"{path}: tensor {shown!r} has invalid data_offsets.")
        if offs[1] - offs[0] != math.prod(shape) * _DTYPE_BYTES[t["dtype"]]:
            raise ModelFolderError(f"{path}: tensor {shown!r} lies about its size: its offsets span "
                                   f"{offs[1] - offs[0]} bytes, its dtype and shape need "
                                   f"{math.prod(shape) * _DTYPE_BYTES[t['dtype']]}. It was NOT loaded.")
        spans.append((offs[0], offs[1], shown))
    if not spans:
        raise ModelFolderError(f"{path}: holds no tensors.")
    end = 0
    for begin, stop, shown in sorted(spans):
        if begin != end:
            raise ModelFolderError(f"{path}: tensor {shown!r} {'overlaps another' if begin < end else 'leaves a gap'}"
                                   f" in the data section; the header lies. It was NOT loaded.")
        end = stop
    if 8 + n + end != size:
        raise ModelFolderError(f"{path}: the header describes {end} bytes of data, the file holds "
                               f"{size - 8 - n}; it is truncated or padded. It was NOT loaded.")
    return header


def _mismatch(path: Path, expected: str, actual: str, against: str, fix: str) -> ChecksumMismatchError:
    return ChecksumMismatchError(
        f"{path}: sha256 mismatch for {WEIGHTS_NAME}: expected {expected} ({against}), got {actual}. "
        f"The file is corrupt or was modified; it was NOT loaded. Fix: {fix}"
    )


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
    if expected_sha256 and actual != expected_sha256.lower():
        raise _mismatch(weights, expected_sha256.lower(), actual, "the zoo registry entry", fix)
    if actual != cfg["sha256"]:
        raise _mismatch(weights, cfg["sha256"], actual, f"the \"sha256\" in {CONFIG_NAME}", fix)
    # A file whose hash matches can still be unreadable (the config was written for it by a
    # hostile or buggy writer): check its structure so the loader never meets a raw parser error.
    check_safetensors(weights)
    return folder


def file_signature(path: str | Path) -> tuple[int, int, int, int]:
    """``(device, inode, size, mtime_ns)`` of a file: whether it is still the file that was hashed."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
