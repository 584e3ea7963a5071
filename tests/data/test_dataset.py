"""ImageDataset: storage, items, batches, subsets, conversions, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nuisance_zoo.data import ImageDataset, concat_datasets, load_npz


def _ds(n=6, c=3, h=4, w=5):
    x = torch.arange(n * c * h * w, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, c, h, w)
    return ImageDataset(x, torch.arange(n) % 3, name="t", meta={"tid": torch.arange(n) * 10})


class TestImageDataset:
    def test_item_is_float_in_unit_range(self):
        ds = _ds()
        img, label = ds[4]
        assert img.dtype == torch.float32 and img.shape == (3, 4, 5)
        assert torch.equal(img, ds.x[4].float() / 255)
        assert label == 1 and isinstance(label, int)
        assert ds.x.dtype == torch.uint8  # storage untouched

    def test_dataloader_batches_match_items(self):
        ds = _ds()
        xb, yb = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
        assert xb.shape == (4, 3, 4, 5) and xb.dtype == torch.float32
        assert torch.equal(xb, ds.to_float()[:4]) and yb.tolist() == [0, 1, 2, 0]

    def test_transform_applied(self):
        ds = _ds().replace(transform=lambda t: 1 - t)
        assert torch.allclose(ds[0][0], 1 - ds.x[0].float() / 255)
        xb, _ = next(iter(DataLoader(ds, batch_size=2)))
        assert torch.allclose(xb[1], 1 - ds.x[1].float() / 255)

    def test_subset_keeps_meta_aligned(self):
        ds = _ds()
        sub = ds.subset([5, 1])
        assert sub.y.tolist() == [2, 1] and sub.meta["tid"].tolist() == [50, 10]
        assert torch.equal(sub.x[0], ds.x[5])
        mask = ds.y == 0
        assert ds.subset(mask).meta["tid"].tolist() == [0, 30]

    def test_subset_errors(self):
        ds = _ds()
        with pytest.raises(IndexError, match=r"\[0, 6\)"):
            ds.subset([0, 6])
        with pytest.raises(ValueError, match="boolean mask has 2 entries for 6 images"):
            ds.subset(torch.tensor([True, False]))

    def test_float_helpers(self):
        ds = _ds()
        f = ds.float()
        assert f.dtype == torch.float32 and float(f.max()) <= 1.0
        assert ds.to_float(torch.float64).dtype == torch.float64

    def test_from_numpy_layouts(self):
        x = np.zeros((2, 5, 6, 3), np.uint8)
        x[1, 0, 0, 2] = 9
        ds = ImageDataset.from_numpy(x, [0, 1])
        assert ds.x.shape == (2, 3, 5, 6) and int(ds.x[1, 2, 0, 0]) == 9
        assert ImageDataset.from_numpy(np.zeros((2, 5, 6), np.uint8), [0, 1], layout="NHW").x.shape == (2, 1, 5, 6)

    def test_bad_inputs(self):
        with pytest.raises(TypeError, match="uint8"):
            ImageDataset(torch.zeros(2, 1, 2, 2), [0, 1])
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            ImageDataset(torch.zeros(2, 2, 2, dtype=torch.uint8), [0, 1])
        with pytest.raises(ValueError, match="2 images but 3 labels"):
            ImageDataset(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), [0, 1, 2])
        with pytest.raises(TypeError, match="integers"):
            ImageDataset(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.tensor([0.0, 1.0]))
        with pytest.raises(ValueError, match="meta"):
            ImageDataset(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), [0, 1], meta={"a": torch.zeros(3)})

    def test_save_npz_round_trip(self, tmp_path):
        ds = _ds()
        path = ds.save_npz(tmp_path / "d.npz")
        back = load_npz(path)
        assert torch.equal(back.x, ds.x) and torch.equal(back.y, ds.y)
        assert torch.equal(back.meta["tid"], ds.meta["tid"])

    def test_concat_and_counts(self):
        a, b = _ds(), _ds(n=3)
        c = concat_datasets([a, b])
        assert len(c) == 9 and c.label_counts() == {0: 3, 1: 3, 2: 3}
        with pytest.raises(ValueError, match="size="):
            concat_datasets([a, _ds(h=3)])

    def test_num_classes(self):
        ds = _ds()
        assert ds.num_classes == 3
        assert ds.replace(classes=["a", "b", "c", "d"]).num_classes == 4
