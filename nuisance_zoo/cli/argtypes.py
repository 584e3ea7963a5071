"""argparse types that refuse out-of-range numbers at the command line, with the valid range.

``--checkpoint-every -1`` used to mean "every step" and ``--n-train -5`` "all but 5 images":
both silent wrong answers. Each numeric option now names its range, and argparse prints
``argument --n-train: must be an integer >= 1, got -5`` with the usage line.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

__all__ = ["int_at_least", "float_above", "float_at_least"]


def int_at_least(low: int) -> Callable[[str], int]:
    """An integer option that must be ``>= low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number {rule}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number {rule}, got {text!r}")
    return value


def float_above(low: float) -> Callable[[str], float]:
    """A finite float option that must be ``> low``."""
    def parse(text: str) -> float:
        value = _float(text, f"> {low:g}")
        if value <= low:
            raise argparse.ArgumentTypeError(f"must be a number > {low:g}, got {value:g}")
        return value

    parse.__name__ = f"number > {low:g}"
    return parse


def float_at_least(low: float) -> Callable[[str], float]:
    """A finite float option that must be ``>= low``."""
    def parse(text: str) -> float:
        value = _float(text, f">= {low:g}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a number >= {low:g}, got {value:g}")
        return value

    parse.__name__ = f"number >= {low:g}"
    return parse
