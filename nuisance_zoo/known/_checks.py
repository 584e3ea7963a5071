"""One validator for the known models' constructor arguments, so every bad argument gets the same
kind of message: the model, the argument, the valid range (and why), and the value given.

Example:
    >>> from nuisance_zoo.known._checks import check_range
    >>> check_range("max_darkness", 1.5, 0, 1, open_low=True, model="Shadow")
    Traceback (most recent call last):
    ...
    ValueError: Shadow: max_darkness must be a number in (0, 1], got 1.5.
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = ["check_range", "check_choice"]


def _prefix(model) -> str:
    if model is None:
        return ""
    return f"{model if isinstance(model, str) else type(model).__name__}: "


def _fmt(v: float) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)


def _describe(low, high, open_low: bool, open_high: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if open_low else '['}{_fmt(low)}, {_fmt(high)}{')' if open_high else ']'}"
    if low is not None:
        return f"{'>' if open_low else '>='} {_fmt(low)}"
    if high is not None:
        return f"{'<' if open_high else '<='} {_fmt(high)}"
    return "finite"


def check_range(name: str, value, low: float | None = None, high: float | None = None, *,
                open_low: bool = False, open_high: bool = False, integer: bool = False,
                why: str = "", model=None):
    """Return ``value`` as a float (an int with ``integer=True``) or raise a ``ValueError``.

    Args:
        name: the argument's name, as the user typed it.
        value: the value given.
        low: lower bound (None: unbounded below).
        high: upper bound (None: unbounded above).
        open_low: exclude ``low`` itself.
        open_high: exclude ``high`` itself.
        integer: require a whole number (``True``/``False`` are refused).
        why: a few words on what the argument means, added to the message.
        model: the model (or its name) whose constructor checks, named in the message.

    Raises:
        ValueError: ``value`` is not a finite number (whole with ``integer``) inside the range.
    """
    kind = "an int" if integer else "a number"
    reason = f" ({why})" if why else ""
    message = f"{_prefix(model)}{name} must be {kind} {_describe(low, high, open_low, open_high)}{reason}, got {value!r}."
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not math.isfinite(v) or (integer and v != int(v)):
        raise ValueError(message)
    if low is not None and (v < low or (open_low and v == low)):
        raise ValueError(message)
    if high is not None and (v > high or (open_high and v == high)):
        raise ValueError(message)
    if integer:
        # An int stays exact (a float round trip would change seeds above 2**53).
        return value if isinstance(value, int) else int(v)
    return v


def check_choice(name: str, value, choices: Sequence, *, model=None):
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{_prefix(model)}{name} must be one of {tuple(choices)}, got {value!r}.")
    return value
