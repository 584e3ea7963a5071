"""Where the data lives: the data root and how a user points at it.

Order: the ``root=`` argument, then the environment variable ``NUISANCE_ZOO_DATA``, then
``../shared/data`` and ``./shared/data`` relative to the current directory, then
``../shared/data`` beside the project checkout this package was imported from.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "resolve_root", "root_candidates", "HOW_TO_POINT"]

#: Environment variable naming the data root.
DATA_ENV = "NUISANCE_ZOO_DATA"

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
