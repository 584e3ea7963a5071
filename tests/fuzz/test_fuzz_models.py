"""Fuzz G's public methods (forward, forward_multi, sample_delta, project) over every model kind.

Fixed cases name each kind of bad input (NaN/inf pixels and δ, wrong shapes and dtypes, empty
batches, δ far outside Δ); seeded random cases combine batch sizes, dtypes, δ magnitudes and
corruptions. See ``_oracle.py`` for what passing means.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ._cases import C, FAR, NAMES, S, has_box, images, model
from ._oracle import EITHER, ERROR, OK, check_images, run_case

X_NAMES = ("x", "image")
D_NAMES = ("delta",)


# ---------------------------------------------------------------------------- forward: x
def _x_case(name: str):
    """(x, expectation) for a named image case."""
    x = images(4)
    cases = {
        "float32": (x, OK), "float64": (x.double(), OK), "float16": (x.half(), OK),
        "bfloat16": (x.bfloat16(), OK), "uint8": ((x * 255).round().to(torch.uint8), OK),
        "single-image": (x[0], OK), "batch-1": (x[:1], OK), "empty-batch": (x[:0], OK),
        "empty-batch-uint8": (torch.zeros(0, C, S, S, dtype=torch.uint8), OK),
        "channels-last": (x.contiguous(memory_format=torch.channels_last), OK),
        "zeros": (torch.zeros_like(x), OK), "ones": (torch.ones_like(x), OK),
        "nan-pixel": (x.clone().index_put_((torch.tensor([1]),), torch.tensor(float("nan"))), ERROR),
        "inf-pixel": (x.clone().index_put_((torch.tensor([0]),), torch.tensor(float("inf"))), ERROR),
        "neg-inf-pixel": (x.clone().index_put_((torch.tensor([3]),), torch.tensor(float("-inf"))), ERROR),
        "0..255 floats": (x * 255, ERROR), "negative": (x - 0.5, ERROR),
        "int32": ((x * 255).int(), ERROR), "int64": ((x * 255).long(), ERROR), "bool": (x > 0.5, ERROR),
        "complex": (x.to(torch.complex64), ERROR),
        "2-d": (x[0, 0], ERROR), "5-d": (x[None], ERROR), "1-d": (x.flatten(), ERROR),
        "zero-channels": (x[:, :0], ERROR), "zero-height": (x[:, :, :0], ERROR),
        "zero-width": (x[..., :0], ERROR),
        "numpy": (x.numpy(), ERROR), "list": (x.tolist(), ERROR), "none": (None, ERROR),
    }
    return cases[name]


X_CASES = ["float32", "float64", "float16", "bfloat16", "uint8", "single-image", "batch-1", "empty-batch",
           "empty-batch-uint8", "channels-last", "zeros", "ones", "nan-pixel", "inf-pixel", "neg-inf-pixel",
           "0..255 floats", "negative", "int32", "int64", "bool", "complex", "2-d", "5-d", "1-d",
           "zero-channels", "zero-height", "zero-width", "numpy", "list", "none"]


@pytest.mark.parametrize("case", X_CASES)
@pytest.mark.parametrize("kind", NAMES)
def test_forward_images(kind, case):
    G = model(kind)
    x, expect = _x_case(case)
    gen = torch.Generator().manual_seed(0)
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
    dtype = x.dtype if isinstance(x, torch.Tensor) else None
    run_case(lambda: G(x, generator=gen), X_NAMES, expect, check_images(shape, dtype))


# ---------------------------------------------------------------------------- forward: δ
def _delta_case(G, name: str, b: int = 4):
    q = G.delta_dim
    d = G.sample_delta(b, generator=torch.Generator().manual_seed(1))
    cases = {
        "prior": (d, OK), "float64": (d.double(), OK), "float16": (d.half(), OK),
        "far+": (torch.full((b, q), FAR), OK), "far-": (torch.full((b, q), -FAR), OK),
        "far-mixed": (torch.where(torch.rand(b, q, generator=torch.Generator().manual_seed(2)) < 0.5, FAR, -FAR), OK),
        "huge": (torch.full((b, q), 3e38), OK),
        "nan": (d.clone().fill_(float("nan")), ERROR), "one-nan": (d.clone().index_put_((torch.tensor([2]),), torch.tensor(float("nan"))), ERROR),
        "inf": (torch.full((b, q), float("inf")), ERROR), "-inf": (torch.full((b, q), float("-inf")), ERROR),
        "too-many-rows": (torch.zeros(b + 1, q), ERROR), "too-few-cols": (torch.zeros(b, q + 1), ERROR),
        "one-row-for-a-batch": (d[0], ERROR), "3-d": (d[None], ERROR), "0-d": (torch.tensor(0.5), ERROR),
        "int": (torch.zeros(b, q, dtype=torch.long), ERROR), "bool": (torch.zeros(b, q, dtype=torch.bool), ERROR),
        "list": (d.tolist(), ERROR), "numpy": (d.numpy(), ERROR),
    }
    return cases[name]


D_CASES = ["prior", "float64", "float16", "far+", "far-", "far-mixed", "huge", "nan", "one-nan", "inf", "-inf",
           "too-many-rows", "too-few-cols", "one-row-for-a-batch", "3-d", "0-d", "int", "bool", "list", "numpy"]


@pytest.mark.parametrize("case", D_CASES)
@pytest.mark.parametrize("kind", NAMES)
def test_forward_delta(kind, case):
    G = model(kind)
    x = images(4)
    delta, expect = _delta_case(G, case)
    result = run_case(lambda: G(x, delta), D_NAMES, expect, check_images(x.shape, x.dtype))
    if result == OK and case.startswith(("far", "huge")):
        # δ outside Δ is used at its projection onto Δ (boxed coordinates land on the box).
        d = delta.float()
        projected = G.project(d)
        low, high = G.delta_range()
        box = has_box(G)
        assert bool(((projected >= low - 1e-6) & (projected <= high + 1e-6) | ~box).all())
        torch.testing.assert_close(G(x, d), G(x, projected), atol=1e-5, rtol=1e-4)


def test_single_row_for_a_single_image_is_accepted():
    G = model("known")
    out = G(images(1), torch.tensor([0.1]))
    check_images((1, C, S, S), torch.float32)(out)


# ---------------------------------------------------------------------------- forward: random mixes
CORRUPTIONS = ("none", "none", "none", "nan", "inf", "scale255", "delta-nan", "delta-far")
DTYPES = (torch.float32, torch.float64, torch.float16, torch.uint8)


def _random_case(seed: int):
    """A seeded random mix: batch size, dtype, δ magnitude (10^-3..10^7, either sign), corruption."""
    rng = np.random.default_rng(seed)
    b = int(rng.choice([0, 1, 2, 3, 7]))
    dtype = DTYPES[int(rng.integers(len(DTYPES)))]
    corruption = CORRUPTIONS[int(rng.integers(len(CORRUPTIONS)))]
    magnitude = float(10 ** rng.uniform(-3, 7)) * float(rng.choice([-1, 1]))
    return b, dtype, corruption, magnitude


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", NAMES)
def test_forward_random_mix(kind, seed):
    G = model(kind)
    b, dtype, corruption, magnitude = _random_case(seed * 100 + NAMES.index(kind))
    x = images(max(b, 1), seed)[:b]
    if corruption == "nan" and b:
        x[0, 0, 0, 0] = float("nan")
    elif corruption == "inf" and b:
        x[-1, -1, -1, -1] = float("inf")
    elif corruption == "scale255" and b:
        x = x * 255
    x = (x * 255).round().clamp(0, 255).to(torch.uint8) if dtype == torch.uint8 and corruption == "none" else x.to(dtype)
    delta = G.sample_delta(b, generator=torch.Generator().manual_seed(seed))
    if corruption == "delta-nan" and b:
        delta[0, 0] = float("nan")
    elif corruption == "delta-far":
        delta = delta + magnitude
    # A uint8 cast cannot hold NaN, inf or 255-scale floats: those cases turn into valid images.
    bad_x = b > 0 and dtype != torch.uint8 and corruption in ("nan", "inf", "scale255")
    bad = bad_x or (b > 0 and corruption == "delta-nan")
    run_case(lambda: G(x, delta), X_NAMES + D_NAMES, ERROR if bad else OK, check_images(x.shape, x.dtype))


# ---------------------------------------------------------------------------- forward_multi
MULTI_CASES = {
    "k=1": (dict(k=1), OK), "k=3": (dict(k=3), OK), "k=0": (dict(k=0), ERROR), "k=-1": (dict(k=-1), ERROR),
    "k=2.5": (dict(k=2.5), ERROR), "k=True": (dict(k=True), ERROR), "k='2'": (dict(k="2"), EITHER),
    "k=None": (dict(), ERROR), "k=inf": (dict(k=float("inf")), ERROR),
    "delta-far": ("far", OK), "delta-nan": ("nan", ERROR), "delta-2d": ("2d", ERROR), "delta-k-mismatch": ("kmis", ERROR),
    "delta-list": ("list", ERROR), "delta-int": ("int", ERROR), "delta-empty-k": ("k0", OK),
}


@pytest.mark.parametrize("b", [0, 3])
@pytest.mark.parametrize("case", list(MULTI_CASES))
@pytest.mark.parametrize("kind", NAMES)
def test_forward_multi(kind, case, b):
    G = model(kind)
    x = images(3)[:b]
    q = G.delta_dim
    spec, expect = MULTI_CASES[case]
    if isinstance(spec, dict):
        kwargs, k = dict(spec, generator=torch.Generator().manual_seed(0)), spec.get("k")
    else:
        k = 2
        delta = {"far": torch.full((2, b, q), -FAR), "nan": torch.full((2, b, q), float("nan")),
                 "2d": torch.zeros(b, q), "kmis": torch.zeros(2, b, q), "list": [[[0.0] * q] * b] * 2,
                 "int": torch.zeros(2, b, q, dtype=torch.long), "k0": torch.zeros(0, b, q)}[spec]
        if spec == "nan" and b == 0:
            expect = OK  # no values to be NaN
        if spec == "k0":
            k = 0
        kwargs = dict(delta=delta, k=3 if spec == "kmis" else None)

    def check(out):
        imgs, deltas = out
        kk = int(k) if k is not None and not isinstance(k, str) else int(kwargs.get("k") or 2)
        check_images((kk, b, C, S, S), torch.float32)(imgs)
        assert deltas.shape == (kk, b, q) and bool(torch.isfinite(deltas).all())

    run_case(lambda: G.forward_multi(x, **kwargs), ("k", "delta"), expect, check)


# ---------------------------------------------------------------------------- sample_delta and project
SAMPLE_CASES = {"n=0": (0, OK), "n=1": (1, OK), "n=5": (5, OK), "n=-1": (-1, ERROR), "n=2.5": (2.5, ERROR),
                "n=True": (True, ERROR), "n=None": (None, ERROR), "n='3'": ("3", ERROR)}


@pytest.mark.parametrize("dtype", [None, torch.float64])
@pytest.mark.parametrize("case", list(SAMPLE_CASES))
@pytest.mark.parametrize("kind", NAMES)
def test_sample_delta(kind, case, dtype):
    G = model(kind)
    n, expect = SAMPLE_CASES[case]

    def check(d):
        assert d.shape == (n, G.delta_dim) and d.dtype == (dtype or torch.float32)
        assert bool(torch.isfinite(d).all())
        low, high = G.delta_range(dtype=d.dtype)
        assert bool(((d >= low - 1e-6) & (d <= high + 1e-6) | ~has_box(G)).all())

    run_case(lambda: G.sample_delta(n, generator=torch.Generator().manual_seed(0), dtype=dtype), ("n",), expect, check)


PROJECT_CASES = ["far+", "far-", "far-mixed", "prior", "empty", "3-d", "wrong-q", "int", "list", "0-d"]


@pytest.mark.parametrize("case", PROJECT_CASES)
@pytest.mark.parametrize("kind", NAMES)
def test_project(kind, case):
    G = model(kind)
    q = G.delta_dim
    d = G.sample_delta(4, generator=torch.Generator().manual_seed(3))
    delta, expect = {
        "far+": (d + FAR, OK), "far-": (d - FAR, OK), "prior": (d, OK), "empty": (d[:0], OK),
        "far-mixed": (torch.where(d > d.mean(), FAR, -FAR), OK), "3-d": ((d + FAR)[None].expand(2, -1, -1), OK),
        "wrong-q": (torch.zeros(4, q + 1), ERROR), "int": (torch.zeros(4, q, dtype=torch.long), ERROR),
        "list": (d.tolist(), ERROR), "0-d": (torch.tensor(1.0), ERROR),
    }[case]

    def check(p):
        assert p.shape == delta.shape and p.dtype == delta.dtype and bool(torch.isfinite(p).all())
        low, high = G.delta_range()
        assert bool(((p >= low - 1e-6) & (p <= high + 1e-6) | ~has_box(G)).all())
        torch.testing.assert_close(G.project(p), p)  # idempotent

    run_case(lambda: G.project(delta), D_NAMES, expect, check)
