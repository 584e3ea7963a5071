"""Clean accuracy of a classifier on a labelled set.

It lives in ``training/`` because the trainer reports it after every epoch and ``training/``
may not import ``eval/`` (``eval`` may import ``training``, never the reverse);
:mod:`nuisance_zoo.eval` re-exports it.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .inputs import as_tensors, to_model_input

__all__ = ["accuracy"]


@torch.no_grad()
def accuracy(model: nn.Module, data: Any, batch_size: int = 256, in_chans: int | None = None,
             device: str | torch.device = "cpu", data_root: str | None = None) -> float:
    """Clean top-1 accuracy (a fraction) of ``model`` on ``data`` (spec, dataset or ``(x, y)``)."""
    d = as_tensors(data, root=data_root, split="test")
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for i in range(0, len(d), batch_size):
            xb = to_model_input(d.x[i:i + batch_size], in_chans, device)
            correct += (model(xb).argmax(1).cpu() == d.y[i:i + batch_size]).sum().item()
    finally:
        model.train(was_training)
    return correct / max(len(d), 1)
