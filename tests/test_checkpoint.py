"""One checkpoint module for train, fit and fit-structured: same format, atomic, exact resume."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from nuisance_zoo import checkpoint
from nuisance_zoo.checkpoint import (CHECKPOINT_NAME, FORMAT, load_checkpoint, read_checkpoint, restore_checkpoint,
                                     save_checkpoint)
from nuisance_zoo.learned.fit import fit
from nuisance_zoo.training.trainer import train
from tests.learned.test_fit import TINY, domains
from tests.training.test_trainer import Shift, toy_data

#: Key families every checkpoint may hold (module docstring of nuisance_zoo.checkpoint).
FAMILIES = {"model", "optim", "rng", "extra"}


def _train(out, **kw):
    args = dict(model="paper-cnn", nuisance=Shift(), algorithm="mda", k=2, data=toy_data(24),
                test_domains={"toy": toy_data(8, seed=1)}, epochs=2, batch_size=8, out=out, seed=0,
                checkpoint_every=None, progress=False)
    return train(**{**args, **kw})


def _fit(out, config, **kw):
    a, b = domains()
    args = dict(config=config, progress=False, grid_every=0, checkpoint_every=2, seed=3, batch_size=2, out_dir=out)
    return fit(a, b, **{**args, **kw})


RUNS = {
    # name: (uninterrupted run, first half, resumed second half, optimizer names)
    "train": (lambda out: _train(out), lambda out: _train(out, max_steps=4),
              lambda out: _train(out, resume=True), {"main"}),
    "fit": (lambda out: _fit(out, TINY, iterations=4), lambda out: _fit(out, TINY, iterations=2),
            lambda out: _fit(out, TINY, iterations=4, resume=True), {"gen", "dis"}),
    "fit-structured": (lambda out: _fit(out, "structured", iterations=4),
                       lambda out: _fit(out, "structured", iterations=2),
                       lambda out: _fit(out, "structured", iterations=4, resume=True), {"gen", "dis"}),
}


@pytest.mark.parametrize("entry", sorted(RUNS))
def test_every_trainer_writes_the_one_format_and_resumes_exactly(tmp_path, entry):
    straight, first, resumed, optimizers = RUNS[entry]
    straight(tmp_path / "straight")
    first(tmp_path / "split")
    half = read_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    resumed(tmp_path / "split")
    ref = read_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME)
    got = read_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)

    # one schema: the same families of keys, the global RNG, the optimizers by name, the JSON copy
    for ck in (ref, got):
        assert {k.split(".", 1)[0] for k in ck.tensors} <= FAMILIES
        assert any(k.startswith("model.") for k in ck.tensors) and "rng.torch.cpu" in ck.tensors
        assert set(ck.optimizers) == optimizers
        assert all(any(k.startswith(f"optim.{o}.state.") for k in ck.tensors) for o in optimizers)
        assert json.loads(ck.path.with_suffix(".json").read_text()) == ck.state
        assert not list(ck.path.parent.glob("*.tmp"))
    # exact resume: every tensor (weights, optimizer moments, RNG and sampler states) is equal
    assert ref.tensors.keys() == got.tensors.keys()
    assert all(torch.equal(ref.tensors[k], got.tensors[k]) for k in ref.tensors)
    # ...and the comparison is not vacuous: the run moved on after the first half
    assert any(not torch.equal(half.tensors[k], got.tensors[k]) for k in got.tensors if k.startswith("model."))


def test_the_three_trainers_share_one_format_string(tmp_path):
    _train(tmp_path / "t", max_steps=1)
    _fit(tmp_path / "f", TINY, iterations=1)
    _fit(tmp_path / "s", "structured", iterations=1)
    from safetensors import safe_open

    formats = set()
    for d in ("t", "f", "s"):
        with safe_open(str(tmp_path / d / CHECKPOINT_NAME), "pt") as f:
            formats.add(f.metadata()["format"])
    assert formats == {FORMAT}


def test_a_fit_checkpoint_refuses_the_other_family(tmp_path):
    _fit(tmp_path, TINY, iterations=1)
    with pytest.raises(ValueError, match="not a structured fit checkpoint"):
        _fit(tmp_path, "structured", iterations=2, resume=True)


# ---------------------------------------------------------------------------------- the module
def _stepped(opt_cls, **kw):
    m = nn.Linear(3, 2)
    opt = opt_cls(m.parameters(), **kw)
    m(torch.rand(4, 3)).sum().backward()
    opt.step()
    return m, opt


@pytest.mark.parametrize("opt_cls, kw", [(torch.optim.Adam, {"betas": (0.5, 0.9)}),
                                         (torch.optim.SGD, {"lr": 0.1, "momentum": 0.0}),
                                         (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9})])
def test_optimizer_state_round_trips(tmp_path, opt_cls, kw):
    m, opt = _stepped(opt_cls, **kw)
    gen = torch.Generator().manual_seed(7)
    torch.rand(5, generator=gen)  # move the generator off its seed
    save_checkpoint(tmp_path / CHECKPOINT_NAME, m, {"a": opt}, {"step": 1}, generators={"data": gen},
                    extras={"perm": torch.arange(5)})
    m2 = nn.Linear(3, 2)
    opt2 = opt_cls(m2.parameters(), **kw)
    gen2 = torch.Generator().manual_seed(0)
    ck = read_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert restore_checkpoint(ck, m2, {"a": opt2}, generators={"data": gen2}, restore_rng=False) == {"step": 1}
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]  # betas stay a tuple
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    for pid in s1:
        for key, v in s1[pid].items():
            assert torch.equal(v, s2[pid][key]) if isinstance(v, torch.Tensor) else v == s2[pid][key]
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=gen2))
    assert torch.equal(ck.extra("perm"), torch.arange(5))


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    m, opt = _stepped(torch.optim.Adam)
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, m, opt, {"step": 1})
    import safetensors.torch

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt  # the run is killed mid-write

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, m, opt, {"step": 2})
    assert load_checkpoint(path, nn.Linear(3, 2), restore_rng=False) == {"step": 1}


def test_other_files_are_refused_and_nothing_is_unpickled(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not a nuisance-zoo checkpoint"):
        read_checkpoint(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.safetensors")
    source = open(checkpoint.__file__).read()
    assert "torch.load" not in source and "import pickle" not in source
