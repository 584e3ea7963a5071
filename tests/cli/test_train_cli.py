"""`nuisance-zoo train | evaluate | demo` through a subprocess, on tiny .npz data."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nuisance_zoo.cli.train_cmd import _name_spec


def cli(*args, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "nuisance_zoo", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=180, env=env)


def write_digits(path, n, seed):
    """MNIST-like gray digits: a bright bar on black, vertical for class 0, horizontal for 1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(0, 8, size=(n, 12, 12, 1)).astype(np.uint8)
    for i in range(n):
        if y[i] == 0:
            x[i, 2:10, 5:7] = 230
        else:
            x[i, 5:7, 2:10] = 230
    np.savez(path, x=x, y=y.astype(np.int64))
    return f"npz:{path}"


def test_name_spec_parsing():
    assert _name_spec("rgb=mnist:test?colorize=gray-rgb&seed=0") == ("rgb", "mnist:test?colorize=gray-rgb&seed=0")
    assert _name_spec("mnist:test?colorize=gray") == ("mnist:test?colorize=gray", "mnist:test?colorize=gray")
    with pytest.raises(ValueError, match="NAME=SPEC"):
        _name_spec("=mnist:test")


def test_train_then_evaluate(tmp_path):
    train_spec = write_digits(tmp_path / "train.npz", 32, 0)
    test_spec = write_digits(tmp_path / "test.npz", 16, 1)
    out = tmp_path / "run"
    r = cli("train", "--model", "paper-cnn", "--nuisance", "background-color", "--algorithm", "mda",
            "--k", "2", "--data", train_spec, "--in-chans", "3", "--test", f"clean={test_spec}",
            "--epochs", "2", "--batch-size", "8", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert 0.0 <= float(rows[-1]["acc/clean"]) <= 1.0
    cfg = json.loads((out / "classifier.json").read_text())
    assert cfg["in_chans"] == 3 and cfg["algorithm"] == "mda" and cfg["k"] == 2
    assert cfg["nuisance"] == "background-color"

    report = tmp_path / "report.json"
    r = cli("evaluate", "--classifier", str(out), "--data", test_spec, "--nuisance", "background-color",
            "--k", "3", "--steps", "2", "--json", str(report))
    assert r.returncode == 0, r.stderr
    assert "worst of 3 draws" in r.stdout and "gradient ascent (2 steps)" in r.stdout
    rep = json.loads(report.read_text())
    assert rep["n"] == 16 and rep["k"] == 3
    assert rep["clean"] == pytest.approx(float(rows[-1]["acc/clean"]))
    assert rep["worst"] <= rep["worst_of_k"] <= 1.0 and rep["worst"] <= rep["gradient"]


def test_evaluate_missing_classifier_is_a_clear_error(tmp_path):
    r = cli("evaluate", "--classifier", str(tmp_path / "nope"), "--data", "mnist-sample:test")
    assert r.returncode == 2 and "is not a trained classifier" in r.stderr


def test_demo_help_names_the_paper_experiment():
    r = cli("demo", "--help")
    assert r.returncode == 0 and "RGB backgrounds" in r.stdout and "--data" in r.stdout
