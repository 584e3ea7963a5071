"""User errors end in one line on stderr and a nonzero exit, never a traceback; --debug shows it."""
from __future__ import annotations

import numpy as np
import pytest

from nuisance_zoo.cli import main

TRAIN = ["train", "--algorithm", "erm", "--n-train", "8", "--batch-size", "4", "--no-progress"]


def run(capsys, *argv):
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err


def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nuisance-zoo {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_an_image_pil_cannot_read(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not an image")
    status, err = run(capsys, "grid", "haze", "--image", str(tmp_path / "bad.png"), "-o", str(tmp_path / "g.png"))
    assert status == 2
    assert "not an image PIL can read" in one_line_error(err, "grid")


def test_an_npz_holding_pickles_is_refused(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", x=np.array([{"a": 1}], dtype=object))
    status, err = run(capsys, *TRAIN, "--data", f"npz:{tmp_path / 'bad.npz'}", "--out", str(tmp_path / "o"))
    assert status == 2
    assert "pickle" in one_line_error(err, "train").lower()


def test_out_is_an_existing_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    status, err = run(capsys, *TRAIN, "--max-steps", "1", "--out", str(tmp_path / "afile"))
    assert status == 2
    line = one_line_error(err, "train")
    assert "afile" in line and "choose another path" in line


def test_broken_yaml_names_the_place_but_never_echoes_the_file(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("dim: [1,\n password: hunter2\n")
    status, err = run(capsys, "fit", "--config", str(cfg), "--domain-a", "mnist-sample:train?limit=4",
                      "--domain-b", "mnist-sample:train?limit=4", "--out", str(tmp_path / "o"), "--no-progress")
    assert status == 2
    line = one_line_error(err, "fit")
    assert "not valid YAML" in line and "line 3" in line
    assert "hunter2" not in err and "password" not in err


def test_truncated_checkpoint_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--max-steps", "1", "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    ckpt = out / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    status, err = run(capsys, *TRAIN, "--epochs", "2", "--resume", "--out", str(out))
    assert status == 2
    assert "truncated or corrupted" in one_line_error(err, "train")


def test_an_unexpected_error_is_reported_as_a_bug_and_debug_shows_the_traceback(monkeypatch, capsys):
    import nuisance_zoo.cli.info_cmd as info_cmd

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(info_cmd, "run", boom)
    status, err = run(capsys, "info", "haze")
    assert status == 1
    line = one_line_error(err, "info")
    assert "internal error, ZeroDivisionError" in line and "--debug" in line
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "info", "haze"])


@pytest.mark.parametrize("argv, message", [
    (["train", "--n-train", "-5", "--out", "o"], "argument --n-train: must be an integer >= 1, got -5"),
    (["train", "--checkpoint-every", "-1", "--out", "o"], "argument --checkpoint-every: must be an integer >= 1"),
    (["train", "--lr", "nan", "--out", "o"], "argument --lr: must be a finite number > 0"),
    (["evaluate", "--classifier", "c", "--data", "d", "--step-size", "-1"], "argument --step-size: must be a number > 0"),
    (["fit", "--domain-a", "a", "--domain-b", "b", "--out", "o", "--iterations", "0"], "must be an integer >= 1, got 0"),
    (["grid", "haze", "--image", "i.png", "--steps", "x"], "argument --steps: must be an integer >= 1, got 'x'"),
    (["demo", "--n-test", "-1"], "argument --n-test: must be an integer >= 0, got -1"),
])
def test_numeric_options_refuse_values_outside_their_range(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
