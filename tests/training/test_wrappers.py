"""Behaviour of the model-based training wrappers (MDA, MRT, MAT, PGD).

Local toy nuisance models (``_toy.py``) keep these tests on the contract in ``base.py`` only.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nuisance_zoo.base import Compose
from nuisance_zoo.training import MATWrapper, MDAWrapper, ModelBasedWrapper, MRTWrapper, PGDWrapper

from ._toy import AdditiveLinf, Brightness, Contrast, Counter, Posterize, TinyLearned, batch, small_net

B, K = 6, 3


def make(kind: str, net: nn.Module, G=None, **kw) -> ModelBasedWrapper:
    G = G if G is not None else TinyLearned()
    if kind == "mda":
        return MDAWrapper(net, G, k=kw.pop("k", K), **kw)
    if kind == "mrt":
        return MRTWrapper(net, G, k=kw.pop("k", K), **kw)
    if kind == "mrt-sample":
        return MRTWrapper(net, G, k=kw.pop("k", K), selection="sample", **kw)
    if kind == "mat":
        return MATWrapper(net, G, k=kw.pop("k", K), step_size=kw.pop("step_size", 0.3), **kw)
    raise AssertionError(kind)


KINDS = ["mda", "mrt", "mrt-sample", "mat"]


def fixed_delta(G, k=K, b=B, seed=1):
    return G.sample_delta(k * b, generator=torch.Generator().manual_seed(seed)).view(k, b, G.delta_dim)


def delta_for(kind, G, seed=1):
    """A δ argument that makes the wrapper deterministic (candidates, or MAT's start)."""
    return None if kind == "mat" else fixed_delta(G, seed=seed)


def counter(net) -> Counter:
    return next(m for m in net.modules() if isinstance(m, Counter))


# ---------------------------------------------------------------------------- eval mode
@pytest.mark.parametrize("kind", KINDS)
def test_eval_mode_returns_exactly_model_output(kind):
    net = small_net(bn=True, dropout=True)
    w = make(kind, net).eval()
    x, _ = batch()
    out = w(x)
    assert torch.equal(out, net(x))
    assert not net.training


def test_training_objective_differs_from_logits_and_train_mode_propagates():
    net = small_net(bn=True, dropout=True)
    w = MDAWrapper(net, Brightness(), k=2)
    w.eval()
    assert not any(m.training for m in net.modules())
    w.train()
    assert all(m.training for m in net.modules())
    x, y = batch()
    loss = w(x, y)
    assert loss.ndim == 0 and loss.requires_grad


# ---------------------------------------------------------------------------- MDA values
@pytest.mark.parametrize("criterion", [None, nn.CrossEntropyLoss(label_smoothing=0.1), F.cross_entropy])
def test_mda_objective_equals_hand_loop(criterion):
    torch.manual_seed(0)
    net, G = small_net(), TinyLearned()
    lam = 0.7
    w = MDAWrapper(net, G, k=K, lam=lam, criterion=criterion)
    x, y = batch()
    delta = fixed_delta(G)
    loss = w(x, y, delta)
    loss.backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()

    def ell(img, t):
        out = net(img)
        if criterion is None:
            return F.cross_entropy(out, t)
        return criterion(out, t)

    expected = 0.0
    for j in range(B):
        xj, yj = x[j:j + 1], y[j:j + 1]
        inner = sum(ell(G(xj, delta[i, j:j + 1]), yj) for i in range(K))
        expected = expected + inner + lam * ell(xj, yj)
    expected = expected / B
    expected.backward()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    for g, p in zip(grads, net.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-6)
    if isinstance(criterion, nn.Module):
        assert criterion.reduction == "mean", "the caller's criterion must not be changed"


def test_mda_augment_layout():
    G = Brightness()
    w = MDAWrapper(small_net(), G, k=K, lam=0.25)
    x, y = batch()
    delta = fixed_delta(G)
    images, targets, weights = w.augment(x, y, delta)
    assert images.shape == ((K + 1) * B, 3, 8, 8)
    assert torch.equal(images[:B], x)
    torch.testing.assert_close(images[B + 2 * B:B + 3 * B], G(x, delta[2]))
    assert torch.equal(targets, y.repeat(K + 1))
    torch.testing.assert_close(weights[:B], torch.full((B,), 0.25 / B))
    torch.testing.assert_close(weights[B:], torch.full((K * B,), 1 / B))
    assert not images.requires_grad


# ---------------------------------------------------------------------------- MRT selection
class MeanNet(nn.Module):
    """Logits (0, 20·mean(x)): with target 0 the loss grows with the image's brightness."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(m), self.scale * m], dim=1)


def test_mrt_batch_and_sample_pick_the_known_worst_draws():
    # Per-image losses ≈ softplus(20·(0.5 + δ)). Draw 1 (0.3, 0.3) has the largest batch sum
    # (≈ 32 against ≈ 20.3), but image 0's worst draw is 0 (+0.45) and image 1's is 2 (+0.45).
    x = torch.full((2, 3, 8, 8), 0.5)
    y = torch.zeros(2, dtype=torch.long)
    delta = torch.tensor([[0.45, -0.45], [0.3, 0.3], [-0.45, 0.45]]).unsqueeze(-1)
    G = Brightness()
    x_adv, d_adv = MRTWrapper(MeanNet(), G, k=3).search(x, y, delta)
    torch.testing.assert_close(d_adv, torch.tensor([[0.3], [0.3]]))
    torch.testing.assert_close(x_adv, torch.full_like(x, 0.8))
    x_adv, d_adv = MRTWrapper(MeanNet(), G, k=3, selection="sample").search(x, y, delta)
    torch.testing.assert_close(d_adv, torch.tensor([[0.45], [0.45]]))
    torch.testing.assert_close(x_adv, torch.full_like(x, 0.95))


def test_mrt_sample_loss_at_least_batch_loss_per_image():
    net, G = small_net(), TinyLearned()
    x, y = batch()
    delta = fixed_delta(G, k=8)
    xb, db = MRTWrapper(net, G, k=8).search(x, y, delta)
    xs, ds = MRTWrapper(net, G, k=8, selection="sample").search(x, y, delta)
    with torch.no_grad():
        lb = F.cross_entropy(net(xb), y, reduction="none")
        ls = F.cross_entropy(net(xs), y, reduction="none")
        all_losses = torch.stack([F.cross_entropy(net(G(x, delta[i])), y, reduction="none") for i in range(8)])
    assert bool((ls >= lb - 1e-6).all())
    torch.testing.assert_close(ls, all_losses.max(0).values)
    i = int(all_losses.sum(1).argmax())
    torch.testing.assert_close(db, delta[i])
    # the selected δ rows are candidate rows of the right images
    for j in range(B):
        assert any(torch.equal(ds[j], delta[i, j]) for i in range(8))


def test_mrt_objective_uses_selected_images():
    net, G = small_net(), TinyLearned()
    x, y = batch()
    delta = fixed_delta(G)
    w = MRTWrapper(net, G, k=K, lam=0.5)
    loss = w(x, y, delta)
    x_adv, _ = w.search(x, y, delta)
    expected = (F.cross_entropy(net(x_adv), y, reduction="sum") + 0.5 * F.cross_entropy(net(x), y, reduction="sum")) / B
    torch.testing.assert_close(loss, expected)


# ---------------------------------------------------------------------------- MAT
# Factories, not instances: a learned G built at collection time would take its weights from
# whatever the global RNG state was then (it depends on test order), making the test flaky.
@pytest.mark.parametrize("make_G, sign, step", [(Brightness, True, 0.05), (TinyLearned, False, 200.0),
                                                (lambda: Compose([Brightness(), TinyLearned()]), True, 0.05)],
                         ids=["brightness", "learned", "composed"])
def test_mat_increases_the_loss_from_its_start(make_G, sign, step):
    torch.manual_seed(0)
    G = make_G()
    net = small_net()
    x, y = batch()
    w = MATWrapper(net, G, k=5, step_size=step, sign=sign)
    d0 = w.start(x)
    x_adv, d_adv = w.search(x, y)
    with torch.no_grad():
        before = F.cross_entropy(net(G(x, d0)), y, reduction="sum")
        after = F.cross_entropy(net(x_adv), y, reduction="sum")
    assert after > before + 1e-4
    torch.testing.assert_close(x_adv, G(x, d_adv))


def test_mat_respects_projection_and_starts_at_identity():
    net = small_net()
    x, y = batch()
    G = Brightness()
    x_adv, d = MATWrapper(net, G, k=3, step_size=100.0).search(x, y)
    assert bool((d.abs() <= 0.5).all())
    assert bool(((d.abs() - 0.5).abs() < 1e-6).all()), "huge raw steps must land on the box boundary"
    C = Contrast()
    w = MATWrapper(net, C, k=0)
    assert torch.equal(w.start(x), torch.ones(B, 1)), "the start is G's identity δ, not 0"
    torch.testing.assert_close(w.search(x, y)[0], x)
    w = MATWrapper(net, C, k=4, step_size=10.0, random_start=True, generator=torch.Generator().manual_seed(0))
    d0 = w.start(x)
    assert bool(((d0 >= 0.2) & (d0 <= 1.8)).all()) and d0.std() > 0
    _, d = w.search(x, y)
    assert bool(((d >= 0.2 - 1e-6) & (d <= 1.8 + 1e-6)).all())
    # an explicit start is projected onto Δ
    assert torch.equal(w.start(x, torch.full((B, 1), 5.0)), torch.full((B, 1), 1.8))


def test_mat_objective_uses_last_iterate():
    net, G = small_net(), Brightness()
    x, y = batch()
    w = MATWrapper(net, G, k=4, step_size=0.05, sign=True, lam=0.0)
    x_adv, _ = w.search(x, y)
    torch.testing.assert_close(w(x, y), F.cross_entropy(net(x_adv), y))


# ---------------------------------------------------------------------------- PGD
def test_pgd_paper_setting_stays_in_ball_and_increases_loss():
    net = small_net()
    x, y = batch()
    G = AdditiveLinf((3, 8, 8), eps=0.3)
    w = PGDWrapper(net, eps=0.3, step_size=0.01, steps=20, G=G, generator=torch.Generator().manual_seed(0))
    assert (w.eps, w.step_size, w.steps, w.sign, w.random_start, w.lam) == (0.3, 0.01, 20, True, True, 0.0)
    assert isinstance(w, MATWrapper)
    x_adv, d = w.search(x, y)
    assert float((x_adv - x).abs().max()) <= 0.3 + 1e-6
    assert float(d.abs().max()) <= 0.3 + 1e-6
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    with torch.no_grad():
        assert F.cross_entropy(net(x_adv), y) > F.cross_entropy(net(x), y)
    loss = w(x, y)
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_pgd_builds_the_registry_additive_linf_model():
    # Needs nuisance_zoo.known.noise's "additive-linf" (G(x, δ) = clamp(x + δ), shape, eps).
    w = PGDWrapper(small_net(), image_shape=(3, 8, 8), eps=0.1)
    assert w.G.delta_dim == 3 * 8 * 8
    x, _ = batch()
    d = torch.rand(B, 3 * 8 * 8) * 0.2 - 0.1
    torch.testing.assert_close(w.G(x, d), AdditiveLinf((3, 8, 8), 0.1)(x, d))
    torch.testing.assert_close(w.G.project(torch.full((1, 192), 5.0)), torch.full((1, 192), 0.1))


# ---------------------------------------------------------------------------- search hygiene
@pytest.mark.parametrize("kind", ["mrt", "mrt-sample", "mat"])
def test_search_leaves_classifier_state_untouched(kind):
    net = small_net(bn=True, dropout=True)
    w = make(kind, net).train()
    net[2].eval()  # a BatchNorm the user froze on purpose
    net[1].weight.requires_grad_(False)
    modes = [m.training for m in net.modules()]
    for i, p in enumerate(net.parameters()):
        p.grad = torch.full_like(p, float(i))
    grads = [p.grad.clone() for p in net.parameters()]
    flags = [p.requires_grad for p in net.parameters()]
    stats = copy.deepcopy(net[2].state_dict())
    x, y = batch()
    w.search(x, y, delta_for(kind, w.G))
    assert [m.training for m in net.modules()] == modes
    assert [p.requires_grad for p in net.parameters()] == flags
    for g, p in zip(grads, net.parameters()):
        assert torch.equal(g, p.grad)
    for key, v in stats.items():
        assert torch.equal(v, net[2].state_dict()[key])
    log = counter(net).log
    assert log[0] == (2, False, False)  # the channels_last probe (memory_format="auto" on CPU)
    log = log[1:]
    assert log and all(not training for _, training, _ in log), "the classifier must be in eval mode"
    assert all(grad == (kind == "mat") for _, _, grad in log)


def test_search_does_not_touch_bn_statistics_in_train_mode():
    for kind in ["mrt", "mat"]:
        net = small_net(bn=True, dropout=True)
        w = make(kind, net).train()
        stats = copy.deepcopy(net[2].state_dict())
        x, y = batch()
        w.augment(x, y, delta_for(kind, w.G))
        assert all(torch.equal(v, net[2].state_dict()[k]) for k, v in stats.items())
        assert all(m.training for m in net.modules())


@pytest.mark.parametrize("kind", KINDS)
def test_one_encode_one_batched_decode_and_one_update_forward(kind):
    net, G = small_net(), TinyLearned()
    w = make(kind, net, G, chunk=None)  # one piece; "auto" is tested in test_search_plan.py
    x, y = batch()
    w(x, y, delta_for(kind, G))
    probe, *log = counter(net).log
    assert probe == (2, False, False)  # channels_last probe, once per classifier (see test_memory_format.py)
    if kind == "mda":
        assert G.calls == {"encode": 1, "decode": 1, "decode_rows": K * B}
        assert log == [((K + 1) * B, True, True)]
    elif kind.startswith("mrt"):
        assert G.calls == {"encode": 1, "decode": 1, "decode_rows": K * B}
        assert log == [(K * B, False, False), (2 * B, True, True)]
    else:
        assert G.calls == {"encode": 1, "decode": K + 1, "decode_rows": (K + 1) * B}
        assert log == [(B, False, True)] * K + [(2 * B, True, True)]


# ---------------------------------------------------------------------------- G frozen
@pytest.mark.parametrize("kind", KINDS)
def test_G_is_frozen_and_gets_no_gradient(kind):
    net, G = small_net(bn=True), TinyLearned()
    w = make(kind, net, G)
    w.train()
    w.requires_grad_(True)
    assert not G.training and all(not p.requires_grad for p in G.parameters())
    g_before = copy.deepcopy(G.state_dict())
    f_before = copy.deepcopy(net.state_dict())
    opt = torch.optim.SGD(w.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    for step in range(3):
        x, y = batch(seed=step)
        w(x, y).backward()
        assert all(p.grad is None for p in G.parameters())
        opt.step()
        opt.zero_grad()
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in g_before.items())
    assert not all(torch.equal(v, net.state_dict()[k]) for k, v in f_before.items())
    assert set(w.model.state_dict()) == set(f_before), "the classifier checkpoint has no wrapper keys"


def test_to_moves_classifier_and_G():
    w = MDAWrapper(small_net(), TinyLearned(), k=2).to(torch.float64)
    assert w.model[1].weight.dtype == torch.float64 and w.G.dec.weight.dtype == torch.float64
    x, y = batch()
    assert w(x.double(), y).dtype == torch.float32  # losses are float32 by design


@pytest.mark.parametrize("kind", KINDS)
def test_augment_weights_reproduce_the_objective(kind):
    net = small_net(bn=True)
    w = make(kind, net, lam=0.6)
    x, y = batch()
    delta = delta_for(kind, w.G)
    # augment first: the update forward moves BatchNorm statistics, which the search reads
    images, targets, weights = w.augment(x, y, delta)
    loss = w(x, y, delta)
    crit = nn.CrossEntropyLoss(reduction="none")
    torch.testing.assert_close((weights * crit(net(images), targets)).sum(), loss)
    assert images.shape[0] == targets.shape[0] == weights.shape[0]


# ---------------------------------------------------------------------------- errors
def test_mat_refuses_non_differentiable_models():
    with pytest.raises(ValueError, match=r"Posterize.*differentiable=False.*MRTWrapper.*MDAWrapper"):
        MATWrapper(small_net(), Posterize())
    with pytest.raises(ValueError, match=r"non-differentiable parts: Posterize"):
        MATWrapper(small_net(), Compose([Brightness(), Posterize()]))
    MRTWrapper(small_net(), Posterize(), k=2)(*batch())  # sampling methods accept it


def test_clear_errors():
    net, G = small_net(), Brightness()
    x, y = batch()
    w = MDAWrapper(net, G, k=2)
    with pytest.raises(ValueError, match="training mode.*wrapper\\(x, y\\)"):
        w(x)
    with pytest.raises(ValueError, match="eval mode"):
        w.eval()(x, y)
    w.train()
    with pytest.raises(ValueError, match="one target per image"):
        w(x, y[:3])
    with pytest.raises(ValueError, match=r"delta must have shape \(k, B, q\) = \(2, 6, 1\)"):
        w(x, y, torch.zeros(3, B, 1))
    with pytest.raises(ValueError, match="0..255|\\[0, 1\\]"):
        w(x * 255, y)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k .* must be an int >= 1"):
            MDAWrapper(net, G, k=bad)
        with pytest.raises(ValueError, match="k .* must be an int >= 1"):
            MRTWrapper(net, G, k=bad)
    with pytest.raises(ValueError, match="ascent steps.*>= 0"):
        MATWrapper(net, G, k=-1)
    with pytest.raises(ValueError, match="selection"):
        MRTWrapper(net, G, selection="worst")
    with pytest.raises(ValueError, match="lam"):
        MDAWrapper(net, G, lam=-1)
    with pytest.raises(ValueError, match="chunk"):
        MDAWrapper(net, G, chunk=0)
    with pytest.raises(ValueError, match="step_size"):
        MATWrapper(net, G, step_size=0)
    with pytest.raises(TypeError, match="NuisanceModel"):
        MDAWrapper(net, nn.Identity())
    with pytest.raises(TypeError, match="reduction"):
        MDAWrapper(net, G, criterion=nn.Identity())
    with pytest.raises(ValueError, match="scalar"):
        MDAWrapper(net, G, criterion=lambda out, t, reduction: F.cross_entropy(out, t))(x, y)
    with pytest.raises(ValueError, match="image_shape"):
        PGDWrapper(net)
    with pytest.raises(TypeError, match="float images"):
        MATWrapper(net, G)((x * 255).to(torch.uint8), y)


def test_uint8_batches_pass_through_to_the_classifier_for_sampling_methods():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5))
    f = lambda x: net(x.float() / 255)  # noqa: E731
    model = nn.Module()
    model.forward = f  # type: ignore[method-assign]
    w = MDAWrapper(model, Brightness(), k=2)
    x, y = batch()
    xu = (x * 255).round().to(torch.uint8)
    images, _, _ = w.augment(xu, y)
    assert images.dtype == torch.uint8
    assert torch.isfinite(w(xu, y))


# ---------------------------------------------------------------------------- ecosystem
@pytest.mark.parametrize("kind", KINDS)
def test_autocast_bf16_on_cpu(kind):
    net = small_net(bn=True)
    w = make(kind, net)
    x, y = batch()
    delta = delta_for(kind, w.G)
    ref = w(x, y, delta)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = w(x, y, delta)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())
    torch.testing.assert_close(loss, ref, rtol=0.1, atol=0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_equals_unchunked(kind):
    losses, grads = [], []
    for chunk in (None, 4):
        net, G = small_net(dropout=False), TinyLearned()
        torch.manual_seed(0)
        G = TinyLearned()
        w = make(kind, net, G, chunk=chunk)
        x, y = batch()
        loss = w(x, y, delta_for(kind, G))
        loss.backward()
        losses.append(loss.detach())
        grads.append([p.grad for p in net.parameters()])
        if chunk:
            log = counter(net).log
            # The search calls are bounded; the update (train mode) is one call of the whole batch.
            assert max((n for n, training, _ in log if not training), default=0) <= chunk
            assert [n for n, training, _ in log if training] == [(K + 1) * B if kind == "mda" else 2 * B]
            assert G.calls["decode_rows"] / G.calls["decode"] <= B  # one draw per G call
    # Bit for bit: see test_search_plan.py for every plan.
    assert torch.equal(losses[0], losses[1])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_gradient_accumulation_matches_the_full_batch():
    G = Brightness()
    x, y = batch()
    delta = fixed_delta(G)
    net = small_net()
    MDAWrapper(net, G, k=K)(x, y, delta).backward()
    full = [p.grad.clone() for p in net.parameters()]
    net = small_net()
    w = MDAWrapper(net, G, k=K)
    for half in (slice(0, 3), slice(3, 6)):
        (w(x[half], y[half], delta[:, half]) / 2).backward()
    for a, p in zip(full, net.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_channels_last(kind):
    x, y = batch()
    ref = make(kind, small_net(bn=True), Brightness())(x, y, delta_for(kind, Brightness()))
    net = small_net(bn=True).to(memory_format=torch.channels_last)
    w = make(kind, net, Brightness())
    xc = x.contiguous(memory_format=torch.channels_last)
    images, _, _ = w.augment(xc, y, delta_for(kind, w.G))
    assert images.is_contiguous(memory_format=torch.channels_last)
    loss = w(xc, y, delta_for(kind, w.G))
    torch.testing.assert_close(loss, ref, rtol=1e-4, atol=1e-5)
    loss.backward()


@pytest.mark.parametrize("kind", ["mda", "mat"])
def test_compiled_classifier(kind):
    x, y = batch()
    ref = make(kind, small_net(), Brightness())(x, y, delta_for(kind, Brightness()))
    net = small_net()
    w = make(kind, torch.compile(net, backend="aot_eager"), Brightness())
    loss = w(x, y, delta_for(kind, w.G))
    loss.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    w.eval()
    torch.testing.assert_close(w(x), net(x))


@pytest.mark.slow
def test_inductor_compiled_classifier():
    x, y = batch()
    ref = make("mrt", small_net(), Brightness())(x, y, fixed_delta(Brightness()))
    w = make("mrt", torch.compile(small_net()), Brightness())
    loss = w(x, y, fixed_delta(w.G))
    loss.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_works_with_any_nuisance_model(kind):
    for G in (Brightness(), TinyLearned(), Compose([Contrast(), TinyLearned()]), Brightness() @ Contrast()):
        net = small_net()
        w = make(kind, net, G, generator=torch.Generator().manual_seed(0))
        x, y = batch()
        loss = w(x, y)
        loss.backward()
        assert torch.isfinite(loss) and net[1].weight.grad is not None
