"""Every row at CI size, end to end, through the CLI (what CI runs; a few minutes on 2 cores)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import need_data


@pytest.mark.slow
def test_every_row_runs_quick(tmp_path, capsys):
    need_data("gtsrb", "mnist")
    from nuisance_zoo.cli import main
    from nuisance_zoo.reproduce import ROWS

    assert main(["reproduce", "--all", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name, row in ROWS.items():
        assert f"{name}: " in printed
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["quick"] is True and data["command"] == f"nuisance-zoo reproduce {name} --quick"
        if data["status"] == "data-unavailable":
            # Only the torchvision sets this machine may not hold are allowed to be absent.
            assert row.optional_data, name
            continue
        assert data["status"] == "complete", name
        units = data["units"]
        assert {u["column"] for u in units.values()} == {c.label for c in row.columns}, name
        for u in units.values():
            assert u["status"] in ("done", "not-applicable"), (name, u)
            if u["status"] == "done":
                assert set(u["acc"]) == set(row.tests) and all(len(v) == 1 for v in u["acc"].values())
        if any(c.model != "main" or c.algorithm in ("mrt", "mat", "mda") for c in row.columns):
            assert "main" in data["models"], name
