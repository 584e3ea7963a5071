"""Model-based Data Augmentation (MDA, Algorithm 3 of Robey et al., 2020)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..base import NuisanceModel, no_sync_input_checks
from .wrapper import AUTO, ModelBasedWrapper

__all__ = ["MDAWrapper"]


class MDAWrapper(ModelBasedWrapper):
    r"""Train on each image and ``k`` random draws of ``G`` around it (MDA-k).

    Objective (per batch of ``m`` images, δ_ij drawn from the prior P_Δ)::

        loss = (1/m) · Σ_j [ Σ_{i=1..k} ℓ(G(x_j, δ_ij), y_j) + λ · ℓ(x_j, y_j) ]

    The paper's line 10 without the ``1/m`` (see :mod:`nuisance_zoo.training.wrapper` for why
    we divide). The ``k·m`` draws come from ``G.forward_multi`` (one encode, batched decodes; how
    many draws per call is the search plan, see ``chunk``) and the ``(k+1)·m`` images go through
    the classifier in one train-mode forward whatever ``chunk`` is, so BatchNorm's batch
    statistics are those of the whole augmented batch. No host sync in the step.

    Args:
        model: the classifier.
        G: any nuisance model.
        k: draws per image (MDA-5 in the paper).
        lam: λ, weight of the clean term.
        criterion: ``None`` (cross-entropy) or a loss supporting ``reduction="none"``.
        chunk: how the draws are split into G calls: ``"auto"`` (timed once), ``None`` (one
            call) or an int (images per call; see :class:`ModelBasedWrapper`).
        generator: ``torch.Generator`` for the δ draws.
        memory_format: the classifier's input layout, ``"auto"`` (channels_last on CPU),
            ``"channels_last"`` or ``"preserve"`` (see :class:`ModelBasedWrapper`).

    Shape:
        - x: ``(B, C, H, W)`` in [0, 1]; y: ``(B,)``.
        - delta (optional, ``forward``/``augment``): ``(k, B, q)``, the draws to use.
        - Output: scalar loss (training), ``model(x)`` (eval).

    Example:
        >>> import torch, torch.nn as nn, nuisance_zoo as nz
        >>> f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        >>> wrapper = MDAWrapper(f, nz.load("brightness"), k=5)
        >>> loss = wrapper(torch.rand(4, 3, 8, 8), torch.randint(0, 10, (4,)))
        >>> loss.backward()
        >>> x = torch.rand(2, 3, 8, 8)
        >>> torch.equal(wrapper.eval()(x), f(x))
        True
    """

    _k_name = "k (draws per image)"

    def __init__(
        self,
        model: nn.Module,
        G: NuisanceModel,
        k: int = 5,
        lam: float = 1.0,
        criterion: nn.Module | Callable[..., Tensor] | None = None,
        chunk: int | str | None = AUTO,
        generator: torch.Generator | None = None,
        memory_format: str = "auto",
    ) -> None:
        super().__init__(model, G, k=k, lam=lam, criterion=criterion, chunk=chunk, generator=generator,
                         memory_format=memory_format)

    def augment(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Clean batch followed by ``k`` draws per image (draw-major), weights ``λ/m`` and ``1/m``."""
        with no_sync_input_checks():
            y = self._check_batch(x, y)
            images, _ = self._draw(x, self.k, delta)
            return self._assemble(x, y, images.flatten(0, 1), per_image=images.shape[0])
