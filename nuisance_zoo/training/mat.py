"""Model-based Adversarial Training (MAT, Algorithm 2 of Robey et al., 2020)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..base import NuisanceModel, check_delta, check_image, check_range, no_sync_input_checks
from .search import projected_gradient_ascent
from .wrapper import AUTO, ModelBasedWrapper, search_mode

__all__ = ["MATWrapper"]


class MATWrapper(ModelBasedWrapper):
    r"""Train on δ found by ``k`` steps of projected gradient ascent in Δ (MAT-k).

    Search (lines 4-8 of Algorithm 2), per image ``j`` and step, with ``s = G.delta_scale()``
    (the box width per coordinate, or the prior's std)::

        δ_j ← Π_Δ[ δ_j + α · s · sign(∇_δ ℓ(f(G(x_j, δ_j)), y_j)) ]  (sign=True, the default)
        δ_j ← Π_Δ[ δ_j + α · s² · ∇_δ ℓ(f(G(x_j, δ_j)), y_j) ]       (sign=False, the paper's raw step)

    i.e. steps of ``α`` in coordinates where Δ has unit width (:mod:`nuisance_zoo.training.search`,
    the one search MAT, PGD and ``evaluate`` share), with the same criterion as the outer loss.
    The gradient of the batch sum gives each image the gradient of its own loss, so the step
    does not depend on the batch size. Objective (line 10, divided by ``m``)::

        loss = (1/m) · Σ_j [ ℓ(G(x_j, δ_adv,j), y_j) + λ · ℓ(x_j, y_j) ]

    Start: the paper's ``δ = 0``, read as "no nuisance": ``G.reference_delta``, i.e. the
    identity δ where G has one (0 for additive models; 1 for a multiplicative factor), else the
    centre of the box, else the prior mean 0 of learned models; for a composition, each part's
    own. ``random_start=True`` starts from a prior draw instead, and an explicit ``delta``
    argument overrides both. Models with a normal prior have an unbounded
    Δ, so ``Π_Δ`` is the identity there, as in the paper.

    During the search the classifier is in eval mode (BatchNorm statistics frozen, dropout
    off) and its parameters are switched to ``requires_grad=False``; only ``δ`` is
    differentiated (``torch.autograd.grad``), so no gradient reaches the classifier's ``.grad``
    and each submodule's mode and each parameter's flag are restored afterwards. G encodes the
    batch once and decodes once per step, plus once at the final δ for the update (``k + 1``
    decodes, ``k + 1`` classifier forwards in all). Each step is one backward through the
    classifier and G together (with an int ``chunk``: the classifier's part in pieces, then
    one backward through G). No host sync in the step.

    Args:
        model: the classifier.
        G: a nuisance model with ``differentiable=True``.
        k: ascent steps (MAT-10 in the paper).
        step_size: α, *relative* to Δ: with sign steps each coordinate moves by α box widths
            (α prior standard deviations for N(0, I)) per step, on every model. Default
            ``2.5 / k``, the usual PGD choice (``evaluate``'s too): k steps can cross the box
            and come back. Smaller (``1 / k``) searches nearer the start.
        lam: λ, weight of the clean term.
        sign: step along the sign of the gradient (ℓ∞ steepest ascent; default) instead of the
            raw gradient (the paper's Algorithm 2; then α multiplies the gradient in unit-width
            coordinates, and its effect depends on the classifier's gradient scale).
        random_start: start from a prior draw instead of the identity δ.
        criterion: ``None`` (cross-entropy) or a loss supporting ``reduction="none"``.
        chunk: max images per classifier forward/backward in the search (an int); ``"auto"``
            and ``None``: the batch in one call (the steps are sequential: there is no ``k·B``
            batch to split).
        generator: ``torch.Generator`` for the random start.
        memory_format: the classifier's input layout, ``"auto"`` (channels_last on CPU),
            ``"channels_last"`` or ``"preserve"`` (see :class:`ModelBasedWrapper`).

    Shape:
        - x: ``(B, C, H, W)`` float in [0, 1]; y: ``(B,)``.
        - delta (optional): ``(B, q)``, the starting point.
        - Output: scalar loss (training), ``model(x)`` (eval).

    Example:
        >>> import torch, torch.nn as nn, nuisance_zoo as nz
        >>> f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        >>> wrapper = MATWrapper(f, nz.load("rotation"), k=10)   # steps of 0.25 × 60°
        >>> loss = wrapper(torch.rand(4, 3, 8, 8), torch.randint(0, 10, (4,)))
        >>> loss.backward()
    """

    _min_k = 0
    _k_name = "k (ascent steps)"

    def __init__(
        self,
        model: nn.Module,
        G: NuisanceModel,
        k: int = 10,
        step_size: float | None = None,
        lam: float = 1.0,
        sign: bool = True,
        random_start: bool = False,
        criterion: nn.Module | Callable[..., Tensor] | None = None,
        chunk: int | str | None = AUTO,
        generator: torch.Generator | None = None,
        memory_format: str = "auto",
    ) -> None:
        if isinstance(G, NuisanceModel) and not G.differentiable:
            parts = [type(m).__name__ for m in G.parts() if not m.differentiable and m is not G]
            which = f" (non-differentiable parts: {', '.join(parts)})" if parts else ""
            raise ValueError(
                f"MAT ascends the gradient of the loss with respect to δ, but "
                f"{type(G).__name__}{which} has differentiable=False. Use MRTWrapper (worst of "
                f"k random draws) or MDAWrapper (k random draws), which only sample δ."
            )
        super().__init__(model, G, k=k, lam=lam, criterion=criterion, chunk=chunk, generator=generator,
                         memory_format=memory_format)
        step_size = 2.5 / max(self.k, 1) if step_size is None else check_range(
            "step_size", step_size, 0, open_low=True, why="α; a step <= 0 would not ascend", model=type(self).__name__)
        self.step_size = step_size
        self.sign = bool(sign)
        self.random_start = bool(random_start)
        # G.reference_delta(1) per (device, dtype): computing it checks the identity against the
        # box on the host (a sync when G is on an accelerator); G is frozen, so it is fixed.
        self._reference: dict[tuple, Tensor] = {}

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, step_size={self.step_size}, sign={self.sign}, "
                f"random_start={self.random_start}")

    def start(self, x: Tensor, delta: Tensor | None = None) -> Tensor:
        """The starting δ ``(B, q)`` of the search for the batch ``x`` (see the class doc)."""
        b, dtype = x.shape[0], self._delta_dtype(x)
        if delta is not None:
            delta = check_delta(delta, b, self.G.delta_dim).to(device=x.device, dtype=dtype)
        elif self.random_start:
            delta = self.G.sample_delta(b, generator=self.generator, device=x.device, dtype=dtype)
        else:
            # Per part for a composition: each part starts at its own identity.
            key = (x.device, dtype)
            if key not in self._reference:
                self._reference[key] = self.G.reference_delta(1, device=x.device, dtype=dtype)
            delta = self._reference[key].expand(b, -1).clone()
        return self.G.project(delta).detach()

    def search(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``k`` projected ascent steps: ``(x_adv (B, C, H, W), delta_adv (B, q))``, detached.

        Args:
            x: float images in [0, 1].
            y: targets.
            delta: optional start ``(B, q)`` (projected onto Δ first).
        """
        with no_sync_input_checks():
            y = self._check_batch(x, y)
            check_image(x)  # encode/decode are called directly below, so check here
            if not x.is_floating_point():
                raise TypeError(
                    f"MAT differentiates G(x, δ) and needs float images in [0, 1], got {x.dtype}; "
                    f"convert with x.float() / 255."
                )
            xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
            delta = self.start(xf, delta)
        if x.shape[0] == 0:
            return x.clone(), delta  # B = 0: nothing to search
        with torch.no_grad(), self._g_context(x):
            content = self.G.encode(xf)  # δ-free: once per batch, not once per step

        def grad_fn(d: Tensor) -> Tensor:
            with self._g_context(x):
                images = self.G.decode(content, d)
            return self._delta_grad(images, d, x, y)

        with search_mode(self.model, grad=True):
            delta = projected_gradient_ascent(self.G, delta, grad_fn, self.k, self._relative_step(delta), self.sign)
        with torch.no_grad(), self._g_context(x):
            x_adv = self.G.decode(content, delta)
        self._check_generated(x_adv.shape[1:], x)  # the check MDA and MRT make in _draw
        return x_adv.to(x.dtype), delta.detach()

    def _relative_step(self, like: Tensor) -> float | Tensor:
        """α in the search's relative convention (PGD converts its absolute step here)."""
        return self.step_size

    def augment(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Clean batch followed by ``G(x, δ_adv)``, weights ``λ/m`` and ``1/m``."""
        x_adv, _ = self.search(x, y, delta)
        return self._assemble(x, y, x_adv, per_image=1)

    def _delta_grad(self, images: Tensor, delta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """∇_δ Σ_j ℓ(f(G(x_j, δ_j)), y_j). With an int ``chunk`` smaller than the batch: the
        classifier part in chunks, then one backward through G (``chunk`` bounds the
        classifier's memory in the search)."""
        self._check_generated(images.shape[1:], x)  # before the classifier sees them
        if not images.requires_grad:
            raise RuntimeError(
                f"{type(self.G).__name__}.decode returned an image without a gradient path to "
                f"δ although differentiable=True; fix the model or use MRTWrapper/MDAWrapper."
            )
        n = images.shape[0]
        size = n if not isinstance(self.chunk, int) else self.chunk
        if size >= n:
            # One backward through the classifier and G together: no second autograd call and
            # no copy of the image gradient in between.
            loss = self._loss(self._for_classifier(images.to(x.dtype), x), y).sum()
            (grad,) = torch.autograd.grad(loss, delta)
            return grad
        inputs = self._for_classifier(images.detach().to(x.dtype), x)
        grads = []
        for s in range(0, n, size):
            part = inputs[s:s + size].detach().requires_grad_(True)
            loss = self._loss(part, y[s:s + size]).sum()
            grads.append(torch.autograd.grad(loss, part)[0])
        (grad,) = torch.autograd.grad(images, delta, grad_outputs=torch.cat(grads).to(images.dtype))
        return grad
