"""load_dataset / parse_spec on small .npz roots the tests write."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nuisance_zoo.data import load_dataset, parse_spec
from nuisance_zoo.data.paths import CACHE_ENV, DATA_ENV

from ._fakes import const_images, fake_root, write_npz


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # named sets fall back to the cache: keep it empty
    return fake_root(tmp_path)


class TestParse:
    def test_forms(self):
        s = parse_spec("gtsrb:test?classes=largest10&brightness=<40")
        assert (s.kind, s.arg, s.split, s.options) == ("named", "gtsrb", "test",
                                                       {"classes": "largest10", "brightness": "<40"})
        assert parse_spec("npz:/a/b.npz,/c.npz").arg == "/a/b.npz,/c.npz"
        assert parse_spec("tv:FashionMNIST:test").split == "test"
        assert parse_spec("cure-tsr:/x/y?size=32").options == {"size": "32"}
        assert parse_spec("mnist-sample").kind == "mnist-sample"

    @pytest.mark.parametrize("spec, why", [
        ("gtsrb:tr", "unknown split 'tr'"), ("npz:", "needs a path"), ("tv:", "torchvision data set name"),
        ("gtsrb?bright=<40", "unknown option 'bright'"), ("gtsrb?limit", "has no '='"),
        ("gtsrb?limit=1&limit=2", "given twice"), ("foo bar", "unknown source"), ("", "empty spec"),
    ])
    def test_errors_list_the_forms(self, spec, why):
        with pytest.raises(ValueError) as e:
            parse_spec(spec)
        assert why in str(e.value)
        assert "npz:PATH[,PATH2]" in str(e.value) and "tv:NAME[:train|test]" in str(e.value)


class TestNamedSets:
    def test_parts_concatenated_and_meta(self, root):
        ds = load_dataset("toy", root=root)
        assert len(ds) == 8 and ds.name == "toy:train"
        assert ds.x[:, 0, 0, 0].tolist() == [10 + 20 * i for i in range(8)]
        assert ds.meta["track_id"].tolist() == list(range(100, 108))
        assert len(load_dataset("toy:test", root=root)) == 4
        assert len(load_dataset("toy", root=root, split="test")) == 4

    def test_env_variable_root(self, root, monkeypatch):
        monkeypatch.setenv(DATA_ENV, str(root))
        assert len(load_dataset("toy:test")) == 4

    def test_missing_split_says_what_exists(self, root):
        with pytest.raises(FileNotFoundError, match=r"no split 'val'.*splits there: \['test', 'train'\]"):
            load_dataset("toy:val", root=root)

    def test_missing_root_says_how_to_point(self, tmp_path):
        with pytest.raises(FileNotFoundError) as e:
            load_dataset("gtsrb", root=tmp_path / "nowhere")
        msg = str(e.value)
        assert str(tmp_path / "nowhere") in msg and "root=" in msg and DATA_ENV in msg and "--data-root" in msg

    def test_known_name_missing_folder(self, root):
        with pytest.raises(FileNotFoundError, match=r"no folder .*gtsrb.*--data-root"):
            load_dataset("gtsrb", root=root)

    def test_unknown_name_lists_named_sets(self, root):
        with pytest.raises(ValueError, match="Named sets under the data root: toy"):
            load_dataset("nosuch", root=root)


class TestOptions:
    def test_classes_relabel_and_labels_keep(self, root):
        ds = load_dataset("toy?classes=3,1", root=root)
        assert ds.y.tolist() == [1, 0, 1, 0] and ds.classes == ["3", "1"]
        assert ds.x[:, 0, 0, 0].tolist() == [30, 70, 110, 150]
        assert load_dataset("toy?labels=1-2", root=root).y.tolist() == [1, 2, 1, 2]
        big = load_dataset("toy:test?classes=largest2", root=root)  # all count 1: ties by label
        assert big.classes == ["0", "1"] and big.y.tolist() == [1, 0]

    def test_absent_labels(self, root):
        with pytest.raises(ValueError, match=r"label\(s\) \[7\] do not occur"):
            load_dataset("toy?labels=0,7", root=root)

    def test_thresholds_and_order_independence(self, root):
        a = load_dataset("toy?brightness=>60&labels=0,1&limit=2", root=root)
        b = load_dataset("toy?limit=2&labels=0,1&brightness=>60", root=root)
        assert a.x[:, 0, 0, 0].tolist() == b.x[:, 0, 0, 0].tolist() == [90, 110]  # labels 0, 1 are images 0, 1, 4, 5
        assert len(load_dataset("toy?brightness=45-115", root=root)) == 4  # 50, 70, 90, 110
        assert len(load_dataset("toy:test?contrast=<1", root=root)) == 4

    def test_empty_domain_message(self, root):
        with pytest.raises(ValueError) as e:
            load_dataset("toy?brightness=<5", root=root)
        assert "8 have B >= 5" in str(e.value) and "toy:train?brightness=<5" in str(e.value)

    def test_preset_conflict(self, root):
        with pytest.raises(ValueError, match="both set a brightness range"):
            load_dataset("toy?preset=gtsrb-brightness-low&brightness=<10", root=root)

    def test_preset(self, root):
        ds = load_dataset("toy?preset=gtsrb-brightness-medium", root=root)  # 85 < B < 125
        assert ds.x[:, 0, 0, 0].tolist() == [90, 110]
        with pytest.raises(ValueError, match=r"filter B > 170 selects no image.*8 have B <= 170"):
            load_dataset("toy?preset=gtsrb-brightness-high", root=root)  # brightest is 150

    def test_limit_and_sample(self, root):
        assert load_dataset("toy?limit=3", root=root).y.tolist() == [0, 1, 2]
        assert len(load_dataset("toy?limit=99", root=root)) == 8
        s1 = load_dataset("toy?sample=4&seed=5", root=root).meta["track_id"]
        s2 = load_dataset("toy?sample=4&seed=5", root=root).meta["track_id"]
        s3 = [load_dataset(f"toy?sample=4&seed={k}", root=root).meta["track_id"].tolist() for k in range(6)]
        assert torch.equal(s1, s2) and s1.tolist() == sorted(s1.tolist())
        assert len({tuple(s) for s in s3}) > 1
        with pytest.raises(ValueError, match="not both"):
            load_dataset("toy?sample=2&limit=2", root=root)

    def test_size_and_channels(self, root):
        ds = load_dataset("toy?size=8x6&channels=1", root=root)
        assert ds.x.shape == (8, 1, 8, 6)
        assert ds.x[:, 0, 3, 3].tolist() == [10 + 20 * i for i in range(8)]  # constant images stay constant
        with pytest.raises(ValueError, match="size=32x48"):
            load_dataset("toy?size=big", root=root)

    def test_kwargs_override_and_python_values(self, root):
        ds = load_dataset("toy?limit=1", root=root, limit=3, brightness=(None, 60), labels=[0, 1])
        assert ds.y.tolist() == [0, 1]

    def test_option_for_wrong_source(self, root):
        with pytest.raises(ValueError, match="applies only to tv: sources and the named sets gtsrb, .*emnist"):
            load_dataset("toy?variant=letters", root=root)
        with pytest.raises(ValueError, match="download= applies only to tv: sources and the named sets"):
            load_dataset("toy.npz?download=1", root=root)

    def test_npz_paths(self, root, tmp_path, monkeypatch):
        a = write_npz(tmp_path / "a.npz", const_images([1, 2], c=1), [0, 1])
        b = write_npz(tmp_path / "b.npz", const_images([3], c=1), [1])
        ds = load_dataset(f"npz:{a},{b}")
        assert ds.x[:, 0, 0, 0].tolist() == [1, 2, 3] and ds.channels == 1
        monkeypatch.chdir(tmp_path)
        assert len(load_dataset("npz:a.npz")) == 2  # relative to the current directory
        assert len(load_dataset("npz:toy/test.npz", root=root)) == 4  # relative to the data root
        with pytest.raises(FileNotFoundError, match=r"missing\.npz.*current directory.*data root"):
            load_dataset("npz:missing.npz", root=root)

    def test_npz_without_y(self, tmp_path):
        np.savez(tmp_path / "bad.npz", x=const_images([1]))
        with pytest.raises(ValueError, match="no array 'y'"):
            load_dataset(f"npz:{tmp_path / 'bad.npz'}")

    def test_colorize_via_spec_seeded(self, root, tmp_path):
        digits = np.zeros((10, 4, 4, 1), np.uint8)
        digits[:, 1:3, 1:3] = 200
        p = write_npz(tmp_path / "d.npz", digits, np.arange(10))
        half = load_dataset(f"npz:{p}?colorize=blue0-4-red5-9")
        assert half.x[:5, :, 0, 0].tolist() == [[0, 0, 255]] * 5
        assert half.x[5:, :, 0, 0].tolist() == [[255, 0, 0]] * 5
        r1 = load_dataset(f"npz:{p}?colorize=gray-rgb&seed=3")
        r2 = load_dataset(f"npz:{p}?colorize=gray-rgb&seed=3")
        r3 = load_dataset(f"npz:{p}?colorize=gray-rgb&seed=4")
        assert torch.equal(r1.x, r2.x) and not torch.equal(r1.x, r3.x)
        assert load_dataset(f"npz:{p}?colorize=red&bg_threshold=0").x[0, :, 0, 0].tolist() == [255, 0, 0]
        with pytest.raises(ValueError, match="only applies together with colorize"):
            load_dataset(f"npz:{p}?bg_threshold=3")


class TestSynthesis:
    @pytest.fixture
    def fake_synth(self):
        from nuisance_zoo.data import set_challenge_synthesizer

        calls = []

        def fake(x, challenge, level, generator=None):
            calls.append((x.shape[0], x.dtype, challenge, level, generator))
            return 255 - x if level else x

        previous = set_challenge_synthesizer(fake)
        yield calls
        set_challenge_synthesizer(previous)

    def test_challenge_level_calls_known_models(self, root, fake_synth):
        ds = load_dataset("toy?challenge=snow&level=3&limit=2", root=root)
        assert ds.x[:, 0, 0, 0].tolist() == [245, 225]
        assert ds.meta["level"].tolist() == [3, 3]
        (n, dtype, name, level, gen), = fake_synth
        assert (n, dtype, name, level) == (2, torch.uint8, "snow", 3) and isinstance(gen, torch.Generator)
        load_dataset("toy?synth=haze:0", root=root)
        assert fake_synth[-1][2:4] == ("haze", 0)

    def test_synth_needs_both_keys(self, root, fake_synth):
        with pytest.raises(ValueError, match="both challenge=NAME and level"):
            load_dataset("toy?challenge=snow", root=root)
        with pytest.raises(ValueError, match="0..5"):
            load_dataset("toy?challenge=snow&level=7", root=root)
        assert not fake_synth


class TestSynthesisWithKnownModels:
    """End to end through nuisance_zoo.known (the data layer's one call into the models)."""

    def test_haze_level3_changes_images_level0_does_not(self):
        clean = load_dataset("mnist-sample:test?limit=6&channels=3")
        hazy = load_dataset("mnist-sample:test?limit=6&channels=3&challenge=haze&level=3&seed=1")
        again = load_dataset("mnist-sample:test?limit=6&channels=3&synth=Haze:3&seed=1")
        assert hazy.x.dtype == torch.uint8 and hazy.x.shape == clean.x.shape
        assert torch.equal(hazy.y, clean.y) and not torch.equal(hazy.x, clean.x)
        assert torch.equal(hazy.x, again.x)  # same seed, same δ draws
        assert torch.equal(load_dataset("mnist-sample:test?limit=6&channels=3&challenge=haze&level=0").x, clean.x)

    def test_unknown_challenge(self):
        with pytest.raises(ValueError, match="unknown challenge type 'sleet'"):
            load_dataset("mnist-sample:test?limit=2&channels=3&challenge=sleet&level=2")

    def test_the_package_installs_the_known_models_synthesizer(self):
        """data/ imports no model code; `import nuisance_zoo` wires specs to the known models."""
        import nuisance_zoo.known as known
        from nuisance_zoo.data import set_challenge_synthesizer

        installed = set_challenge_synthesizer(None)
        try:
            assert installed is known.synthesize_challenge
            with pytest.raises(RuntimeError, match="no challenge synthesizer is installed"):
                load_dataset("mnist-sample:test?limit=2&channels=3&challenge=haze&level=1")
        finally:
            set_challenge_synthesizer(installed)
