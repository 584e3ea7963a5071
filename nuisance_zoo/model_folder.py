"""The model folder: its file names, and the one check made before a model is built from one.

A model folder (written by ``save_pretrained``, downloaded by :mod:`nuisance_zoo.hub`, bundled
in ``hub_cards/<name>/``) holds ``config.json``, ``model.safetensors`` and ``README.md``.
:func:`verify_folder` checks that the weights hash to the ``"sha256"`` in ``config.json`` (and
to the zoo entry's, when given). This module sits at the base of the package (it imports
nothing else from it) so that models can write folders and the hub can fetch them without
either importing the other.

Example:
    >>> from nuisance_zoo.model_folder import is_sha256
    >>> is_sha256("0" * 64), is_sha256("abc")
    (True, False)
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

__all__ = [
    "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "GRID_NAME", "METRICS_NAME", "CARD_FILES", "LIBRARY_NAME",
    "HubError", "ChecksumMismatchError", "sha256_file", "is_sha256", "load_config", "verify_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
GRID_NAME = "grid.png"
#: Every file a model folder may hold (what is uploaded); the first three are required.
#: The measured numbers behind a zoo card, machine-readable (a test re-checks the card against them).
METRICS_NAME = "metrics.json"
CARD_FILES = (CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, GRID_NAME, METRICS_NAME, ".gitattributes")
LIBRARY_NAME = "nuisance-zoo"

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class HubError(RuntimeError):
    """A hub or local name could not be turned into a usable, verified model folder."""


class ChecksumMismatchError(HubError):
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


def load_config(folder: str | Path) -> dict:
    """Parse ``folder/config.json`` or raise a clear error."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise HubError(f"{Path(folder)} has no {CONFIG_NAME}; is it a nuisance-zoo model folder "
                       f"(written by save_pretrained)?")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HubError(f"{path} is not valid JSON ({e}); re-download or re-save the model.") from e
    if not isinstance(cfg, dict):
        raise HubError(f"{path} must hold a JSON object, got {type(cfg).__name__}.")
    return cfg


def _mismatch(path: Path, expected: str, actual: str, against: str, fix: str) -> ChecksumMismatchError:
    return ChecksumMismatchError(
        f"{path}: sha256 mismatch for {WEIGHTS_NAME}: expected {expected} ({against}), got {actual}. "
        f"The file is corrupt or was modified; it was NOT loaded. Fix: {fix}"
    )


def verify_folder(folder: str | Path, expected_sha256: str | None = None, *, fix: str | None = None) -> Path:
    """Check that ``folder/model.safetensors`` hashes to ``config.json``'s ``"sha256"``.

    Args:
        folder: a model folder (``config.json`` + ``model.safetensors``).
        expected_sha256: a second expected hash (the registry entry's), checked too.
        fix: what the error should tell the user to do on a mismatch.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        HubError: a file is missing or ``config.json`` has no valid ``"sha256"``.
        ChecksumMismatchError: a hash differs.
    """
    folder = Path(folder)
    fix = fix or "re-save the folder with save_pretrained or copy the original files again."
    cfg = load_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise HubError(f"{folder} has no {WEIGHTS_NAME}. Fix: {fix}")
    declared = cfg.get("sha256")
    if not isinstance(declared, str) or not _SHA256_RE.match(declared):
        raise HubError(f"{folder / CONFIG_NAME} has no valid \"sha256\" of {WEIGHTS_NAME} (got {declared!r}); "
                       f"weights cannot be verified. Re-save the model with save_pretrained.")
    actual = sha256_file(weights)
    if expected_sha256 and actual != expected_sha256.lower():
        raise _mismatch(weights, expected_sha256.lower(), actual, "the zoo registry entry", fix)
    if actual != declared:
        raise _mismatch(weights, declared, actual, f"the \"sha256\" in {CONFIG_NAME}", fix)
    return folder
