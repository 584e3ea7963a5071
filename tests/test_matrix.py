"""Every public entry point × every kind of model (issue 8, item 2).

Kinds (``tests/_kinds.py``): known, learned (MUNIT-style), structured, composed two deep
(known + learned) and three deep (adapted + learned + known; and three known/adapted parts, whose
Δ is a box), adapted (a plain function behind
the base API). Entry points: the contract's questions, ``forward``/``forward_multi``, the
wrappers (MDA, MRT, MAT, PGD), ``evaluate`` (with its gradient search), ``delta_grid``,
``train``, ``save_pretrained``/``load`` and the CLI's ``info``/``grid``/``evaluate``.
Every model here is tiny (12×12 images, a linear classifier), so the matrix runs in seconds.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import nuisance_zoo as nz
from nuisance_zoo import registry
from nuisance_zoo.cli import main as cli_main
from nuisance_zoo.eval import delta_grid
from nuisance_zoo.training import search as search_module
from nuisance_zoo.training.classifiers import paper_cnn, save_classifier

from . import _kinds
from ._kinds import C, KINDS, S, SAVABLE, classifier, images, labelled

NAMES = list(KINDS)
PACKAGE = Path(nz.__file__).resolve().parent


def build(kind: str) -> nz.NuisanceModel:
    return KINDS[kind]()


def in_box(G, delta, tol=1e-6) -> bool:
    """Whether δ is inside Δ's box on the coordinates that have one (normal-prior ones are free)."""
    low, high = G.delta_range(dtype=delta.dtype)
    boxed = torch.cat([torch.full((p.delta_dim,), p.bounds() is not None) for p in G.parts()])
    ok = (delta >= low - tol) & (delta <= high + tol)
    return bool((ok | ~boxed).all())


# ---------------------------------------------------------------------------- the issue's reproduction
def test_issue_reproduction_evaluate_on_haze_after_brightness():
    G = nz.load("haze") @ nz.load("brightness")
    x, y = labelled(8)
    r = nz.evaluate(classifier(), (x, y), nuisance=G, k=3, steps=3)
    assert r["gradient"] is not None and r["steps"] == 3
    for key in ("clean", "random", "worst_of_k", "gradient", "worst"):
        assert 0.0 <= r[key] <= 1.0
    assert r["worst"] <= min(r["worst_of_k"], r["gradient"])


# ---------------------------------------------------------------------------- the contract's questions
@pytest.mark.parametrize("kind", NAMES)
class TestContract:
    def test_shapes_of_every_answer(self, kind):
        G = build(kind)
        q = G.delta_dim
        assert q == sum(p.delta_dim for p in G.parts()) and q > 0
        for t in (G.delta_scale(), G.delta_range()[0], G.delta_range()[1], G.reference_delta(1)[0]):
            assert t.shape == (q,) and torch.isfinite(t).all()
        assert (G.delta_scale() > 0).all()
        low, high = G.delta_range()
        assert (low < high).all()
        assert G.reference_delta(3).shape == (3, q)
        assert G.device == torch.device("cpu")
        space = G.delta_space()
        assert space["dim"] == q and len(space["names"]) == q
        spec = G.input_spec()
        assert spec["range"] == [0.0, 1.0] and set(spec) >= {"channels", "size"}

    def test_composition_answers_by_delegation(self, kind):
        G = build(kind)
        parts = G.parts()
        torch.testing.assert_close(G.delta_scale(), torch.cat([p.delta_scale() for p in parts]))
        torch.testing.assert_close(G.reference_delta(2), torch.cat([p.reference_delta(2) for p in parts], -1))
        boxes = [p.bounds() for p in parts]
        if all(b is not None for b in boxes):
            low, high = G.bounds()
            torch.testing.assert_close(low, torch.cat([b[0] for b in boxes]))
            torch.testing.assert_close(G.delta_scale(), (high - low).float())
            assert G.has_box
        else:
            assert G.bounds() is None and not G.has_box

    def test_sample_and_project_stay_in_delta(self, kind):
        G = build(kind)
        d = G.sample_delta(64, generator=torch.Generator().manual_seed(0))
        assert d.shape == (64, G.delta_dim) and in_box(G, d)
        torch.testing.assert_close(G.project(d), d)  # Π_Δ is the identity on Δ
        far = G.project(d * 100 + 50)
        assert in_box(G, far)
        torch.testing.assert_close(G.project(far), far)  # and idempotent

    def test_reference_delta_is_the_identity_where_every_part_has_one(self, kind):
        G = build(kind)
        x = images()
        out = G(x, G.reference_delta(x.shape[0]))
        assert out.shape == x.shape
        if all(p.identity_delta() is not None for p in G.parts()):
            torch.testing.assert_close(out, x, atol=1e-5, rtol=0)

    def test_forward_and_forward_multi(self, kind):
        G = build(kind)
        x = images()
        d = G.sample_delta(3 * 4, generator=torch.Generator().manual_seed(2)).view(3, 4, -1)
        imgs, d_out = G.forward_multi(x, delta=d)
        assert imgs.shape == (3, *x.shape) and torch.equal(d_out, d)
        assert 0 <= imgs.min() and imgs.max() <= 1
        for i in range(3):
            torch.testing.assert_close(imgs[i], G(x, d[i]), atol=1e-5, rtol=1e-4)
        drawn, deltas = G.forward_multi(x, k=2, generator=torch.Generator().manual_seed(0))
        assert drawn.shape == (2, *x.shape) and deltas.shape == (2, 4, G.delta_dim)
        assert G(x[0]).shape == x.shape[1:]  # one (C, H, W) image

    def test_gradient_in_delta_is_finite_and_gradchecks(self, kind):
        G = build(kind).double()
        x = images(1).double()
        d = G.project(G.sample_delta(1, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
        d.requires_grad_(True)
        (g,) = torch.autograd.grad(G(x, d).sum(), d)
        assert torch.isfinite(g).all() and g.abs().sum() > 0
        # δ away from the box edges, where every model here is smooth.
        low, high = G.delta_range(dtype=torch.float64)
        d0 = (low + 0.37 * (high - low)).unsqueeze(0).requires_grad_(True)
        assert torch.autograd.gradcheck(lambda dd: G(x, dd), (d0,), eps=1e-6, atol=1e-5)


def test_compose_rejects_parts_that_accept_no_common_image():
    a = _kinds.learned()
    b = _kinds.structured()
    b.image_size = [S * 2, S * 2]
    with pytest.raises(ValueError, match="accept no common image"):
        b @ a


# ---------------------------------------------------------------------------- the wrappers
@pytest.mark.parametrize("kind", NAMES)
@pytest.mark.parametrize("wrapper", ["mda", "mrt", "mat"])
def test_wrappers_train_the_classifier_only(kind, wrapper):
    G = build(kind)
    net = classifier()
    cls = {"mda": nz.MDAWrapper, "mrt": nz.MRTWrapper, "mat": nz.MATWrapper}[wrapper]
    w = cls(net, G, k=2)
    x, y = labelled()
    g_before = {k: v.clone() for k, v in G.state_dict().items()}
    loss = w(x, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert all(p.grad is None for p in G.parameters())
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in g_before.items())
    w.eval()
    assert torch.equal(w(x), net(x))


@pytest.mark.parametrize("kind", NAMES)
def test_mat_search_ascends_and_stays_in_delta(kind):
    G = build(kind)
    net = classifier(seed=4)
    x, y = labelled()
    w = nz.MATWrapper(net, G, k=3, step_size=0.05)
    d0 = w.start(x)
    torch.testing.assert_close(d0, G.reference_delta(4))  # each part starts at its own neutral δ
    if all(p.identity_delta() is not None for p in G.parts()):
        torch.testing.assert_close(G(x, d0), x, atol=1e-5, rtol=0)  # "no nuisance"
    x_adv, d_adv = w.search(x, y)
    assert in_box(G, d_adv) and torch.isfinite(d_adv).all()
    torch.testing.assert_close(x_adv, G(x, d_adv), atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        before = F.cross_entropy(net(G(x, d0)), y, reduction="sum")
        after = F.cross_entropy(net(x_adv), y, reduction="sum")
    assert after > before


@pytest.mark.parametrize("kind", NAMES)
def test_pgd_step_is_absolute_on_every_model(kind):
    """PGD's ``step_size`` is in δ's own units: one sign step moves no coordinate further than it,
    and an unclipped coordinate exactly that far."""
    G = build(kind)
    a = 1e-3
    w = nz.PGDWrapper(classifier(), G=G, step_size=a, steps=1, random_start=False)
    x, y = labelled()
    d0 = w.start(x)
    _, d1 = w.search(x, y)
    moved = (d1 - d0).abs()
    assert bool((moved <= a * (1 + 1e-4)).all())
    torch.testing.assert_close(moved.max(), torch.tensor(a), rtol=1e-4, atol=0)


# ---------------------------------------------------------------------------- evaluate and grids
@pytest.mark.parametrize("kind", NAMES)
def test_evaluate_every_kind(kind):
    G = build(kind)
    x, y = labelled(6)
    r = nz.evaluate(classifier(), (x, y), nuisance=G, k=3, steps=2, seed=1)
    assert r["n"] == 6 and r["k"] == 3 and r["steps"] == 2 and r["gradient"] is not None
    for key in ("clean", "random", "worst_of_k", "gradient", "worst"):
        assert 0.0 <= r[key] <= 1.0
    assert r["worst"] <= min(r["worst_of_k"], r["gradient"]) and r["worst_of_k"] <= r["random"]
    assert nz.evaluate(classifier(), (x, y), nuisance=G, k=3, steps=2, seed=1) == r  # seeded


@pytest.mark.parametrize("kind", NAMES)
def test_delta_grid_every_kind(kind):
    G = build(kind)
    img = images(1)[0]
    q = G.delta_dim
    dims = (0, q - 1) if q > 1 else (0,)
    tiles = delta_grid(G, img, dims=dims, steps=3)
    assert tiles.shape == ((3 if q > 1 else 1), 3, C, S, S)
    assert 0 <= tiles.min() and tiles.max() <= 1
    # The default range is delta_range(), the other coordinates are held at reference_delta().
    low, high = G.delta_range()
    ref = G.reference_delta(1)
    ref[0, dims[-1]] = high[dims[-1]]
    if q > 1:
        ref[0, dims[0]] = low[dims[0]]
    torch.testing.assert_close(tiles[0, -1], G(img.unsqueeze(0), ref)[0], atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------------------- train
@pytest.mark.parametrize("kind", NAMES)
@pytest.mark.parametrize("algorithm", ["mda", "mat"])
def test_train_a_couple_of_steps(kind, algorithm):
    G = build(kind)
    x, y = labelled(8)
    net = classifier()
    w0 = [p.detach().clone() for p in net.parameters()]
    result = nz.train(net, nuisance=G, algorithm=algorithm, k=2, data=(x, y), epochs=1, batch_size=4,
                      optimizer="sgd", lr=0.1, progress=False, in_chans=C, num_classes=3)
    assert result.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(w0, result.model.parameters()))
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_train_refuses_a_composition_trained_at_another_size():
    G = nz.load("haze") @ _kinds.learned()  # its learned part was trained on 12×12
    x = torch.rand(4, C, 16, 16)
    with pytest.raises(ValueError, match="trained on 12×12"):
        nz.train(classifier(), nuisance=G, algorithm="mda", data=(x, torch.zeros(4, dtype=torch.long)),
                 epochs=1, progress=False, in_chans=C, num_classes=3)


# ---------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("kind", NAMES)
def test_save_pretrained_round_trip_or_a_clear_error(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    G = build(kind)
    x = images()
    d = G.sample_delta(4, generator=torch.Generator().manual_seed(5))
    if kind in SAVABLE:
        folder = G.save_pretrained(tmp_path / "m")
        H = nz.load(f"local-dir:{folder}")
        assert type(H) is type(G) and H.input_spec() == G.input_spec()
        assert torch.equal(H(x, d), G(x, d))
        return
    with pytest.raises(TypeError, match="cannot be saved with save_pretrained") as e:
        G.save_pretrained(tmp_path / "m")
    assert "nz.load" in str(e.value)
    if len(G.parts()) > 1:
        assert "composition" in str(e.value)
    assert not (tmp_path / "m").exists()


def test_a_composition_is_rebuilt_from_its_saved_parts(tmp_path):
    Gl = _kinds.learned()
    G = nz.load("haze") @ Gl
    folder = Gl.save_pretrained(tmp_path / "learned")
    H = nz.load(f"haze @ local-dir:{folder}")
    x = images()
    d = G.sample_delta(4, generator=torch.Generator().manual_seed(6))
    assert torch.equal(H(x, d), G(x, d))


def test_load_composition_syntax():
    G = nz.load("haze @ contrast @ brightness")
    assert [type(p).__name__ for p in G.parts()] == ["Brightness", "Contrast", "Haze"]
    assert registry._composition("hf-hub:org/repo@main") is None  # a revision, not a composition
    with pytest.raises(TypeError, match="keyword arguments configure one model"):
        nz.load("haze @ contrast", max_density=2.0)
    with pytest.raises(registry.UnknownModelError, match="hazy"):
        nz.load("hazy @ contrast")


# ---------------------------------------------------------------------------- the CLI, in-process
@pytest.fixture
def cli_names(tmp_path, monkeypatch):
    """A CLI name for every kind: zoo names, saved folders, a registered adapted model, compositions."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    learned = _kinds.learned().save_pretrained(tmp_path / "learned")
    structured = _kinds.structured().save_pretrained(tmp_path / "structured")
    registry.register_model("test-matrix-gamma")(_kinds.adapted)
    registry.register_model("test-matrix-kornia")(_kinds.kornia)
    try:
        yield {
            "known": "brightness",
            "learned": f"local-dir:{learned}",
            "structured": f"local-dir:{structured}",
            "composed2": f"local-dir:{learned} @ brightness",
            "composed3": f"haze @ local-dir:{learned} @ test-matrix-gamma",
            "composed-boxes": "test-matrix-gamma @ haze @ brightness",
            "adapted": "test-matrix-gamma",
            "kornia": "test-matrix-kornia",
        }
    finally:
        registry.unregister("test-matrix-gamma")
        registry.unregister("test-matrix-kornia")


@pytest.mark.parametrize("kind", NAMES)
def test_cli_info_grid_evaluate(kind, cli_names, tmp_path, capsys):
    name = cli_names[kind]
    G = nz.load(name)
    torch.testing.assert_close(G.delta_scale(), build(kind).delta_scale())  # the CLI name is this kind

    assert cli_main(["info", name, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["delta_dim"] == G.delta_dim and len(info["delta_space"]["names"]) == G.delta_dim
    assert cli_main(["info", name]) == 0
    assert "delta_dim" in capsys.readouterr().out

    img = (images(1)[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    Image.fromarray(img).save(tmp_path / "in.png")
    out = tmp_path / "grid.png"
    assert cli_main(["grid", name, "--image", str(tmp_path / "in.png"), "-o", str(out), "--steps", "2"]) == 0
    rows = 2 if G.delta_dim >= 2 else 1
    assert Image.open(out).size == (2 * 2 * S + 3 * 2, rows * 2 * S + (rows + 1) * 2)

    x, y = labelled(6)
    np.savez(tmp_path / "test.npz", x=(x.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8"), y=y.numpy())
    clf = save_classifier(paper_cnn(num_classes=3, in_chans=C, input_size=S), tmp_path / "clf", "paper-cnn",
                          num_classes=3, in_chans=C, input_size=S)
    report = tmp_path / "report.json"
    capsys.readouterr()
    assert cli_main(["evaluate", "--classifier", str(clf), "--data", f"npz:{tmp_path / 'test.npz'}",
                     "--nuisance", name, "--k", "2", "--steps", "2", "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["n"] == 6 and r["gradient"] is not None and 0 <= r["worst"] <= r["clean"] + 1
    assert "gradient ascent (2 steps)" in capsys.readouterr().out


def test_cli_grid_on_a_composition_with_a_bad_dim_is_a_clear_error(tmp_path, capsys):
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(tmp_path / "in.png")
    assert cli_main(["grid", "haze @ brightness", "--image", str(tmp_path / "in.png"), "--dims", "3",
                     "-o", str(tmp_path / "g.png")]) == 2
    assert "dim 3 is outside" in capsys.readouterr().err


# ---------------------------------------------------------------------------- one search, one convention
def test_one_search_serves_mat_pgd_and_evaluate(monkeypatch):
    calls = []
    real = search_module.projected_gradient_ascent

    def spy(G, delta, grad_fn, steps, step_size, sign=True):
        calls.append((type(G).__name__, steps, sign))
        return real(G, delta, grad_fn, steps, step_size, sign)

    import nuisance_zoo.eval.robustness as robustness
    import nuisance_zoo.training.mat as mat

    monkeypatch.setattr(mat, "projected_gradient_ascent", spy)
    monkeypatch.setattr(robustness, "projected_gradient_ascent", spy)
    x, y = labelled()
    nz.MATWrapper(classifier(), nz.load("rotation"), k=2).search(x, y)
    nz.PGDWrapper(classifier(), image_shape=(C, S, S), steps=3).search(x, y)
    nz.evaluate(classifier(), (x, y), nuisance=nz.load("rotation"), k=1, steps=4)
    assert calls == [("Rotation", 2, True), ("AdditiveLinf", 3, True), ("Rotation", 4, True)]


def test_the_ascent_loop_has_a_single_implementation():
    """Only training/search.py steps δ along a gradient's sign (``grad.sign()``)."""
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if re.search(r"grad\w*\.sign\(\)", p.read_text()) and p.name != "search.py"]
    assert offenders == []


def test_no_code_outside_base_reads_private_delta_fields_or_asks_for_compose():
    # Attribute reads only (``G.models``), not relative imports (``from .models import``).
    pattern = re.compile(r"delta_low|delta_high|(?<=[\w)\]])(?<!self)\._splits|(?<=[\w)\]])(?<!self)\.models\b"
                         r"|isinstance\([^)]*Compose"
                         r"|getattr\([^)]*[\"']models[\"']")
    offenders = [f"{p.relative_to(PACKAGE)}:{i + 1}" for p in PACKAGE.rglob("*.py") if p.name != "base.py"
                 for i, line in enumerate(p.read_text().splitlines()) if pattern.search(line)]
    assert offenders == []


def test_step_convention_relative_to_the_box_and_the_prior():
    """α = 0.1 with sign steps is a tenth of the box on any box (60° on ±30° rotation: 6°; 6 on
    brightness's box: 0.6) and a tenth of σ under N(0, I)."""
    up = lambda d: torch.ones_like(d)  # noqa: E731 - a loss that grows along every coordinate
    for name, moved in (("rotation", 6.0), ("brightness", 0.6)):
        G = nz.load(name)
        d = search_module.projected_gradient_ascent(G, G.reference_delta(2), up, steps=1, step_size=0.1)
        torch.testing.assert_close(d - G.reference_delta(2), torch.full((2, 1), moved))
    G = _kinds.learned()
    d = search_module.projected_gradient_ascent(G, torch.zeros(2, 2), up, steps=3, step_size=0.1)
    torch.testing.assert_close(d, torch.full((2, 2), 0.3))
    # Raw steps run in unit-width coordinates: α · s² · ∇δ (s = 6 on brightness).
    G = nz.load("brightness")
    d = search_module.projected_gradient_ascent(G, torch.zeros(1, 1), up, steps=1, step_size=0.01, sign=False)
    torch.testing.assert_close(d, torch.full((1, 1), 0.36))


def test_pgd_paper_setting_is_the_absolute_step():
    """The paper's PGD (ε 0.3, step 0.01, 20 steps): each sign step moves every pixel by 0.01."""
    G = nz.load("additive-linf", shape=(C, S, S), eps=0.3)
    rel = search_module.relative_step(G, 0.01)
    torch.testing.assert_close(rel, torch.full((G.delta_dim,), 0.01 / 0.6))
    net = classifier()
    w = nz.PGDWrapper(net, G=G, eps=0.3, step_size=0.01, steps=1, random_start=False)
    assert (w.step_size, w.steps, w.eps) == (0.01, 1, 0.3)
    x, y = labelled()
    _, d = w.search(x, y)
    # From δ = 0 one step moves every coordinate with a non-zero gradient by exactly 0.01.
    moved = d.abs()[d != 0]
    torch.testing.assert_close(moved, torch.full_like(moved, 0.01))


def test_mat_default_step_is_relative_and_the_same_on_every_model():
    x, y = labelled()
    for G in (nz.load("rotation"), nz.load("brightness"), _kinds.learned()):
        w = nz.MATWrapper(classifier(), G, k=5, random_start=False)
        assert w.sign and w.step_size == pytest.approx(2.5 / 5)
        w1 = nz.MATWrapper(classifier(), G, k=1, step_size=0.01)
        d0 = w1.start(x)
        _, d1 = w1.search(x, y)
        unit = G.delta_scale()
        moved = ((d1 - d0).abs() / unit).max()  # in box widths (prior stds)
        torch.testing.assert_close(moved, torch.tensor(0.01), rtol=1e-4, atol=0)
