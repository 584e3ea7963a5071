"""Fuzz the training wrappers (MDA, MRT, MAT, PGD) over every model kind.

Constructor arguments out of range, labels of every wrong dtype/shape/value, images with NaN/inf
or of the wrong shape, empty batches, δ far outside Δ, and classifiers that return something
other than logits. See ``_oracle.py`` for what passing means.
"""
from __future__ import annotations

import pytest
import torch

import nuisance_zoo as nz

from ._cases import C, CLASSES, CLASSIFIERS, FAR, NAMES, S, classifier, labelled, model
from ._oracle import EITHER, ERROR, OK, check_images, check_loss, run_case

WRAPPERS = ["mda", "mrt", "mat", "pgd"]
B = 4


def make(name: str, kind: str, net=None, **kwargs):
    G = model(kind)
    net = net if net is not None else classifier(CLASSES)
    if name == "pgd":
        if "k" in kwargs:
            kwargs["steps"] = kwargs.pop("k")
        return nz.PGDWrapper(net, G=G, **{"steps": 2, "step_size": 1e-3, **kwargs})
    cls = {"mda": nz.MDAWrapper, "mrt": nz.MRTWrapper, "mat": nz.MATWrapper}[name]
    return cls(net, G, **{"k": 2, **kwargs})


# ---------------------------------------------------------------------------- constructor arguments
CTOR_CASES = {
    "k=0": (dict(k=0), "k"), "k=-1": (dict(k=-1), "k"), "k=2.5": (dict(k=2.5), "k"), "k=True": (dict(k=True), "k"),
    "k=None": (dict(k=None), "k"), "k='2'": (dict(k="2"), "k"),
    "lam=-1": (dict(lam=-1), "lam"), "lam=nan": (dict(lam=float("nan")), "lam"), "lam=inf": (dict(lam=float("inf")), "lam"),
    "lam='a'": (dict(lam="a"), "lam"), "lam=None": (dict(lam=None), "lam"),
    "chunk=0": (dict(chunk=0), "chunk"), "chunk=-2": (dict(chunk=-2), "chunk"), "chunk=1.5": (dict(chunk=1.5), "chunk"),
    "step_size=0": (dict(step_size=0), "step_size"), "step_size=-0.1": (dict(step_size=-0.1), "step_size"),
    "step_size=nan": (dict(step_size=float("nan")), "step_size"), "step_size='x'": (dict(step_size="x"), "step_size"),
    "generator=int": (dict(generator=3), "generator"),
}


# MDA and MRT take no step_size: those pairs are not cases.
CTOR_PAIRS = [(w, c) for w in WRAPPERS for c in CTOR_CASES if not (c.startswith("step_size") and w in ("mda", "mrt"))]


@pytest.mark.parametrize("wrapper,case", CTOR_PAIRS)
def test_constructor_arguments(wrapper, case):
    kwargs, arg = CTOR_CASES[case]
    expect = ERROR
    if case == "k=0" and wrapper in ("mat", "pgd"):
        expect = OK  # 0 ascent steps: train at the start
    run_case(lambda: make(wrapper, "known", **kwargs), (arg, "steps"), expect)


# ---------------------------------------------------------------------------- one call, every kind
def _labels(case: str, y):
    return {
        "int64": (y, OK), "int32": (y.int(), OK), "int16": (y.short(), OK), "uint8": (y.byte(), OK),
        "int8": (y.to(torch.int8), OK), "soft": (torch.softmax(torch.randn(B, CLASSES, generator=torch.Generator().manual_seed(0)), 1), OK),
        "float": (y.float(), ERROR), "double": (y.double(), ERROR), "bool": (y > 0, ERROR), "half": (y.half(), ERROR),
        "-100": (y.clone().index_fill_(0, torch.tensor([1]), -100), ERROR),
        "-1": (y.clone().index_fill_(0, torch.tensor([0]), -1), ERROR),
        "=classes": (y.clone().index_fill_(0, torch.tensor([2]), CLASSES), ERROR),
        "huge": (y.clone().index_fill_(0, torch.tensor([3]), 2**40), ERROR),
        "(B,1)": (y[:, None], ERROR), "wrong-batch": (y[:3], ERROR), "0-d": (y[0], ERROR),
        "list": (y.tolist(), ERROR), "none": (None, ERROR), "soft-wrong-classes": (torch.rand(B, CLASSES + 2), ERROR),
    }[case]


LABEL_CASES = ["int64", "int32", "int16", "uint8", "int8", "soft", "float", "double", "bool", "half", "-100", "-1",
               "=classes", "huge", "(B,1)", "wrong-batch", "0-d", "list", "none", "soft-wrong-classes"]


@pytest.mark.parametrize("case", LABEL_CASES)
@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("kind", NAMES)
def test_labels(kind, wrapper, case):
    w = make(wrapper, kind)
    x, y = labelled(B, CLASSES)
    yy, expect = _labels(case, y)
    if case == "soft-wrong-classes":
        # Cross-entropy's own shape check; the message names the sizes, not "y": accept "target".
        run_case(lambda: w(x, yy), ("y", "target", "labels", "class"), EITHER, check_loss)
        return
    run_case(lambda: w(x, yy), ("y", "labels", "target"), expect, check_loss)


def _images(case: str, x):
    return {
        "ok": (x, OK), "empty": (x[:0], OK), "nan": (x.clone().index_put_((torch.tensor([1]),), torch.tensor(float("nan"))), ERROR),
        "inf": (x.clone().index_put_((torch.tensor([2]),), torch.tensor(float("inf"))), ERROR),
        "255": (x * 255, ERROR), "3-d": (x[0], ERROR), "5-d": (x[None], ERROR), "list": (x.tolist(), ERROR),
        "zero-size": (x[:, :, :0], ERROR), "int": ((x * 255).long(), ERROR),
    }[case]


IMAGE_CASES = ["ok", "empty", "nan", "inf", "255", "3-d", "5-d", "list", "zero-size", "int"]


@pytest.mark.parametrize("case", IMAGE_CASES)
@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("kind", NAMES)
def test_images(kind, wrapper, case):
    w = make(wrapper, kind)
    x, y = labelled(B, CLASSES)
    xx, expect = _images(case, x)
    yy = y[:0] if case == "empty" else y

    def check(loss):
        check_loss(loss)
        if case == "empty":
            assert float(loss.detach()) == 0.0
            assert all(p.grad is not None and not p.grad.any() for p in w.model.parameters())

    run_case(lambda: w(xx, yy), ("x", "image"), expect, check)


@pytest.mark.parametrize("case", ["far+", "far-", "nan", "wrong-shape", "list", "empty-batch"])
@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("kind", NAMES)
def test_delta(kind, wrapper, case):
    w = make(wrapper, kind)
    G = w.G
    x, y = labelled(B, CLASSES)
    q = G.delta_dim
    shape = (B, q) if wrapper in ("mat", "pgd") else (2, B, q)
    delta, expect = {
        "far+": (torch.full(shape, FAR), OK), "far-": (torch.full(shape, -FAR), OK),
        "nan": (torch.full(shape, float("nan")), ERROR), "wrong-shape": (torch.zeros(*shape[:-1], q + 1), ERROR),
        "list": ([0.0] * q, ERROR), "empty-batch": (torch.zeros(*shape[:-2], 0, q), OK),
    }[case]
    if case == "empty-batch":
        x, y = x[:0], y[:0]
    # augment: the images the objective uses must be valid images.
    n_gen = 1 if wrapper in ("mrt", "mat", "pgd") else 2

    def check(out):
        images, targets, weights = out
        check_images(((n_gen + 1) * x.shape[0], C, S, S), torch.float32)(images)
        assert targets.shape == (images.shape[0],) and targets.dtype == torch.int64
        assert weights.shape == (images.shape[0],) and bool(torch.isfinite(weights).all())

    run_case(lambda: w.augment(x, y, delta), ("delta",), expect, check)


@pytest.mark.parametrize("output", list(CLASSIFIERS))
@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("kind", ["known", "learned", "composed3"])
def test_classifier_outputs(kind, wrapper, output):
    w = make(wrapper, kind, net=CLASSIFIERS[output]())
    x, y = labelled(B, CLASSES)
    names = {"tuple": ("tuple",), "dict": ("dict",), "wrong-batch": ("batch",), "one-dim": ("shape",)}[output]
    run_case(lambda: w(x, y), names, ERROR)


@pytest.mark.parametrize("wrapper", ["mda", "mrt"])
def test_uint8_images_pass_to_the_classifier_as_documented(wrapper):
    """MDA and MRT accept uint8 batches (the classifier gets them as is, as in eval mode)."""
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(C * S * S, CLASSES))
    w = make(wrapper, "known", net=_Uint8Scaled(net))
    x, y = labelled(B, CLASSES)
    run_case(lambda: w((x * 255).round().to(torch.uint8), y), ("x",), OK, check_loss)


def test_mat_refuses_uint8_images():
    x, y = labelled(B, CLASSES)
    run_case(lambda: make("mat", "known")((x * 255).round().to(torch.uint8), y), ("float images", "x"), ERROR)


class _Uint8Scaled(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x.float() / 255 if x.dtype == torch.uint8 else x)
