"""The real GTSRB/MNIST files in ../shared/data: Table 11 domain counts, exactly as the data
README states them (slow: decompresses GTSRB)."""
from __future__ import annotations

import pytest
import torch

from nuisance_zoo.data import GTSRB_LARGEST10, curate, load_dataset, preset, sample_mnist


@pytest.mark.slow
def test_gtsrb_table11_counts(shared_data):
    train = load_dataset("gtsrb:train?classes=largest10", root=shared_data)
    assert len(train) == sum(train.label_counts().values())
    counts = train.label_counts()
    assert counts[0] == 2250 and min(counts.values()) == 1470 and len(counts) == 10  # class 2 → 0, 9 → 9
    assert train.classes == [str(c) for c in GTSRB_LARGEST10]
    expected = {"<40": 4261, ">170": 1124}
    for text, n in expected.items():
        assert len(curate(train, brightness=text)) == n, text
    assert len(curate(train, brightness="85-125")) == 4567
    assert len(curate(train, contrast="<70")) == 2290
    assert len(curate(train, contrast="150-200")) == 2821
    assert len(curate(train, contrast=">240")) == 3524

    test = load_dataset("gtsrb:test?classes=largest10", root=shared_data)
    for name, n in {"gtsrb-brightness-low": 1261, "gtsrb-brightness-medium": 1622, "gtsrb-brightness-high": 301,
                      "gtsrb-contrast-low": 712, "gtsrb-contrast-medium": 909, "gtsrb-contrast-high": 1057}.items():
        assert len(curate(test, **preset(name))) == n, name
    # the spec path gives the same domain as the Python path
    night = load_dataset("gtsrb:train?classes=largest10&brightness=<40", root=shared_data)
    assert torch.equal(night.x, curate(train, brightness=(None, 40)).x)
    assert "track_id" in night.meta


@pytest.mark.slow
def test_mnist_and_bundled_sample_agree(shared_data):
    full = load_dataset("mnist:test", root=shared_data)
    assert len(full) == 10000 and full.classes == [str(d) for d in range(10)]
    sample = sample_mnist("test")
    assert torch.equal(full.x[sample.meta["index"]], sample.x)
    assert torch.equal(full.y[sample.meta["index"]], sample.y)
