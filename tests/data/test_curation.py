"""Brightness, contrast, thresholds and the Table 11 presets, on hand-made images."""
from __future__ import annotations

import pytest
import torch

from nuisance_zoo.data import PRESETS, ImageDataset, Range, brightness, contrast, curate, parse_range, preset


def _images(pixels):
    """One 1×2×2 RGB image per list of 12 values."""
    return torch.tensor(pixels, dtype=torch.uint8).reshape(len(pixels), 3, 2, 2)


def _const_ds(values):
    x = torch.stack([torch.full((3, 2, 2), v, dtype=torch.uint8) for v in values])
    return ImageDataset(x, torch.zeros(len(values), dtype=torch.long), name="const")


class TestStatistics:
    def test_brightness_is_mean_over_all_channels(self):
        # 11 zeros and one 255: mean = 21.25, contrast = 255
        x = _images([[0] * 11 + [255], [40] * 12, list(range(100, 112))])
        assert brightness(x).tolist() == [21.25, 40.0, 105.5]
        assert contrast(x).tolist() == [255.0, 0.0, 11.0]

    def test_float_images_use_the_0_255_scale(self):
        x = _images([[0] * 11 + [255], list(range(100, 112))])
        xf = x.double() / 255
        assert torch.allclose(brightness(xf), brightness(x))
        assert torch.allclose(contrast(xf), contrast(x))

    def test_single_image_and_dataset_inputs(self):
        x = _images([[7] * 12])
        assert brightness(x[0]).tolist() == [7.0]
        assert contrast(ImageDataset(x, [0])).tolist() == [0.0]

    def test_exact_on_large_sums(self):
        # 255 * 3 * 64 * 64 overflows int16/float16 accumulators; int64 is exact
        x = torch.full((2, 3, 64, 64), 255, dtype=torch.uint8)
        x[1, 0, 0, 0] = 254
        b = brightness(x)
        assert b[0].item() == 255.0 and b[1].item() == 255.0 - 1 / (3 * 64 * 64)


class TestRanges:
    @pytest.mark.parametrize("text, inside, outside", [
        ("<40", [39.99], [40, 41]), (">170", [170.5], [170, 10]), ("85-125", [86, 124.9], [85, 125]),
        ("<=40", [40], [40.01]), (">=170", [170], [169.9]), ("85..125", [100], [85]),
    ])
    def test_parse_range_is_strict_unless_closed(self, text, inside, outside):
        r = parse_range(text)
        assert r.mask(torch.tensor(inside, dtype=torch.float64)).all()
        assert not r.mask(torch.tensor(outside, dtype=torch.float64)).any()

    @pytest.mark.parametrize("bad", ["40", "<", "abc", "10-", "=40"])
    def test_parse_range_errors(self, bad):
        with pytest.raises(ValueError, match="'<40', '>170'"):
            parse_range(bad)

    def test_empty_range_rejected(self):
        with pytest.raises(ValueError, match="exceeds"):
            Range(50, 10)

    def test_table11_presets(self):
        assert preset("gtsrb-brightness-low") == {"brightness": Range(hi=40)}
        assert preset("GTSRB-contrast-medium") == {"contrast": Range(150, 200)}
        assert preset("svhn-brightness-high") == {"brightness": Range(lo=160)}
        assert preset("svhn-contrast-medium") == {"contrast": Range(80, 90)}
        assert len(PRESETS) == 12
        with pytest.raises(KeyError, match="gtsrb-brightness-low"):
            preset("gtsrb-brightness-dim")


class TestCurate:
    def test_exact_counts_at_boundaries(self):
        ds = _const_ds([39, 40, 41, 85, 86, 124, 125, 170, 171])
        assert len(curate(ds, brightness=(None, 40))) == 1
        assert curate(ds, brightness=(85, 125)).x[:, 0, 0, 0].tolist() == [86, 124]
        assert len(curate(ds, brightness=(170, None))) == 1
        assert len(curate(ds, brightness="<=40")) == 2

    def test_contrast_and_combined(self):
        x = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
        x[:, 0, 0, 0] = torch.tensor([69, 70, 241, 250], dtype=torch.uint8)  # contrast = that value
        ds = ImageDataset(x, torch.arange(4))
        assert curate(ds, contrast="<70").y.tolist() == [0]
        assert curate(ds, contrast=">240").y.tolist() == [2, 3]
        # brightness = value / 12: 20.08 and 20.83 pass B > 20.5 only for image 3
        assert curate(ds, contrast=">240", brightness=">20.5").y.tolist() == [3]

    def test_empty_selection_message_counts_each_side(self):
        ds = _const_ds([50, 60, 200])
        with pytest.raises(ValueError) as e:
            curate(ds, brightness=(None, 40))
        msg = str(e.value)
        assert "B < 40" in msg and "3 have B >= 40" in msg and "'const'" in msg and "from 50 to 200" in msg
        with pytest.raises(ValueError) as e:
            curate(ds, brightness=(60, 200))
        assert "2 have B <= 60" in str(e.value) and "1 have B >= 200" in str(e.value)

    def test_allow_empty(self):
        assert len(curate(_const_ds([50]), brightness=(None, 40), allow_empty=True)) == 0

    def test_bad_range_type(self):
        with pytest.raises(TypeError, match=r"\(lo, hi\)"):
            curate(_const_ds([1]), brightness=40)
