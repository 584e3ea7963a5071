"""Inputs checked once, at the edge (issue 11, item 4): each example of the issue as a test.

δ outside Δ is projected (every registered model), B = 0 gives an empty batch (every registered
model, and the wrappers' zero loss), labels and classifier outputs get named errors, numeric
arguments their ranges, MAT the image-shape check of MDA and MRT. The fuzz suite
(``tests/fuzz/``) throws the same kinds of input at every entry point and model kind.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import nuisance_zoo as nz
from nuisance_zoo.base import NORMAL_PRIOR_LIMIT
from nuisance_zoo.training.inputs import check_label_values, check_labels, check_logits

ALL = nz.list_models(experimental=True)  # every zoo model too, by the name that loads it
H = W = 12
# Zoo names resolve to their bundled copies offline (see the fixture); the warning says so.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def build(name: str) -> nz.NuisanceModel:
    if name.startswith("additive-"):
        return nz.load(name, shape=(3, H, W))
    return nz.load(name)


def x_for(G, b=3, seed=0):
    c = (G.input_spec().get("channels") or 3)
    size = G.input_spec().get("size") or [H, W]
    return 0.1 + 0.8 * torch.rand(b, c, *size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # zoo names resolve to their bundled copies


# ---------------------------------------------------------------------------- δ projected into Δ
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("far", [1e6, -1e6, "mixed", 3e38])
def test_delta_outside_delta_is_projected_in_every_model(name, far):
    G = build(name).eval()
    x = x_for(G)
    q = G.delta_dim
    if far == "mixed":
        delta = torch.where(torch.rand(3, q, generator=torch.Generator().manual_seed(1)) < 0.5, 1e6, -1e6)
    else:
        delta = torch.full((3, q), float(far))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        out = G(x, delta)
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert out.min() >= 0 and out.max() <= 1
        projected = G.project(delta)
        assert torch.isfinite(projected).all()
        torch.testing.assert_close(out, G(x, projected), atol=1e-5, rtol=1e-4)
        imgs, used = G.forward_multi(x, delta=delta[None].expand(2, -1, -1), generator=gen)
        torch.testing.assert_close(used[0], projected)  # forward_multi returns the δ it used
        torch.testing.assert_close(imgs[0], out, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["colorize", "decolorize", "foreground-color", "affine"])
def test_the_issue_models_no_longer_blow_up(name):
    """The four models whose outputs reached 1e11 or NaN for δ outside Δ."""
    G = build(name)
    for value in (1e3, -1e3, 1e11):
        out = G(x_for(G), torch.full((3, G.delta_dim), value))
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_normal_prior_is_cut_far_beyond_any_draw():
    G = nz.load("gtsrb-brightness")
    assert G.prior == "normal" and G.bounds() is None
    d = torch.tensor([[3.0], [3e38], [-5e3]]).expand(-1, G.delta_dim)
    want = torch.tensor([[3.0], [NORMAL_PRIOR_LIMIT], [-NORMAL_PRIOR_LIMIT]]).expand(-1, G.delta_dim)
    torch.testing.assert_close(G.project(d), want)


def test_projection_keeps_the_gradient_on_the_box_faces():
    """Haze's identity (no haze) is on the low face of Δ: ∂G/∂δ through forward equals decode's
    (a clamp or max/min would halve it there)."""
    G = nz.load("haze").double()
    x = x_for(G).double()
    d = G.bounds(dtype=torch.float64)[0].expand(3, -1).clone().requires_grad_(True)
    (g_forward,) = torch.autograd.grad(G(x, d).square().sum(), d)
    d2 = d.detach().clone().requires_grad_(True)
    (g_decode,) = torch.autograd.grad(G.decode(x, d2).square().sum(), d2)
    torch.testing.assert_close(g_forward, g_decode)
    assert g_forward.abs().sum() > 0
    outside = (d.detach() - 1.0).requires_grad_(True)
    (g_out,) = torch.autograd.grad(G(x, outside).sum(), outside)
    assert not g_out.any()  # G is constant in δ outside Δ


def test_mat_does_not_project_twice():
    """MAT projects its iterates itself and calls decode, which does not project again."""
    G = nz.load("brightness")
    calls = []
    real = G.project
    G.project = lambda d: (calls.append(1), real(d))[1]
    w = nz.MATWrapper(nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3)), G, k=4)
    x = x_for(G, 4)
    w.search(x, torch.tensor([0, 1, 2, 0]))
    assert len(calls) == 1 + 1 + 4  # start, the search's first projection, one per step


# ---------------------------------------------------------------------------- B = 0
@pytest.mark.parametrize("name", ALL)
def test_empty_batch_in_every_model(name):
    G = build(name)
    x = x_for(G)[:0]
    assert G(x).shape == x.shape and G(x).dtype == x.dtype
    assert G(x.to(torch.uint8)).dtype == torch.uint8
    imgs, d = G.forward_multi(x, k=3)
    assert imgs.shape == (3, *x.shape) and d.shape == (3, 0, G.delta_dim)
    # The direct decode the wrappers' searches use (MAT, evaluate) works too.
    assert G.decode(G.encode(x), G.sample_delta(0)).shape[0] == 0


def test_empty_batch_skips_decode():
    class Counting(nz.NuisanceModel):
        delta_dim = 1

        def __init__(self):
            super().__init__()
            self.set_delta_box([0.0], [1.0])
            self.calls = 0

        def decode(self, content, delta):
            self.calls += 1
            return content * delta[:, :, None, None]

    G = Counting()
    G(torch.rand(0, 3, 4, 4), torch.zeros(0, 1))
    G.forward_multi(torch.rand(0, 3, 4, 4), k=2)
    assert G.calls == 0


@pytest.mark.parametrize("wrapper", ["mda", "mrt", "mat", "pgd"])
def test_wrappers_give_a_zero_loss_with_grad_fn_for_an_empty_batch(wrapper):
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3))
    G = nz.load("rotation")
    w = {"mda": lambda: nz.MDAWrapper(net, G, k=2), "mrt": lambda: nz.MRTWrapper(net, G, k=2),
         "mat": lambda: nz.MATWrapper(net, G, k=2), "pgd": lambda: nz.PGDWrapper(net, image_shape=(3, H, W))}[wrapper]()
    x, y = torch.rand(0, 3, H, W), torch.zeros(0, dtype=torch.long)
    loss = w(x, y)
    assert loss.ndim == 0 and loss.grad_fn is not None and float(loss.detach()) == 0.0
    loss.backward()
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    images, targets, weights = w.augment(x, y)
    assert images.shape == (0, 3, H, W) and targets.shape == (0,) and weights.shape == (0,)
    if wrapper != "mda":
        x_adv, d_adv = w.search(x, y)
        assert x_adv.shape == (0, 3, H, W) and d_adv.shape == (0, w.G.delta_dim)


# ---------------------------------------------------------------------------- labels
def _wrapper():
    torch.manual_seed(0)
    return nz.MDAWrapper(nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3)), nz.load("brightness"), k=2)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_integer_labels_are_converted(dtype):
    w = _wrapper()
    x, y = torch.rand(4, 3, H, W), torch.tensor([0, 1, 2, 1])
    d = w.G.sample_delta(8, generator=torch.Generator().manual_seed(0)).view(2, 4, 1)
    torch.testing.assert_close(w(x, y.to(dtype), d), w(x, y, d))


@pytest.mark.parametrize("bad,match", [(-100, r"from -100 to .*ignore_index"), (-1, "from -1 to"),
                                       (3, r"y < 3 \(the classifier's outputs\), got values from 0 to 3")])
def test_labels_outside_the_classes_are_refused(bad, match):
    y = torch.tensor([0, 1, 2, 1])
    y[1] = bad
    with pytest.raises(ValueError, match=match):
        _wrapper()(torch.rand(4, 3, H, W), y)


@pytest.mark.parametrize("y", [torch.zeros(4), torch.zeros(4, dtype=torch.bool), torch.zeros(4, 1, dtype=torch.long)])
def test_float_bool_and_column_labels_are_refused_with_a_fix(y):
    with pytest.raises(ValueError, match=r"class indices .*y\.long\(\)\.view\(-1\)"):
        _wrapper()(torch.rand(4, 3, H, W), y)


def test_label_values_follow_the_check_modes():
    y = torch.tensor([0, 5])
    with pytest.raises(ValueError):
        check_label_values(y, 3, mode="full")
    with pytest.raises(RuntimeError):  # async on CPU: the queued assert fires at once
        check_label_values(y, 3, mode="async")
    check_label_values(y, 3, mode="off")
    assert check_labels(torch.tensor([1, 2], dtype=torch.int32)).dtype == torch.int64


def test_label_value_check_runs_once_per_wrapper_call(monkeypatch):
    """MRT scores k draws and then trains: the labels are checked at the first output only."""
    import nuisance_zoo.training.wrapper as wrapper_module

    calls = []
    real = wrapper_module.check_label_values
    monkeypatch.setattr(wrapper_module, "check_label_values", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    w = nz.MRTWrapper(nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3)), nz.load("brightness"), k=3, chunk=4)
    w(torch.rand(4, 3, H, W), torch.tensor([0, 1, 2, 1]))
    assert len(calls) == 1


# ---------------------------------------------------------------------------- the classifier's output
class Returns(nn.Module):
    def __init__(self, what):
        super().__init__()
        self.lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3))
        self.what = what

    def forward(self, x):
        out = self.lin(x)
        return {"tuple": (out, out), "dict": {"logits": out}, "batch": out[:1], "flat": out.sum(1)}[self.what]


@pytest.mark.parametrize("what,match", [("tuple", "returned a tuple, not a tensor; wrap it to return the logits"),
                                        ("dict", r"returned a dict with keys \['logits'\]"),
                                        ("batch", r"shape \(1, 3\) for a batch of \d+ images"),
                                        ("flat", r"shape \(\d+,\) for a batch")])
@pytest.mark.parametrize("wrapper", [nz.MDAWrapper, nz.MRTWrapper, nz.MATWrapper])
def test_classifier_output_is_checked(wrapper, what, match):
    w = wrapper(Returns(what), nz.load("brightness"), k=2)
    with pytest.raises((TypeError, ValueError), match=match):
        w(torch.rand(4, 3, H, W), torch.tensor([0, 1, 2, 1]))


def test_check_logits_reads_metadata_only():
    meta = torch.empty(4, 3, device="meta")  # no values at all: any value access would fail
    check_logits(meta, 4)
    with pytest.raises(ValueError, match="for a batch of 5"):
        check_logits(meta, 5)


# ---------------------------------------------------------------------------- MAT's image-shape check
class ToGray(nz.NuisanceModel):
    delta_dim = 1

    def __init__(self):
        super().__init__()
        self.set_delta_box([0.0], [1.0])

    def decode(self, x, delta):
        return x.mean(dim=1, keepdim=True) * (1 + 0 * delta[:, :, None, None])


@pytest.mark.parametrize("wrapper", [nz.MDAWrapper, nz.MRTWrapper, nz.MATWrapper])
def test_every_wrapper_checks_the_generated_shape(wrapper):
    w = wrapper(nn.Sequential(nn.Flatten(), nn.LazyLinear(3)), ToGray(), k=1)
    with pytest.raises(ValueError, match=r"turns \(3, 4, 4\) images into \(1, 4, 4\)"):
        w(torch.rand(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))


# ---------------------------------------------------------------------------- numeric arguments
@pytest.mark.parametrize("kwargs,match", [
    (dict(n_train=-5), r"train: n_train must be an int >= 1 \(images; None: all\), got -5"),
    (dict(checkpoint_every=-1), r"checkpoint_every must be an int >= 1 .*got -1"),
    (dict(epochs=-1), "epochs must be an int >= 0"), (dict(batch_size=0), "batch_size must be an int >= 1"),
    (dict(lr=-0.1), r"lr must be a number > 0"),
])
def test_train_arguments_have_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nz.train(data=(torch.rand(4, 3, H, W), torch.tensor([0, 1, 2, 0])), algorithm="erm", progress=False, **kwargs)


def test_evaluate_refuses_a_descending_step():
    with pytest.raises(ValueError, match=r"evaluate: step_size must be a number > 0 .*got -1"):
        nz.evaluate(nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3)),
                    (torch.rand(4, 3, H, W), torch.tensor([0, 1, 2, 0])), nuisance="brightness", step_size=-1)


def test_a_custom_criterion_may_take_one_output_per_image():
    """The logits check asks for (N, classes) only for cross-entropy: a regression loss keeps (N,)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 1), nn.Flatten(0))
    w = nz.MDAWrapper(net, nz.load("brightness"), k=2, criterion=nn.MSELoss())
    loss = w(torch.rand(4, 3, H, W), torch.rand(4))
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_mrt_reports_the_projected_delta_it_used():
    G = nz.load("brightness")
    w = nz.MRTWrapper(nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 3)), G, k=2, selection="sample")
    x, y = torch.rand(3, 3, H, W), torch.tensor([0, 1, 2])
    x_adv, d_adv = w.search(x, y, torch.full((2, 3, 1), 1e6))
    torch.testing.assert_close(d_adv, G.project(torch.full((3, 1), 1e6)))
    torch.testing.assert_close(x_adv, G(x, d_adv))
