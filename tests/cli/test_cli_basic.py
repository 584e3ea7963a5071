"""`nuisance-zoo list | info | grid` through a subprocess, as users run them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nuisance_zoo", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_list_all_and_pattern():
    r = cli("list")
    assert r.returncode == 0, r.stderr
    assert "brightness" in r.stdout and "haze" in r.stdout
    r = cli("list", "background-*")
    lines = [ln.split()[0] for ln in r.stdout.strip().splitlines()]
    assert lines == ["background-color", "background-texture"]
    r = cli("list", "zzz-*")
    assert r.returncode == 1 and "no models match" in r.stdout
    r = cli("list", "gtsrb-s*")  # only an experimental model matches: say so, and how to list it
    assert r.returncode == 1 and "experimental ones do: experimental/gtsrb-snow; add --experimental" in r.stdout
    r = cli("list", "gtsrb-s*", "--experimental")
    assert r.returncode == 0 and r.stdout.split()[0] == "experimental/gtsrb-snow"
    r = cli("list", "gtsrb-c*", "--experimental")  # the listed default and its experimental variants
    assert r.returncode == 0 and [ln.split()[0] for ln in r.stdout.strip().splitlines()] == [
        "experimental/gtsrb-contrast.munit", "experimental/gtsrb-contrast.structured",
        "experimental/gtsrb-contrast.structured-keep", "gtsrb-contrast"]
    r = cli("list", "gtsrb-b*", "--experimental")  # the listed defaults and an experimental variant
    assert r.returncode == 0 and [ln.split()[0] for ln in r.stdout.strip().splitlines()] == [
        "experimental/gtsrb-brightness.munit", "gtsrb-brightness", "gtsrb-brightness-contrast"]


def test_info_text_and_json():
    r = cli("info", "haze")
    assert r.returncode == 0, r.stderr
    assert "delta_dim" in r.stdout and "uniform" in r.stdout
    r = cli("info", "haze", "--json")
    d = json.loads(r.stdout)
    assert d["kind"] == "known" and d["delta_dim"] == len(d["delta_space"]["names"])


def test_info_unknown_name_is_an_error_with_suggestions():
    r = cli("info", "hazy")
    assert r.returncode == 2
    assert "unknown nuisance model 'hazy'" in r.stderr and "haze" in r.stderr
    assert "Traceback" not in r.stderr


def test_grid_writes_a_png_of_the_right_size(tmp_path):
    img = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype("uint8")
    Image.fromarray(img).save(tmp_path / "in.png")
    out = tmp_path / "grid.png"
    r = cli("grid", "haze", "--image", str(tmp_path / "in.png"), "-o", str(out), "--dims", "0", "1",
            "--steps", "3", "--range", "0", "1")
    assert r.returncode == 0, r.stderr
    w, h = Image.open(out).size
    # 3×3 tiles of 16 px, scaled ×2, padded by 2 px
    assert (w, h) == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)


def test_grid_bad_dim_is_a_clear_error(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(tmp_path / "in.png")
    r = cli("grid", "brightness", "--image", str(tmp_path / "in.png"), "--dims", "5", "-o", str(tmp_path / "g.png"))
    assert r.returncode == 2 and "dim 5 is outside" in r.stderr


def test_fit_then_load_the_result_by_local_dir(tmp_path):
    out = tmp_path / "run"
    r = cli("fit", "--domain-a", "mnist-sample:train?labels=0&limit=16&colorize=blue",
            "--domain-b", "mnist-sample:train?labels=0&limit=16&colorize=red", "--out", str(out),
            "--iterations", "2", "--batch-size", "2", "--config", "small", "--no-progress", "--threads", "1")
    assert r.returncode == 0, r.stderr
    r = cli("info", f"local-dir:{out / 'model'}", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["delta_dim"] == 2
    r = cli("fit", "--domain-a", "mnist-sample:train?labels=0&limit=16", "--domain-b", "mnist-sample:train",
            "--out", str(out), "--iterations", "2")
    assert r.returncode == 2 and "resume" in r.stderr.lower()  # refuses to overwrite a run silently


def test_info_summarises_a_per_pixel_delta_space():
    import nuisance_zoo as nz

    d = nz.info("additive-l2")
    space = d["delta_space"]
    assert d["delta_dim"] == 3072 and space["summarised"] is True
    assert space["set"] == "l2-ball" and space["radius"] == 0.5 and space["image_shape"] == [3, 32, 32]
    assert len(space["names"]) == 5 and space["bounds"] is None
    box = nz.info("additive-linf")["delta_space"]
    assert box["bounds"] == [-8 / 255, 8 / 255]  # a box: its overall extent
    assert "summarised" not in nz.info("haze")["delta_space"]  # short Δ: every coordinate listed
    r = cli("info", "haze @ additive-l2")
    assert r.returncode == 0, r.stderr
    assert "(composed)" in r.stdout and "3072 coordinates" in r.stdout and "δ[0] density" in r.stdout
    assert len(r.stdout.splitlines()) < 20


def test_list_models_filters_by_kind():
    import pytest

    import nuisance_zoo as nz

    known, learned = nz.list_models(kind="known"), nz.list_models(kind="learned")
    assert "brightness" in known and "mnist-background-color" in learned and not set(known) & set(learned)
    assert sorted(known + learned + nz.list_models(kind="composed")) == nz.list_models()
    # Experimental zoo models are listed only when asked, under the name that loads them.
    assert "gtsrb-snow" not in learned
    assert "experimental/gtsrb-snow" in nz.list_models(kind="learned", experimental=True)
    assert nz.list_models("gtsrb-snow", experimental=True) == ["experimental/gtsrb-snow"]
    with pytest.raises(ValueError, match="kind must be one of known, learned, composed"):
        nz.list_models(kind="learnt")
