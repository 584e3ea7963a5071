"""One run per output folder: a second run is refused naming the first's pid; a dead run's
lock is taken over; an exception gives the lock back. API and CLI, train and fit."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from nuisance_zoo.checkpoint import InjectedCrash, clean_leftovers
from nuisance_zoo.run_lock import LOCK_NAME, RunLockedError, StaleLockWarning, acquire, held_lock, release, run_lock

from ._runs import FAMILIES, TINY_MUNIT, assert_same_folder, folder_state, in_child, killed_by_sigkill, reference

PROJECT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------- the lock itself
def test_second_holder_is_refused_with_the_first_ones_pid_and_release_frees(tmp_path):
    with run_lock(tmp_path / "out", "train") as lock:
        record = json.loads(lock.path.read_text())
        assert record["pid"] == os.getpid() and record["command"] == "train" and record["host"]
        assert held_lock(tmp_path / "out") is lock and lock.previous is None
        with pytest.raises(RunLockedError, match=rf"in use by another run: pid {os.getpid()} on .*\(train\)"):
            acquire(tmp_path / "out", "fit")
    assert not (tmp_path / "out" / LOCK_NAME).exists() and held_lock(tmp_path / "out") is None
    release(acquire(tmp_path / "out", "fit"))  # free again


def test_a_killed_holders_lock_is_detected_stale_and_taken_over(tmp_path):
    def hold_and_die():
        acquire(tmp_path, "train")
        os.kill(os.getpid(), signal.SIGKILL)

    assert killed_by_sigkill(in_child(hold_and_die))
    dead = json.loads((tmp_path / LOCK_NAME).read_text())
    assert dead["pid"] != os.getpid()
    with pytest.warns(StaleLockWarning, match=rf"taking over the lock of pid {dead['pid']} on .*no longer running"):
        lock = acquire(tmp_path, "train")
    assert lock.previous == dead and json.loads(lock.path.read_text())["pid"] == os.getpid()
    release(lock)


def test_a_lock_file_without_record_is_taken_over_too(tmp_path):
    (tmp_path / LOCK_NAME).write_text("")  # a run killed between creating and writing it
    with pytest.warns(StaleLockWarning, match="a run that left no record"):
        release(acquire(tmp_path, "fit"))


def test_a_refused_or_failed_call_leaves_no_empty_folder(tmp_path):
    from nuisance_zoo.training.trainer import train

    with pytest.raises(ValueError, match="unknown optimizer"):
        train("paper-cnn", algorithm="erm", data=_tiny_data(), epochs=1, optimizer="nope", out=tmp_path / "new",
              progress=False)
    assert not (tmp_path / "new").exists()


def _tiny_data():
    from ._runs import toy_data

    return toy_data(8)


# ---------------------------------------------------------------------------------- concurrent runs
def _stopped_run(family: str, out: Path) -> int:
    """A real run of ``family`` frozen (SIGSTOP) at its first checkpoint write, holding the lock."""
    pid = in_child(lambda: FAMILIES[family](out), crash_at="checkpoint:1:stop", wait=False)
    _, status = os.waitpid(pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the run did not reach its first checkpoint (status {status})"
    return pid


@pytest.mark.parametrize("family", ["train", "fit-munit"])
def test_second_run_into_a_running_out_is_refused_then_the_killed_run_resumes(family, tmp_path, capsys):
    from nuisance_zoo.cli import main
    from nuisance_zoo.learned.fit import fit
    from nuisance_zoo.training.trainer import train

    from ._runs import fit_domains, toy_data

    out = tmp_path / "out"
    pid = _stopped_run(family, out)
    try:
        before = folder_state(out)
        # API: train, fit and the family's own resume are all refused, naming the running pid
        with pytest.raises(RunLockedError, match=f"pid {pid} "):
            train("paper-cnn", algorithm="erm", data=toy_data(8), epochs=1, out=out, progress=False, overwrite=True)
        with pytest.raises(RunLockedError, match=f"pid {pid} "):
            fit(*fit_domains(), config=TINY_MUNIT, iterations=1, out_dir=out, progress=False, overwrite=True)
        with pytest.raises(RunLockedError, match=f"pid {pid} "):
            FAMILIES[family](out, resume=True)
        # CLI: one line, exit 2, the pid named
        cli = (["train", "--algorithm", "erm", "--data", "mnist-sample:train", "--n-train", "8", "--epochs", "1"]
               if family == "train" else
               ["fit", "--domain-a", "mnist-sample:train?labels=0", "--domain-b", "mnist-sample:train?labels=1",
                "--iterations", "1"])
        capsys.readouterr()
        assert main(cli + ["--out", str(out), "--no-progress", "--resume"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"is in use by another run: pid {pid} " in err, err
        assert folder_state(out) == before  # the refused runs wrote nothing
    finally:
        os.kill(pid, signal.SIGKILL)  # kill -9 the frozen run
        assert killed_by_sigkill(os.waitpid(pid, 0)[1])

    with pytest.warns(StaleLockWarning, match=f"pid {pid} "):
        FAMILIES[family](out, resume=True)
    assert_same_folder(out, reference(family)[1])


@pytest.mark.parametrize("family", ["train", "fit-structured"])
def test_an_exception_gives_the_lock_back_and_leaves_no_temporary(family, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("NUISANCE_ZOO_CRASH_AT", "checkpoint:1:raise")
    from nuisance_zoo.checkpoint import reset_write_points

    reset_write_points()
    with pytest.raises(InjectedCrash):
        FAMILIES[family](out)
    assert not (out / LOCK_NAME).exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    monkeypatch.delenv("NUISANCE_ZOO_CRASH_AT")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleLockWarning)  # the lock was released, not left stale
        FAMILIES[family](out, resume=True)
    assert_same_folder(out, reference(family)[1])


# ---------------------------------------------------------------------------------- the folder
def test_clean_leftovers_removes_temporaries_and_rolls_back_a_cut_swap(tmp_path):
    (tmp_path / "checkpoint.safetensors.tmp").write_bytes(b"torn")
    (tmp_path / "snapshots" / ".iter_0000002.tmp").mkdir(parents=True)
    (tmp_path / "snapshots" / ".iter_0000003.old").mkdir()           # cut between the swap's renames:
    (tmp_path / "snapshots" / ".iter_0000003.old" / "config.json").write_text("{}")  # the old one comes back
    (tmp_path / "model").mkdir()
    (tmp_path / ".model.old").mkdir()                                 # swap finished: the old one goes
    (tmp_path / "notes.txt").write_text("mine")
    removed = clean_leftovers(tmp_path)
    assert len(removed) == 4
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == ["model", "notes.txt", "snapshots", "snapshots/iter_0000003", "snapshots/iter_0000003/config.json"]


def test_overwrite_starts_afresh_without_the_previous_runs_log_or_snapshots(tmp_path):
    from nuisance_zoo.learned.fit import fit

    from ._runs import fit_domains

    a, b = fit_domains()
    kw = dict(config=TINY_MUNIT, out_dir=tmp_path, progress=False, log_every=1, grid_every=0)
    fit(a, b, iterations=3, snapshots=[1], **kw)
    fit(a, b, iterations=2, overwrite=True, **kw)
    log = [json.loads(line)["iteration"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log == [1, 2]  # not [1, 2, 3, 1, 2]
    assert not (tmp_path / "snapshots").exists()


def test_cli_out_that_is_a_file_is_one_clear_line(tmp_path, capsys):
    from nuisance_zoo.cli import main

    (tmp_path / "file").write_text("x")
    rc = main(["train", "--algorithm", "erm", "--data", "mnist-sample:train", "--n-train", "8", "--epochs", "1",
               "--out", str(tmp_path / "file"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(tmp_path / "file") in err, err


# ---------------------------------------------------------------------------------- a real process
def test_cli_killed_through_the_environment_hook_then_resumed(tmp_path):
    """The hook as a user's shell would use it: a fresh `python -m nuisance_zoo train` dies by
    SIGKILL at its second checkpoint; `train --resume` takes the stale lock over and finishes
    with the weights of an uninterrupted run."""
    from nuisance_zoo.cli import main

    args = ["train", "--algorithm", "erm", "--data", "mnist-sample:train", "--n-train", "16", "--batch-size", "8",
            "--epochs", "2", "--checkpoint-every", "1", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "ref")]) == 0
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "NUISANCE_ZOO_CRASH_AT": "checkpoint:2",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "nuisance_zoo"] + args + ["--out", str(tmp_path / "run")]
    killed = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err[-2000:]
    assert (tmp_path / "run" / "checkpoint.safetensors.tmp").is_file()
    with pytest.warns(StaleLockWarning, match=f"taking over the lock of pid {killed.pid} "):
        assert main(args + ["--out", str(tmp_path / "run"), "--resume"]) == 0
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == (tmp_path / "ref" / "model.safetensors").read_bytes()


def test_train_overwrite_removes_the_previous_runs_checkpoint_first(tmp_path, monkeypatch):
    """Killed right after an ``overwrite`` start, the folder must not hold the old run's
    checkpoint for a ``resume`` to continue, nor its metrics."""
    from nuisance_zoo.training.trainer import train

    from ._runs import toy_data

    kw = dict(algorithm="erm", data=toy_data(), batch_size=8, out=tmp_path, progress=False, checkpoint_every=None)
    train("paper-cnn", epochs=2, **kw)
    assert len(json.loads((tmp_path / "metrics.json").read_text())) == 2
    monkeypatch.setenv("NUISANCE_ZOO_CRASH_AT", "classifier.weights:1:raise")
    from nuisance_zoo.checkpoint import reset_write_points

    reset_write_points()
    with pytest.raises(InjectedCrash):
        train("paper-cnn", epochs=1, overwrite=True, **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the old run is gone, the new one not yet written
    monkeypatch.delenv("NUISANCE_ZOO_CRASH_AT")
    result = train("paper-cnn", epochs=1, resume=True, **kw)  # nothing to resume: starts afresh
    assert result.global_step == 2 and len(json.loads((tmp_path / "metrics.json").read_text())) == 1
