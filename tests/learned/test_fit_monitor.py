"""Quality monitoring while fitting (learned/fit_monitor.py): log, plot, plateau stop, resume."""
from __future__ import annotations

import json

import pytest
import torch

from nuisance_zoo.learned.fit import CHECKPOINT_NAME, fit, load_checkpoint_state
from nuisance_zoo.learned.fit_monitor import FitMonitor, image_stats, kid, random_features, save_plot
from nuisance_zoo.learned.generator import MunitGenerator

from .test_fit import TINY
from .test_fit_terms import tiny_classifier

MON = {**TINY, "monitor_n": 4, "label_w": 1.0, "diversity_w": 1.0}


def labelled(n: int = 12):
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 100, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    b = torch.randint(150, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g)
    return a, b, torch.arange(n) % 3


def test_monitor_writes_log_entries_plot_and_card(tmp_path):
    a, b, y = labelled()
    fit(a, b, config=MON, iterations=4, monitor_every=2, out_dir=tmp_path, progress=False, grid_every=0,
        classifier=tiny_classifier(), labels_a=y)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    checks = [r["monitor"] for r in log if "monitor" in r]
    assert [c["iteration"] for c in checks] == [2, 4]
    for c in checks:
        assert 0 <= c["label_acc"] <= 1 and 0 <= c["label_acc_x"] <= 1 and c["kid_rel"] >= 0
        assert set(c["stats"]) == {"brightness", "contrast", "brightness_sd", "contrast_sd", "rgb"}
        assert isinstance(c["score"], float)
    from PIL import Image

    plot = Image.open(tmp_path / "monitor.png").convert("RGB")
    colours = {c for _, c in plot.getcolors(maxcolors=1 << 20)}
    assert (31, 119, 180) in colours and (44, 160, 44) in colours  # the label_acc and score curves are drawn
    card = json.loads((tmp_path / "model" / "config.json").read_text())["training"]
    assert card["monitor"]["stopped_at"] == 4 and card["monitor"]["best_iteration"] in (2, 4)


def test_monitor_without_classifier_measures_distance_only(tmp_path):
    a, b, _ = labelled()
    fit(a, b, config={**TINY, "monitor_n": 4}, iterations=2, monitor_every=2, out_dir=tmp_path, progress=False,
        grid_every=0)
    check = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])["monitor"]
    assert check["label_acc"] is None and check["kid"] is not None


def fake_scores(monkeypatch, scores):
    """Replace the measurement by a fixed score sequence (the plateau rule is what is tested)."""
    seq = iter(scores)
    monkeypatch.setattr(FitMonitor, "measure", lambda self, generate, it: self.record({"iteration": it, "score": next(seq)}))


def test_until_plateau_stops_early_and_keeps_the_best(tmp_path, monkeypatch):
    a, b, y = labelled()
    fake_scores(monkeypatch, [0.1, 0.3, 0.2, 0.25, 0.9, 0.9])
    cfg = {**MON, "until": "plateau", "patience": 2, "monitor_every": 2}
    G = fit(a, b, config=cfg, iterations=20, out_dir=tmp_path, progress=False, grid_every=0,
            classifier=tiny_classifier(), labels_a=y)
    run, _ = load_checkpoint_state(tmp_path / CHECKPOINT_NAME)
    # checks at 2 (0.1, best), 4 (0.3, best), 6 (0.2), 8 (0.25): two without improvement, stop at 8
    assert run["iteration"] == 8 and run["monitor"]["best_iteration"] == 4 and run["monitor"]["bad_checks"] == 2
    training = json.loads((tmp_path / "model" / "config.json").read_text())["training"]
    assert training["selected_iteration"] == 4 and training["monitor"]["stopped_at"] == 8
    best = MunitGenerator.from_pretrained(tmp_path / "best")
    x, d = torch.rand(2, 3, 16, 16), torch.randn(2, 2)
    assert torch.equal(G(x, d), best(x, d))              # the returned model is the best check's
    # a resume of a run that already plateaued trains nothing more
    fit(a, b, config=cfg, iterations=20, out_dir=tmp_path, resume=True, progress=False, grid_every=0,
        classifier=tiny_classifier(), labels_a=y)
    assert load_checkpoint_state(tmp_path / CHECKPOINT_NAME)[0]["iteration"] == 8


def test_until_iterations_runs_them_all(tmp_path, monkeypatch):
    a, b, y = labelled()
    fake_scores(monkeypatch, [0.3, 0.2, 0.1, 0.0])
    fit(a, b, config={**MON, "monitor_every": 2, "patience": 1}, iterations=8, out_dir=tmp_path, progress=False,
        grid_every=0, classifier=tiny_classifier(), labels_a=y)
    assert load_checkpoint_state(tmp_path / CHECKPOINT_NAME)[0]["iteration"] == 8


def test_resume_restores_the_monitor_exactly(tmp_path):
    a, b, y = labelled()
    kw = dict(config={**MON, "until": "plateau", "patience": 5, "monitor_every": 2}, progress=False, grid_every=0,
              checkpoint_every=2, seed=3, labels_a=y)
    G6 = fit(a, b, iterations=6, out_dir=tmp_path / "straight", classifier=tiny_classifier(), **kw)
    fit(a, b, iterations=4, out_dir=tmp_path / "split", classifier=tiny_classifier(), **kw)
    mid = load_checkpoint_state(tmp_path / "split" / CHECKPOINT_NAME)[0]["monitor"]
    assert [e["iteration"] for e in mid["history"]] == [2, 4]
    G42 = fit(a, b, iterations=6, out_dir=tmp_path / "split", resume=True, classifier=tiny_classifier(), **kw)
    straight = load_checkpoint_state(tmp_path / "straight" / CHECKPOINT_NAME)[0]["monitor"]
    split = load_checkpoint_state(tmp_path / "split" / CHECKPOINT_NAME)[0]["monitor"]
    assert straight == split and len(split["history"]) == 3
    s6, s42 = G6.state_dict(), G42.state_dict()
    assert all(torch.equal(s6[k], s42[k]) for k in s6)


def test_kid_and_stats_see_a_photometric_shift():
    g = torch.Generator().manual_seed(0)
    f = random_features(3)
    x = torch.rand(64, 3, 16, 16, generator=g) * 0.3
    same, bright = torch.rand(64, 3, 16, 16, generator=g) * 0.3, torch.rand(64, 3, 16, 16, generator=g) * 0.3 + 0.6
    with torch.no_grad():
        assert kid(f(x), f(bright)) > 10 * abs(kid(f(x), f(same)))
    assert image_stats(bright)["brightness"] > image_stats(x)["brightness"] + 100
    # one look for every image (a collapsed prior) has no spread; B's varied brightness has
    varied = x * torch.linspace(0.2, 3.0, 64).view(-1, 1, 1, 1)
    assert image_stats(x)["brightness_sd"] < 2 and image_stats(varied.clamp(0, 1))["brightness_sd"] > 10


def test_plot_of_an_empty_or_single_history(tmp_path):
    save_plot(tmp_path / "a.png", [])
    save_plot(tmp_path / "b.png", [{"iteration": 5, "score": 0.5, "label_acc": 0.9}])
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0


def test_plateau_rule_counts_checks_without_improvement():
    m = FitMonitor.__new__(FitMonitor)  # the rule alone, without data
    m.history, m.best, m.best_iteration, m.bad_checks, m.patience, m.min_delta = [], None, None, 0, 2, 0.05
    for it, score in enumerate([0.5, 0.52, 0.6, 0.61], start=1):
        m.record({"iteration": it, "score": score})
    assert m.best == 0.6 and m.best_iteration == 3 and m.bad_checks == 1 and not m.should_stop()
    m.record({"iteration": 5, "score": 0.64})           # +0.04 < min_delta: still a plateau
    assert m.should_stop()
    with pytest.raises(KeyError):
        m.load_state_dict({"history": []})


@pytest.mark.parametrize("config, extra", [
    ({**TINY, "label_w": 1.0, "monitor_n": 8, "patience": 1}, ("label_w", 1.0)),  # MUNIT with the label term
    ({"preset": "structured", "monitor_n": 8, "batch_size": 4, "patience": 1}, ("until", "plateau")),
], ids=["munit", "structured"])
def test_cli_fit_trains_the_judge_and_stops_on_a_plateau(tmp_path, capsys, monkeypatch, config, extra):
    from nuisance_zoo.cli import main

    fake_scores(monkeypatch, [0.5, 0.4, 0.3, 0.2])
    (tmp_path / "cfg.json").write_text(json.dumps(config))
    rc = main(["fit", "--domain-a", "mnist-sample:train?labels=0,1&colorize=blue&size=16", "--domain-b",
               "mnist-sample:train?labels=0,1&colorize=red&size=16", "--out", str(tmp_path / "run"),
               "--iterations", "20", "--config", str(tmp_path / "cfg.json"), "--no-progress", "--threads", "1",
               "--until", "plateau", "--monitor-every", "2", "--classifier-epochs", "1"])
    assert rc == 0 and "training the domain-A classifier" in capsys.readouterr().out
    training = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["training"]
    assert training["monitor"]["stopped_at"] == 4 and training["selected_iteration"] == 2
    assert training["objective"][extra[0]] == extra[1] and "paper-cnn" in training["label_classifier"]