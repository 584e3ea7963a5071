"""kill -9 at every write point of ``train`` and ``fit``, then ``resume``: nothing half-written is
ever in plain sight, and the finished folder equals an uninterrupted run's, bit for bit.

The cases are enumerated from a recorded uninterrupted run of each family (``reference``), so a
write point added to train or fit is covered here without anyone listing it. Each case forks a
child that SIGKILLs itself at its point (``NUISANCE_ZOO_CRASH_AT``), then resumes in this process.
"""
from __future__ import annotations

import json

import pytest

from nuisance_zoo.run_lock import StaleLockWarning

from ._runs import FAMILIES, assert_same_folder, check_loadable, in_child, killed_by_sigkill, reference

EXPECTED_POINTS = {
    "train": {"checkpoint", "checkpoint.json", "classifier.weights", "classifier.config", "metrics.json",
              "metrics.csv"},
    "fit-munit": {"checkpoint", "checkpoint.json", "grid", "snapshot", "model"},
    "fit-structured": {"checkpoint", "checkpoint.json", "grid", "snapshot", "model"},
}


def pytest_generate_tests(metafunc):
    if "family_point" in metafunc.fixturenames:
        cases = [(family, point) for family in FAMILIES for point in reference(family)[0]]
        metafunc.parametrize("family_point", cases, ids=[f"{f}@{p}" for f, p in cases])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_artefact_kind_reports_a_write_point(family):
    points = reference(family)[0]
    assert {p.split(":")[0] for p in points} == EXPECTED_POINTS[family]
    assert len(points) == len(set(points))  # NAME:N names each commit once


def test_kill_at_write_point_then_resume_is_exact(family_point, tmp_path):
    family, point = family_point
    run, ref = FAMILIES[family], reference(family)[1]
    out = tmp_path / "out"

    status = in_child(lambda: run(out), crash_at=point)
    assert killed_by_sigkill(status), f"the run was to die by SIGKILL at {point}; wait status {status}"
    # Killed just before a rename: its temporary is there, and everything in plain sight loads.
    temps = check_loadable(out)
    assert temps and all(t.endswith(".tmp") or "/." in f"/{t}" for t in temps), temps
    dead = json.loads((out / ".lock").read_text())  # the dead run could not release its lock

    with pytest.warns(StaleLockWarning, match=f"pid {dead['pid']} "):
        run(out, resume=True)
    assert not (out / ".lock").exists()  # a clean end gives the lock back
    assert_same_folder(out, ref)


@pytest.mark.parametrize("family", ["fit-munit", "fit-structured"])
def test_a_snapshot_cut_by_a_kill_is_redone_on_resume(family, tmp_path):
    """The issue's case: killed while ``snapshots/iter_N`` was being written, at the iteration of
    a checkpoint; the folder held only a temporary and the resume never wrote it."""
    run, ref = FAMILIES[family], reference(family)[1]
    out = tmp_path / "out"
    assert killed_by_sigkill(in_child(lambda: run(out), crash_at="snapshot:1"))
    snaps = out / "snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == [".iter_0000002.tmp"]  # not where a loader looks
    with pytest.warns(StaleLockWarning):
        run(out, resume=True)
    assert sorted(p.name for p in snaps.iterdir()) == ["iter_0000002", "iter_0000003"]
    assert (snaps / "iter_0000002" / "model.safetensors").read_bytes() == \
        (ref / "snapshots" / "iter_0000002" / "model.safetensors").read_bytes()
