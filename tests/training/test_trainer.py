"""The thin trainer: classifiers, exact resume, metrics files, checkpoints and the evaluator."""
from __future__ import annotations

import csv
import json

import pytest
import torch
from torch import nn

from nuisance_zoo.base import NuisanceModel
from nuisance_zoo.eval.robustness import evaluate
from nuisance_zoo.checkpoint import load_checkpoint, save_checkpoint
from nuisance_zoo.training.classifiers import create_classifier, load_classifier, paper_cnn
from nuisance_zoo.training.inputs import as_tensors, epoch_order, to_model_input
from nuisance_zoo.training.trainer import train


class Shift(NuisanceModel):
    """Stand-in nuisance: add δ to every pixel (differentiable, box [low, high])."""

    delta_dim = 1

    def __init__(self, low: float = 0.0, high: float = 0.3) -> None:
        super().__init__()
        self.set_delta_box([low], [high])

    def decode(self, x, delta):
        return (x + delta.view(-1, 1, 1, 1)).clamp(0, 1)


def toy_data(n: int = 48, c: int = 3, size: int = 12, seed: int = 0):
    """Two classes told apart by which half of the image is bright (uint8, NCHW)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randint(0, 40, (n, c, size, size), generator=g)
    half = size // 2
    for i in range(n):
        if y[i] == 0:
            x[i, :, :, :half] += 180
        else:
            x[i, :, :, half:] += 180
    return x.to(torch.uint8), y


def small_train(out, **kw):
    args = dict(model="paper-cnn", nuisance=Shift(), algorithm="mda", k=2, data=toy_data(),
                test_domains={"toy": toy_data(16, seed=1)}, epochs=2, batch_size=8, out=out, seed=0,
                checkpoint_every=None, progress=False)
    args.update(kw)
    return train(**args)


# ---------------------------------------------------------------------------- classifiers
@pytest.mark.parametrize("size,chans,flat", [(28, 1, 3200), (28, 3, 3200), (32, 1, 4608), (32, 3, 4608)])
def test_paper_cnn_shapes_and_layers(size, chans, flat):
    m = paper_cnn(num_classes=10, in_chans=chans, input_size=size)
    assert m(torch.rand(2, chans, size, size)).shape == (2, 10)
    convs = [l for l in m if isinstance(l, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (chans, 32, (3, 3)), (32, 64, (3, 3)), (64, 128, (3, 3))]
    fcs = [l for l in m if isinstance(l, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(flat, 128), (128, 10)]
    assert [d.p for d in m if isinstance(d, nn.Dropout)] == [0.25, 0.5]
    assert sum(isinstance(l, nn.MaxPool2d) for l in m) == 2


def test_paper_cnn_rejects_tiny_inputs():
    with pytest.raises(ValueError, match="at least 10x10"):
        paper_cnn(input_size=8)


def test_create_classifier_unknown_name_suggests():
    with pytest.raises(ValueError, match="paper-cnn"):
        create_classifier("paper-cn", 10, 3, 28)


@pytest.mark.parametrize("name", ["test_vit", "test_convnext"])
def test_timm_model_trains_one_step_and_reloads(tmp_path, name):
    x, y = toy_data(4, c=3, size=32)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in create_classifier(name, 2, 3, 32).state_dict().items()}
    result = train(name, algorithm="erm", data=(x, y), epochs=1, batch_size=4, out=tmp_path, progress=False)
    after = result.model.state_dict()
    assert result.global_step == 1
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    cfg = json.loads((tmp_path / "classifier.json").read_text())
    assert cfg["name"] == name and cfg["num_classes"] == 2 and cfg["input_size"] == [32, 32]
    reloaded = load_classifier(tmp_path)
    xb = to_model_input(x, 3)
    torch.testing.assert_close(reloaded(xb), result.model.eval()(xb))


# ---------------------------------------------------------------------------- data helpers
def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(20, 3, 1), epoch_order(20, 3, 1))
    assert not torch.equal(epoch_order(20, 3, 1), epoch_order(20, 3, 2))
    assert sorted(epoch_order(20, 3, 1).tolist()) == list(range(20))


def test_gray_is_stacked_and_rgb_to_gray_is_an_error():
    gray = torch.full((2, 1, 4, 4), 51, dtype=torch.uint8)
    out = to_model_input(gray, 3)
    assert out.shape == (2, 3, 4, 4) and torch.allclose(out, torch.full_like(out, 0.2))
    with pytest.raises(ValueError, match="3 channels"):
        to_model_input(torch.zeros(2, 3, 4, 4), 1)
    with pytest.raises(ValueError, match="channels-last"):
        as_tensors((torch.zeros(2, 8, 8, 3, dtype=torch.uint8), torch.zeros(2)))


# ---------------------------------------------------------------------------- exact resume
def test_resume_after_stop_and_crash_matches_uninterrupted_run(tmp_path):
    ref = small_train(tmp_path / "ref")
    assert ref.completed and ref.global_step == 12  # 48 images / 8 = 6 steps x 2 epochs

    out = tmp_path / "run"
    part = small_train(out, max_steps=4)  # stop mid-epoch 1
    assert not part.completed and part.global_step == 4

    class Crash(Exception):
        pass

    def crash_at_9(info):
        if info["global_step"] == 9:
            raise Crash()

    # Checkpoints every 2 steps: the crash at step 9 loses step 9, which the resume redoes.
    with pytest.raises(Crash):
        small_train(out, resume=True, checkpoint_every=2, callback=crash_at_9)
    state = load_checkpoint(out / "checkpoint.safetensors", paper_cnn(2, 3, 12), restore_rng=False)
    assert state["global_step"] == 8 and state["epoch"] == 1 and state["step"] == 2
    final = small_train(out, resume=True)
    assert final.completed and final.global_step == 12

    ref_sd, fin_sd = ref.model.state_dict(), final.model.state_dict()
    for key in ref_sd:
        assert torch.equal(ref_sd[key], fin_sd[key]), key
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_s"} for r in rows]  # noqa: E731
    assert strip(final.metrics) == strip(ref.metrics)
    # The saved classifier is the final one, and a different seed gives different weights.
    saved = load_classifier(out)
    assert all(torch.equal(saved.state_dict()[k], fin_sd[k]) for k in fin_sd)
    other = small_train(tmp_path / "seed1", seed=1, epochs=1)
    assert not torch.equal(other.model.state_dict()["0.weight"], ref_sd["0.weight"])


def test_resume_refuses_other_settings_and_existing_output(tmp_path):
    small_train(tmp_path, max_steps=1)
    with pytest.raises(ValueError, match="already holds a training checkpoint"):
        small_train(tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        small_train(tmp_path, resume=True, batch_size=4)


def test_checkpoint_round_trip_restores_optimizer_and_rng(tmp_path):
    m = nn.Linear(3, 2)
    opt = torch.optim.Adadelta(m.parameters(), lr=1.0)
    m(torch.rand(4, 3)).sum().backward()
    opt.step()
    torch.manual_seed(123)
    save_checkpoint(tmp_path / "c.safetensors", m, opt, {"global_step": 1, "history": [{"a": 1.5}]})
    expected_draw = torch.rand(3)
    m2 = nn.Linear(3, 2)
    opt2 = torch.optim.Adadelta(m2.parameters(), lr=1.0)
    state = load_checkpoint(tmp_path / "c.safetensors", m2, opt2)
    assert state == {"global_step": 1, "history": [{"a": 1.5}]}
    assert torch.equal(torch.rand(3), expected_draw)
    assert torch.equal(m.weight, m2.weight)
    for p, p2 in zip(m.parameters(), m2.parameters()):
        for key in ("square_avg", "acc_delta", "step"):
            assert torch.equal(opt.state[p][key], opt2.state[p2][key])
    assert not (tmp_path / "c.safetensors.tmp").exists()


# ---------------------------------------------------------------------------- metrics files
def test_metrics_csv_json_and_classifier_files(tmp_path):
    result = small_train(tmp_path, algorithm="erm", nuisance=None, epochs=3)
    rows = json.loads((tmp_path / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert [r["global_step"] for r in rows] == [6, 12, 18]
    with open(tmp_path / "metrics.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == 3 and float(csv_rows[-1]["acc/toy"]) == pytest.approx(rows[-1]["acc/toy"])
    assert all(0.0 <= r["acc/toy"] <= 1.0 and r["train_loss"] > 0 for r in rows)
    # The toy task is separable: three epochs of Adadelta learn it.
    assert rows[-1]["acc/toy"] >= 0.9
    cfg = json.loads((tmp_path / "classifier.json").read_text())
    assert cfg["name"] == "paper-cnn" and cfg["in_chans"] == 3 and cfg["algorithm"] == "erm"
    weights = load_classifier(tmp_path).state_dict()
    assert set(weights) == set(result.model.state_dict())  # a plain state dict: no wrapper keys


@pytest.mark.parametrize("algorithm,kwargs", [
    ("erm", {}), ("pgd", {"steps": 2}), ("mrt", {"selection": "sample"}), ("mat", {}), ("mda", {}),
])
def test_every_algorithm_takes_steps(algorithm, kwargs):
    seen = []
    result = train("paper-cnn", nuisance=Shift(), algorithm=algorithm, k=2, data=toy_data(16), epochs=1,
                   batch_size=8, algorithm_kwargs=kwargs, callback=seen.append, progress=False)
    assert [s["global_step"] for s in seen] == [1, 2]
    assert all(s["loss"] > 0 and torch.isfinite(torch.tensor(s["loss"])) for s in seen)
    assert result.metrics[0]["train_loss"] == pytest.approx(sum(s["loss"] for s in seen) / 2)


def test_unknown_algorithm_and_missing_nuisance_are_clear():
    with pytest.raises(ValueError, match="choose one of"):
        train(algorithm="sgd-magic", data=toy_data(), progress=False)
    with pytest.raises(ValueError, match="needs a nuisance model"):
        train(algorithm="mrt", data=toy_data(), progress=False)


# ---------------------------------------------------------------------------- evaluate
class MeanThreshold(nn.Module):
    """Class 1 iff the mean pixel exceeds 0.5: perfect on images of 0.1 (class 0) / 0.9 (class 1)."""

    def forward(self, x):
        s = (x.mean(dim=(1, 2, 3)) - 0.5) * 20
        return torch.stack([-s, s], dim=1)


def separable_set(n=40):
    y = torch.arange(n) % 2
    x = torch.where(y.view(-1, 1, 1, 1) == 1, 0.9, 0.1).expand(n, 3, 4, 4).clone()
    return x, y


def test_evaluate_reports_clean_random_sampled_and_gradient_worst():
    model, data = MeanThreshold(), separable_set()
    # δ ∈ [-0.5, 0.5]: class-0 images (0.1) flip when δ > 0.4, class-1 images when δ < -0.4.
    r = evaluate(model, data, nuisance=Shift(-0.5, 0.5), k=20, steps=5, seed=0)
    assert r["n"] == 40 and r["clean"] == 1.0
    assert 0.75 < r["random"] < 0.97  # expected 0.9
    assert r["worst_of_k"] < r["random"]  # P(20 draws all safe) = 0.9^20 ≈ 0.12 per image
    assert r["gradient"] == 0.0 and r["worst"] == 0.0  # ascent reaches the box's edge
    # A box too small to flip anything: every accuracy is 1.
    safe = evaluate(model, data, nuisance=Shift(-0.3, 0.3), k=5, steps=3)
    assert safe["random"] == safe["worst_of_k"] == safe["gradient"] == safe["worst"] == 1.0
    # Same seed, same report; clean only without a nuisance.
    assert evaluate(model, data, nuisance=Shift(-0.5, 0.5), k=20, steps=5, seed=0) == r
    assert evaluate(model, data) == {"n": 40, "clean": 1.0}


def test_evaluate_skips_gradient_search_for_non_differentiable_models():
    class HardShift(Shift):
        differentiable = False

    r = evaluate(MeanThreshold(), separable_set(), nuisance=HardShift(-0.5, 0.5), k=4, steps=5)
    assert r["gradient"] is None and r["steps"] == 0 and r["worst"] == r["worst_of_k"]


# ---------------------------------------------------------------------------- the demo
def test_demo_runs_small_and_writes_report_and_picture(tmp_path, capsys):
    from nuisance_zoo.demo import PAPER_GRAY_TO_RGB, run_demo

    report = run_demo(tmp_path, n_train=64, n_test=32, epochs=1, progress=False)
    printed = capsys.readouterr().out
    assert "87.8%" in printed and "98.9%" in printed and "MDA-5" in printed
    assert report["paper"] == PAPER_GRAY_TO_RGB and report["n_train"] == 64 and report["n_test"] == 32
    for alg in ("erm", "mda"):
        assert set(report["accuracy"][alg]) == {"gray", "rgb"}
        assert all(0.0 <= v <= 100.0 for v in report["accuracy"][alg].values())
        assert (tmp_path / alg / "model.safetensors").is_file()
    assert json.loads((tmp_path / "demo.json").read_text()) == report
    from PIL import Image

    img = Image.open(tmp_path / "augmentations.png")
    assert img.mode == "RGB" and img.size[0] > 10 * 28 and img.size[1] > 6 * 28  # 6 rows of 10 digits


@pytest.mark.slow
def test_demo_default_mda_beats_erm_on_rgb_backgrounds(tmp_path):
    """The demo's claim at its default size (about two minutes on two cores)."""
    from nuisance_zoo.demo import run_demo

    report = run_demo(tmp_path, progress=False, verbose=False)
    acc = report["accuracy"]
    assert acc["mda"]["rgb"] >= acc["erm"]["rgb"] + 5.0, acc
    assert acc["erm"]["gray"] >= 80.0 and acc["mda"]["gray"] >= 80.0, acc


def test_learned_nuisance_at_another_image_size_is_a_clear_error():
    import nuisance_zoo as nz
    from nuisance_zoo.training.trainer import check_nuisance_size

    G = nz.load("gtsrb-contrast")  # trained on 32×32
    check_nuisance_size(G, (32, 32))
    with pytest.raises(ValueError, match=r"trained on 32×32 images but the data are 28×28.*size=32"):
        check_nuisance_size(nz.load("brightness") @ G, (28, 28), "gtsrb-contrast")
    check_nuisance_size(nz.load("brightness"), (28, 28))  # known models take any size
    x = torch.rand(8, 3, 28, 28)
    y = torch.randint(0, 10, (8,))
    with pytest.raises(ValueError, match="size=32"):
        nz.train(nuisance=G, algorithm="mda", data=(x, y), epochs=1, progress=False)
