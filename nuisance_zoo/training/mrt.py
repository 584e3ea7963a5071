"""Model-based Robust Training (MRT, Algorithm 1 of Robey et al., 2020)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..base import NuisanceModel, no_sync_input_checks
from .wrapper import AUTO, ModelBasedWrapper, search_mode

__all__ = ["MRTWrapper"]

_SELECTIONS = ("batch", "sample")


class MRTWrapper(ModelBasedWrapper):
    r"""Train on the worst of ``k`` random draws of ``G`` (MRT-k), a zeroth-order search.

    Search (lines 4-13 of Algorithm 1): draw ``k`` δ per image, score every generated image
    with the classifier, keep the worst:

    * ``selection="batch"`` (the paper): the draw ``i`` whose summed batch loss
      ``Σ_j ℓ(G(x_j, δ_ij), y_j)`` is highest; all images keep that draw's δ.
    * ``selection="sample"``: for each image its own worst draw (a stronger inner
      maximisation: every image's loss is at least its loss under ``"batch"``).

    Under ``DDP(wrapper)`` the ``"batch"`` choice is made per rank (over that rank's images,
    as BatchNorm's statistics are); ``"sample"`` does not depend on how the batch is split.

    Objective (line 15, divided by ``m``)::

        loss = (1/m) · Σ_j [ ℓ(G(x_j, δ_adv,j), y_j) + λ · ℓ(x_j, y_j) ]

    The search runs the classifier in eval mode without gradients (BatchNorm statistics,
    dropout, ``requires_grad`` and ``.grad`` untouched; each submodule's mode restored). The
    update reuses the search's generated images (no second decode): G encodes once per step,
    the classifier scores the ``k·m`` candidates without grad, in pieces of whole draws as the
    search plan says (``chunk``; each piece is decoded and scored before the next, so its
    images are still in cache), and the update runs once on ``2m`` images with grad. MRT-1
    has nothing to choose and skips the scoring. The choice is made on the device (no host
    sync in the step).

    Args:
        model: the classifier.
        G: any nuisance model (it need not be differentiable).
        k: draws per image (MRT-1 and MRT-10 in the paper).
        lam: λ, weight of the clean term.
        selection: ``"batch"`` or ``"sample"``.
        criterion: ``None`` (cross-entropy) or a loss supporting ``reduction="none"``; the
            search scores draws with the same criterion.
        chunk: how the search is split: ``"auto"`` (timed once), ``None`` (one G call, one
            classifier call) or an int (images per classifier call; see :class:`ModelBasedWrapper`).
        generator: ``torch.Generator`` for the δ draws.
        memory_format: the classifier's input layout, ``"auto"`` (channels_last on CPU),
            ``"channels_last"`` or ``"preserve"`` (see :class:`ModelBasedWrapper`).

    Shape:
        - x: ``(B, C, H, W)`` in [0, 1]; y: ``(B,)``.
        - delta (optional): ``(k, B, q)``, the candidate draws.
        - Output: scalar loss (training), ``model(x)`` (eval).

    Example:
        >>> import torch, torch.nn as nn, nuisance_zoo as nz
        >>> f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        >>> wrapper = MRTWrapper(f, nz.load("brightness"), k=10, selection="sample")
        >>> x, y = torch.rand(4, 3, 8, 8), torch.randint(0, 10, (4,))
        >>> x_adv, delta_adv = wrapper.search(x, y)
        >>> x_adv.shape, delta_adv.shape[0]
        (torch.Size([4, 3, 8, 8]), 4)
    """

    _k_name = "k (draws per image)"

    def __init__(
        self,
        model: nn.Module,
        G: NuisanceModel,
        k: int = 10,
        lam: float = 1.0,
        selection: str = "batch",
        criterion: nn.Module | Callable[..., Tensor] | None = None,
        chunk: int | str | None = AUTO,
        generator: torch.Generator | None = None,
        memory_format: str = "auto",
    ) -> None:
        super().__init__(model, G, k=k, lam=lam, criterion=criterion, chunk=chunk, generator=generator,
                         memory_format=memory_format)
        if selection not in _SELECTIONS:
            raise ValueError(f"selection must be 'batch' (Algorithm 1) or 'sample' (per-image worst draw), got {selection!r}.")
        self.selection = selection

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, selection={self.selection!r}"

    def search(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The worst draws: ``(x_adv (B, C, H, W), delta_adv (B, q))``, no gradients."""
        with no_sync_input_checks():
            y = self._check_batch(x, y)
            delta = self._candidates(x, self.k, delta)
            content = self._encode(x)
            if self.k == 1:  # one candidate: it is the worst, whatever its loss
                return self._decode(x, delta, content)[0], delta[0]
            per_call, size = self.search_plan(x, self.k, lambda d: self._score(x, y, delta[:d], content, None))
            pieces = [self._score(x, y, part, content, size) for part in delta.split(per_call)]
        images = torch.cat([p[0] for p in pieces]) if len(pieces) > 1 else pieces[0][0]
        losses = torch.cat([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
        b = x.shape[0]
        if self.selection == "batch":
            # argmax returns the first maximum, like Algorithm 1's strict ">" (ties keep the
            # earlier draw). index_select keeps the index on the device: no host sync.
            i = losses.sum(1).argmax().view(1)
            return images.index_select(0, i)[0], delta.index_select(0, i)[0]
        idx = losses.argmax(0)
        cols = torch.arange(b, device=idx.device)
        return images[idx, cols], delta[idx, cols]

    def _score(self, x: Tensor, y: Tensor, delta: Tensor, content, size: int | None) -> tuple[Tensor, Tensor]:
        """Decode the draws ``delta`` ``(d, B, q)`` from ``content`` and score them: ``(images (d, B, C, H, W),
        per-sample losses (d, B))``, the classifier in eval mode without gradients, in calls
        of at most ``size`` images."""
        images = self._decode(x, delta, content)
        d, b = images.shape[:2]
        with search_mode(self.model, grad=False):
            losses = self.per_sample_loss(self._for_classifier(images.flatten(0, 1), x), y.repeat(d, *([1] * (y.ndim - 1))), size)
        return images, losses.view(d, b)

    def augment(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Clean batch followed by the selected draws, weights ``λ/m`` and ``1/m``."""
        x_adv, _ = self.search(x, y, delta)
        return self._assemble(x, y, x_adv, per_image=1)
