"""The examples run (a few steps) and save a plain timm checkpoint."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_mda_in_your_loop_runs_and_saves_a_timm_state_dict(tmp_path):
    out = tmp_path / "clf.pt"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "mda_in_your_loop.py"), "--steps", "2",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "after 2 MDA-5 steps" in r.stdout
    import timm

    state = torch.load(out, weights_only=True)
    assert not any(k.startswith(("model.", "G.")) for k in state)
    timm.create_model("resnet10t", num_classes=10, in_chans=3).load_state_dict(state)
