"""benchmarks/zoo/measure_zoo.py: the label-preservation judge is trained once and reused from its cache."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch


def test_reference_classifier_is_cached_and_checked(tmp_path, monkeypatch):
    from benchmarks.zoo import measure_zoo

    exp = SimpleNamespace(all_data="mnist-sample:train?limit=64", test_a="mnist-sample:test?limit=8")
    first = measure_zoo.reference_classifier(exp, "cpu", None, 1, tmp_path / "ref")
    assert (tmp_path / "ref" / "classifier.json").is_file()

    def no_training(*a, **k):  # a second call must not train again
        raise AssertionError("trained again")

    monkeypatch.setattr(measure_zoo, "train", no_training)
    again = measure_zoo.reference_classifier(exp, "cpu", None, 1, tmp_path / "ref")
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(first(x), again(x))
    with pytest.raises(ValueError, match="epochs"):
        measure_zoo.reference_classifier(exp, "cpu", None, 2, tmp_path / "ref")


def test_variants_choose_which_trainings_run(monkeypatch):
    from benchmarks.zoo import measure_zoo

    calls, ks = [], []

    def fake_train(**kw):
        calls.append((kw["algorithm"], kw["seed"], kw["nuisance"]))
        ks.append(kw["k"])
        return SimpleNamespace(metrics=[{"acc/B": 0.5 + 0.1 * kw["seed"]}])

    monkeypatch.setattr(measure_zoo, "train", fake_train)
    monkeypatch.setattr(measure_zoo, "known_model", lambda exp: "KNOWN")
    exp = SimpleNamespace(known=["brightness"], domain_a="A", test_b="B")
    out = measure_zoo.what_it_buys(exp, "G", "cpu", None, [0, 2], 1, which=("erm", "this"))
    assert calls == [("erm", 0, None), ("mda", 0, "G"), ("erm", 2, None), ("mda", 2, "G")]  # no known-model run
    assert out["ERM"]["accs"] == [50.0, 70.0] and out["MDA-5 (this model)"]["mean"] == 60.0
    calls.clear()
    ks.clear()
    out = measure_zoo.what_it_buys(exp, "G", "cpu", None, [1], 1)  # default: all four
    assert [c[0] for c in calls] == ["erm", "mda", "mda", "mrt"] and calls[2][2] == "KNOWN" and calls[3][2] == "G"
    assert ks == [None, 5, 5, 10]  # MDA-5 and MRT-10, the paper's k
    assert set(out) == {"ERM", "MDA-5 (this model)", "MDA-5 (known: brightness)", "MRT-10 (this model)"}
