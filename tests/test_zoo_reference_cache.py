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
