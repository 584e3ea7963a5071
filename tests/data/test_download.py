"""Named sets the torchvision way: download (only when asked) from a local HTTP mirror, convert
once to .npz in the dataset cache, read the cache afterwards; the search order; bare paths;
the CLI's --download."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo.data import dataset_cache_dir, named_set_roots, parse_spec, with_download
from nuisance_zoo.data.paths import CACHE_ENV, DATA_ENV

from ._fakes import const_images, save_image, write_idx, write_npz

_RAW = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """An empty data root and an empty cache, both private to the test; no proxy, so that
    urllib talks to 127.0.0.1 directly."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv(DATA_ENV, str(data))
    monkeypatch.setenv(CACHE_ENV, str(cache))
    monkeypatch.delenv("NUISANCE_ZOO_OFFLINE", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return data, cache


class _Mirror:
    """A `http.server` thread serving one folder on 127.0.0.1 and recording the paths asked for."""

    def __init__(self, folder: Path) -> None:
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(folder), **kw)

            def send_head(self):
                requests.append(self.path)
                return super().send_head()

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def fashion_mirror(tmp_path, monkeypatch):
    """FashionMNIST served from a local mirror: tiny gzip IDX files (12 train, 10 test images of
    28×28), with torchvision's mirrors and md5 sums pointed at them."""
    import torchvision.datasets as tvd

    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12, dtype=np.uint8)),
              "test": (rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10, dtype=np.uint8))}
    served = tmp_path / "mirror"
    resources = []
    for name, arr in zip(_RAW, (*arrays["train"], *arrays["test"])):
        raw = write_idx(tmp_path / "idx" / name, arr).read_bytes()
        blob = gzip.compress(raw, mtime=0)
        served.mkdir(exist_ok=True)
        (served / f"{name}.gz").write_bytes(blob)
        resources.append((f"{name}.gz", hashlib.md5(blob).hexdigest()))
    mirror = _Mirror(served)
    monkeypatch.setattr(tvd.FashionMNIST, "mirrors", [mirror.url])
    monkeypatch.setattr(tvd.FashionMNIST, "resources", resources)
    mirror.arrays = arrays
    yield mirror
    mirror.stop()


class TestDownloadFromMirror:
    def test_download_convert_once_then_offline(self, dirs, fashion_mirror, monkeypatch):
        _, cache = dirs
        x_test, y_test = fashion_mirror.arrays["test"]
        ds = nz.load_dataset("fashion-mnist:test?download=1")
        assert ds.name == "fashion-mnist:test" and ds.x.shape == (10, 1, 28, 28) and ds.x.dtype == torch.uint8
        assert np.array_equal(ds.x[:, 0].numpy(), x_test) and ds.y.tolist() == y_test.tolist()
        assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
        assert {Path(p).name for p in fashion_mirror.requests} == {f"{n}.gz" for n in _RAW}

        converted = cache / "fashion-mnist" / "test.npz"
        with np.load(converted) as d:  # the layout of ../shared/data: x N×H×W×C uint8, y int64
            assert d["x"].dtype == np.uint8 and d["x"].shape == (10, 28, 28, 1) and d["y"].dtype == np.int64
            assert np.array_equal(d["x"][..., 0], x_test) and d["y"].tolist() == y_test.tolist()

        fashion_mirror.stop()
        n_requests = len(fashion_mirror.requests)
        # the train split converts from the files already downloaded, without the network
        train = nz.load_dataset("fashion-mnist:train")
        assert np.array_equal(train.x[:, 0].numpy(), fashion_mirror.arrays["train"][0])
        assert (cache / "fashion-mnist" / "train.npz").is_file()

        import nuisance_zoo.data.tv as tv

        def no_torchvision(*a, **kw):
            raise AssertionError("a cached named set must load from its .npz, not through torchvision")

        monkeypatch.setattr(tv, "_construct", no_torchvision)
        again = nz.load_dataset("fashion-mnist:test?download=1&limit=4")  # download=1 with a cached copy: no fetch
        assert torch.equal(again.x, ds.x[:4]) and torch.equal(again.y, ds.y[:4])
        assert torch.equal(nz.load_dataset("fashion-mnist:train").x, train.x)
        assert len(fashion_mirror.requests) == n_requests

    def test_without_download_a_clear_error_and_no_request(self, dirs, fashion_mirror):
        data, cache = dirs
        with pytest.raises(FileNotFoundError) as e:
            nz.load_dataset("fashion-mnist:test")
        msg = str(e.value)
        assert "?download=1" in msg and "--download" in msg and "download=True" in msg
        # where it looked and where files may go by hand
        assert str(data / "fashion-mnist") in msg and str(cache / "fashion-mnist") in msg
        assert str(cache / "torchvision") in msg and "fashion-mnist/test.npz" in msg
        assert fashion_mirror.requests == [] and not (cache / "fashion-mnist").exists()

    def test_offline_env_refuses_an_asked_download(self, dirs, fashion_mirror, monkeypatch):
        monkeypatch.setenv("NUISANCE_ZOO_OFFLINE", "1")
        with pytest.raises(FileNotFoundError, match="NUISANCE_ZOO_OFFLINE=1"):
            nz.load_dataset("fashion-mnist:test", download=True)
        assert fashion_mirror.requests == []

    def test_corrupt_download_says_it_failed(self, dirs, fashion_mirror, monkeypatch):
        import torchvision.datasets as tvd

        wrong = [(name, "0" * 32) for name, _ in tvd.FashionMNIST.resources]
        monkeypatch.setattr(tvd.FashionMNIST, "resources", wrong)
        with pytest.raises(FileNotFoundError) as e:
            nz.load_dataset("fashion-mnist:test", download=True)
        msg = str(e.value)
        assert "downloading it into" in msg and "failed" in msg and fashion_mirror.requests
        assert not (dirs[1] / "fashion-mnist" / "test.npz").exists()  # nothing half-converted


def test_svhn_from_mirror(dirs, tmp_path, monkeypatch):
    """SVHN's .mat needs scipy, which is optional: with it the split converts like any other;
    without it the download still works and the error says what to install."""
    import importlib.util

    import torchvision.datasets as tvd

    served = tmp_path / "svhn-mirror"
    served.mkdir()
    x = np.random.default_rng(1).integers(0, 256, (32, 32, 3, 5), dtype=np.uint8)  # SVHN's H×W×C×N
    y = np.array([[10], [1], [2], [10], [9]], np.uint8)  # SVHN writes digit 0 as label 10
    has_scipy = importlib.util.find_spec("scipy") is not None
    if has_scipy:
        import scipy.io

        scipy.io.savemat(served / "test_32x32.mat", {"X": x, "y": y})
    else:
        (served / "test_32x32.mat").write_bytes(b"not read without scipy")
    md5 = hashlib.md5((served / "test_32x32.mat").read_bytes()).hexdigest()
    mirror = _Mirror(served)
    try:
        monkeypatch.setitem(tvd.SVHN.split_list, "test", [mirror.url + "test_32x32.mat", "test_32x32.mat", md5])
        if has_scipy:
            ds = nz.load_dataset("svhn:test?download=1")
            assert ds.y.tolist() == [0, 1, 2, 0, 9] and ds.x.shape == (5, 3, 32, 32)
            assert np.array_equal(ds.x.permute(2, 3, 1, 0).numpy(), x)
            assert (dirs[1] / "svhn" / "test.npz").is_file()
        else:
            with pytest.raises(ImportError, match="needs the package 'scipy': pip install scipy"):
                nz.load_dataset("svhn:test?download=1")
            assert (dirs[1] / "torchvision" / "SVHN" / "test_32x32.mat").is_file()  # the download itself worked
        assert [Path(p).name for p in mirror.requests if p.endswith(".mat")]
    finally:
        mirror.stop()


class TestSearchOrder:
    def test_data_root_then_cache(self, dirs):
        data, cache = dirs
        write_npz(cache / "kmnist" / "test.npz", const_images([2, 2], c=1), [0, 1])
        assert nz.load_dataset("kmnist:test").x[:, 0, 0, 0].tolist() == [2, 2]  # only the cache has it
        write_npz(data / "kmnist" / "test.npz", const_images([1], c=1), [5])
        ds = nz.load_dataset("kmnist:test")  # the data root wins over the cache
        assert ds.x[:, 0, 0, 0].tolist() == [1] and ds.classes[5] == "ha"
        assert named_set_roots() == [data, cache.resolve()]
        assert named_set_roots(root=cache)[-1] == cache.resolve() and len(named_set_roots(root=cache)) == 1

    def test_cache_dir_from_environment(self, monkeypatch, tmp_path):
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
        assert dataset_cache_dir() == tmp_path / "c"
        monkeypatch.delenv(CACHE_ENV)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert dataset_cache_dir() == tmp_path / "xdg" / "nuisance_zoo" / "datasets"

    def test_emnist_variant_from_local_torchvision_files(self, dirs):
        _, cache = dirs
        x = np.zeros((2, 28, 28), np.uint8)
        x[:, 0, 1] = [0, 50]  # EMNIST stores images transposed; the cache holds them upright
        raw = cache / "torchvision" / "EMNIST" / "raw"
        write_idx(raw / "emnist-letters-test-images-idx3-ubyte", x)
        write_idx(raw / "emnist-letters-test-labels-idx1-ubyte", np.array([1, 26], np.uint8))
        ds = nz.load_dataset("emnist:test")  # local files: no download needed
        assert ds.name == "emnist:test" and ds.y.tolist() == [1, 26] and ds.x[:, 0, 1, 0].tolist() == [0, 50]
        with np.load(cache / "emnist-letters" / "test.npz") as d:
            assert d["x"][:, 1, 0, 0].tolist() == [0, 50]
        with pytest.raises(FileNotFoundError, match=r"emnist-digits.*\?download=1"):
            nz.load_dataset("emnist:test?variant=digits")
        with pytest.raises(ValueError, match="variant= applies to emnist and qmnist"):
            nz.load_dataset("usps:test?variant=x")

    def test_aliases_and_splits(self, dirs):
        assert parse_spec("FashionMNIST:test").arg == "fashion-mnist"
        assert parse_spec("fashion_mnist").arg == "fashion-mnist"
        with pytest.raises(ValueError, match="splits train, test, extra"):
            nz.load_dataset("svhn:val")
        with pytest.raises(ValueError, match="unknown source 'fashion-mnst'.*Did you mean 'fashion-mnist'"):
            nz.load_dataset("fashion-mnst:test?download=1")  # a typo is reported as one, not as a bad option


class TestBarePaths:
    def test_npz_and_folder(self, dirs, tmp_path, monkeypatch):
        a = write_npz(tmp_path / "a.npz", const_images([7, 8], c=1), [0, 1])
        save_image(tmp_path / "images" / "cat" / "1.png", const_images([9], c=3)[0])
        save_image(tmp_path / "images" / "dog" / "1.png", const_images([3], c=3)[0])
        monkeypatch.chdir(tmp_path)
        assert parse_spec("a.npz").kind == "npz" and parse_spec("images/").kind == "folder"
        assert nz.load_dataset("a.npz").x[:, 0, 0, 0].tolist() == [7, 8]
        assert nz.load_dataset(f"{a}?limit=1").x[:, 0, 0, 0].tolist() == [7]
        folder = nz.load_dataset("images/")
        assert folder.classes == ["cat", "dog"] and folder.x[:, 0, 0, 0].tolist() == [9, 3]
        assert nz.load_dataset(str(tmp_path / "images")).y.tolist() == [0, 1]

    def test_errors(self, dirs, tmp_path, monkeypatch):
        (tmp_path / "images").mkdir()
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ValueError, match=r"'nosuch/' is neither a \.npz file nor an existing directory"):
            nz.load_dataset("nosuch/")
        with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
            nz.load_dataset("missing.npz")
        with pytest.raises(ValueError, match=r"for the folder \./images write images/ or folder:images"):
            nz.load_dataset("images")  # a plain word is a name, even when a folder of that name exists


class TestCliDownloadFlag:
    def test_with_download(self):
        assert with_download("fashion-mnist:test") == "fashion-mnist:test?download=1"
        assert with_download("svhn?limit=5") == "svhn?limit=5&download=1"
        assert with_download("tv:KMNIST") == "tv:KMNIST?download=1"
        for unchanged in ("gtsrb?download=0", "a.npz", "mnist-sample:test", "npz:x.npz", "toy:test", "bad spec"):
            assert with_download(unchanged) == unchanged

    def test_fit_download_and_bare_path(self, dirs, fashion_mirror, tmp_path, monkeypatch):
        import importlib

        from nuisance_zoo.cli import main

        fit_module = importlib.import_module("nuisance_zoo.learned.fit")  # the package re-exports fit()

        seen = {}
        monkeypatch.setattr(fit_module, "fit", lambda a, b, **kw: seen.update(a=a, b=b))
        write_npz(tmp_path / "a.npz", const_images([5] * 3, c=1, h=28, w=28), [0, 1, 2])
        monkeypatch.chdir(tmp_path)
        argv = ["fit", "--domain-a", "a.npz", "--domain-b", "fashion-mnist:test?limit=3", "--out", "run"]
        assert main(argv) != 0 and not seen  # no --download: a one-line error, not a fetch
        assert fashion_mirror.requests == []
        assert main(argv + ["--download"]) == 0
        assert len(seen["a"]) == 3 and seen["b"].name == "fashion-mnist:test?limit=3"
        assert np.array_equal(seen["b"].x[:, 0].numpy(), fashion_mirror.arrays["test"][0][:3])

    def test_train_and_evaluate_pass_the_flag_on(self, monkeypatch, tmp_path):
        import nuisance_zoo.eval.robustness as robustness
        import nuisance_zoo.training.trainer as trainer
        from nuisance_zoo.cli import main

        calls = {}

        class Result:
            completed, metrics, out, global_step = True, [], "run", 0

        monkeypatch.setattr(trainer, "train", lambda **kw: calls.update(train=kw) or Result())
        monkeypatch.setattr(robustness, "evaluate", lambda clf, data, **kw: calls.update(evaluate=data) or {"n": 0})
        assert main(["train", "--algorithm", "erm", "--data", "svhn:train", "--test", "t=svhn:test?limit=9",
                     "--test", "a.npz", "--out", str(tmp_path / "r"), "--download"]) == 0
        assert calls["train"]["data"] == "svhn:train?download=1"
        assert calls["train"]["test_domains"] == {"t": "svhn:test?limit=9&download=1", "a.npz": "a.npz"}
        assert main(["evaluate", "--classifier", "c", "--data", "usps:test", "--download"]) == 0
        assert calls["evaluate"] == "usps:test?download=1"
        assert main(["evaluate", "--classifier", "c", "--data", "usps:test"]) == 0
        assert calls["evaluate"] == "usps:test"
