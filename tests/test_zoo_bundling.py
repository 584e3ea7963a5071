"""benchmarks/zoo: joining measurement runs, the card picture, and cards that show every variant of a name."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

import nuisance_zoo as nz
from benchmarks.zoo import make_card
from benchmarks.zoo.card_grid import COLUMNS, DRAWS, card_grid
from benchmarks.zoo.merge_metrics import merge


def run(seeds, **accs):
    return {"name": "m", "epochs": 15, "seeds": seeds, "wall_s": 10.0,
            "label_preservation": {"acc_x": 99.0, "acc_G(x)": 97.0},
            "test_B_accuracy": {label.replace("_", " "): {"accs": a} for label, a in accs.items()}}


class TestMerge:
    def test_joins_seeds_and_trainings_in_seed_order(self):
        out = merge([run([0, 1, 2], MRT=[88.0, 87.0, 86.0]), run([2], ERM=[84.0], **{"MDA-5_(this_model)": [91.0]}),
                     run([0, 1], ERM=[80.0, 82.0], **{"MDA-5_(this_model)": [92.0, 90.0]})])
        assert list(out["test_B_accuracy"]) == ["ERM", "MDA-5 (this model)", "MRT"]  # the card's order
        assert out["seeds"] == [0, 1, 2] and out["merged_runs"] == 3 and out["wall_s"] == 30.0
        assert out["test_B_accuracy"]["ERM"] == {"accs": [80.0, 82.0, 84.0], "mean": 82.0, "std": 1.63}
        assert out["test_B_accuracy"]["MDA-5 (this model)"]["accs"] == [92.0, 90.0, 91.0]
        assert out["test_B_accuracy"]["MRT"]["mean"] == 87.0

    def test_a_run_cut_short_counts_only_its_finished_seeds(self):
        out = merge([run([0, 1, 2], ERM=[80.0]), run([1, 2], ERM=[82.0, 84.0])])
        assert out["test_B_accuracy"]["ERM"]["accs"] == [80.0, 82.0, 84.0]

    def test_borrows_only_the_trainings_that_do_not_use_the_model(self):
        other = run([0, 1], ERM=[80.0, 82.0], MDA=[50.0, 51.0], **{"MDA-5_(known:_x)": [70.0, 71.0]})
        other["label_preservation"] = {"acc_x": 99.0, "acc_G(x)": 20.0}  # another variant of the name
        out = merge([run([0, 1], MDA=[90.0, 91.0])], borrowed=[other])
        assert list(out["test_B_accuracy"]) == ["ERM", "MDA-5 (known: x)", "MDA"]  # the card's order
        assert out["test_B_accuracy"]["MDA"]["accs"] == [90.0, 91.0]  # its own, not the borrowed model's
        assert out["label_preservation"]["acc_G(x)"] == 97.0
        other["epochs"] = 3  # another protocol: refused
        with pytest.raises(ValueError, match="another 'epochs'"):
            merge([run([0, 1], MDA=[90.0, 91.0])], borrowed=[other])

    def test_refuses_runs_that_disagree(self):
        with pytest.raises(ValueError, match="ERM, seed 0: run 2 says 81.0, an earlier run 80.0"):
            merge([run([0], ERM=[80.0]), run([0], ERM=[81.0])])
        other = run([1], ERM=[82.0])
        other["label_preservation"] = {"acc_x": 99.0, "acc_G(x)": 50.0}  # another model or judge
        with pytest.raises(ValueError, match="run 2 has another 'label_preservation'"):
            merge([run([0], ERM=[80.0]), other])
        with pytest.raises(ValueError, match=r"every training needs every seed \[0, 1\]; missing: MDA: seeds \[1\]"):
            merge([run([0, 1], ERM=[80.0, 82.0]), run([0], MDA=[90.0])])
        with pytest.raises(ValueError, match="at least one"):
            merge([])


def test_card_grid_shows_inputs_draws_sweeps_and_real_b(tmp_path, monkeypatch):
    rows = []
    monkeypatch.setattr("benchmarks.zoo.card_grid.save_image_grid",
                        lambda tiles, path, row_labels: rows.append((tiles, row_labels)) or path)
    a = SimpleNamespace(x=torch.randint(0, 60, (20, 3, 16, 16), dtype=torch.uint8))
    b = SimpleNamespace(x=torch.randint(180, 255, (30, 3, 16, 16), dtype=torch.uint8))
    card_grid(nz.load("brightness") @ nz.load("contrast"), a, b, tmp_path / "g.png")
    tiles, labels = rows[0]
    assert tiles.shape == (1 + DRAWS + 2 + 1, COLUMNS, 3, 16, 16)
    assert labels == ["x (A)", "G(x, d1)", "G(x, d2)", "G(x, d3)", "sweep d0", "sweep d1", "real B"]
    torch.testing.assert_close(tiles[0, 0], a.x[0].float() / 255)  # the first and last inputs, spread out
    torch.testing.assert_close(tiles[-1, -1], b.x[-1].float() / 255)
    assert not torch.equal(tiles[1], tiles[2])  # different draws of δ
    assert not torch.equal(tiles[4, 0], tiles[4, -1])  # the sweep moves


def _card(folder, name, erm, mda, kept, config="small"):
    folder.mkdir(parents=True)
    metrics = {"name": name, "device": "cpu", "fit": {"config": config}, "paper": {},
               "label_preservation": {"acc_x": 99.0, "acc_G(x)": kept},
               "test_B_accuracy": {"ERM": {"accs": [erm], "mean": erm, "std": 0.0},
                                   "MDA-5 (this model)": {"accs": [mda], "mean": mda, "std": 0.0}}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "README.md").write_text(f"# {folder.name}\n\n{make_card.VARIANTS_BEGIN}\nold\n{make_card.VARIANTS_END}\n\nend\n")


def test_variants_table_lists_default_and_tags_and_refreshes_every_card(tmp_path):
    _card(tmp_path / "m", "m", 80.0, 90.0, 97.0, config="structured-keep")
    _card(tmp_path / "m.munit", "m", 80.0, 70.0, 20.0)
    _card(tmp_path / "mx", "mx", 1.0, 2.0, 3.0)  # another name sharing the prefix: not a variant
    table = make_card.variants_table("m", tmp_path)
    lines = [ln for ln in table.splitlines() if ln.startswith("| `")]
    assert len(lines) == 2
    assert lines[0].startswith("| `m` | `structured-keep` | 97.0 % (x: 99.0 %) | 80.0 ± 0.0 | 90.0 ± 0.0 | not measured")
    assert lines[0].endswith("| listed |")
    assert lines[1].startswith("| `experimental/m.munit` | `small` | 20.0 %") and lines[1].endswith("| experimental |")
    make_card.refresh_variants("m", tmp_path)
    for f in ("m", "m.munit"):
        text = (tmp_path / f / "README.md").read_text()
        assert table in text and "old" not in text and text.endswith("end\n")
    assert "old" in (tmp_path / "mx" / "README.md").read_text()
    assert make_card.bundle_name("m") == "m" and make_card.bundle_name("m", "munit") == "m.munit"
