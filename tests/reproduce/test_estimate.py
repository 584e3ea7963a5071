"""`reproduce --estimate`: a measured cost of a full row, multiplied out correctly, and shown in the report."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from nuisance_zoo.reproduce.estimate import estimate, format_estimate
from nuisance_zoo.reproduce.report import write_report
from nuisance_zoo.reproduce.rows import Column, fitted, load


def test_estimate_multiplies_steps_epochs_seeds_and_columns(tiny_row):
    row = replace(tiny_row, epochs=3)
    e = estimate(row, seeds=2, steps=2, warmup=1)
    assert e["n_train"] == 64 and e["steps_per_epoch"] == 1 and e["epochs"] == 3 and e["fit_s"] == 0
    assert set(e["columns"]) == {"Vanilla", "MRT-1", "MDA-2"}
    for c in e["columns"].values():
        assert c["unit_s"] == pytest.approx(3 * (1 * c["step_ms"] / 1000 + e["eval_s"]), abs=0.11)
    assert e["total_s"] == pytest.approx(2 * sum(c["unit_s"] for c in e["columns"].values()), abs=0.2)
    assert e["hardware"]["device"] == "cpu"
    text = format_estimate(e)
    assert text.startswith("tiny: about ") and "MDA-2" in text and "ms/step" in text


def test_mat_on_a_non_differentiable_model_costs_nothing(tiny_row):
    row = replace(tiny_row, columns=(Column("MAT-2", "mat", 2),), model=load("erasing"))
    e = estimate(row, seeds=1, steps=1, warmup=1)
    assert e["columns"]["MAT-2"]["unit_s"] == 0.0 and "not applicable" in e["columns"]["MAT-2"]["note"]


def test_bad_step_counts_are_refused(tiny_row):
    with pytest.raises(ValueError, match="steps and warmup must be >= 1"):
        estimate(tiny_row, steps=0)


def test_report_shows_the_estimates(tiny_row, tmp_path, monkeypatch):
    import nuisance_zoo.reproduce.report as report

    monkeypatch.setitem(report.ROWS, "tiny", tiny_row)
    e = estimate(tiny_row, seeds=3, steps=1, warmup=1)
    folder = tmp_path / "results" / "estimates"
    folder.mkdir(parents=True)
    (folder / "tiny.json").write_text(json.dumps(e))
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert "## Cost of the full rows (measured estimate)" in md
    assert f"| tiny | 64 | 2 | 3 | {e['total_s'] / 3600:.1f} |" in md
    assert f"All 1 estimated rows together: {e['total_s'] / 3600:.0f} h" in md
    # The row gains a column after the estimate: the table says the total does not count it.
    from dataclasses import replace

    from nuisance_zoo.reproduce.rows import AUTHORS_PGD_COLUMN

    monkeypatch.setitem(report.ROWS, "tiny", replace(tiny_row, columns=tiny_row.columns + (AUTHORS_PGD_COLUMN,)))
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert f"| tiny | 64 | 2 | 3 | {e['total_s'] / 3600:.1f} without PGD (authors' code) |" in md


def test_a_row_that_fits_g_counts_the_fit(tiny_row):
    row = replace(tiny_row, columns=(Column("MDA-2", "mda", 2),),
                  model=fitted("mnist-sample:train?limit=16&colorize=gray", "mnist-sample:train?limit=16&colorize=gray-rgb"))
    e = estimate(row, seeds=1, steps=1, warmup=1, fit_iterations=1)
    assert e["fit_s"] > 0 and "fitting iterations" in e["method"]
    assert e["total_s"] == pytest.approx(e["fit_s"] + e["columns"]["MDA-2"]["unit_s"], abs=0.2)
    assert "fitting G:" in format_estimate(e)


def test_cli_estimate_prints_and_writes_json_and_runs_no_unit(tiny_row, tmp_path, monkeypatch, capsys):
    from nuisance_zoo.cli import main
    from nuisance_zoo.reproduce.rows import ROWS

    monkeypatch.setitem(ROWS, "tiny", tiny_row)
    assert main(["reproduce", "tiny", "--estimate", "--seeds", "2", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("tiny: about ")
    saved = json.loads((tmp_path / "estimates" / "tiny.json").read_text())
    assert saved["seeds"] == 2 and saved["row"] == "tiny"
    assert not (tmp_path / "tiny.json").exists()  # no results: nothing was run


def test_cli_estimate_skips_a_row_whose_optional_data_is_absent(tiny_row, tmp_path, monkeypatch, capsys):
    from nuisance_zoo.cli import main
    from nuisance_zoo.reproduce.rows import ROWS

    absent = replace(tiny_row, train=(f"npz:{tmp_path}/absent.npz",), optional_data=True)
    monkeypatch.setitem(ROWS, "tiny", absent)
    assert main(["reproduce", "tiny", "--estimate", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("tiny: not estimated, its data is absent")
    assert not (tmp_path / "estimates" / "tiny.json").exists()
