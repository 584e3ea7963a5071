"""Class selection/relabelling and colourised MNIST (Appendix A.1, D.2.1)."""
from __future__ import annotations

import pytest
import torch

from nuisance_zoo.data import (
    GTSRB_LARGEST10,
    ImageDataset,
    colorize,
    largest_classes,
    parse_label_list,
    select_classes,
    select_labels,
)


def _labelled(labels, name="toy"):
    y = torch.tensor(labels)
    return ImageDataset(torch.arange(len(labels), dtype=torch.uint8).reshape(-1, 1, 1, 1), y, name=name)


class TestClasses:
    def test_readme_largest10(self):
        assert GTSRB_LARGEST10 == (2, 1, 13, 12, 38, 10, 4, 5, 25, 9)

    def test_select_classes_relabels_in_given_order(self):
        ds = _labelled([5, 7, 5, 9, 1])
        sub = select_classes(ds, [9, 5])
        assert sub.y.tolist() == [1, 1, 0] and sub.x.flatten().tolist() == [0, 2, 3]
        assert sub.classes == ["9", "5"]
        named = ds.replace(classes=[f"c{k}" for k in range(10)])
        assert select_classes(named, [7]).classes == ["c7"]

    def test_select_labels_keeps_values(self):
        assert select_labels(_labelled([5, 7, 5, 9]), [5, 9]).y.tolist() == [5, 5, 9]

    def test_absent_label_message(self):
        with pytest.raises(ValueError, match=r"label\(s\) \[3\] do not occur in 'toy'; its labels are \{5, 7\}"):
            select_labels(_labelled([5, 7]), [5, 3])

    def test_largest_by_count_and_gtsrb_ranking(self):
        ds = _labelled([4, 4, 4, 1, 1, 0, 0, 3])
        assert largest_classes(ds, 3) == [4, 0, 1]  # tie 0/1 broken by label
        assert largest_classes(_labelled([0, 1], name="gtsrb:test"), 10) == list(GTSRB_LARGEST10)
        with pytest.raises(ValueError, match="has 4 classes"):
            largest_classes(ds, 5)

    def test_parse_label_list(self):
        assert parse_label_list("0-2,7") == [0, 1, 2, 7]
        with pytest.raises(ValueError, match="0-4,7"):
            parse_label_list("a,b")
        with pytest.raises(ValueError, match="repeat"):
            parse_label_list("1,1")


def _digits(labels):
    """1×4×4 gray 'digits': border 0 (background), a 2×2 stroke of value 200 and a pixel of 12
    (at the threshold: background) and one of 13 (just above: stroke)."""
    n = len(labels)
    x = torch.zeros(n, 1, 4, 4, dtype=torch.uint8)
    x[:, :, 1:3, 1:3] = 200
    x[:, :, 0, 0] = 12
    x[:, :, 3, 3] = 13
    return ImageDataset(x, torch.tensor(labels), name="digits")


class TestColorize:
    def test_background_gets_colour_strokes_unchanged(self):
        out = colorize(_digits([0, 1]), "red")
        assert out.x.shape == (2, 3, 4, 4)
        bg = torch.ones(4, 4, dtype=torch.bool)
        bg[1:3, 1:3] = False
        bg[3, 3] = False
        assert (out.x[:, 0][:, bg] == 255).all() and (out.x[:, 1:][:, :, bg] == 0).all()
        assert (out.x[:, :, 1:3, 1:3] == 200).all()  # stroke: same gray in all channels
        assert (out.x[:, :, 3, 3] == 13).all()  # 13 > threshold 12: a stroke pixel
        assert out.meta["colour"].tolist() == [[255, 0, 0]] * 2

    def test_blue0_4_red5_9(self):
        out = colorize(_digits(list(range(10))), "blue0-4-red5-9")
        corner = out.x[:, :, 0, 1]
        assert corner[:5].tolist() == [[0, 0, 255]] * 5 and corner[5:].tolist() == [[255, 0, 0]] * 5
        assert (out.x[:, :, 1, 1] == 200).all()

    def test_red0_blue1_9(self):
        corner = colorize(_digits([0, 1, 9]), "red0-blue1-9").x[:, :, 0, 1]
        assert corner.tolist() == [[255, 0, 0], [0, 0, 255], [0, 0, 255]]

    def test_uncovered_label(self):
        with pytest.raises(ValueError, match=r"no colour to label\(s\) \[7\]"):
            colorize(_digits([0, 7]), "blue0-4-red5-6")

    def test_random_colours_are_seeded(self):
        ds = _digits([0] * 50)
        a = colorize(ds, "gray-rgb", generator=torch.Generator().manual_seed(1))
        b = colorize(ds, "gray-rgb", generator=torch.Generator().manual_seed(1))
        c = colorize(ds, "gray-rgb", generator=torch.Generator().manual_seed(2))
        assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
        colours = a.x[:, :, 0, 1]
        assert torch.equal(colours, a.meta["colour"])
        assert len({tuple(c) for c in colours.tolist()}) > 40  # a colour per image
        assert (a.x[:, :, 1:3, 1:3] == 200).all()

    def test_gray_and_hex_and_threshold(self):
        assert torch.equal(colorize(_digits([0]), "gray").x, _digits([0]).x.expand(-1, 3, -1, -1))
        assert colorize(_digits([0]), "#102030").x[0, :, 0, 1].tolist() == [16, 32, 48]
        # threshold 13 makes the 13-pixel background too
        assert colorize(_digits([0]), "red", threshold=13).x[0, :, 3, 3].tolist() == [255, 0, 0]

    def test_unknown_mode(self):
        with pytest.raises(ValueError, match="gray-rgb"):
            colorize(_digits([0]), "purple-ish")
        with pytest.raises(ValueError, match="unknown colour 'purple'"):
            colorize(_digits([0]), "purple0-9")
