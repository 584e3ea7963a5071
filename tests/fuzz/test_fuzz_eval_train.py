"""Fuzz ``evaluate``, ``delta_grid``, ``load_image`` and ``train`` over every model kind.

Numeric arguments out of range, NaN/inf pixels, labels of the wrong dtype or value, empty data,
δ far outside Δ in grids, classifiers that return something other than logits, and a 16-bit
PNG. See ``_oracle.py`` for what passing means.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.eval import delta_grid
from nuisance_zoo.eval.grid import load_image

from ._cases import C, CLASSES, CLASSIFIERS, FAR, NAMES, S, classifier, images, labelled, model
from ._oracle import EITHER, ERROR, OK, check_images, run_case


def check_report(report):
    assert report["n"] > 0
    for key in ("clean", "random", "worst_of_k", "worst"):
        v = report.get(key)
        if v is not None:
            assert isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0, (key, v)
    g = report.get("gradient")
    assert g is None or 0.0 <= g <= 1.0


# ---------------------------------------------------------------------------- evaluate
def _eval_case(case: str):
    """(kwargs overrides, data, names, expectation)."""
    x, y = labelled(6, CLASSES)
    nan_x = x.clone()
    nan_x[2, 1, 3, 3] = float("nan")
    cases = {
        "ok": ({}, (x, y), ("",), OK), "batch_size=1": (dict(batch_size=1), (x, y), ("",), OK),
        "uint8-data": ({}, ((x * 255).round().to(torch.uint8), y), ("",), OK),
        "int32-labels": ({}, (x, y.int()), ("",), OK), "steps=0": (dict(steps=0), (x, y), ("",), OK),
        "k=0": (dict(k=0), (x, y), ("k",), ERROR), "k=-3": (dict(k=-3), (x, y), ("k",), ERROR),
        "k=2.5": (dict(k=2.5), (x, y), ("k",), ERROR), "steps=-1": (dict(steps=-1), (x, y), ("steps",), ERROR),
        "step_size=-1": (dict(step_size=-1.0), (x, y), ("step_size",), ERROR),
        "step_size=0": (dict(step_size=0.0), (x, y), ("step_size",), ERROR),
        "step_size=nan": (dict(step_size=float("nan")), (x, y), ("step_size",), ERROR),
        "batch_size=0": (dict(batch_size=0), (x, y), ("batch_size",), ERROR),
        "seed=-1": (dict(seed=-1), (x, y), ("seed",), ERROR),
        "nan-pixels": ({}, (nan_x, y), ("images", "NaN"), ERROR), "255-floats": ({}, (x * 255, y), ("images",), ERROR),
        "labels=-1": ({}, (x, y.clone().index_fill_(0, torch.tensor([0]), -1)), ("labels",), ERROR),
        "labels=-100": ({}, (x, y.clone().index_fill_(0, torch.tensor([0]), -100)), ("labels",), ERROR),
        "labels>=classes": ({}, (x, y.clone().index_fill_(0, torch.tensor([0]), CLASSES)), ("labels",), ERROR),
        "float-labels": ({}, (x, y.float()), ("labels",), ERROR), "bool-labels": ({}, (x, y > 0), ("labels",), ERROR),
        "empty-data": ({}, (x[:0], y[:0]), ("data",), ERROR), "label-count": ({}, (x, y[:4]), ("labels",), ERROR),
    }
    return cases[case]


EVAL_CASES = ["ok", "batch_size=1", "uint8-data", "int32-labels", "steps=0", "k=0", "k=-3", "k=2.5", "steps=-1",
              "step_size=-1", "step_size=0", "step_size=nan", "batch_size=0", "seed=-1", "nan-pixels", "255-floats",
              "labels=-1", "labels=-100", "labels>=classes", "float-labels", "bool-labels", "empty-data",
              "label-count"]


@pytest.mark.parametrize("case", EVAL_CASES)
@pytest.mark.parametrize("kind", NAMES)
def test_evaluate(kind, case):
    kwargs, data, names, expect = _eval_case(case)
    args = {"nuisance": model(kind), "k": 2, "steps": 2, **kwargs}
    run_case(lambda: nz.evaluate(classifier(CLASSES), data, **args), names, expect, check_report)


@pytest.mark.parametrize("output", list(CLASSIFIERS))
def test_evaluate_classifier_outputs(output):
    names = {"tuple": ("tuple",), "dict": ("dict",), "wrong-batch": ("batch",), "one-dim": ("shape",)}[output]
    run_case(lambda: nz.evaluate(CLASSIFIERS[output](), labelled(6, CLASSES), nuisance=model("known"), k=2, steps=1),
             names, ERROR)


@pytest.mark.parametrize("case", ["model=str-list", "nuisance=int"])
def test_evaluate_argument_types(case):
    if case == "model=str-list":
        call = lambda: nz.evaluate([1, 2], labelled(6, CLASSES))  # noqa: E731
        names = ("model",)
    else:
        call = lambda: nz.evaluate(classifier(CLASSES), labelled(6, CLASSES), nuisance=3)  # noqa: E731
        names = ("nuisance",)
    run_case(call, names, ERROR)


# ---------------------------------------------------------------------------- delta_grid
def _grid_case(G, case: str):
    img = images(1)[0]
    q = G.delta_dim
    two = [0, 1] if q > 1 else [0]
    far = torch.full((q,), FAR)
    cases = {
        "ok": (dict(dims=two), OK), "one-dim": (dict(dims=[0]), OK), "steps=1": (dict(dims=[0], steps=1), OK),
        "uint8": (dict(dims=[0], image=(img * 255).round().to(torch.uint8)), OK),
        "range-far": (dict(dims=[0], value_range=(-FAR, FAR), steps=3), OK),
        "base-far": (dict(dims=[0], base_delta=far), OK), "int-dims": (dict(dims=0), OK),
        "steps=0": (dict(steps=0), ERROR), "steps=-2": (dict(steps=-2), ERROR), "steps=2.5": (dict(steps=2.5), ERROR),
        "dims-out": (dict(dims=[q]), ERROR), "dims-negative": (dict(dims=[-1]), ERROR),
        "dims-dup": (dict(dims=[0, 0]), ERROR), "dims-three": (dict(dims=[0, 0, 0]), ERROR), "dims-empty": (dict(dims=[]), ERROR),
        "dims-float": (dict(dims=[0.5]), ERROR),
        "range-nan": (dict(dims=[0], value_range=(float("nan"), 1.0)), ERROR),
        "range-reversed": (dict(dims=[0], value_range=(1.0, -1.0)), ERROR),
        "range-inf": (dict(dims=[0], value_range=(0.0, float("inf"))), ERROR),
        "range-one": (dict(dims=[0], value_range=(1.0,)), ERROR),
        "base-nan": (dict(dims=[0], base_delta=torch.full((q,), float("nan"))), ERROR),
        "base-short": (dict(dims=[0], base_delta=torch.zeros(q + 1)), ERROR),
        "image-nan": (dict(dims=[0], image=img.clone().fill_(float("nan"))), ERROR),
        "image-batch": (dict(dims=[0], image=img[None]), ERROR), "image-255": (dict(dims=[0], image=img * 255), ERROR),
        "image-list": (dict(dims=[0], image=img.tolist()), ERROR),
    }
    kwargs, expect = cases[case]
    kwargs.setdefault("image", img)
    kwargs.setdefault("steps", 3)
    return kwargs, expect


GRID_CASES = ["ok", "one-dim", "steps=1", "uint8", "range-far", "base-far", "int-dims", "steps=0", "steps=-2", "steps=2.5",
              "dims-out", "dims-negative", "dims-dup", "dims-three", "dims-empty", "dims-float", "range-nan",
              "range-reversed", "range-inf", "range-one", "base-nan", "base-short", "image-nan", "image-batch",
              "image-255", "image-list"]


@pytest.mark.parametrize("case", GRID_CASES)
@pytest.mark.parametrize("kind", NAMES)
def test_delta_grid(kind, case):
    G = model(kind)
    kwargs, expect = _grid_case(G, case)
    image = kwargs.pop("image")
    dims = kwargs.get("dims", [0, 1])
    ndims = 1 if isinstance(dims, int) else len(dims)
    steps = kwargs["steps"]

    def check(tiles):
        rows = steps if ndims == 2 else 1
        check_images((rows, steps, C, S, S), torch.float32)(tiles)

    run_case(lambda: delta_grid(G, image, **kwargs),
             ("steps", "dims", "value_range", "base_delta", "image", "coordinates"), expect, check)


# ---------------------------------------------------------------------------- load_image: 16-bit
@pytest.mark.parametrize("size", [None, 6])
def test_load_image_reads_16_bit_png(tmp_path, size):
    from PIL import Image

    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16).reshape(8, 8)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")  # really a 16-bit file
    img = load_image(path, size=size)
    check_images((1, size or 8, size or 8), torch.float32)(img)
    if size is None:
        torch.testing.assert_close(img[0], torch.from_numpy(ramp / 65535.0).float())
    # Not clipped to white: a ramp keeps its spread (the old reading gave 1.0 above 255/65535).
    assert float(img.min()) < 0.1 and float(img.max()) > 0.9 and float((img >= 0.999).float().mean()) < 0.2


def test_load_image_8_bit_png_unchanged(tmp_path):
    from PIL import Image

    arr = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(arr).save(tmp_path / "g8.png")
    torch.testing.assert_close(load_image(tmp_path / "g8.png")[0], torch.from_numpy(arr / 255.0).float())


# ---------------------------------------------------------------------------- train
def _train_data(n=8):
    x, y = labelled(n, CLASSES)
    return x, y


TRAIN_CASES = {
    "epochs=-1": (dict(epochs=-1), "epochs"), "epochs=1.5": (dict(epochs=1.5), "epochs"),
    "batch_size=0": (dict(batch_size=0), "batch_size"), "batch_size=-4": (dict(batch_size=-4), "batch_size"),
    "lr=0": (dict(lr=0.0), "lr"), "lr=-1": (dict(lr=-1.0), "lr"), "lr=nan": (dict(lr=float("nan")), "lr"),
    "n_train=-3": (dict(n_train=-3), "n_train"), "n_train=0": (dict(n_train=0), "n_train"),
    "checkpoint_every=-1": (dict(checkpoint_every=-1), "checkpoint_every"),
    "checkpoint_every=0": (dict(checkpoint_every=0), "checkpoint_every"),
    "max_steps=-1": (dict(max_steps=-1), "max_steps"), "k=-1": (dict(k=-1), "k"), "lam=-1": (dict(lam=-1.0), "lam"),
    "eval_batch_size=0": (dict(eval_batch_size=0), "eval_batch_size"), "seed=-1": (dict(seed=-1), "seed"),
    "weight_decay=-1": (dict(weight_decay=-1.0), "weight_decay"), "num_classes=0": (dict(num_classes=0), "num_classes"),
    "labels=-100": ("labels-100", "labels"), "labels>=classes": ("labels-big", "labels"),
    "float-labels": ("labels-float", "labels"), "nan-pixels": ("nan", "training images"),
    "empty-data": ("empty", "empty"),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_refuses(case):
    spec, name = TRAIN_CASES[case]
    x, y = _train_data()
    kwargs = {}
    if isinstance(spec, dict):
        kwargs = spec
    elif spec == "labels-100":
        y = y.clone()
        y[0] = -100
    elif spec == "labels-big":
        kwargs = dict(num_classes=CLASSES)
        y = y.clone()
        y[0] = CLASSES
    elif spec == "labels-float":
        y = y.float()
    elif spec == "nan":
        x = x.clone()
        x[1, 0, 2, 2] = float("nan")
    elif spec == "empty":
        x, y = x[:0], y[:0]
    args = dict(model=classifier(CLASSES), nuisance=model("known"), algorithm="mda", k=1, data=(x, y), epochs=1,
                batch_size=4, progress=False, num_classes=CLASSES)
    args.update(kwargs)
    run_case(lambda: nz.train(**args), (name,), ERROR)


@pytest.mark.parametrize("algorithm", ["mda", "mrt", "mat"])
@pytest.mark.parametrize("kind", NAMES)
def test_train_every_kind(kind, algorithm):
    """A tiny run ends with a classifier whose logits are finite; uint8 data and int32 labels are accepted."""
    x, y = _train_data(6)

    def check(result):
        assert result.completed and result.global_step == 2
        with torch.no_grad():
            out = result.model(x)
        assert out.shape == (6, CLASSES) and bool(torch.isfinite(out).all())

    data = ((x * 255).round().to(torch.uint8), y.int())
    run_case(lambda: nz.train(model=classifier(CLASSES), nuisance=model(kind), algorithm=algorithm, k=1, data=data,
                              epochs=1, batch_size=4, progress=False, num_classes=CLASSES, lr=0.1, optimizer="sgd"),
             ("",), OK, check)
