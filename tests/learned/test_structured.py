"""Structured learned model G(x, δ) = K(x, h_θ(δ, x)) and its trainer (fit(config="structured"))."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.learned.fit import CHECKPOINT_NAME, fit, fit_needs_classifier, load_checkpoint_state
from nuisance_zoo.learned.fit_structured import PRESETS, StructuredFitConfig, StructuredTrainer, load_config_file
from nuisance_zoo.learned.structured import DEFAULT_CHAIN, StructuredGenerator

from .test_fit import TINY
from .test_fit_monitor import fake_scores, labelled
from .test_fit_terms import tiny_classifier

ROOT = Path(__file__).resolve().parents[2]


def _randomised(G: StructuredGenerator, seed: int = 0, scale: float = 1.0) -> StructuredGenerator:
    """Give the MLP non-trivial weights (it starts as the identity for every δ)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in G.mlp.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return G


@pytest.mark.parametrize("summary", ["none", "stats", "pool4"])
def test_shapes_dtype_range(summary):
    G = _randomised(StructuredGenerator(delta_dim=3, summary=summary))
    x = torch.rand(5, 3, 16, 16)
    y = G(x, torch.randn(5, 3)).detach()
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    u = G(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8))
    assert u.shape == (3, 16, 16) and u.dtype == torch.uint8
    assert G.kind == "learned" and G.prior == "normal" and G.delta_dim == 3
    imgs, d = G.forward_multi(x, k=4)
    assert imgs.shape == (4, 5, 3, 16, 16) and d.shape == (4, 5, 3)
    assert torch.allclose(imgs[2, 1], G(x[1:2], d[2, 1:2])[0], atol=1e-6)


def test_untrained_model_is_near_identity():
    G = StructuredGenerator()
    x = torch.rand(4, 3, 16, 16)
    # Only haze density and blur σ sit on their box edge and start just inside it.
    assert (G(x, torch.randn(4, 2) * 100) - x).abs().mean() < 0.05


def test_output_is_known_chain_applied_by_hand():
    G = _randomised(StructuredGenerator(summary="stats"), seed=1)
    x, d = torch.rand(3, 3, 12, 12), torch.randn(3, 2)
    params = G.known_params(x, d)
    y = x
    for name, p in zip(DEFAULT_CHAIN, torch.split(params, [1, 1, 1, 1, 1, 2, 1], dim=1)):
        y = nz.load(name)(y, p)
    assert torch.equal(G(x, d), y)
    # and the parameters depend on δ and (through the summary) on x
    assert not torch.allclose(params, G.known_params(x, d + 1))
    assert not torch.allclose(params, G.known_params(x.flip(0), d))


def test_params_inside_delta_box_even_for_huge_delta():
    G = _randomised(StructuredGenerator(delta_dim=2), seed=2, scale=3.0)
    x = torch.rand(64, 3, 8, 8)
    for scale in (1.0, 1e3, 1e8):
        p = G.known_params(x, torch.randn(64, 2) * scale)
        assert torch.isfinite(p).all()
        assert (p >= G.param_low).all() and (p <= G.param_high).all()
    lows = torch.cat([nz.load(n).delta_low for n in DEFAULT_CHAIN]).float()
    assert torch.equal(G.param_low, lows)


def test_gradcheck_wrt_delta_and_x():
    G = _randomised(StructuredGenerator(summary="pool4", hidden=8), seed=3, scale=0.5).double()
    x = torch.rand(2, 3, 5, 5, dtype=torch.float64) * 0.8 + 0.1
    d = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda dd: G(x, dd), (d,))
    G2 = _randomised(StructuredGenerator(chain=["brightness", "contrast"], summary="stats", hidden=4), 4, 0.3).double()
    xx = (torch.rand(1, 3, 4, 4, dtype=torch.float64) * 0.5 + 0.25).requires_grad_()
    assert torch.autograd.gradcheck(lambda xi: G2(xi, d[:1].detach()), (xx,))


def test_stateless_decode_and_batch_independence():
    G = _randomised(StructuredGenerator(summary="stats"), seed=5)
    x, d = torch.rand(4, 3, 8, 8), torch.randn(4, 2)
    first = G(x, d)
    G(torch.rand(7, 3, 8, 8))  # an unrelated call in between changes nothing
    assert torch.equal(G(x, d), first)
    assert torch.allclose(G(x[2:3], d[2:3]), first[2:3], atol=1e-6)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="summary"):
        StructuredGenerator(summary="mean")
    assert not nz.load("erasing").differentiable
    with pytest.raises(ValueError, match="differentiable model with a bounded Δ box"):
        StructuredGenerator(chain=["brightness", "erasing"])
    with pytest.raises(ValueError, match="non-empty list"):
        StructuredGenerator(chain=[])
    with pytest.raises(ValueError, match="channels"):
        StructuredGenerator(channels=3)(torch.rand(2, 1, 8, 8))


def test_save_pretrained_round_trip_bit_exact(tmp_path):
    G = _randomised(StructuredGenerator(delta_dim=3, chain=["gamma", "haze"], summary="pool4", channels=1,
                                        image_size=[8, 8]), seed=6)
    folder = G.save_pretrained(tmp_path / "m", training={"iterations": 1})
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["architecture"] == "structured-generator" and cfg["model_config"]["chain"] == ["gamma", "haze"]
    H = nz.load(f"local-dir:{folder}")
    assert isinstance(H, StructuredGenerator) and H.config() == G.config()
    x, d = torch.rand(3, 1, 8, 8), torch.randn(3, 3)
    assert torch.equal(H(x, d), G(x, d))


def _domains(n=12, c=3, size=16):
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 100, (n, c, size, size), dtype=torch.uint8, generator=g)
    b = torch.randint(150, 256, (n, c, size, size), dtype=torch.uint8, generator=g)
    return a, b


def test_fit_structured_writes_outputs_and_resumes_exactly(tmp_path):
    a, b = _domains()
    kw = dict(config="structured", batch_size=4, progress=False, grid_every=2, checkpoint_every=2, log_every=1)
    G = fit(a, b, iterations=3, out_dir=tmp_path / "r", **kw)
    assert isinstance(G, StructuredGenerator)
    r = tmp_path / "r"
    assert (r / "grids" / "iter_0000002.png").is_file() and (r / "grids" / "iter_0000003.png").is_file()
    assert (r / "checkpoint.safetensors").is_file() and json.loads((r / "checkpoint.json").read_text())["iteration"] == 3
    d = torch.randn(2, 2)
    assert torch.equal(nz.load(f"local-dir:{r / 'model'}")(a[:2], d), G(a[:2], d))
    with pytest.raises(ValueError, match="already holds"):
        fit(a, b, iterations=3, out_dir=r, **kw)

    full = fit(a, b, iterations=4, out_dir=tmp_path / "full", **kw)
    fit(a, b, iterations=2, out_dir=tmp_path / "half", **kw)
    resumed = fit(a, b, iterations=4, out_dir=tmp_path / "half", resume=True, **kw)
    for (k, v), (k2, v2) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    assert not torch.equal(full.mlp[-1].weight, torch.zeros_like(full.mlp[-1].weight))  # it did train
    with pytest.raises(ValueError, match="differs"):
        fit(a, b, iterations=5, out_dir=tmp_path / "half", resume=True, **{**kw, "batch_size": 3})


def test_structured_config_from_dict_and_file(tmp_path):
    cfg = StructuredFitConfig.load({"preset": "structured", "delta_dim": 4, "summary": "stats"}, iterations=7)
    assert cfg.delta_dim == 4 and cfg.iterations == 7 and cfg.summary == "stats"
    with pytest.raises(ValueError, match="unknown field"):
        StructuredFitConfig.from_dict({"delta_dims": 3})
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"preset": "structured", "delta_dim": 3, "chain": ["brightness", "gamma"]}))
    assert load_config_file(path)["delta_dim"] == 3
    a, b = _domains(n=6)
    G = fit(a, b, config=str(path), iterations=1, batch_size=2, progress=False)
    assert isinstance(G, StructuredGenerator) and G.delta_dim == 3 and G.chain == ["brightness", "gamma"]


def test_cli_fit_structured(tmp_path):
    # mnist-sample: ships inside the package, so this runs on any clone.
    out = tmp_path / "cli"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "nuisance_zoo", "fit", "--config", "structured",
           "--domain-a", "mnist-sample:train?labels=0&limit=16&colorize=blue",
           "--domain-b", "mnist-sample:train?labels=0&limit=16&colorize=red",
           "--out", str(out), "--iterations", "2", "--batch-size", "4", "--no-progress", "--threads", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    cfg = json.loads((out / "model" / "config.json").read_text())
    assert cfg["architecture"] == "structured-generator" and cfg["training"]["iterations"] == 2
    assert (out / "checkpoint.safetensors").is_file()
    G = nz.load(f"local-dir:{out / 'model'}")
    assert G(torch.rand(2, 3, 28, 28)).shape == (2, 3, 28, 28)


def test_fit_structured_bad_runs():
    a, b = _domains(n=4)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        fit(a, b, config="structured", iterations=0, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="domain_a images are"):
        fit(a, b[:, :1], config="structured", iterations=1, batch_size=2, progress=False)


class _DarkJudge(torch.nn.Module):
    """A classifier that says "class 0" for dark images and "class 1" for bright ones."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([20 * (0.5 - m), 20 * (m - 0.5)], 1)


def test_structured_keep_preset_and_its_label_term(tmp_path):
    assert StructuredFitConfig.load("structured-keep").label_w == 1.0
    assert StructuredFitConfig.load("structured").label_w == 0.0
    cfg = StructuredFitConfig.load({"preset": "structured-keep", "delta_dim": 3})
    assert cfg.label_w == 1.0 and StructuredFitConfig.from_dict(cfg.to_dict()) == cfg  # round trip
    with pytest.raises(ValueError, match="unknown structured preset 'structured-kept'"):
        StructuredFitConfig.from_dict({"preset": "structured-kept"})
    with pytest.raises(ValueError, match="label_mode must be one of"):
        StructuredFitConfig(label_mode="mse")
    a, b = _domains(n=16)  # A dark (class 0 to the judge), B bright
    y = torch.zeros(len(a), dtype=torch.long)
    kw = dict(iterations=150, batch_size=8, progress=False, seed=0, log_every=50)
    with pytest.raises(ValueError, match=r"needs a frozen classifier of domain A: pass classifier="):
        fit(a, b, config="structured-keep", **kw)
    with pytest.raises(ValueError, match="label_mode 'ce' needs domain A's labels"):
        fit(a, b, config="structured-keep", classifier=_DarkJudge(), **kw)
    free = fit(a, b, config="structured", **kw)
    kept = fit(a, b, config={"preset": "structured-keep", "label_w": 5.0}, classifier=_DarkJudge(), labels_a=y,
               out_dir=tmp_path / "keep", **kw)
    d = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    x = a.float() / 255
    with torch.no_grad():
        judge = _DarkJudge()
        p_free = judge(free(x, d)).softmax(1)[:, 0].mean()
        p_kept = judge(kept(x, d)).softmax(1)[:, 0].mean()
        shift_free, shift_kept = (free(x, d) - x).mean(), (kept(x, d) - x).mean()
    # The GAN alone brightens A toward B, across the judge's boundary; the label term holds it back.
    assert p_kept > p_free + 0.2 and shift_kept < shift_free, (p_kept, p_free, shift_kept, shift_free)
    log = [json.loads(line) for line in (tmp_path / "keep" / "log.jsonl").read_text().splitlines()]
    assert all("label" in rec for rec in log)
    cfg_json = json.loads((tmp_path / "keep" / "model" / "config.json").read_text())
    assert cfg_json["training"]["objective"]["label_w"] == 5.0
    assert "label term" in cfg_json["training"]["trainer"]


# ------------------------------------------------------------------ the quality monitor (the MUNIT fit's)
#: A structured fit small enough for the monitor on labelled()'s 12 images (4 held out).
SMON = {"preset": "structured", "monitor_n": 4, "batch_size": 4}


def _log(folder: Path) -> list[dict]:
    """log.jsonl's records without their wall times (which differ between runs)."""
    recs = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in recs]


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_structured_monitor_logs_plots_and_records_like_munit(tmp_path):
    a, b, y = labelled()
    kw = dict(monitor_every=2, progress=False, grid_every=0, classifier=tiny_classifier(), labels_a=y)
    fit(a, b, config=SMON, iterations=4, out_dir=tmp_path / "s", **kw)
    fit(a, b, config={**TINY, "monitor_n": 4}, iterations=2, out_dir=tmp_path / "m", **kw)
    checks = [r for r in _log(tmp_path / "s") if "monitor" in r]
    munit = next(r for r in _log(tmp_path / "m") if "monitor" in r)
    assert [r["iteration"] for r in checks] == [2, 4]
    for r in checks:
        assert set(r) == set(munit) and set(r["monitor"]) == set(munit["monitor"])  # MUNIT's entry, key for key
        c = r["monitor"]
        assert 0 <= c["label_acc"] <= 1 and 0 <= c["label_acc_x"] <= 1 and c["kid_rel"] >= 0
        assert isinstance(c["score"], float) and set(c["stats"]) == set(munit["monitor"]["stats"])
    assert (tmp_path / "s" / "monitor.png").stat().st_size > 0 and (tmp_path / "s" / "best" / "config.json").is_file()
    training = json.loads((tmp_path / "s" / "model" / "config.json").read_text())["training"]
    munit_objective = json.loads((tmp_path / "m" / "model" / "config.json").read_text())["training"]["objective"]
    monitor_keys = ("monitor_every", "monitor_n", "until", "patience", "min_delta")
    assert {k: training["objective"][k] for k in monitor_keys} == {k: munit_objective[k] for k in monitor_keys}
    assert training["objective"]["monitor_every"] == 2 and training["objective"]["monitor_n"] == 4
    assert training["monitor"]["stopped_at"] == 4 and training["monitor"]["best_iteration"] in (2, 4)
    assert "selected_iteration" not in training  # until="iterations": the last generator is the model
    run, _ = load_checkpoint_state(tmp_path / "s" / CHECKPOINT_NAME)
    assert [e["iteration"] for e in run["monitor"]["history"]] == [2, 4]


def test_structured_until_plateau_stops_early_and_saves_the_best_as_model(tmp_path, monkeypatch):
    a, b, y = labelled()
    fake_scores(monkeypatch, [0.5, 0.4, 0.3, 0.2, 0.1])  # the score can only fall
    kw = dict(config={**SMON, "until": "plateau", "patience": 2, "monitor_every": 2}, iterations=20,
              out_dir=tmp_path, progress=False, grid_every=0, classifier=tiny_classifier(), labels_a=y)
    G = fit(a, b, **kw)
    run, ckpt = load_checkpoint_state(tmp_path / CHECKPOINT_NAME)
    # checks at 2 (0.5, the best), 4 (0.4), 6 (0.3): two without improvement, stop at 6 of 20
    assert run["iteration"] == 6 and run["monitor"]["best_iteration"] == 2 and run["monitor"]["bad_checks"] == 2
    training = json.loads((tmp_path / "model" / "config.json").read_text())["training"]
    assert training["selected_iteration"] == 2 and training["monitor"]["stopped_at"] == 6
    model, best = _weights(tmp_path / "model"), _weights(tmp_path / "best")
    assert model.keys() == best.keys() and all(torch.equal(model[k], best[k]) for k in model)
    # ... and they are iteration 2's, not the last trained (iteration 6, in the checkpoint)
    assert any(not torch.equal(v, ckpt[f"model.gen.{k}"]) for k, v in model.items() if f"model.gen.{k}" in ckpt)
    x, d = torch.rand(2, 3, 16, 16), torch.randn(2, 2)
    assert torch.equal(G(x, d), StructuredGenerator.from_pretrained(tmp_path / "best")(x, d))
    fit(a, b, resume=True, **kw)  # a run that already plateaued trains nothing more
    assert load_checkpoint_state(tmp_path / CHECKPOINT_NAME)[0]["iteration"] == 6
    # a fresh start without the monitor leaves none of the last run's monitor outputs behind
    fit(a, b, config=SMON, iterations=1, out_dir=tmp_path, overwrite=True, progress=False, grid_every=0)
    assert not (tmp_path / "best").exists() and not (tmp_path / "monitor.png").exists()


def test_structured_monitor_resumes_after_a_cut(tmp_path, monkeypatch):
    a, b, y = labelled()
    kw = dict(config={**SMON, "until": "plateau", "patience": 5, "monitor_every": 2}, iterations=6, progress=False,
              grid_every=0, checkpoint_every=2, seed=3, labels_a=y)
    G = fit(a, b, out_dir=tmp_path / "straight", classifier=tiny_classifier(), **kw)
    step, calls = StructuredTrainer.gen_step, []

    def dies_in_iteration_5(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("killed")
        return step(self, *args, **kwargs)

    monkeypatch.setattr(StructuredTrainer, "gen_step", dies_in_iteration_5)
    with pytest.raises(RuntimeError, match="killed"):
        fit(a, b, out_dir=tmp_path / "cut", classifier=tiny_classifier(), **kw)
    cut = load_checkpoint_state(tmp_path / "cut" / CHECKPOINT_NAME)[0]
    assert cut["iteration"] == 4 and [e["iteration"] for e in cut["monitor"]["history"]] == [2, 4]
    monkeypatch.setattr(StructuredTrainer, "gen_step", step)
    R = fit(a, b, out_dir=tmp_path / "cut", resume=True, classifier=tiny_classifier(), **kw)
    straight = load_checkpoint_state(tmp_path / "straight" / CHECKPOINT_NAME)[0]["monitor"]
    resumed = load_checkpoint_state(tmp_path / "cut" / CHECKPOINT_NAME)[0]["monitor"]
    assert resumed == straight and [e["iteration"] for e in resumed["history"]] == [2, 4, 6]
    assert _log(tmp_path / "cut") == _log(tmp_path / "straight")
    assert all(torch.equal(v, R.state_dict()[k]) for k, v in G.state_dict().items())


def test_structured_monitor_settings_and_errors(tmp_path):
    assert all(StructuredFitConfig.load(p).monitor_every == 0 for p in PRESETS)  # off in every preset
    cfg = StructuredFitConfig.load("structured-keep", until="plateau", monitor_every=5)
    assert (cfg.until, cfg.monitor_every, cfg.label_w) == ("plateau", 5, 1.0)
    assert StructuredFitConfig.from_dict(cfg.to_dict()) == cfg  # round trip through the checkpoint's record
    with pytest.raises(ValueError, match="until='plateau' needs monitor_every >= 1"):
        StructuredFitConfig.load("structured", until="plateau")
    with pytest.raises(ValueError, match="until must be 'iterations' or 'plateau'"):
        StructuredFitConfig(until="later")
    with pytest.raises(ValueError, match="monitor_n >= 2"):
        StructuredFitConfig(monitor_n=1)
    assert not fit_needs_classifier("structured")
    assert fit_needs_classifier("structured", monitor_every=10) and fit_needs_classifier({**SMON, "monitor_every": 3})
    a, b, _ = labelled()
    with pytest.raises(ValueError, match="Lower monitor_n"):
        fit(a, b, config={**SMON, "monitor_n": 7}, monitor_every=1, iterations=1, progress=False)
    # Without a classifier the monitor measures the distance to B only, as in the MUNIT fit.
    fit(a, b, config=SMON, iterations=2, monitor_every=2, out_dir=tmp_path, progress=False, grid_every=0)
    check = _log(tmp_path)[-1]["monitor"]
    assert check["label_acc"] is None and check["kid"] is not None


def test_structured_monitor_off_changes_nothing(tmp_path):
    a, b, y = labelled()
    kw = dict(config="structured", iterations=3, batch_size=4, progress=False, grid_every=0, log_every=1)
    plain = fit(a, b, out_dir=tmp_path / "plain", **kw)
    off = fit(a, b, out_dir=tmp_path / "off", monitor_every=0, until="iterations", classifier=tiny_classifier(),
              labels_a=y, **kw)
    assert all(torch.equal(v, off.state_dict()[k]) for k, v in plain.state_dict().items())
    assert _log(tmp_path / "plain") == _log(tmp_path / "off")
    for run in ("plain", "off"):
        folder = tmp_path / run
        assert not (folder / "monitor.png").exists() and not (folder / "best").exists()
        assert "monitor" not in load_checkpoint_state(folder / CHECKPOINT_NAME)[0]
        training = json.loads((folder / "model" / "config.json").read_text())["training"]
        assert "monitor" not in training and training["objective"]["monitor_every"] == 0
