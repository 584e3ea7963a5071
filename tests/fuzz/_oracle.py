"""The fuzz suite's oracle: every case ends in a checked result or a clear, named error.

A case passes when the call either

* returns a result that :func:`check_images` (or the case's own check) accepts: the right
  shape and dtype, finite, in [0, 1]; or
* raises a ``ValueError``/``TypeError`` *raised by nuisance_zoo's own code* (the innermost
  frame is in the package, so a torch or numpy error passed through does not count) whose
  message names the argument at fault.

Anything else fails the case: another exception type (IndexError, RuntimeError from torch
internals, ZeroDivisionError, ...), an error raised inside torch, a message that does not name
the argument, a NaN or out-of-range output, or a hang (pytest-timeout, see ``conftest.py``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

import nuisance_zoo as nz

PACKAGE = Path(nz.__file__).resolve().parent
OK, ERROR, EITHER = "ok", "error", "either"


def raised_by_package(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is a file of nuisance_zoo."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and Path(last.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE)


def run_case(fn: Callable[[], Any], names: Sequence[str], expect: str = EITHER,
             check: Callable[[Any], None] | None = None) -> str:
    """Run one case and apply the oracle; return ``"ok"`` or ``"error"``.

    Args:
        fn: the call.
        names: words of which the error message must contain one (the argument at fault).
        expect: ``"ok"`` (must return), ``"error"`` (must raise a named error) or ``"either"``.
        check: validates a returned result (raises AssertionError when wrong).
    """
    try:
        out = fn()
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert raised_by_package(e), f"a {type(e).__name__} from outside nuisance_zoo: {msg[:300]}"
        assert expect != OK, f"expected a result, got {type(e).__name__}: {msg[:300]}"
        assert any(n in msg for n in names), f"the error does not name any of {list(names)}: {msg[:300]}"
        return ERROR
    except Exception as e:  # noqa: BLE001 - the point: any other exception is a finding
        raise AssertionError(f"internal error {type(e).__name__}: {str(e)[:300]}") from e
    assert expect != ERROR, f"expected a named error about {list(names)}, got a result"
    if check is not None:
        check(out)
    return OK


def check_images(shape: Sequence[int], dtype: torch.dtype) -> Callable[[Any], None]:
    """A check: a tensor of ``shape`` and ``dtype``, finite, in [0, 1] (0..255 for uint8)."""

    def check(out: Any) -> None:
        assert isinstance(out, Tensor), f"not a tensor: {type(out).__name__}"
        assert tuple(out.shape) == tuple(shape), f"shape {tuple(out.shape)} != {tuple(shape)}"
        assert out.dtype == dtype, f"dtype {out.dtype} != {dtype}"
        if out.numel() and out.dtype != torch.uint8:
            f = out.detach().float()
            assert bool(torch.isfinite(f).all()), "non-finite output"
            assert float(f.min()) >= -1e-3 and float(f.max()) <= 1 + 1e-3, \
                f"output outside [0, 1]: {float(f.min())}..{float(f.max())}"

    return check


def check_loss(out: Any) -> None:
    """A check for a training objective: a finite float scalar with a ``grad_fn`` that backpropagates."""
    assert isinstance(out, Tensor) and out.ndim == 0, f"not a scalar tensor: {out!r}"
    assert out.is_floating_point() and bool(torch.isfinite(out)), f"loss {out}"
    assert out.grad_fn is not None, "the loss has no grad_fn"
    out.backward()
