"""Checking what users pass in: images, δ and numeric arguments, and the switch for hot loops.

:func:`check_image` and :func:`check_delta` guard every model's ``forward``; their value checks
(pixels finite and in [0, 1], δ finite) follow one process-wide mode, ``"full"``, ``"async"`` or
``"off"`` (:func:`set_input_checks`, :func:`input_checks`), and run once per tensor version.
:func:`check_range` is the one validator of numeric arguments, for every layer.

Part of the base layer: it imports nothing from the package, so :mod:`nuisance_zoo.base` and
everything above can use it.
"""
from __future__ import annotations

import math
import os
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor

__all__ = ["check_image", "check_delta", "check_delta_shape", "check_range", "set_input_checks",
           "get_input_checks", "input_checks", "no_sync_input_checks", "INPUT_CHECK_MODES", "NORMAL_PRIOR_LIMIT",
           "FLOAT_TYPES", "COMPUTE_DTYPE"]

FLOAT_TYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# Half types are computed in float32: several ops (grid_sample, conv on CPU) lack half kernels,
# and the rounding of [0, 1] images in half precision would break small nuisances.
COMPUTE_DTYPE = {torch.float16: torch.float32, torch.bfloat16: torch.float32}
# Float inputs may overshoot [0, 1] by resampling or rounding error; beyond this it is a bug.
_RANGE_TOLERANCE = 1e-3
#: Where :meth:`NuisanceModel.project` cuts an unbounded N(0, I) prior (in standard deviations).
NORMAL_PRIOR_LIMIT = 1e3

# ---------------------------------------------------------------------------- input checks
#: The input-check modes (see :func:`set_input_checks`).
INPUT_CHECK_MODES = ("full", "async", "off")
_input_checks = os.environ.get("NUISANCE_ZOO_INPUT_CHECKS", "full")
if _input_checks not in INPUT_CHECK_MODES:
    raise ValueError(f"NUISANCE_ZOO_INPUT_CHECKS must be one of {INPUT_CHECK_MODES}, got {_input_checks!r}.")
# Tensors whose values passed a check, keyed by id(): (weak reference, version counter). A hit
# needs the same live object at the same version, so an in-place change is re-checked. Bounded
# so that it never holds more than a few small records (the references are weak).
_checked: "OrderedDict[int, tuple]" = OrderedDict()
_CHECKED_MAX = 32
_checked_lock = threading.Lock()  # data-loading threads may check batches concurrently
# Per-thread downgrade of "full" to "async" for accelerator tensors (no_sync_input_checks): the
# training wrappers' steps must not sync, but other threads (data loading) keep the global mode.
_thread_checks = threading.local()


def set_input_checks(mode: str) -> str:
    """Choose how much :func:`check_image` (and the δ check) verifies; return the previous mode.

    The modes differ only in the *value* checks (pixels in [0, 1] and finite, δ finite); the
    type, shape and dtype checks read metadata only and always run.

    * ``"full"`` (default): one fused reduction (``aminmax``) per image batch and one host sync
      to read its result, so that a bad batch raises a ``ValueError`` that names the problem
      (NaN/inf pixels, 0..255 data, normalised data) and the fix. A tensor that passed is
      remembered (by identity and in-place version counter), so applying models k times to the
      same batch, as MRT, MAT and evaluation grids do, checks it once. Every in-place change
      made through PyTorch (on the tensor, a view or its base) bumps the counter and brings a
      re-check; writes that bypass PyTorch (a NumPy array sharing the memory, ``.data``) are
      not seen, and inference-mode tensors (no counter) are checked at every call.
    * ``"async"``: the same conditions, queued with ``torch._assert_async``: no ``.item()`` and
      no host sync. On CPU a failure raises ``RuntimeError`` at once (with a shorter message);
      on CUDA it is a device-side assert reported at the next synchronisation, and it leaves
      the CUDA context unusable (PyTorch's own rule for device asserts). For training steps on
      accelerators, where a host sync per call stalls the device.
    * ``"off"``: no value check (no extra pass over the data). For benchmarked hot loops whose
      data were checked once upstream.

    The mode is process-wide. :func:`input_checks` sets it for a ``with`` block; the environment
    variable ``NUISANCE_ZOO_INPUT_CHECKS`` sets the initial mode.

    Args:
        mode: ``"full"``, ``"async"`` or ``"off"``.

    Returns:
        The mode that was in force before the call.

    Example:
        >>> import nuisance_zoo as nz
        >>> previous = nz.set_input_checks("async")
        >>> nz.set_input_checks(previous)
        'async'
    """
    global _input_checks
    if mode not in INPUT_CHECK_MODES:
        raise ValueError(f"input checks mode must be one of {INPUT_CHECK_MODES}, got {mode!r}.")
    previous, _input_checks = _input_checks, mode
    return previous


def get_input_checks() -> str:
    """The input-check mode in force (see :func:`set_input_checks`)."""
    return _input_checks


@contextmanager
def input_checks(mode: str) -> Iterator[None]:
    """Run a block under another input-check mode (see :func:`set_input_checks`).

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("brightness")
        >>> with nz.input_checks("async"):           # no host sync per call
        ...     y = G(torch.rand(8, 3, 32, 32))
    """
    previous = set_input_checks(mode)
    try:
        yield
    finally:
        set_input_checks(previous)


@contextmanager
def no_sync_input_checks() -> Iterator[None]:
    """In this thread, run ``"full"`` value checks of accelerator tensors as ``"async"`` ones.

    The training wrappers run their steps inside it, so that a step never stalls an
    accelerator waiting for a check's result (a device-side assert instead, see
    :func:`set_input_checks`). CPU tensors keep the ``"full"`` check and its ``ValueError``
    that names the problem: reading a CPU value waits for nothing. ``"async"`` and ``"off"``
    are unchanged, and other threads (e.g. data loading) keep the process-wide mode.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> from nuisance_zoo.base import no_sync_input_checks
        >>> with no_sync_input_checks():
        ...     y = nz.load("brightness")(torch.rand(8, 3, 32, 32))
    """
    previous = getattr(_thread_checks, "no_sync", False)
    _thread_checks.no_sync = True
    try:
        yield
    finally:
        _thread_checks.no_sync = previous


def _check_mode(t: Tensor) -> str:
    mode = _input_checks
    if mode == "full" and t.device.type != "cpu" and getattr(_thread_checks, "no_sync", False):
        return "async"
    return mode


def _already_checked(x: Tensor) -> bool:
    # Inference tensors keep no version counter, so an in-place change could not be seen.
    if x.is_inference():
        return False
    hit = _checked.get(id(x))
    return hit is not None and hit[0]() is x and hit[1] == x._version


def _remember_checked(x: Tensor) -> None:
    if x.is_inference():
        return
    with _checked_lock:
        _checked[id(x)] = (weakref.ref(x), x._version)
        _checked.move_to_end(id(x))
        while len(_checked) > _CHECKED_MAX:
            _checked.popitem(last=False)


def _range_error(x: Tensor, lo: float, hi: float, name: str) -> ValueError:
    """The helpful message for a float batch that failed the value check."""
    bad = x.detach()
    if math.isnan(lo) or math.isnan(hi) or math.isinf(lo) or math.isinf(hi):
        n_nan = int(torch.isnan(bad).sum())
        n_inf = int(torch.isinf(bad).sum())
        return ValueError(
            f"{name} holds {n_nan} NaN and {n_inf} infinite pixel values out of {bad.numel()}; images "
            f"must be finite, in [0, 1]. Find where they come from (a division by zero in "
            f"preprocessing, a diverged model upstream), or replace them with "
            f"torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0)."
        )
    hint = " It looks like 0..255 data: divide by 255." if hi > 2 else ""
    return ValueError(
        f"{name} must hold values in [0, 1], got min {lo:.4g} and max {hi:.4g}.{hint} Normalise "
        f"(mean/std) after the nuisance model, not before."
    )


def check_image(x: Tensor, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is an image batch the contract accepts.

    Accepted: a tensor of shape ``(C, H, W)`` or ``(B, C, H, W)``, dtype uint8 (0..255) or a
    float type with finite values in [0, 1] (up to a 1e-3 overshoot from resampling).

    How the float values are checked follows :func:`set_input_checks`: ``"full"`` (default)
    costs one reduction and one host sync per new tensor and names the problem; ``"async"``
    queues the same test without a host sync; ``"off"`` skips it. Type, shape and dtype are
    always checked (metadata only, no pass over the data).

    Args:
        x: the images.
        name: how the error messages call ``x``.

    Raises:
        TypeError: not a tensor, or an unsupported dtype.
        ValueError: a wrong number of dimensions, or (``"full"``) NaN, infinite or
            out-of-range values.
        RuntimeError: (``"async"`` on CPU) NaN, infinite or out-of-range values.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{name} must have shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)} "
            f"({x.ndim} dims). For channels-last arrays of shape (H, W, C) use "
            f"x.permute(2, 0, 1)."
        )
    if x.dtype != torch.uint8 and x.dtype not in FLOAT_TYPES:
        raise TypeError(
            f"{name} must be uint8 (0..255) or float32/float64/float16/bfloat16 in [0, 1], "
            f"got {x.dtype}. Convert with x.float() / 255."
        )
    if 0 in x.shape[-3:]:
        # An empty batch (B = 0) is fine; an image without channels or pixels is not an image.
        raise ValueError(f"{name} must have C, H and W >= 1, got shape {tuple(x.shape)}.")
    mode = _check_mode(x)
    if mode == "off" or x.dtype == torch.uint8 or x.numel() == 0 or _already_checked(x):
        return
    # aminmax propagates NaN into both results, and every comparison with NaN is False: so the
    # test is written as "not inside", which NaN and inf fail (the old "outside" test let NaN by).
    lo, hi = torch.aminmax(x.detach())
    if mode == "full":
        lo_v, hi_v = torch.stack((lo, hi)).tolist()  # one host sync for both numbers
        if not (lo_v >= -_RANGE_TOLERANCE and hi_v <= 1 + _RANGE_TOLERANCE):
            raise _range_error(x, lo_v, hi_v, name)
    else:
        inside = (lo >= -_RANGE_TOLERANCE) & (hi <= 1 + _RANGE_TOLERANCE)
        torch._assert_async(inside, f"{name} holds NaN, infinite or out-of-[0, 1] pixel values (found by the "
                                    f"asynchronous input check; nz.set_input_checks('full') names them).")
    _remember_checked(x)


def check_delta(delta: Tensor, batch: int, delta_dim: int, name: str = "delta") -> Tensor:
    """Return ``delta`` as a ``(batch, delta_dim)`` tensor or raise a clear error.

    A single row ``(delta_dim,)`` is accepted only when ``batch == 1``.
    """
    if not isinstance(delta, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, q), got {type(delta).__name__}.")
    if delta.ndim == 1 and batch == 1:
        delta = delta.unsqueeze(0)
    if delta.ndim != 2 or delta.shape[0] != batch or delta.shape[1] != delta_dim:
        raise ValueError(
            f"{name} must have shape (B, q) = ({batch}, {delta_dim}): one row per image and "
            f"q = G.delta_dim = {delta_dim}; got {tuple(delta.shape)}. Draw one with "
            f"G.sample_delta({batch})."
        )
    if not delta.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {delta.dtype}.")
    # The value test follows set_input_checks, like the image's: "full" syncs to name the problem.
    mode = _check_mode(delta)
    if mode == "full":
        if not bool(torch.isfinite(delta.detach()).all()):
            raise ValueError(f"{name} holds NaN or infinite values; draw δ with G.sample_delta or clean it with "
                             f"G.project(torch.nan_to_num(delta)).")
    elif mode == "async":
        torch._assert_async(torch.isfinite(delta.detach()).all(),
                            f"{name} holds NaN or infinite values (asynchronous input check).")
    return delta


def check_delta_shape(delta: Tensor, delta_dim: int, name: str = "delta") -> None:
    """Raise a clear error unless ``delta`` is a float tensor ``(..., delta_dim)`` (metadata only)."""
    if not isinstance(delta, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (..., q), got {type(delta).__name__}.")
    if delta.ndim == 0 or delta.shape[-1] != delta_dim:
        raise ValueError(f"{name} must have q = G.delta_dim = {delta_dim} values in its last dimension, "
                         f"got shape {tuple(delta.shape)}.")
    if not delta.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {delta.dtype}; use delta.float().")


# ---------------------------------------------------------------------------- numeric arguments
# One validator for every numeric argument of the package (model constructors, wrappers, train,
# evaluate, grids), so every bad value gets the same message: who checks, the argument, the
# valid range (and why), and the value given. It lives here, in the lowest layer, so that every
# part can import it.
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

    Example:
        >>> check_range("batch_size", 0, 1, integer=True)
        Traceback (most recent call last):
        ...
        ValueError: batch_size must be an int >= 1, got 0.
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

