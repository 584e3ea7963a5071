"""One small model of every kind, for the entry-point × kind matrix (``tests/test_matrix.py``).

Every factory is seeded, so a model's weights do not depend on test order. Images are
``C × S × S`` with ``S = 12`` (the paper's CNN needs at least 10×10; the MUNIT generator needs a
size divisible by 2 for its one down-sampling).

To add a kind, add a factory to :data:`KINDS`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

import nuisance_zoo as nz
from nuisance_zoo.learned.generator import MunitGenerator
from nuisance_zoo.learned.structured import StructuredGenerator

C, S = 3, 12


class FunctionModel(nz.NuisanceModel):
    """An "adapted" model: a plain differentiable function ``fn(x, params)`` behind the public
    base API only (``set_delta_box``, ``identity_point``, ``decode``), as an adapter would
    wrap a third-party augmentation.

    Args:
        fn: ``fn(x (B, C, H, W), params (B, q)) -> (B, C, H, W)`` in [0, 1].
        low, high: the Δ box.
        identity: the δ where ``fn`` is the identity, or None.
    """

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor], low, high, identity=None) -> None:
        super().__init__()
        self.fn = fn
        self.delta_dim = len(low)
        self.delta_names = tuple(f"p{i}" for i in range(self.delta_dim))
        self.set_delta_box(low, high)
        self.identity_point = identity

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        return self.fn(content, delta)


def gamma_curve(x: Tensor, params: Tensor) -> Tensor:
    """``x ** γ``; the small floor keeps ∂/∂γ finite at black pixels."""
    return x.clamp_min(1e-6) ** params[:, :1, None, None]


def adapted() -> FunctionModel:
    """A gamma curve, γ ∈ [0.5, 2], identity at γ = 1."""
    return FunctionModel(gamma_curve, [0.5], [2.0], identity=(1.0,)).eval()


def kornia() -> nz.NuisanceModel:
    """A kornia pipeline through ``nz.from_kornia``: contrast, then a small rotation and shift."""
    import kornia.augmentation as K

    return nz.from_kornia(K.AugmentationSequential(
        K.RandomContrast((0.6, 1.4), p=1.0), K.RandomAffine(10.0, translate=(0.1, 0.1), p=1.0))).eval()


def known() -> nz.NuisanceModel:
    return nz.load("brightness")


def learned() -> MunitGenerator:
    """A tiny randomly initialised MUNIT-style generator (normal prior, 2-d δ) for S×S images."""
    torch.manual_seed(0)
    return MunitGenerator("paper", in_channels=C, dim=2, mlp_dim=3, style_dim=2, n_downsample=1, n_res=1,
                          style_n_downsample=1, image_size=[S, S]).eval()


def structured() -> StructuredGenerator:
    """A structured generator with a randomised MLP (so δ matters; at init it is the identity)."""
    G = StructuredGenerator(delta_dim=2, chain=["contrast", "haze"], summary="stats", channels=C,
                            image_size=[S, S])
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in G.mlp.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g))
    return G.eval()


def composed2() -> nz.NuisanceModel:
    """Known then learned: ``learned @ brightness``."""
    return learned() @ known()


def composed3() -> nz.NuisanceModel:
    """Adapted, then learned, then known (haze), built with both ``@`` and ``Compose``."""
    return nz.load("haze") @ nz.Compose([adapted(), learned()])


def composed_boxes() -> nz.NuisanceModel:
    """Three parts that all have a Δ box (so the composition has one): brightness, haze, gamma."""
    return adapted() @ nz.load("haze") @ known()


KINDS: dict[str, Callable[[], nz.NuisanceModel]] = {
    "known": known,
    "learned": learned,
    "structured": structured,
    "composed2": composed2,
    "composed3": composed3,
    "composed-boxes": composed_boxes,
    "adapted": adapted,
    "kornia": kornia,
}

#: Kinds that carry weights and can be saved as a folder.
SAVABLE = ("learned", "structured")


def images(b: int = 4, seed: int = 0) -> Tensor:
    """``(b, C, S, S)`` float images away from 0 and 1 (so clamps have no kinks where tests probe)."""
    g = torch.Generator().manual_seed(seed)
    return 0.2 + 0.6 * torch.rand(b, C, S, S, generator=g)


def labelled(b: int = 4, classes: int = 3, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed + 1)
    return images(b, seed), torch.randint(0, classes, (b,), generator=g)


def classifier(classes: int = 3, seed: int = 0) -> torch.nn.Module:
    """A linear classifier on S×S images."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(C * S * S, classes))
