"""docs/results.md: tables beside the paper, pending cells, figures, the >2 std flag, claims."""
from __future__ import annotations

from nuisance_zoo.reproduce import reproduce
from nuisance_zoo.reproduce.report import differences, ordering_claims, write_report


def _result(peaks: dict, std: float = 1.0) -> dict:
    return {"main_test": "B", "paper": {"B": {"Vanilla": 65.0, "MDA-5": 82.0, "MRT-1": 78.5}},
            "summary": {"B": {k: {"peak_mean": v, "peak_std": std} for k, v in peaks.items()}}}


def test_differences_flag_only_beyond_two_std():
    res = _result({"Vanilla": 66.5, "MDA-5": 70.0, "MRT-1": 78.0})
    flagged = differences(res)
    assert len(flagged) == 1 and flagged[0].startswith("MDA-5")


def test_ordering_claims():
    claims = ordering_claims(_result({"Vanilla": 60.0, "PGD": 62.0, "MRT-1": 80.0, "MDA-5": 79.0, "MAT-10": 70.0}))
    assert claims == {"model-based beats Vanilla": True, "model-based beats PGD": True,
                      "MDA-5 >= MRT-1": False, "MAT-10 below best sampling": True}
    assert ordering_claims(_result({"Vanilla": 60.0}))["MDA-5 >= MRT-1"] is None
    # Every PGD column counts: the authors' code's PGD trains where the stated one does not.
    res = _result({"Vanilla": 60.0, "PGD": 0.2, "PGD (authors' code)": 85.0, "MDA-5": 80.0})
    res["protocol"] = {"columns": [{"label": "PGD", "algorithm": "pgd"}, {"label": "MDA-5", "algorithm": "mda"},
                                   {"label": "PGD (authors' code)", "algorithm": "pgd"}]}
    assert ordering_claims(res)["model-based beats PGD"] is False


def test_report_with_quick_only_says_pending_and_draws_figures(tiny_row, tmp_path, monkeypatch):
    import nuisance_zoo.reproduce.report as report

    monkeypatch.setitem(report.ROWS, "tiny", tiny_row)
    reproduce(tiny_row, seeds=1, quick=True, out=tmp_path / "results" / "quick", progress=False)
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert "Full results are pending" in md and "nuisance-zoo reproduce ROW --seeds 3" in md
    assert "peak" in md and "test set" in md
    assert "| tiny | " in md and "pending (87.8)" in md
    assert (tmp_path / "results" / "quick" / "tiny.png").stat().st_size > 1000
    assert "](results/quick/tiny.png)" in md
    assert "| tiny | complete | 3 |" in md


def test_report_with_full_results_fills_cells(tiny_row, tmp_path, monkeypatch):
    import nuisance_zoo.reproduce.report as report

    monkeypatch.setitem(report.ROWS, "tiny", tiny_row)
    res = reproduce(tiny_row, seeds=2, epochs=1, out=tmp_path / "results", progress=False)
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    s = res["summary"]["B"]["Vanilla"]
    assert f"{s['peak_mean']:.1f} ± {s['peak_std']:.1f} / {s['final_mean']:.1f} ± {s['final_std']:.1f} (87.8)" in md
    assert "seeds]" not in md and "| tiny | complete | 2 of 2 | 6 |" in md
    assert "Full results are pending" not in md


def test_partial_row_shows_seeds_done_wall_time_and_its_note(tiny_row, tmp_path, monkeypatch):
    import json
    from dataclasses import replace

    import pytest

    import nuisance_zoo.reproduce.report as report

    # A paper number nobody reaches, so the row is flagged on every run.
    row = replace(tiny_row, paper={"Vanilla": 200.0, "MRT-1": 200.0})
    monkeypatch.setitem(report.ROWS, "tiny", row)
    done = []

    def kill_after_four(key, unit):
        done.append(key)
        if len(done) == 4:  # seed 0's three columns and seed 1's Vanilla
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reproduce(row, seeds=2, epochs=1, out=tmp_path / "results", on_unit_done=kill_after_four, progress=False)
    res = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert res["status"] == "partial"
    assert report.seeds_done(res) == (1, 2)
    assert report.measured_wall_h(res) == pytest.approx(sum(u["wall_s"] for u in res["units"].values()) / 3600)
    # A unit resumed after a kill: its wall_s is the last call's; the trainer's clock (train_s) is the total.
    resumed = {"units": {"a": {"wall_s": 10.0, "train_s": 3600.0}, "b": {"wall_s": 7200.0, "train_s": 7100.0}}}
    assert report.measured_wall_h(resumed) == pytest.approx(3.0)

    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    mrt = res["summary"]["B"]["MRT-1"]
    assert f"| {mrt['peak_mean']:.1f} / {mrt['final_mean']:.1f} [1 of 2 seeds] (200) |" in md
    assert "[2 of 2 seeds]" not in md  # Vanilla has both seeds: no marker
    assert "| tiny | partial | 1 of 2 | 4 |" in md
    assert "### tiny *(partial: 1 of 2 seeds in every column)*" in md
    van = res["summary"]["B"]["Vanilla"]
    assert f"- Vanilla: ours {van['peak_mean']:.1f} ± {van['peak_std']:.1f}, paper 200" in md
    assert f"- MRT-1: ours {mrt['peak_mean']:.1f} (1 seed), paper 200" in md
    assert "No full row is complete yet" in md and "Full results are pending" not in md
    assert "*Cause: to be measured" in md
    assert "| tiny | 1 of 2 |" in md  # the ordering-claims line

    (tmp_path / "results" / "notes").mkdir()
    (tmp_path / "results" / "notes" / "tiny.md").write_text("Measured: the paper number is impossible.\n")
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert "Measured: the paper number is impossible." in md and "*Cause: to be measured" not in md


def test_checks_table_lists_complete_checks_and_names_unfinished_ones(tmp_path):
    import json

    checks = tmp_path / "results" / "checks"
    checks.mkdir(parents=True)
    base = {"protocol": {"train": ["gtsrb:train?x"]}, "epochs": 25, "seeds": [0], "question": "Why?"}
    (checks / "done.json").write_text(json.dumps({**base, "row": "done", "status": "complete", "command": "python -m c done",
                                                  "summary": {"B": {"PGD": {"peak_mean": 65.66}}}}))
    (checks / "busy.json").write_text(json.dumps({**base, "row": "busy", "status": "partial", "command": "wrong",
                                                  "seeds": [0, 1], "protocol": {**base["protocol"], "columns": [{}, {}, {}]},
                                                  "units": {"seed0/PGD": {}},
                                                  "summary": {"B": {"PGD": {"peak_mean": 1.0}}}}))
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert "| done | `gtsrb:train?x` | 25 | 1 | B | PGD 65.7 |" in md
    assert "- *done*: Why? `python -m c done`" in md
    assert "| busy |" not in md and "`wrong`" not in md
    assert ("- *busy*: not finished (1 of 6 units); its numbers appear here when "
            "`python -m benchmarks.reproduce_checks busy` completes it (a rerun resumes).") in md


def test_ordering_claims_count_complete_checks_that_run_model_based_columns(tmp_path):
    import json

    checks = tmp_path / "results" / "checks"
    checks.mkdir(parents=True)
    peaks = {"Vanilla": 80.0, "PGD": 85.0, "MRT-1": 90.0, "MDA-5": 88.0}
    mid = {"protocol": {"train": ["mnist:train?limit=10"], "columns": [{"label": "PGD", "algorithm": "pgd"}]},
           "epochs": 5, "seeds": [0], "question": "Q?", "status": "complete", "main_test": "B", "base": "t2-x",
           "units": {f"seed0/{k}": {"status": "done"} for k in peaks},
           "summary": {"B": {k: {"peak_mean": v, "n": 1} for k, v in peaks.items()}}}
    (checks / "mid.json").write_text(json.dumps({**mid, "row": "mid"}))
    # a check without the model-based columns (one PGD variant) has no claim to check
    (checks / "pgd-only.json").write_text(json.dumps({**mid, "row": "pgd-only", "summary": {"B": {"PGD": {"peak_mean": 1.0}}}}))
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    claims = md.split("## Section 6's ordering claims")[1].split("## Figures")[0]
    assert "| check mid (of t2-x, 5 epochs) | 1 of 1 | holds | holds | **fails** | – |" in claims
    assert "pgd-only" not in claims
    assert "- *t2-x*" not in md  # not a row: no table names it
    (checks / "mid.json").write_text(json.dumps({**mid, "row": "mid", "base": "t2-mnist-blue-red"}))
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    assert "- *t2-mnist-blue-red*: no full run yet; see the mid-size check mid below." in md
