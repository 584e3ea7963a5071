"""Where the data lives: the data root, the dataset cache, and how a user points at them.

The data root: the ``root=`` argument, else the environment variable ``NUISANCE_ZOO_DATA``,
else ``../shared/data`` and ``./shared/data`` relative to the current directory, then
``../shared/data`` beside the project checkout this package was imported from.

The dataset cache (:func:`dataset_cache_dir`): ``$NUISANCE_ZOO_CACHE``, else
``$XDG_CACHE_HOME/nuisance_zoo/datasets``, else ``~/.cache/nuisance_zoo/datasets``. Named sets
that were downloaded through torchvision are converted once into ``.npz`` files there, in the
data root's layout, so the named sets are looked for in the data root first and then in the
cache (:func:`named_set_roots`).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "CACHE_ENV", "resolve_root", "root_candidates", "HOW_TO_POINT", "dataset_cache_dir",
           "named_set_roots"]

#: Environment variable naming the data root.
DATA_ENV = "NUISANCE_ZOO_DATA"

#: Environment variable naming the dataset cache (downloads and their ``.npz`` conversions).
CACHE_ENV = "NUISANCE_ZOO_CACHE"

#: The sentence every "not found" error ends with.
HOW_TO_POINT = (f"Point at the data with load_dataset(..., root=PATH), the environment variable "
                f"{DATA_ENV}=PATH, or the CLI option --data-root PATH.")

# nuisance_zoo/data/paths.py -> parents[2] is the checkout (or site-packages) holding the package.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def root_candidates(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders :func:`resolve_root` tries, in order."""
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get(DATA_ENV)
    if env:
        return [Path(env).expanduser()]
    cwd = Path.cwd()
    out: list[Path] = []
    for p in (cwd / ".." / "shared" / "data", cwd / "shared" / "data", _PROJECT_ROOT / ".." / "shared" / "data"):
        p = p.resolve()
        if p not in out:
            out.append(p)
    return out


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the first existing folder of :func:`root_candidates`.

    Raises:
        FileNotFoundError: none exists; the message lists where it looked.
    """
    candidates = root_candidates(root)
    for p in candidates:
        if p.is_dir():
            return p
    source = ("the root= argument" if root is not None
              else f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "the default locations")
    raise FileNotFoundError(
        f"data root not found; looked in {', '.join(str(p) for p in candidates)} (from {source}). "
        + HOW_TO_POINT)


def dataset_cache_dir() -> Path:
    """The dataset cache: ``$NUISANCE_ZOO_CACHE``, else ``$XDG_CACHE_HOME/nuisance_zoo/datasets``,
    else ``~/.cache/nuisance_zoo/datasets`` (the folder need not exist yet).

    It holds ``<name>/<split>.npz`` (the data root's layout, so it is searched like one) and
    torchvision's downloaded files under ``torchvision/``, which may be deleted once converted.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "nuisance_zoo" / "datasets"


def named_set_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """Where a named set (``gtsrb``, ``fashion-mnist``, ...) is looked for, in order: the
    folders of :func:`root_candidates` (``root=``, else ``$NUISANCE_ZOO_DATA``, else
    ``../shared/data``), then :func:`dataset_cache_dir`. Folders that do not exist are listed
    too, so that a "not found" message can say where it looked."""
    out = root_candidates(root)
    cache = dataset_cache_dir().resolve()
    if cache not in out:
        out.append(cache)
    return out
