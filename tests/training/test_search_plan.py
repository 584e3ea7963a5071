"""How the wrappers run their inner search (``chunk``), and what a training step must not do.

* The plan (one batch of k·B, pieces of d draws, an int ``chunk``) changes only the speed:
  the loss and every gradient are equal bit for bit (``torch.equal``) for every plan.
* A training step makes no host sync: no tensor is read back to Python (``item``, ``bool``,
  ``int``/``float``, ``tolist``, ``numpy``, ``cpu``) and no op with a data-dependent output size
  runs (``nonzero``, ``masked_select``...). The counter is checked to catch an injected sync.
"""
from __future__ import annotations

import contextlib
import traceback

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import nuisance_zoo as nz
from nuisance_zoo.base import Compose
from nuisance_zoo.training import MATWrapper, MDAWrapper, ModelBasedWrapper, MRTWrapper, PGDWrapper

from ._toy import Brightness, Contrast, Counter, TinyLearned, batch, small_net

B, K = 6, 3
KINDS = ["mda", "mrt", "mrt-sample", "mat", "pgd"]


def make(kind, net, G, **kw):
    if kind == "mda":
        return MDAWrapper(net, G, k=K, **kw)
    if kind == "mrt":
        return MRTWrapper(net, G, k=K, **kw)
    if kind == "mrt-sample":
        return MRTWrapper(net, G, k=K, selection="sample", **kw)
    if kind == "mat":
        return MATWrapper(net, G, k=K, step_size=0.3, random_start=True, **kw)
    if kind == "pgd":
        return PGDWrapper(net, image_shape=(3, 8, 8), steps=K, step_size=0.05, **kw)
    raise AssertionError(kind)


def one_step(kind, plan, G_factory=TinyLearned, seed=0):
    """Loss and gradients of one step under ``plan``: ("chunk", value) or ("auto", draws per piece)."""
    net = small_net(bn=True, dropout=True)  # BatchNorm and dropout in the train-mode update
    G = G_factory()
    how, value = plan
    w = make(kind, net, G, chunk=value if how == "chunk" else "auto",
             generator=torch.Generator().manual_seed(seed)).train()
    if how == "auto":
        w._time_plans = lambda device, k, probe: value  # force the "measured" choice
    x, y = batch()
    torch.manual_seed(seed)  # the dropout masks of the update
    loss = w(x, y)
    loss.backward()
    log = [n for n, training, _ in next(m for m in net.modules() if isinstance(m, Counter)).log if not training]
    return loss.detach(), [p.grad.clone() for p in net.parameters()], log


PLANS = [("chunk", None), ("chunk", B), ("chunk", 2 * B), ("chunk", K * B), ("chunk", 4),
         ("auto", 1), ("auto", 2), ("auto", K)]


_G_FACTORIES = {"learned": TinyLearned, "known": Brightness, "composed": lambda: Compose([Contrast(), TinyLearned()])}
# PGD brings its own G (the additive model): one case for it, every G for the others.
_CASES = [(kind, g) for kind in KINDS for g in (["learned"] if kind == "pgd" else list(_G_FACTORIES))]


@pytest.mark.parametrize("kind,G_name", _CASES, ids=[f"{k}-{g}" for k, g in _CASES])
def test_every_plan_gives_the_same_loss_and_gradients_bit_for_bit(kind, G_name):
    G_factory = _G_FACTORIES[G_name]
    ref_loss, ref_grads, _ = one_step(kind, ("chunk", None), G_factory)
    for plan in PLANS[1:]:
        loss, grads, log = one_step(kind, plan, G_factory)
        assert torch.equal(loss, ref_loss), plan
        assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads)), plan
        if kind.startswith("mrt"):  # the search's classifier calls follow the plan
            expected = {("chunk", B): [B] * K, ("chunk", 2 * B): [2 * B, B], ("chunk", K * B): [K * B],
                        ("chunk", 4): [4, 2] * K, ("auto", 1): [B] * K, ("auto", 2): [2 * B, B],
                        ("auto", K): [K * B]}[plan]
            # The first eval call is the channels_last probe (memory_format="auto" on CPU).
            assert log == [2] + expected, (plan, log)


def test_auto_plan_is_measured_once_per_configuration_and_picks_the_fastest(monkeypatch):
    w = MRTWrapper(small_net(), TinyLearned(), k=5)
    x, y = batch()
    calls = []

    def probe_times(device, k, probe):
        calls.append(k)
        return ModelBasedWrapper._time_plans(device, k, probe)

    monkeypatch.setattr(w, "_time_plans", probe_times)
    for _ in range(3):
        w(x, y)
    assert calls == [5]                       # cached: one measurement for this batch shape
    w(x[:4], y[:4])
    assert calls == [5, 5]                    # a new batch shape is measured again
    # The choice: least time per draw; ties within 5 % go to more draws per call.
    fake = {1: 1.0, 2: 1.6, 4: 4.0, 5: 4.9}   # seconds for d draws: per draw 1.0, 0.8, 1.0, 0.98
    clock = iter(range(1000))
    d_now = []

    def probe(d):
        d_now.append(d)

    monkeypatch.setattr("nuisance_zoo.training.wrapper.time.perf_counter",
                        lambda: fake[d_now[-1]] * (next(clock) % 2) if d_now else 0.0)
    assert ModelBasedWrapper._time_plans(torch.device("cpu"), 5, probe) == 2


def test_compiled_classifier_is_not_timed():
    net = torch.compile(small_net(), backend="eager")
    w = MRTWrapper(net, Brightness(), k=K)
    x, _ = batch()
    assert w.search_plan(x, K, probe=lambda d: pytest.fail("timed a compiled classifier")) == (K, K * B)


# ---------------------------------------------------------------------------- host syncs
# Ops whose output size depends on the data: the host must read a count from the device.
_SYNC_OPS = ("_local_scalar_dense", "nonzero", "masked_select", "unique", "repeat_interleave", "equal")


class _SyncCounter(TorchDispatchMode):
    """Records every aten op that makes the host wait for tensor data."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in _SYNC_OPS:
            self.events.append((name, "".join(traceback.format_stack(limit=8)[:-1])))
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def count_syncs(monkeypatch):
    """Yield a list that fills with ``(what, where)`` for every host sync in the block.

    Python-level reads that bypass the dispatcher (``tolist``, ``numpy``, ``cpu``) are counted by
    patching ``torch.Tensor``; ``item``/``bool``/``int``/``float`` all reach the dispatcher as
    ``_local_scalar_dense`` and are counted there (and ``item``/``__bool__`` are patched too, so a
    reader sees them named).
    """
    events = []
    for name in ("tolist", "numpy", "cpu", "item", "__bool__"):
        original = getattr(torch.Tensor, name)

        def patched(self, *a, _name=name, _original=original, **kw):
            events.append((_name, "".join(traceback.format_stack(limit=8)[:-1])))
            return _original(self, *a, **kw)
        monkeypatch.setattr(torch.Tensor, name, patched)
    with _SyncCounter(events):
        yield events
    monkeypatch.undo()


def _step(w, opt, x, y):
    loss = w(x, y)
    loss.backward()
    opt.step()
    opt.zero_grad()


WRAPPERS = {
    "mda": lambda net: MDAWrapper(net, nz.load("brightness"), k=K),
    "mda-learned": lambda net: MDAWrapper(net, TinyLearned(), k=K),
    "mrt-batch": lambda net: MRTWrapper(net, nz.load("brightness"), k=K),
    "mrt-sample": lambda net: MRTWrapper(net, TinyLearned(), k=K, selection="sample"),
    "mrt-1": lambda net: MRTWrapper(net, nz.load("contrast"), k=1),
    "mat": lambda net: MATWrapper(net, nz.load("brightness") @ nz.load("contrast"), k=K),
    "mat-learned-random-start": lambda net: MATWrapper(net, TinyLearned(), k=K, random_start=True),
    "pgd": lambda net: PGDWrapper(net, image_shape=(3, 8, 8), steps=K),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
@pytest.mark.parametrize("chunk", ["auto", 4])
def test_no_host_sync_in_a_training_step(name, chunk, monkeypatch):
    net = small_net(bn=True, dropout=True)
    w = WRAPPERS[name](net).train()
    w.chunk = chunk
    opt = torch.optim.SGD(net.parameters(), lr=0.1, foreach=False)
    x, y = batch()
    with nz.input_checks("async"):  # what "full" becomes for accelerator tensors inside the wrappers
        _step(w, opt, x, y)  # the first step of a shape measures the search plan (once)
        with count_syncs(monkeypatch) as events:
            _step(w, opt, x, y)
    assert not events, "host syncs in the step:\n" + "\n".join(f"{what} at\n{where}" for what, where in events)


@pytest.mark.parametrize("inject", ["item", "bool", "int", "tolist", "nonzero"])
def test_the_sync_counter_catches_an_injected_sync(inject, monkeypatch):
    def leaky_criterion(out, target, reduction="none"):
        loss = F.cross_entropy(out, target, reduction=reduction)
        if inject == "item":
            loss.sum().item()
        elif inject == "bool":
            bool(loss.sum() > 0)
        elif inject == "int":
            int(loss.argmax())
        elif inject == "tolist":
            loss.tolist()
        else:
            (loss > 0).nonzero()
        return loss

    net = small_net()
    w = MRTWrapper(net, nz.load("brightness"), k=K, criterion=leaky_criterion).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, foreach=False)
    x, y = batch()
    with nz.input_checks("async"):
        _step(w, opt, x, y)
        with count_syncs(monkeypatch) as events:
            _step(w, opt, x, y)
    assert events, f"an injected {inject} was not counted"


def test_full_checks_of_cpu_batches_still_name_the_problem():
    # Inside a step, "full" becomes "async" only for accelerator tensors: on CPU the check
    # waits for nothing, and its ValueError says what is wrong.
    w = MDAWrapper(small_net(), nz.load("brightness"), k=K)
    x, y = batch()
    with nz.input_checks("full"), pytest.raises(ValueError, match="255"):
        w(x * 255, y)
