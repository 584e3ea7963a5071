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
    res = reproduce(tiny_row, seeds=1, epochs=1, out=tmp_path / "results", progress=False)
    md = write_report(tmp_path / "results", tmp_path / "results.md").read_text()
    s = res["summary"]["B"]["Vanilla"]
    assert f"{s['peak_mean']:.1f} ± {s['peak_std']:.1f} / {s['final_mean']:.1f} ± {s['final_std']:.1f} (87.8)" in md
    assert "Full results are pending" not in md
