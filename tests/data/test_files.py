"""Image folders, CURE-TSR folders, torchvision raw files and the bundled MNIST sample."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nuisance_zoo.data import (
    CURE_TSR_SIGNS,
    MNIST_SAMPLE_PATH,
    load_cure_tsr,
    load_dataset,
    parse_cure_tsr_name,
    sample_mnist,
)
from nuisance_zoo.data.paths import DATA_ENV

from ._fakes import save_image, write_idx


def _img(v, h=6, w=6, c=3):
    return np.full((h, w, c), v, np.uint8)


class TestImageFolder:
    @pytest.fixture
    def folder(self, tmp_path):
        root = tmp_path / "signs"
        save_image(root / "b_class" / "1.png", _img(30))
        save_image(root / "a_class" / "1.png", _img(10))
        save_image(root / "a_class" / "2.bmp", _img(20))
        (root / "a_class" / "notes.txt").write_text("not an image")
        return root

    def test_classes_sorted_and_labelled(self, folder):
        ds = load_dataset(f"folder:{folder}")
        assert ds.classes == ["a_class", "b_class"] and ds.y.tolist() == [0, 0, 1]
        assert ds.x[:, :, 0, 0].tolist() == [[10] * 3, [20] * 3, [30] * 3]
        assert load_dataset(f"folder:{folder}?labels=1").x[0, 0, 0, 0] == 30

    def test_gray_folder_is_one_channel(self, tmp_path):
        save_image(tmp_path / "g" / "0" / "a.png", _img(7, c=1))
        ds = load_dataset(f"folder:{tmp_path / 'g'}")
        assert ds.x.shape == (1, 1, 6, 6)
        assert load_dataset(f"folder:{tmp_path / 'g'}?channels=3").x.shape == (1, 3, 6, 6)

    def test_split_folders(self, tmp_path):
        save_image(tmp_path / "s" / "train" / "x" / "a.png", _img(1))
        save_image(tmp_path / "s" / "test" / "x" / "a.png", _img(2))
        save_image(tmp_path / "s" / "test" / "y" / "a.png", _img(3))
        assert len(load_dataset(f"folder:{tmp_path / 's'}")) == 1
        assert load_dataset(f"folder:{tmp_path / 's'}?split=test").y.tolist() == [0, 1]
        assert len(load_dataset(f"folder:{tmp_path / 's'}", split="test")) == 2

    def test_mixed_sizes_need_size(self, folder):
        save_image(folder / "b_class" / "big.png", _img(40, h=9, w=7))
        with pytest.raises(ValueError) as e:
            load_dataset(f"folder:{folder}")
        msg = str(e.value)
        assert "size=" in msg and "6x6 (3 images" in msg and "9x7 (1 images, e.g. big.png)" in msg
        ds = load_dataset(f"folder:{folder}?size=5")
        assert ds.x.shape == (4, 3, 5, 5) and int(ds.x[3, 0, 2, 2]) == 40

    def test_missing_and_empty(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist.*NUISANCE_ZOO_DATA"):
            load_dataset(f"folder:{tmp_path / 'nope'}")
        (tmp_path / "empty" / "cls").mkdir(parents=True)
        with pytest.raises(FileNotFoundError, match="no class folders with images"):
            load_dataset(f"folder:{tmp_path / 'empty'}")


class TestCureTsr:
    @pytest.fixture
    def cure(self, tmp_path):
        root = tmp_path / "CURE-TSR"
        files = {
            "Real_Train/ChallengeFree/01_06_00_00_0001.bmp": 10,   # stop, clean
            "Real_Train/ChallengeFree/01_13_00_00_0002.bmp": 20,   # yield, clean
            "Real_Train/Snow-1/01_06_11_01_0001.bmp": 30,          # stop, snow 1
            "Real_Train/Snow-3/01_01_11_03_0003.bmp": 40,          # speed limit, snow 3
            "Real_Train/Haze-3/01_14_12_03_0004.bmp": 50,          # parking, haze 3
            "Real_Test/Snow-3/01_06_11_03_0009.bmp": 60,
            "Unreal_Train/Snow-3/02_06_11_03_0009.bmp": 70,
        }
        for rel, v in files.items():
            save_image(root / rel, _img(v, h=5 + v // 10, w=6))  # sizes differ, as real crops do
        return root

    def test_name_convention(self):
        n = parse_cure_tsr_name("01_06_11_03_0123.bmp")
        assert (n.sequence, n.sign, n.challenge, n.level, n.index) == (1, 6, 11, 3, 123)
        assert parse_cure_tsr_name("01_06_00_00_0001.bmp").level == 0
        from nuisance_zoo.data.cure_tsr import challenge_code
        assert challenge_code("Dirty_Lens") == challenge_code("dirty lens") == 5 and challenge_code("clean") == 0
        for bad in ("1_6_11_3_1.bmp", "01_15_11_03_0001.bmp", "01_06_13_03_0001.bmp", "03_06_11_03_1.bmp",
                    "01_06_11_06_0001.bmp", "img.bmp"):
            assert parse_cure_tsr_name(bad) is None, bad
        assert len(CURE_TSR_SIGNS) == 14 and CURE_TSR_SIGNS[5] == "stop"

    def test_filters_labels_and_meta(self, cure):
        ds = load_dataset(f"cure-tsr:{cure}?split=train&challenge=snow&level=0,1&size=8&sequence=real")
        assert ds.x[:, 0, 0, 0].tolist() == [10, 20, 30]
        assert ds.y.tolist() == [5, 12, 5] and ds.classes[ds.y[1]] == "yield"
        assert ds.meta["challenge"].tolist() == [0, 0, 11] and ds.meta["level"].tolist() == [0, 0, 1]
        assert ds.x.shape == (3, 3, 8, 8)
        snow3 = load_cure_tsr(cure, split="train", challenges=["Snow"], levels=[3], size=(8, 8))
        assert snow3.x[:, 0, 0, 0].tolist() == [40, 70]  # real and unreal
        assert load_dataset(f"cure-tsr:{cure}?split=test&challenge=11&size=8").x[:, 0, 0, 0].tolist() == [60]
        haze = load_dataset(f"cure-tsr:{cure}?challenge=haze&size=4")  # no split= : every folder
        assert haze.y.tolist() == [13]

    def test_size_required_for_mixed_crops(self, cure):
        with pytest.raises(ValueError, match=r"size=H"):
            load_dataset(f"cure-tsr:{cure}?challenge=snow")

    def test_nothing_selected(self, cure):
        with pytest.raises(ValueError, match=r"select none of .*\(challenge, level\) pairs present"):
            load_dataset(f"cure-tsr:{cure}?challenge=rain&size=4")
        with pytest.raises(ValueError, match="unknown CURE-TSR challenge 'sleet'"):
            load_dataset(f"cure-tsr:{cure}?challenge=sleet&size=4")

    def test_unparseable_names_listed(self, cure):
        save_image(cure / "Real_Train" / "extra" / "photo_1.png", _img(1))
        save_image(cure / "Real_Train" / "extra" / "01_99_00_00_1.png", _img(1))
        with pytest.raises(ValueError) as e:
            load_dataset(f"cure-tsr:{cure}?size=4")
        msg = str(e.value)
        assert "2 of 9 images" in msg and "photo_1.png" in msg and "01_99_00_00_1.png" in msg
        assert "sequenceType_signType_challengeType_challengeLevel_Index" in msg


class TestTorchvision:
    @pytest.fixture
    def tv_root(self, tmp_path, monkeypatch):
        monkeypatch.delenv(DATA_ENV, raising=False)
        raw = tmp_path / "tv" / "MNIST" / "raw"
        x = np.zeros((5, 28, 28), np.uint8)
        x[:, 0, 1] = np.arange(5) * 50  # one asymmetric pixel per image
        write_idx(raw / "train-images-idx3-ubyte", x)
        write_idx(raw / "train-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5], np.uint8))
        write_idx(raw / "t10k-images-idx3-ubyte", x[:2])
        write_idx(raw / "t10k-labels-idx1-ubyte", np.array([9, 2], np.uint8))
        emnist = tmp_path / "tv" / "EMNIST" / "raw"
        write_idx(emnist / "emnist-letters-test-images-idx3-ubyte", x[:2])
        write_idx(emnist / "emnist-letters-test-labels-idx1-ubyte", np.array([1, 26], np.uint8))
        return tmp_path / "tv"

    def test_mnist_from_raw_files(self, tv_root):
        ds = load_dataset("tv:MNIST?download=0", root=tv_root)
        assert ds.x.shape == (5, 1, 28, 28) and ds.y.tolist() == [3, 1, 4, 1, 5]
        assert ds.x[:, 0, 0, 1].tolist() == [0, 50, 100, 150, 200]
        assert ds.name == "tv:MNIST:train" and ds.classes[3].startswith("3")
        test = load_dataset("tv:mnist:test?download=0&colorize=red", root=tv_root)
        assert test.y.tolist() == [9, 2] and test.x.shape == (2, 3, 28, 28)

    def test_emnist_upright(self, tv_root):
        ds = load_dataset("tv:EMNIST:test?variant=letters&download=0", root=tv_root)
        # torchvision keeps EMNIST's transposed storage; the loader turns it upright
        assert ds.x[:, 0, 1, 0].tolist() == [0, 50] and int(ds.x[1, 0, 0, 1]) == 0

    def test_missing_offline(self, tv_root):
        with pytest.raises(FileNotFoundError) as e:
            load_dataset("tv:KMNIST?download=0", root=tv_root)
        msg = str(e.value)
        assert str(tv_root) in msg and "KMNIST/raw" in msg and "downloading is off" in msg
        assert "?download=1" in msg and "--download" in msg
        with pytest.raises(ValueError, match="known: .*FashionMNIST"):
            load_dataset("tv:NotASet", root=tv_root)

    def test_failed_download_says_what_to_do(self, tv_root, monkeypatch):
        import torchvision.datasets as tvd

        def offline(self):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: <urlopen error no network>")

        monkeypatch.setattr(tvd.KMNIST, "download", offline)
        monkeypatch.delenv("NUISANCE_ZOO_OFFLINE", raising=False)
        with pytest.raises(FileNotFoundError, match=r"downloading is off.*\?download=1"):
            load_dataset("tv:KMNIST", root=tv_root)  # no download unless asked: offline() is not reached
        with pytest.raises(FileNotFoundError) as e:
            load_dataset("tv:KMNIST?download=1", root=tv_root)
        msg = str(e.value)
        assert "downloading it failed" in msg and "no network" in msg and str(tv_root) in msg
        assert "--data-root" in msg


class TestBundledSample:
    def test_size_and_licence(self):
        assert MNIST_SAMPLE_PATH.stat().st_size <= 1_500_000
        licence = (MNIST_SAMPLE_PATH.parent / "MNIST_LICENSE.md").read_text()
        assert "CC BY-SA 3.0" in licence and "LeCun" in licence and "Burges" in licence

    def test_loads_balanced(self):
        tr, te = sample_mnist("train"), sample_mnist()  # default train
        assert len(tr) == 6000 and tr.x.shape[1:] == (1, 28, 28)
        assert set(tr.label_counts().values()) == {600}
        assert torch.equal(te.x, tr.x)
        test = load_dataset("mnist-sample:test")
        assert len(test) == 1000 and set(test.label_counts().values()) == {100}
        assert test.meta["index"].tolist() == sorted(test.meta["index"].tolist())
        # real digits: dark background, bright strokes (mean ~ 33 of 255)
        assert 20 < float(tr.x.float().mean()) < 45 and int(tr.x.max()) == 255
        with pytest.raises(ValueError, match="'train' and 'test'"):
            sample_mnist("val")
