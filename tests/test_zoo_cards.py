"""The bundled zoo: every card's hashes, config and numbers match its files (robustbench-style)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import nuisance_zoo as nz
from nuisance_zoo import hub
from nuisance_zoo.zoo import ZOO, default_rank, zoo_status_line, zoo_verdict

from benchmarks.zoo.make_card import variants_table

ROOT = Path(__file__).resolve().parents[1]
NAMES = [e.name for e in ZOO]


def test_the_six_issue_models_and_their_variants_are_in_the_zoo():
    assert set(NAMES) == {"gtsrb-brightness", "gtsrb-contrast", "mnist-background-color", "gtsrb-snow", "gtsrb-haze",
                          "gtsrb-brightness.munit", "gtsrb-contrast.munit", "gtsrb-contrast.structured",
                          "gtsrb-contrast.structured-keep", "gtsrb-brightness-contrast"}
    listed = {e.name for e in ZOO if not e.experimental}
    assert set(nz.list_models(kind="learned")) == listed
    assert set(nz.list_models(kind="learned", experimental=True)) == listed | {
        f"experimental/{e.name}" for e in ZOO if e.experimental}


def test_experimental_models_load_by_their_explicit_name_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    name = next(e.name for e in ZOO if e.experimental)
    warnings.simplefilter("ignore", hub.BundledCopyWarning)
    with pytest.warns(nz.ExperimentalModelWarning, match=rf"{name} is an experimental zoo model.*keeps .* of labels") as rec:
        G = nz.load(f"experimental/{name}")
    assert "plain name stops resolving" not in str(rec[0].message)
    # The plain name still loads (existing code keeps working), says so, and names the explicit one.
    with pytest.warns(nz.ExperimentalModelWarning, match=rf"Load it as 'experimental/{name}'"):
        G2 = nz.load(name)
    x = torch.rand(1, 3, 32, 32)  # every experimental model is a GTSRB one
    d = torch.zeros(1, G.delta_dim)
    torch.testing.assert_close(G(x, d), G2(x, d))
    assert nz.info(f"experimental/{name}")["name"] == f"experimental/{name}"
    listed = next(e.name for e in ZOO if not e.experimental)
    with pytest.raises(nz.UnknownModelError, match=rf"'{listed}' is not an experimental model; load it as '{listed}'"):
        nz.load(f"experimental/{listed}")
    with pytest.raises(nz.UnknownModelError, match="unknown nuisance model 'experimental/brightnes'"):
        nz.load("experimental/brightnes")


def test_the_zoo_tables_in_the_docs_are_the_cards_numbers():
    # benchmarks/zoo/summary.py writes both from hub_cards/*/metrics.json; rerun it after a card changes.
    from benchmarks.zoo.summary import readme_table, table

    assert table() in (ROOT / "docs" / "zoo.md").read_text()
    assert readme_table() in (ROOT / "README.md").read_text()


def test_each_names_default_is_the_variant_that_wins_on_its_card():
    def card(name):
        return json.loads((ROOT / "hub_cards" / name / "metrics.json").read_text())

    variants = [n for n in NAMES if "." in n]
    assert variants, "the zoo has no variant names to check"
    for v in variants:
        default, other = card(v.split(".")[0]), card(v)
        assert default_rank(default) < default_rank(other), v
        assert not zoo_verdict(default) or zoo_verdict(other), f"{v} is listed but its default is not"


@pytest.mark.parametrize("entry", ZOO, ids=NAMES)
class TestBundledCard:
    def test_hashes_agree(self, entry):
        folder = ROOT / "hub_cards" / entry.name
        cfg = json.loads((folder / "config.json").read_text())
        actual = hub.sha256_file(folder / "model.safetensors")
        assert actual == entry.sha256 == cfg["sha256"]

    def test_card_validates_and_weights_are_small(self, entry):
        folder = ROOT / "hub_cards" / entry.name
        assert hub.validate_card(folder) == []
        assert (folder / "model.safetensors").stat().st_size < 4_000_000

    def test_config_matches_the_model(self, entry):
        folder = ROOT / "hub_cards" / entry.name
        cfg = json.loads((folder / "config.json").read_text())
        G = nz.load(f"local-dir:{folder}")
        assert cfg["architecture"] == type(G).architecture
        assert cfg["delta_space"]["dim"] == G.delta_dim == 2 and cfg["delta_space"]["prior"] == "normal"
        assert [cfg["input"]["channels"], *cfg["input"]["size"]] == list(entry.input_size)
        assert cfg["training"]["iterations"] == json.loads((folder / "metrics.json").read_text())["fit"]["iterations"]

    def test_loads_by_name_offline_and_runs(self, entry, monkeypatch, tmp_path):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache: the bundled copy is used
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", hub.BundledCopyWarning)
            G = nz.load(entry.name)
        x = torch.rand(2, *entry.input_size)
        d = G.sample_delta(2, generator=torch.Generator().manual_seed(0))
        y = G(x, d)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
        torch.testing.assert_close(G(x, d), y)  # no hidden state between calls

    def test_listing_follows_the_zoo_criteria_on_its_card(self, entry):
        # The zoo table's reasons are exactly what the card's numbers fail (empty: listed).
        m = json.loads((ROOT / "hub_cards" / entry.name / "metrics.json").read_text())
        assert entry.experimental == "; ".join(zoo_verdict(m))
        card = (ROOT / "hub_cards" / entry.name / "README.md").read_text()
        assert zoo_status_line(entry.name, m) in card
        assert ("Zoo status: listed." in card) == (not entry.experimental)

    def test_card_is_bundled_under_its_name_and_shows_every_variant(self, entry):
        folder = ROOT / "hub_cards" / entry.name
        m = json.loads((folder / "metrics.json").read_text())
        assert m["bundle"] == entry.name
        base = entry.name.split(".")[0]
        card = (folder / "README.md").read_text()
        # The table is the one make_card draws from every variant's metrics.json today (none is stale).
        assert variants_table(base, ROOT / "hub_cards") in card
        for other in NAMES:
            if other.split(".")[0] == base:
                assert f"`{other}`" in card or f"`experimental/{other}`" in card

    def test_card_reports_the_measured_numbers(self, entry):
        folder = ROOT / "hub_cards" / entry.name
        m = json.loads((folder / "metrics.json").read_text())
        card = (folder / "README.md").read_text()
        for label, v in m["test_B_accuracy"].items():
            assert f"| {label} | {v['mean']:.1f} ± {v['std']:.1f} |" in card
            assert len(v["accs"]) == 3  # three seeds
        lp = m["label_preservation"]
        assert f"{lp['acc_x']:.1f}%" in card and f"{lp['acc_G(x)']:.1f}%" in card
        verdict_learned_wins = "earns its place." in card
        known = next(v for k, v in m["test_B_accuracy"].items() if k.startswith("MDA-5 (known"))
        assert verdict_learned_wins == (m["test_B_accuracy"]["MDA-5 (this model)"]["mean"] > known["mean"])
        zoo_md = (ROOT / "docs" / "zoo.md").read_text()
        row = next(line for line in zoo_md.splitlines() if line.startswith(f"| `{entry.name}` |"))
        assert f"{m['test_B_accuracy']['ERM']['mean']:.1f}" in row
