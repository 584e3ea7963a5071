"""DDP worker for test_ddp.py: ``torchrun --nproc_per_node 2 ddp_worker.py --out DIR``.

Each rank trains ``DDP(wrapper)`` for a few steps on its half of a fixed global batch and
writes its classifier's parameters to ``DIR/<kind>-rank<r>.safetensors``. :func:`train`
without a process group is the single-process reference on the whole global batch.

"Same seeds" for the δ draws: the global δ tensor of every step is drawn once from a fixed
seed and each rank takes the rows of its own images, so that rank r's draws are exactly the
ones the single process uses for the same images. (In real training each rank just seeds
its own generator differently; draws are then i.i.d. and nothing has to match.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _toy import Brightness, batch, small_net  # noqa: E402

from nuisance_zoo.training import MATWrapper, MDAWrapper, MRTWrapper  # noqa: E402

GLOBAL_BATCH, STEPS, K = 8, 3, 3
KINDS = ("mda", "mrt-sample", "mat")


def make_wrapper(kind: str):
    net, G = small_net(seed=0), Brightness()  # no BatchNorm/dropout: per-rank stats would differ
    if kind == "mda":
        return MDAWrapper(net, G, k=K, lam=0.5)
    if kind == "mrt-sample":
        return MRTWrapper(net, G, k=K, selection="sample")
    return MATWrapper(net, G, k=K, step_size=0.05, sign=True)


def train(kind: str, rank: int = 0, world: int = 1) -> dict:
    """Train for STEPS steps; with world > 1 under DDP(wrapper) on this rank's shard."""
    wrapper = make_wrapper(kind)
    module = wrapper
    if world > 1:
        module = torch.nn.parallel.DistributedDataParallel(wrapper)
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    per_rank = GLOBAL_BATCH // world
    rows = slice(rank * per_rank, (rank + 1) * per_rank)
    for step in range(STEPS):
        x, y = batch(GLOBAL_BATCH, seed=step)
        delta = None
        if kind != "mat":
            g = torch.Generator().manual_seed(100 + step)
            delta = wrapper.G.sample_delta(K * GLOBAL_BATCH, generator=g).view(K, GLOBAL_BATCH, -1)[:, rows]
        loss = module(x[rows], y[rows], delta)
        loss.backward()
        opt.step()
        opt.zero_grad()
    module.eval()
    x, _ = batch(4, seed=99)
    assert torch.equal(module(x), wrapper.model(x)), "eval mode must return the classifier's output"
    return {k: v.detach().clone().contiguous() for k, v in wrapper.model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    for kind in KINDS:
        state = train(kind, rank, world)
        save_file(state, str(Path(args.out) / f"{kind}-rank{rank}.safetensors"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
