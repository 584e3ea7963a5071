"""Shared, cached inputs of the fuzz suite: one model per kind, classifiers, labelled batches."""
from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

import nuisance_zoo as nz

from .._kinds import C, KINDS, S, classifier, images, labelled

NAMES = list(KINDS)
CLASSES = 3
FAR = 1e6


@functools.lru_cache(maxsize=None)
def model(kind: str) -> nz.NuisanceModel:
    """One model per kind for the whole suite (models hold no state between calls)."""
    return KINDS[kind]()


def has_box(G: nz.NuisanceModel) -> Tensor:
    """Per coordinate of δ: whether its part has a Δ box (normal-prior parts are unbounded)."""
    return torch.cat([torch.full((p.delta_dim,), p.bounds() is not None) for p in G.parts()])


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = classifier(CLASSES)

    def forward(self, x):
        out = self.f(x)
        return out, out.detach()


class DictOut(TupleOut):
    def forward(self, x):
        return {"logits": self.f(x)}


class WrongBatch(TupleOut):
    def forward(self, x):
        return self.f(x)[:1]


class Flat(TupleOut):
    def forward(self, x):
        return self.f(x).sum(1)


CLASSIFIERS = {"tuple": TupleOut, "dict": DictOut, "wrong-batch": WrongBatch, "one-dim": Flat}

__all__ = ["C", "S", "NAMES", "CLASSES", "FAR", "model", "has_box", "classifier", "images", "labelled",
           "CLASSIFIERS"]
