"""Additive known models: norm-bounded perturbations and camera noise.

* ``additive-linf`` and ``additive-l2`` are the paper's Eq. (4.1), ``G(x, δ) = x + δ`` with
  ``‖δ‖_p <= ε`` (clamped to [0, 1]): MAT over them is PGD adversarial training, the paper's
  baseline (it used ε = 0.3 on MNIST: ``load("additive-linf", shape=(1, 28, 28), eps=0.3)``).
  δ has one coordinate per pixel and channel, so these models are built for one image shape.
* ``noise`` is sensor noise for CURE-TSR's noise challenge: a fixed Gaussian pattern scaled by
  δ's σ. The contract demands that the same δ row always gives the same image, so the pattern
  is not drawn at call time: it is a fixed field made once from a seed, and δ chooses where to
  read it (a cyclic shift), so different draws still see different noise.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._checks import check_range
from .levels import ChallengeSpec

__all__ = ["AdditiveLinf", "AdditiveL2", "CameraNoise", "CHALLENGES"]

_PAPER_PGD = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020 (Eq. 4.1); Madry et al. 2018 (PGD)"


def _check_shape(shape: Sequence[int], model) -> tuple[int, int, int]:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if len(dims) != 3:
        raise ValueError(f"{type(model).__name__}: shape must be the image shape (C, H, W), e.g. (3, 32, 32); "
                         f"got {shape!r}.")
    return tuple(check_range(f"shape[{i}]", d, 1, integer=True, why="the image shape (C, H, W)", model=model)
                 for i, d in enumerate(dims))  # type: ignore[return-value]


class _Additive(NuisanceModel):
    """``G(x, δ) = clamp(x + δ.view(C, H, W), 0, 1)`` for images of one fixed shape."""

    prior = "uniform"
    differentiable = True
    gray_policy = "per-channel"
    repr_attrs = ("image_shape",)
    _ball = ""

    def __init__(self, shape: Sequence[int] = (3, 32, 32), eps: float = 8 / 255) -> None:
        super().__init__()
        self.image_shape = _check_shape(shape, self)
        self.eps = check_range("eps", eps, 0, open_low=True, why="in [0, 1] image units", model=self)
        # Per instance: δ's length depends on the image shape it was built for.
        self.delta_dim = math.prod(self.image_shape)
        self.identity_point = (0.0,) * self.delta_dim

    def _model_name(self) -> str:
        return f"additive-{self._ball}"

    def check_image_shape(self, x: Tensor) -> None:
        """Raise a clear error unless ``x``'s ``(C, H, W)`` is the shape this model was built for."""
        got = tuple(x.shape[-3:]) if isinstance(x, Tensor) and x.ndim in (3, 4) else None
        if got is not None and got != self.image_shape:
            raise ValueError(
                f"{self._model_name()} was built for images of shape (C, H, W) = {self.image_shape} "
                f"(delta_dim = C·H·W = {self.delta_dim}), but got images of shape {got} "
                f"(C·H·W = {math.prod(got)}). Build it for these images: "
                f"nz.load({self._model_name()!r}, shape={got}, eps=...)."
            )

    # Checked before the base class checks δ, whose error would not name the fix.
    check_input = check_image_shape

    def delta_space(self) -> dict:
        space = super().delta_space()
        space.update(set=f"{self._ball}-ball", radius=self.eps, image_shape=list(self.image_shape))
        return space

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        self.check_image_shape(x)
        return torch.add(x, delta.view(x.shape)).clamp_(0.0, 1.0)  # one new tensor, clamped in place


@register_model("additive-linf", paper=_PAPER_PGD)
class AdditiveLinf(_Additive):
    r"""Norm-bounded additive perturbation in the L∞ ball (the PGD threat model).

    δ ∈ Δ = {δ ∈ R^{C·H·W} : ‖δ‖_∞ <= eps} = [-eps, eps]^{C·H·W}, uniform prior on that box;
    ``G(x, δ) = clamp(x + δ.view(C, H, W), 0, 1)`` (δ is the image's flattened ``(C, H, W)``
    in row-major order). ``project`` clamps into the box. δ = 0 is the identity.
    Differentiable in δ and x (almost everywhere: the clamp at 0 and 1 has kinks).
    Gray inputs: δ has a value per channel, so build the model for the data's shape, e.g.
    ``shape=(1, 28, 28)`` for MNIST (``gray_policy = "per-channel"``); images of another shape
    raise an error that says so.

    Args:
        shape: the image shape ``(C, H, W)`` (default ``(3, 32, 32)``); delta_dim = C·H·W.
        eps: the radius in [0, 1] image units (default 8/255; the paper's PGD used 0.3 on
            MNIST).

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)`` with ``(C, H, W) == shape``.
        - delta: ``(B, C·H·W)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("additive-linf", shape=(1, 28, 28), eps=0.3)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> delta = G.sample_delta(4)
        >>> delta.shape, bool(delta.abs().max() <= 0.3)
        (torch.Size([4, 784]), True)
        >>> G(x, delta).shape
        torch.Size([4, 1, 28, 28])
    """

    _ball = "linf"

    def __init__(self, shape: Sequence[int] = (3, 32, 32), eps: float = 8 / 255) -> None:
        super().__init__(shape=shape, eps=eps)
        self.set_delta_box([-self.eps] * self.delta_dim, [self.eps] * self.delta_dim)


@register_model("additive-l2", paper=_PAPER_PGD)
class AdditiveL2(_Additive):
    r"""Norm-bounded additive perturbation in the L2 ball.

    δ ∈ Δ = {δ ∈ R^{C·H·W} : ‖δ‖_2 <= eps}, uniform prior on the ball (drawn as a uniform
    direction times ``eps · U^{1/d}``, U uniform on [0, 1], d = C·H·W);
    ``G(x, δ) = clamp(x + δ.view(C, H, W), 0, 1)``. Δ is not a box (``has_box`` is False):
    ``project`` rescales rows with ‖δ‖_2 > eps onto the sphere and leaves the others alone.
    δ = 0 is the identity. Differentiable in δ and x (almost everywhere).
    Gray inputs: build for the data's shape, e.g. ``shape=(1, 28, 28)``
    (``gray_policy = "per-channel"``).

    Args:
        shape: the image shape ``(C, H, W)`` (default ``(3, 32, 32)``).
        eps: the L2 radius in [0, 1] image units (default 0.5, a common CIFAR-10 L2 budget).

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)`` with ``(C, H, W) == shape``.
        - delta: ``(B, C·H·W)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("additive-l2", eps=0.5)
        >>> d = G.project(torch.randn(3, 3 * 32 * 32))
        >>> bool((d.norm(dim=1) <= 0.5 + 1e-6).all())
        True
    """

    _ball = "l2"

    def __init__(self, shape: Sequence[int] = (3, 32, 32), eps: float = 0.5) -> None:
        super().__init__(shape=shape, eps=eps)

    def sample_delta(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Draw ``n`` points uniformly from the L2 ball, shape ``(n, delta_dim)``."""
        device, dtype = self._draw_placement(n, generator, device, dtype)
        d = self.delta_dim
        direction = torch.randn(n, d, generator=generator, device=device, dtype=dtype)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        u = torch.rand(n, 1, generator=generator, device=device, dtype=dtype)
        return direction * (self.eps * u ** (1.0 / d))

    def project(self, delta: Tensor) -> Tensor:
        """Π_Δ onto the L2 ball: ``δ · min(1, eps / ‖δ‖_2)`` row by row."""
        norm = delta.norm(dim=-1, keepdim=True)
        scale = torch.where(norm > self.eps, self.eps / norm.clamp_min(torch.finfo(delta.dtype).tiny),
                            torch.ones_like(norm))
        return delta * scale

    def delta_scale(self, device=None, dtype=None) -> Tensor:
        """``2·eps`` per coordinate: the ball's extent along each axis (the unit of gradient steps)."""
        device = device if device is not None else self.device
        return torch.full((self.delta_dim,), 2.0 * self.eps, device=device, dtype=dtype or torch.float32)


@register_model("noise")
class CameraNoise(NuisanceModel):
    r"""Additive Gaussian sensor noise of strength σ, with a deterministic noise pattern.

    δ = (sigma, offset_x, offset_y) ∈ Δ = [0, max_sigma] × [0, 1] × [0, 1] (default
    max_sigma = 0.3, in [0, 1] image units), uniform prior. The model owns a fixed field
    ``N`` of shape ``(field_size, field_size)`` drawn once from ``seed`` and standardised to
    mean 0 and standard deviation 1 (a non-persistent buffer: it is rebuilt from the seed).
    With ``ox = floor(offset_x · F)``, ``oy = floor(offset_y · F)`` (F = field_size) and
    per-channel shifts ``(a_c, b_c) = (97·c, 181·c) mod F``:

    ``G(x, δ)[c, i, j] = clamp(x[c, i, j] + σ · N[(oy + a_c + i) mod F, (ox + b_c + j) mod F], 0, 1)``.

    So the same δ row always gives the same image (the contract), draws with different
    offsets see different noise (F² patterns), channels get independent noise (distinct
    shifts of an i.i.d. field), and images larger than the field tile it. σ = 0 is the
    identity. Differentiable in σ and x (almost everywhere: the clamp has kinks). The offsets
    pick whole pixels, so G is piecewise constant in them (gradient 0): MAT searches σ,
    the offsets vary only through sampling.
    Gray inputs: one noise plane per channel, so C = 1 gets luminance noise; ``monochrome=True``
    puts the same plane in every channel (``gray_policy = "per-channel"``).

    Args:
        max_sigma: upper end of σ's range (> 0).
        field_size: side of the fixed noise field (>= 2).
        seed: seed of the fixed field.
        monochrome: same noise in every channel (luminance noise) instead of colour noise.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 3)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("noise")
        >>> x = torch.full((2, 3, 32, 32), 0.5)
        >>> d = torch.tensor([[0.1, 0.2, 0.7], [0.1, 0.2, 0.7]])
        >>> y = G(x, d)
        >>> torch.equal(y[0], y[1]), round(float((y - x).std()), 1)
        (True, 0.1)
    """

    delta_dim = 3
    delta_names = ("sigma", "offset_x", "offset_y")
    identity_point = (0.0,) * 3
    prior = "uniform"
    differentiable = True
    gray_policy = "per-channel"

    def __init__(self, max_sigma: float = 0.3, field_size: int = 256, seed: int = 0,
                 monochrome: bool = False) -> None:
        super().__init__()
        max_sigma = check_range("max_sigma", max_sigma, 0, open_low=True, why="in [0, 1] image units", model=self)
        self.field_size = check_range("field_size", field_size, 2, integer=True, model=self)
        self.seed = check_range("seed", seed, integer=True, model=self)
        self.monochrome = bool(monochrome)
        g = torch.Generator().manual_seed(self.seed)
        field = torch.randn(self.field_size, self.field_size, generator=g, dtype=torch.float64)
        field = (field - field.mean()) / field.std()
        self.register_buffer("field", field, persistent=False)
        self.set_delta_box([0.0, 0.0, 0.0], [max_sigma, 1.0, 1.0])

    def noise_pattern(self, delta: Tensor, channels: int, height: int, width: int) -> Tensor:
        """The unit-variance noise ``N`` each δ row reads, shape ``(B, C, H, W)``."""
        f = self.field_size
        dev = delta.device
        off = torch.clamp(torch.floor(delta[:, 1:3].detach() * f), 0, f - 1).long()  # (B, 2)
        ox, oy = off[:, 0], off[:, 1]
        c = torch.arange(channels, device=dev)
        if self.monochrome:
            c = torch.zeros_like(c)
        rows = (oy[:, None, None] + (97 * c)[None, :, None] + torch.arange(height, device=dev)) % f
        cols = (ox[:, None, None] + (181 * c)[None, :, None] + torch.arange(width, device=dev)) % f
        field = self.field.to(device=dev, dtype=delta.dtype)
        return field[rows[..., :, None], cols[..., None, :]]

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        noise = self.noise_pattern(delta, *x.shape[1:])
        return (x + delta[:, 0].view(-1, 1, 1, 1) * noise).clamp_(0.0, 1.0)  # in place on a fresh sum


CHALLENGES = [
    ChallengeSpec(
        challenge="noise",
        model="noise",
        regions={
            1: ((0.02, 0.0, 0.0), (0.05, 1.0, 1.0)),
            2: ((0.05, 0.0, 0.0), (0.08, 1.0, 1.0)),
            3: ((0.08, 0.0, 0.0), (0.12, 1.0, 1.0)),
            4: ((0.12, 0.0, 0.0), (0.18, 1.0, 1.0)),
            5: ((0.18, 0.0, 0.0), (0.30, 1.0, 1.0)),
        },
        note=(
            "CURE-TSR noise, levels 1-5 as adjacent, non-overlapping boxes of the noise "
            "standard deviation σ (in [0, 1] image units) covering [0.02, 0.3] of Δ; the "
            "pattern offsets range over all of [0, 1] at every level. σ grows roughly "
            "geometrically, so each level is visibly noisier than the last. Chosen by eye, "
            "not fitted to CURE-TSR (not downloadable here)."
        ),
    ),
]
