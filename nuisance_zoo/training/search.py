r"""The one projected-gradient search on δ, shared by MAT, PGD and ``evaluate``.

**Step convention.** The search runs in *normalised* coordinates ``u = δ / s``, where
``s = G.delta_scale()`` is the natural unit of each coordinate of δ: the width of the Δ box, or
the prior's standard deviation (1) for N(0, I). A step of size ``α`` is ``u ← u + α·d`` with
``d = sign(∇_u ℓ)`` (``sign=True``) or ``d = ∇_u ℓ`` (raw gradient), followed by the
projection Π_Δ. In δ's own units:

- sign steps: ``δ ← Π_Δ[δ + α · s · sign(∇_δ ℓ)]``: every coordinate moves by ``α`` box widths
  (``α`` prior standard deviations);
- raw steps:  ``δ ← Π_Δ[δ + α · s² · ∇_δ ℓ]`` (the chain rule: ``∇_u ℓ = s · ∇_δ ℓ``).

So ``α`` means the same thing on every model, whatever units its δ has (degrees, pixels,
factors): ``α = 0.1`` with sign steps is a tenth of the box per step on a ±30° rotation and on
a brightness shift alike. For the additive ℓ∞ box ``[-ε, ε]`` (width ``2ε``) an absolute sign
step ``a`` (the PGD papers' convention, e.g. ε = 0.3, a = 0.01) is ``α = a / 2ε``;
:func:`relative_step` converts.

Example:
    >>> import torch, nuisance_zoo as nz
    >>> G = nz.load("rotation")                       # ±30°: one unit is 60°
    >>> grad_fn = lambda d: torch.ones_like(d)         # "the loss grows with the angle"
    >>> projected_gradient_ascent(G, torch.zeros(2, 1), grad_fn, steps=2, step_size=0.1)
    tensor([[12.],
            [12.]])
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..base import NuisanceModel

__all__ = ["projected_gradient_ascent", "relative_step", "step_vector"]


def step_vector(G: NuisanceModel, step_size: float | Tensor, sign: bool, like: Tensor) -> Tensor:
    """Per-coordinate multiplier ``(delta_dim,)`` of the search direction ``∇_δ ℓ`` (or its sign).

    ``α · s`` for sign steps and ``α · s²`` for raw gradient steps (see the module docstring).
    """
    scale = G.delta_scale(device=like.device, dtype=like.dtype)
    alpha = torch.as_tensor(step_size, device=like.device, dtype=like.dtype)
    return alpha * scale if sign else alpha * scale * scale


def relative_step(G: NuisanceModel, absolute: float, sign: bool = True,
                  device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """The relative step ``α`` ``(delta_dim,)`` that moves δ by ``absolute`` of its own units.

    Sign steps: ``absolute / s``; raw steps: ``absolute / s²`` (``s = G.delta_scale()``), so
    ``step_vector(G, relative_step(G, a, sign), sign, ·) == a``.

    Example:
        >>> import nuisance_zoo as nz
        >>> G = nz.load("additive-linf", shape=(1, 2, 2), eps=0.3)
        >>> relative_step(G, 0.01)                    # the paper's PGD step on its ε = 0.3 box
        tensor([0.0167, 0.0167, 0.0167, 0.0167])
    """
    scale = G.delta_scale(device=device, dtype=dtype)
    return absolute / scale if sign else absolute / (scale * scale)


def projected_gradient_ascent(
    G: NuisanceModel,
    delta: Tensor,
    grad_fn: Callable[[Tensor], Tensor],
    steps: int,
    step_size: float | Tensor,
    sign: bool = True,
) -> Tensor:
    """``steps`` projected ascent steps on δ in the step convention of this module.

    Args:
        G: the nuisance model (its ``delta_scale`` sets the units, its ``project`` is Π_Δ).
        delta: the start ``(B, q)``; it is projected onto Δ first.
        grad_fn: maps the current δ (a leaf with ``requires_grad``) to ``∇_δ`` of the loss
            to ascend, shape ``(B, q)``. It may record per-iterate statistics as tensors
            (e.g. which images are still classified correctly) without host syncs.
        steps: number of steps (0 returns the projected start).
        step_size: ``α``, relative to ``G.delta_scale()``: a float, or a ``(q,)`` tensor.
        sign: step along the sign of the gradient (ℓ∞ steepest ascent) instead of the raw
            gradient.

    Returns:
        The last iterate ``(B, q)``, detached, inside Δ.

    Shape:
        - delta: ``(B, q)``; output: ``(B, q)``.
    """
    delta = G.project(delta.detach())
    unit = step_vector(G, step_size, sign, delta)  # once: no per-step host work
    for _ in range(steps):
        leaf = delta.detach().requires_grad_(True)
        grad = grad_fn(leaf)
        direction = grad.sign() if sign else grad
        delta = G.project(leaf.detach() + unit * direction.to(leaf.dtype))
    return delta.detach()
