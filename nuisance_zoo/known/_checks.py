"""The known models' argument validators: :func:`check_range` (defined in :mod:`nuisance_zoo.base`,
shared by the whole package) and :func:`check_choice`, so every bad argument gets the same kind of
message: the model, the argument, the valid range (and why), and the value given.

Example:
    >>> from nuisance_zoo.known._checks import check_range
    >>> check_range("max_darkness", 1.5, 0, 1, open_low=True, model="Shadow")
    Traceback (most recent call last):
    ...
    ValueError: Shadow: max_darkness must be a number in (0, 1], got 1.5.
"""
from __future__ import annotations

from typing import Sequence

from ..base import check_range

__all__ = ["check_range", "check_choice"]


def check_choice(name: str, value, choices: Sequence, *, model=None):
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in choices:
        prefix = "" if model is None else f"{model if isinstance(model, str) else type(model).__name__}: "
        raise ValueError(f"{prefix}{name} must be one of {tuple(choices)}, got {value!r}.")
    return value
