"""Smoke test of the benchmark scripts: each ``main`` runs with its smallest settings and
writes its own marked section of a temporary results page (so the scripts keep working)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))  # the scripts import benchmarks/_common.py
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


@pytest.fixture
def out(tmp_path):
    return tmp_path / "benchmarks.md"


def _section(text: str, name: str) -> str:
    assert text.count(f"<!-- {name} -->") == 1 and text.count(f"<!-- /{name} -->") == 1, text
    return text.split(f"<!-- {name} -->")[1].split(f"<!-- /{name} -->")[0]


def test_known_models_smoke(out):
    rows = _load("known_models").main(["--quick", "--reps", "1", "--min-time", "0", "--threads", "1",
                                       "--models", "brightness", "additive-linf", "--out", str(out)])
    assert [r["model"] for r in rows] == ["brightness", "additive-linf"]
    assert all(r["ours"] > 0 and r["tv"] > 0 and r["kornia"] > 0 for r in rows)
    body = _section(out.read_text(), "known_models")
    assert "| brightness |" in body and "ColorJitter(brightness=0.5)" in body and "RandomBrightness" in body


def test_training_step_smoke(out):
    rows = _load("training_step").main(["--classifiers", "paper-cnn", "--gs", "brightness", "--methods",
                                        "ERM", "MDA-5", "--reps", "1", "--threads", "1", "--out", str(out)])
    assert [r["method"] for r in rows] == ["ERM", "MDA-5"]
    mda = rows[1]
    assert mda["step"] > 0 and mda["ideal"] > 0 and mda["ref"] > 0
    assert "| paper-cnn | brightness | MDA-5 |" in _section(out.read_text(), "training_step")


def test_generator_parts_smoke_and_sections_coexist(out):
    _load("generator_parts").main(["--configs", "small", "--batch", "4", "--reps", "1", "--threads", "1",
                                   "--out", str(out)])
    first = out.read_text()
    assert "| small |" in _section(first, "generator_parts")
    # Rerunning rewrites only its own section; another script's section is kept.
    _load("known_models").main(["--quick", "--reps", "1", "--min-time", "0", "--threads", "1",
                                "--models", "hue", "--out", str(out)])
    _load("generator_parts").main(["--configs", "gtsrb-contrast", "--batch", "4", "--reps", "1",
                                   "--threads", "1", "--out", str(out)])
    text = out.read_text()
    assert "| gtsrb-contrast |" in _section(text, "generator_parts")
    assert "| small |" not in _section(text, "generator_parts")
    assert "| hue |" in _section(text, "known_models")


def test_accelerator_flags_run_on_cpu(out):
    # The flags the GPU script passes (benchmarks/gpu_training_step.py), minus --compile (minutes of
    # inductor warm-up on CPU): bf16 autocast, channels_last, another batch size, own section.
    rows = _load("training_step").main(["--classifiers", "paper-cnn", "--gs", "brightness", "--methods", "ERM",
                                        "MRT-10", "--reps", "1", "--threads", "1", "--clock", "cpu", "--batch", "4",
                                        "--amp", "bf16", "--channels-last", "--section", "gpu_training_step",
                                        "--out", str(out)])
    assert [r["method"] for r in rows] == ["ERM", "MRT-10"] and rows[1]["ref"] > 0
    body = _section(out.read_text(), "gpu_training_step")
    assert "bf16 autocast, channels_last" in body and "--amp bf16 --channels-last" in body
    rows = _load("known_models").main(["--quick", "--reps", "1", "--min-time", "0", "--threads", "1", "--models",
                                       "brightness", "--amp", "bf16", "--channels-last", "--section",
                                       "gpu_known_models", "--out", str(out)])
    assert rows[0]["ours"] > 0
    assert "| brightness |" in _section(out.read_text(), "gpu_known_models")


def test_kornia_functional_smoke(out):
    rows = _load("kornia_functional").main(["--quick", "--reps", "1", "--min-time", "0", "--threads", "1",
                                            "--models", "brightness", "affine", "--out", str(out)])
    assert [r["model"] for r in rows] == ["brightness", "affine"]
    assert all(r["ours"] > 0 and r["kornia"] > 0 and r["diff"] <= 1e-5 and r["grad"] == "yes" for r in rows)
    body = _section(out.read_text(), "kornia_functional")
    assert "| brightness |" in body and "adjust_contrast" in body and "rejected" in body
