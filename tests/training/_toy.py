"""Tiny nuisance models and classifiers for the wrapper tests (also imported by the DDP worker).

The nuisance models here are local stand-ins with the definitions of the zoo's models, so that
the wrapper tests depend on the contract in ``base.py`` only.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from nuisance_zoo.base import NuisanceModel


class Brightness(NuisanceModel):
    """G(x, δ) = clamp(x + δ), δ ∈ [-0.5, 0.5] (one scalar per image)."""

    delta_dim = 1
    delta_names = ("shift",)

    def __init__(self) -> None:
        super().__init__()
        self.set_delta_box([-0.5], [0.5])

    def identity_delta(self, n=1, device=None, dtype=None):
        return torch.zeros(n, 1, device=device, dtype=dtype or torch.float32)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        return (content + delta[:, :, None, None]).clamp(0, 1)


class Contrast(NuisanceModel):
    """G(x, δ) = clamp(0.5 + δ (x - 0.5)), δ ∈ [0.2, 1.8]; identity at δ = 1 (not 0)."""

    delta_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.set_delta_box([0.2], [1.8])

    def identity_delta(self, n=1, device=None, dtype=None):
        return torch.ones(n, 1, device=device, dtype=dtype or torch.float32)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        return (0.5 + delta[:, :, None, None] * (content - 0.5)).clamp(0, 1)


class Posterize(Brightness):
    """A non-differentiable model (rounding)."""

    differentiable = False

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        return (torch.round(content * 4) / 4 + delta[:, :, None, None]).clamp(0, 1)


class AdditiveLinf(NuisanceModel):
    """The ``additive-linf`` definition: G(x, δ) = clamp(x + δ), δ ∈ [-eps, eps]^{C·H·W}."""

    def __init__(self, shape=(3, 8, 8), eps: float = 0.3) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.delta_dim = self.shape[0] * self.shape[1] * self.shape[2]
        self.set_delta_box([-eps] * self.delta_dim, [eps] * self.delta_dim)

    def identity_delta(self, n=1, device=None, dtype=None):
        return torch.zeros(n, self.delta_dim, device=device, dtype=dtype or torch.float32)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        return (content + delta.view(-1, *self.shape)).clamp(0, 1)


class TinyLearned(NuisanceModel):
    """A learned-style model with weights, BatchNorm, a normal prior and an encode/decode
    split; it counts its calls so tests can check the wrappers' batching."""

    kind = "learned"
    prior = "normal"
    delta_dim = 2

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.dec = nn.Conv2d(4, channels, 3, padding=1)
        self.style = nn.Linear(2, channels)
        self.calls = {"encode": 0, "decode": 0, "decode_rows": 0}

    def encode(self, x: Tensor) -> Tensor:
        self.calls["encode"] += 1
        return self.enc(x)

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        self.calls["decode"] += 1
        self.calls["decode_rows"] += delta.shape[0]
        return torch.sigmoid(self.dec(content) + self.style(delta)[:, :, None, None])


class Counter(nn.Module):
    """Records, at each call, the batch size, its own mode and whether grad is enabled."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, bool, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.log.append((x.shape[0], self.training, torch.is_grad_enabled()))
        return x


def small_net(bn: bool = False, dropout: bool = False, classes: int = 5, seed: int = 0) -> nn.Sequential:
    """A 2-layer conv classifier on 3×8×8 images (optionally with BatchNorm and dropout)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [Counter(), nn.Conv2d(3, 6, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(6))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(0.5))
    layers.append(nn.Linear(6 * 4 * 4, classes))
    return nn.Sequential(*layers)


def batch(b: int = 6, classes: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 8, 8, generator=g), torch.randint(0, classes, (b,), generator=g)
