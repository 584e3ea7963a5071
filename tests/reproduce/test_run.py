"""reproduce(): the results JSON, resume after a kill, protocol checks, absent data."""
from __future__ import annotations

import json

import pytest

from nuisance_zoo.reproduce import reproduce
from nuisance_zoo.reproduce.run import QUICK, SCHEMA, summarize, unit_key


class Killed(RuntimeError):
    pass


def _accs(result: dict) -> dict:
    return {k: (u["acc"], u["train_loss"]) for k, u in result["units"].items()}


def test_json_records_protocol_hardware_and_every_epoch(tiny_row, tmp_path):
    res = reproduce(tiny_row, seeds=2, out=tmp_path, progress=False)
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data == json.loads(json.dumps(res))
    assert data["schema"] == SCHEMA and data["status"] == "complete"
    assert data["command"] == "nuisance-zoo reproduce tiny --seeds 2"
    assert data["seeds"] == [0, 1] and data["epochs"] == 2
    assert data["hardware"]["cpu_count"] >= 1 and "gpu" in data["hardware"]
    assert set(data["versions"]) >= {"torch", "nuisance_zoo", "python"}
    assert len(data["units"]) == 2 * 3
    for unit in data["units"].values():
        assert set(unit["acc"]) == {"B", "A"}
        assert all(len(v) == 2 and all(0 <= a <= 100 for a in v) for v in unit["acc"].values())
    s = data["summary"]["B"]["Vanilla"]
    finals = [data["units"][unit_key(i, "Vanilla")]["acc"]["B"][-1] for i in (0, 1)]
    peaks = [max(data["units"][unit_key(i, "Vanilla")]["acc"]["B"]) for i in (0, 1)]
    assert s["final"] == finals and s["peak"] == peaks
    assert s["peak_mean"] == pytest.approx(sum(peaks) / 2, abs=0.01)
    assert s["peak_mean"] >= s["final_mean"]
    assert data["paper"]["B"] == {"Vanilla": 87.8, "MRT-1": 98.8} and data["paper"]["A"] == {}
    assert "peak" in data["peak_note"] and "test set" in data["peak_note"]


def test_resume_after_kill_skips_finished_units_and_matches(tiny_row, tmp_path):
    straight = reproduce(tiny_row, seeds=2, out=tmp_path / "straight", progress=False)

    def kill_after_first(key, unit):
        raise Killed(key)

    with pytest.raises(Killed):
        reproduce(tiny_row, seeds=2, out=tmp_path / "killed", on_unit_done=kill_after_first, progress=False)
    partial = json.loads((tmp_path / "killed" / "tiny.json").read_text())
    assert partial["status"] == "partial" and list(partial["units"]) == [unit_key(0, "Vanilla")]

    done = []
    resumed = reproduce(tiny_row, seeds=2, out=tmp_path / "killed", on_unit_done=lambda k, u: done.append(k),
                        progress=False)
    assert unit_key(0, "Vanilla") not in done and len(done) == 5
    assert resumed["status"] == "complete"
    assert _accs(resumed) == _accs(straight)
    assert resumed["summary"] == straight["summary"]


def test_finished_row_is_not_recomputed(tiny_row, tmp_path, monkeypatch):
    import nuisance_zoo.reproduce.run as run

    first = reproduce(tiny_row, seeds=1, out=tmp_path, progress=False)
    calls = []
    # A call with nothing left to run keeps the record of the machine that computed the units.
    monkeypatch.setattr(run, "hardware_info", lambda device: {"device": "elsewhere"})
    again = reproduce(tiny_row, seeds=1, out=tmp_path, on_unit_done=lambda k, u: calls.append(k), progress=False)
    assert calls == [] and again["hardware"] == first["hardware"] and again["command"] == first["command"]
    monkeypatch.undo()
    # More seeds later: only the new seed's units run.
    reproduce(tiny_row, seeds=2, out=tmp_path, on_unit_done=lambda k, u: calls.append(k), progress=False)
    assert sorted(calls) == sorted(unit_key(1, c.label) for c in tiny_row.columns)


def test_other_protocol_refuses_resume_and_no_resume_restarts(tiny_row, tmp_path):
    reproduce(tiny_row, seeds=1, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="another protocol"):
        reproduce(tiny_row, seeds=1, epochs=1, out=tmp_path, progress=False)
    res = reproduce(tiny_row, seeds=1, epochs=1, out=tmp_path, resume=False, progress=False)
    assert res["epochs"] == 1 and all(len(u["acc"]["B"]) == 1 for u in res["units"].values())


def test_a_row_that_gains_a_column_keeps_its_finished_units(tiny_row, tmp_path):
    from dataclasses import replace

    from nuisance_zoo.reproduce.rows import Column

    first = reproduce(tiny_row, seeds=1, out=tmp_path, progress=False)
    wider = replace(tiny_row, columns=tiny_row.columns + (Column("MDA-1", "mda", 1),))
    ran = []
    res = reproduce(wider, seeds=1, out=tmp_path, on_unit_done=lambda k, u: ran.append(k), progress=False)
    assert ran == [unit_key(0, "MDA-1")]
    assert res["status"] == "complete" and res["units"][unit_key(0, "Vanilla")] == first["units"][unit_key(0, "Vanilla")]
    assert [c["label"] for c in res["protocol"]["columns"]] == ["Vanilla", "MRT-1", "MDA-2", "MDA-1"]
    assert set(res["summary"]["B"]) == {"Vanilla", "MRT-1", "MDA-2", "MDA-1"}
    # A column whose plan changed is another protocol, as is a dropped one.
    changed = replace(wider, columns=(Column("Vanilla", "erm"), Column("MRT-1", "mrt", 3)) + wider.columns[2:])
    with pytest.raises(ValueError, match="another protocol"):
        reproduce(changed, seeds=1, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="another protocol"):
        reproduce(replace(wider, columns=wider.columns[:2]), seeds=1, out=tmp_path, progress=False)


def test_a_zoo_name_with_other_weights_refuses_resume(tiny_row, tmp_path, monkeypatch):
    """A zoo name whose default changed (new weights) must not resume results of the old model."""
    from dataclasses import replace

    from nuisance_zoo import catalogue
    from nuisance_zoo.reproduce.rows import load

    entry = catalogue.get_entry("mnist-background-color")
    row = replace(tiny_row, model=load("mnist-background-color"))
    from nuisance_zoo.reproduce.run import protocol_for

    first = protocol_for(row, True, 1, "cpu")
    assert first["models"]["main"]["sha256"] == [entry.sha256]
    assert "sha256" not in protocol_for(tiny_row, True, 1, "cpu")["models"]["main"]  # known models: the name says all
    monkeypatch.setattr(entry, "sha256", "0" * 64)
    assert protocol_for(row, True, 1, "cpu") != first
    (tmp_path / "tiny.json").write_text(json.dumps({"protocol": first, "status": "complete"}))
    with pytest.raises(ValueError, match="another protocol .*models"):
        reproduce(row, quick=True, out=tmp_path, progress=False)


def test_quick_caps_k_steps_and_sizes(tiny_row, tmp_path):
    from dataclasses import replace

    from nuisance_zoo.reproduce.rows import standard_columns

    row = replace(tiny_row, columns=standard_columns())
    res = reproduce(row, quick=True, out=tmp_path, progress=False)
    assert res["quick"] and res["seeds"] == [0] and res["epochs"] == 1
    plan = {c["label"]: c for c in res["protocol"]["columns"]}
    assert plan["MRT-10"]["k"] == QUICK["k_max"] and plan["MRT-1"]["k"] == 1
    assert plan["PGD"]["kwargs"] == {"eps": 0.3, "step_size": 0.01, "steps": QUICK["pgd_steps"]}
    assert res["command"] == "nuisance-zoo reproduce tiny --quick"
    assert len(res["units"]) == 6 and res["status"] == "complete"


def test_full_protocol_uses_the_papers_pgd_and_k(tiny_row, tmp_path):
    from nuisance_zoo.reproduce.run import protocol_for
    from nuisance_zoo.reproduce.rows import standard_columns
    from dataclasses import replace

    plan = {c["label"]: c for c in protocol_for(replace(tiny_row, columns=standard_columns()), False, 3, "cpu")["columns"]}
    assert plan["PGD"]["kwargs"] == {"eps": 0.3, "step_size": 0.01, "steps": 20}
    assert [plan[c]["k"] for c in ("MRT-1", "MRT-10", "MDA-5", "MAT-10")] == [1, 10, 5, 10]


def test_column_kwargs_override_the_papers_pgd_and_reach_the_wrapper(tiny_row, tmp_path):
    from dataclasses import replace

    from nuisance_zoo.reproduce.rows import Column
    from nuisance_zoo.reproduce.run import protocol_for

    authors = Column("PGD (authors' code)", "pgd", kwargs=(("eps", 8 / 255), ("steps", 10), ("sign", False)))
    plan = protocol_for(replace(tiny_row, columns=(authors,)), False, 1, "cpu")["columns"][0]
    assert plan["kwargs"] == {"eps": 8 / 255, "step_size": 0.01, "steps": 10, "sign": False}
    assert protocol_for(replace(tiny_row, columns=(authors,)), True, 1, "cpu")["columns"][0]["kwargs"]["steps"] == QUICK["pgd_steps"]
    # The wrapper receives them: an invalid radius fails where PGDWrapper checks it.
    bad = Column("PGD (ε = 0)", "pgd", kwargs=(("eps", 0.0),))
    with pytest.raises(ValueError, match="eps"):
        reproduce(replace(tiny_row, columns=(bad,)), seeds=1, epochs=1, out=tmp_path, progress=False)


def test_optional_data_absent_is_recorded_not_raised(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    res = reproduce("t5-fashionmnist", quick=True, out=tmp_path / "r", data_root=str(empty), progress=False)
    assert res["status"] == "data-unavailable" and res["reason"]
    assert json.loads((tmp_path / "r" / "t5-fashionmnist.json").read_text())["status"] == "data-unavailable"


def test_summary_std_is_sample_std():
    result = {"protocol": {"tests": {"B": ""}, "columns": [{"label": "X"}]},
              "units": {f"seed{i}/X": {"column": "X", "status": "done", "acc": {"B": [a, b]}}
                        for i, (a, b) in enumerate([(10.0, 20.0), (30.0, 25.0)])}}
    s = summarize(result)["B"]["X"]
    assert s["final"] == [20.0, 25.0] and s["peak"] == [20.0, 30.0]
    assert s["final_mean"] == 22.5 and s["final_std"] == pytest.approx(3.54, abs=0.01)
    assert s["peak_mean"] == 25.0 and s["peak_std"] == pytest.approx(7.07, abs=0.01)
