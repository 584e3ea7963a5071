"""The terms that keep content and label (learned/fit_terms.py) inside the MUNIT trainer."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from nuisance_zoo.learned.config import FitConfig
from nuisance_zoo.learned.fit import fit
from nuisance_zoo.learned.fit_munit import MunitTrainer
from nuisance_zoo.learned.fit_terms import FrozenClassifier, diversity_loss, label_loss, structure_loss

from .test_fit import TINY, domains

TERMS = ("label_w", "structure_w", "diversity_w")


def tiny_classifier(classes: int = 3, size: int = 16) -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * size * size, classes))


def only(term: str | None, **extra) -> FitConfig:
    """TINY with MUNIT's four losses off and only ``term`` on, so its gradient stands alone."""
    weights = {t: 0.0 for t in TERMS}
    if term is not None:
        weights[term] = 1.0
    return FitConfig.from_dict({**TINY, "gan_w": 0.0, "recon_x_w": 0.0, "recon_c_w": 0.0, "recon_s_w": 0.0,
                                "diversity_cap": 100.0, **weights, **extra})


def step(cfg: FitConfig, clf: nn.Module) -> tuple[MunitTrainer, dict]:
    torch.manual_seed(0)
    trainer = MunitTrainer(cfg, 3, 3)
    trainer.classifier = FrozenClassifier(clf)
    g = torch.Generator().manual_seed(1)
    x_a, x_b = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    s = torch.randn(5, 2, cfg.gen.style_dim, generator=g)
    out = trainer.gen_step(x_a, x_b, s[2], s[3], y_a=torch.tensor([0, 2]), s_b2=s[4])
    return trainer, out


@pytest.mark.parametrize("term,key", [("label_w", "label"), ("structure_w", "struct"), ("diversity_w", "div")])
def test_each_term_changes_the_loss_and_trains_the_generator_only(term, key):
    clf = tiny_classifier()
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    _, off = step(only(None), clf)
    trainer, on = step(only(term), clf)
    assert off["G"] == 0.0 and key not in off           # nothing but the term is weighted
    assert on[key] > 0 and on["G"] == pytest.approx(on[key])
    # the generator side that makes G(x, δ) = Dec_B(Enc_A(x), δ) received gradient from the term ...
    grads = [p.grad for p in trainer.gen_b.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    # ... the discriminators and the frozen classifier none, and the classifier is in no optimiser
    # (MUNIT's generator step always back-propagates the GAN term through D, here at weight 0)
    dis = list(trainer.dis_a.parameters()) + list(trainer.dis_b.parameters())
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in dis)
    assert all(p.grad is None and not p.requires_grad for p in clf.parameters())
    in_opt = {id(p) for opt in (trainer.gen_opt, trainer.dis_opt) for grp in opt.param_groups for p in grp["params"]}
    assert not in_opt & {id(p) for p in clf.parameters()}
    assert "classifier" not in {n.split(".")[0] for n in trainer.state_dict()}  # not in checkpoints either
    after = clf.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm statistics untouched (eval mode)


def test_label_term_needs_a_classifier_and_labels():
    a, b = domains()
    with pytest.raises(ValueError, match="classifier"):
        fit(a, b, config={**TINY, "label_w": 1.0}, iterations=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        fit(a, b, config={**TINY, "label_w": 1.0}, iterations=1, progress=False, classifier=tiny_classifier())


def test_label_loss_modes():
    clf = FrozenClassifier(tiny_classifier())
    x = torch.rand(4, 3, 16, 16)
    assert float(label_loss(clf, x, x01=x, mode="kl")) == pytest.approx(0.0, abs=1e-6)  # G = identity keeps it
    assert float(label_loss(clf, torch.rand(4, 3, 16, 16), x01=x, mode="kl")) > 1e-4
    y = clf(x).argmax(1)
    assert float(label_loss(clf, x, y)) < float(label_loss(clf, x, (y + 1) % 3))
    with pytest.raises(ValueError, match="label_mode"):
        label_loss(clf, x, y, mode="l2")


def test_structure_term_ignores_photometric_changes_but_not_content():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(8, 3, 32, 32, generator=g), 3, 1, 1)  # some structure
    other = x.roll(1, 0)
    assert float(structure_loss(x, 3.0 * x + 0.5)) < 1e-2          # brightness and gain: invisible
    assert float(structure_loss(x, x ** 0.5)) < 0.25 * float(structure_loss(x, other))
    assert float(structure_loss(x, other)) > 0.3


def test_diversity_hinge_is_bounded_and_zero_for_diverse_draws():
    g1, d1, d2 = torch.zeros(2, 3, 4, 4), torch.zeros(2, 2), torch.ones(2, 2)
    assert float(diversity_loss(g1, g1, d1, d2, cap=0.5)) == pytest.approx(0.5)   # collapse: the cap, no more
    assert float(diversity_loss(g1, g1 + 1.0, d1, d2, cap=0.5)) == 0.0            # ratio 1 > cap


def test_default_configs_keep_todays_objective_and_presets_enable_terms():
    for name in ("small", "paper"):
        cfg = FitConfig.preset(name)
        assert (cfg.label_w, cfg.structure_w, cfg.diversity_w, cfg.monitor_every, cfg.until) == (0, 0, 0, 0, "iterations")
    keep = FitConfig.preset("small-keep")
    assert keep.label_w > 0 and keep.structure_w > 0 and keep.diversity_w > 0 and keep.monitor_every > 0
    assert FitConfig.load("small-keep").gen == FitConfig.preset("small").gen
    with pytest.raises(ValueError, match="plateau"):
        FitConfig.preset("small", until="plateau")
    with pytest.raises(ValueError, match="label_mode"):
        FitConfig.preset("small", label_mode="mse")


def test_config_json_records_the_terms(tmp_path):
    a, b = domains()
    y = torch.arange(len(a)) % 3
    fit(a, b, config={**TINY, "label_w": 0.5, "structure_w": 2.0, "diversity_w": 0.25, "label_mode": "kl"},
        iterations=2, out_dir=tmp_path, progress=False, grid_every=0, classifier=tiny_classifier(), labels_a=y)
    objective = json.loads((tmp_path / "model" / "config.json").read_text())["training"]["objective"]
    assert objective["label_w"] == 0.5 and objective["structure_w"] == 2.0 and objective["diversity_w"] == 0.25
    assert objective["label_mode"] == "kl" and objective["gan_w"] == 1.0 and objective["until"] == "iterations"
