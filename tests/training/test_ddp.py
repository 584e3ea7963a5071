"""DistributedDataParallel: ``DDP(wrapper)`` on 2 CPU processes (gloo) equals one process.

The worker (``ddp_worker.py``) is launched with torchrun; both ranks must end with identical
parameters, equal (to float tolerance) to one process trained on the same global batches
with the same δ for each image.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def _worker_module():
    spec = importlib.util.spec_from_file_location("ddp_worker", WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ddp_two_ranks_match_one_process(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           str(WORKER), "--out", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    worker = _worker_module()
    for kind in worker.KINDS:
        r0 = load_file(str(tmp_path / f"{kind}-rank0.safetensors"))
        r1 = load_file(str(tmp_path / f"{kind}-rank1.safetensors"))
        ref = worker.train(kind)
        initial = worker.make_wrapper(kind).model.state_dict()
        assert set(r0) == set(ref) == set(initial)
        for name in ref:
            assert torch.equal(r0[name], r1[name]), f"{kind}: ranks disagree on {name}"
            torch.testing.assert_close(r0[name], ref[name], rtol=1e-5, atol=1e-6,
                                       msg=lambda m, n=name, k=kind: f"{k}: {n} differs from one process: {m}")
        assert any(not torch.equal(ref[n], initial[n]) for n in ref), f"{kind}: training did not move"
