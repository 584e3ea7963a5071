"""benchmarks/reproduce_background.sh: a queue of full rows that logs a failing row and goes on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce_background.sh"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUISANCE_ZOO_BIN": str(Path(sys.executable).parent / "nuisance-zoo"),
           "HF_HUB_OFFLINE": "1"}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)


def test_queue_logs_a_failing_row_and_goes_on(tmp_path):
    out = tmp_path / "out"
    proc = _run(str(out), str(tmp_path / "no-data"), "no-such-row", "nor-this-one")
    assert proc.returncode == 0, proc.stderr
    assert "=== no-such-row failed (exit 2)" in proc.stdout
    assert "=== nor-this-one failed (exit 2)" in proc.stdout  # the second row ran after the first failed
    assert proc.stdout.rstrip().endswith("queue done")
    assert "unknown row" in proc.stderr.lower()
    assert out.is_dir()


def test_queue_without_rows_prints_usage(tmp_path):
    proc = _run(str(tmp_path))
    assert proc.returncode == 2 and "usage:" in proc.stderr and proc.stdout == ""
