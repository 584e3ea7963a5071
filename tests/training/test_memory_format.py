"""The layout of the batches the wrappers give the classifier (``memory_format``).

On CPU ``"auto"`` gives channels_last batches (oneDNN's convolutions run them faster; see
docs/benchmarks.md), after one probe that the classifier accepts them; a classifier that
cannot (``.view`` on a conv output) keeps the contiguous layout and trains as before.
"""
from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from nuisance_zoo.training import MATWrapper, MDAWrapper, MRTWrapper, PGDWrapper

from ._toy import Brightness, TinyLearned, batch, small_net

K = 3


def make(kind: str, net: nn.Module, **kw):
    if kind == "mda":
        return MDAWrapper(net, TinyLearned(), k=K, **kw)
    if kind == "mrt":
        return MRTWrapper(net, Brightness(), k=K, **kw)
    if kind == "mat":
        return MATWrapper(net, TinyLearned(), k=K, step_size=0.3, random_start=True, **kw)
    if kind == "pgd":
        return PGDWrapper(net, image_shape=(3, 8, 8), steps=K, **kw)
    raise AssertionError(kind)


class Layouts(nn.Module):
    """Records whether each batch it sees is channels_last (and not also contiguous)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last))
        return x


class ViewNet(nn.Module):
    """A classifier written for contiguous inputs only: ``.view`` on its conv output."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv(x)
        return self.fc(h.view(h.shape[0], -1))  # fails on a channels_last h


def step(kind: str, net: nn.Module, seed: int = 0, **kw):
    w = make(kind, net, generator=torch.Generator().manual_seed(seed), **kw).train()
    x, y = batch()
    torch.manual_seed(seed)
    loss = w(x, y)
    loss.backward()
    return w, loss.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("kind", ["mda", "mrt", "mat", "pgd"])
def test_auto_on_cpu_feeds_channels_last_and_gives_the_contiguous_result(kind):
    spy = Layouts()
    net = nn.Sequential(spy, *list(small_net(bn=True))[1:])
    _, loss, grads = step(kind, net)
    assert spy.seen and all(spy.seen), spy.seen  # the probe, the search and the update
    ref_net = small_net(bn=True)
    _, ref_loss, ref_grads = step(kind, ref_net, memory_format="preserve")
    # Same maths, other kernels: equal up to rounding.
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads[: len(ref_grads)], ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["mda", "mrt", "mat"])
def test_preserve_keeps_the_layout_of_x_and_makes_no_probe(kind):
    spy = Layouts()
    net = nn.Sequential(spy, *list(small_net())[1:])
    step(kind, net, memory_format="preserve", chunk=None)  # chunk=None: no plan timing calls
    assert spy.seen and not any(spy.seen)
    # The probe would be an eval-mode call on 2 images; with "preserve" every call is full size.
    assert len(spy.seen) == {"mda": 1, "mrt": 2, "mat": K + 1}[kind]


@pytest.mark.parametrize("kind", ["mda", "mrt", "mat", "pgd"])
def test_a_classifier_that_needs_contiguous_inputs_still_trains_under_auto(kind):
    w, loss, grads = step(kind, ViewNet())
    assert w._takes_channels_last == {id(w.model): False}
    _, ref_loss, ref_grads = step(kind, ViewNet(), memory_format="preserve")
    assert torch.equal(loss, ref_loss)  # the contiguous path, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
    with pytest.raises(RuntimeError, match="view"):  # forcing the layout shows the model's own error
        step(kind, ViewNet(), memory_format="channels_last")


def test_the_probe_runs_once_per_classifier_in_eval_mode_without_touching_it():
    net = small_net(bn=True, dropout=True)
    w = MDAWrapper(net, Brightness(), k=K).train()
    stats = {k: v.clone() for k, v in net[2].state_dict().items()}
    x, y = batch()
    w.augment(x, y)
    assert net[0].log[0] == (2, False, False)  # eval mode, no grad, two images
    assert all(torch.equal(v, net[2].state_dict()[k]) for k, v in stats.items())  # BN stats untouched
    assert all(m.training for m in net.modules())
    w.augment(x, y)
    assert [n for n, training, _ in net[0].log].count(2) == 1  # cached per classifier


def test_channels_last_x_and_one_channel_and_accelerator_rules():
    w = MDAWrapper(small_net(), Brightness(), k=1, memory_format="preserve")
    x = torch.rand(2, 3, 8, 8)
    assert w._channels_last(x.contiguous(memory_format=torch.channels_last))  # the caller's layout wins
    assert not w._channels_last(x)
    assert not MDAWrapper(small_net(), Brightness(), k=1)._channels_last(torch.rand(2, 1, 8, 8))
    forced = MDAWrapper(small_net(), Brightness(), k=1, memory_format="channels_last")
    assert forced._channels_last(x) and forced._takes_channels_last == {}  # forced: no probe


def test_bad_memory_format_is_a_clear_error():
    with pytest.raises(ValueError, match=r"memory_format must be one of 'auto', 'channels_last', 'preserve'"):
        MDAWrapper(small_net(), Brightness(), memory_format="channels-last")
    assert "memory_format='preserve'" in repr(MDAWrapper(small_net(), Brightness(), memory_format="preserve"))
