"""The PGD baseline (Madry et al., 2018) as MAT over the additive ℓ∞ model."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from ..base import NuisanceModel, check_range
from .mat import MATWrapper
from .wrapper import AUTO
from .search import relative_step

__all__ = ["PGDWrapper"]


class PGDWrapper(MATWrapper):
    r"""ℓ∞ PGD adversarial training: :class:`MATWrapper` over ``additive-linf``.

    ``G(x, δ) = clamp(x + δ, 0, 1)`` with ``δ ∈ [-ε, ε]^{C·H·W}``, sign-gradient steps and a
    uniform random start in the ball, which is Madry et al.'s PGD. The defaults are the
    paper's baseline (Section 6): ``ε = 0.3``, step 0.01, 20 steps.

    ``lam`` defaults to 0: Madry et al.'s objective, which trains on the adversarial images
    only, ``(1/m) Σ_j ℓ(G(x_j, δ_adv,j), y_j)``; ``lam=1`` gives the model-based algorithms'
    mixed objective.

    Args:
        model: the classifier.
        eps: ℓ∞ radius ε.
        step_size: step α in image units, as the paper gives it (0.01 per step on ε = 0.3).
            Unlike :class:`MATWrapper`'s relative ``step_size``, this is absolute; it is converted
            to the shared search's convention internally (``α / 2ε`` for sign steps on the
            ``[-ε, ε]`` box, see :func:`~nuisance_zoo.training.search.relative_step`).
        steps: number of ascent steps.
        image_shape: ``(C, H, W)`` of the inputs (δ has ``C·H·W`` coordinates); not needed
            when ``G`` is given.
        lam: λ, weight of the clean term (0: adversarial images only).
        sign: sign-gradient steps (PGD ℓ∞); ``False`` takes raw gradient steps.
        random_start: start uniformly in the ball; ``False`` starts at δ = 0.
        criterion: ``None`` (cross-entropy) or a loss supporting ``reduction="none"``.
        chunk: max images per classifier forward/backward in the search (an int); ``"auto"``
            or ``None``: one call.
        generator: ``torch.Generator`` for the random start.
        G: an additive model to use instead of ``nz.load("additive-linf", shape=image_shape,
            eps=eps)``.
        memory_format: the classifier's input layout, ``"auto"`` (channels_last on CPU),
            ``"channels_last"`` or ``"preserve"`` (see :class:`ModelBasedWrapper`).

    Shape:
        - x: ``(B, C, H, W)`` float in [0, 1]; y: ``(B,)``.
        - Output: scalar loss (training), ``model(x)`` (eval).

    Example:
        >>> import torch, torch.nn as nn
        >>> f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        >>> wrapper = PGDWrapper(f, image_shape=(3, 8, 8))          # ε 0.3, step 0.01, 20 steps
        >>> x, y = torch.rand(4, 3, 8, 8), torch.randint(0, 10, (4,))
        >>> x_adv, _ = wrapper.search(x, y)
        >>> bool((x_adv - x).abs().max() <= 0.3 + 1e-6)
        True
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float = 0.3,
        step_size: float = 0.01,
        steps: int = 20,
        image_shape: Sequence[int] | None = None,
        lam: float = 0.0,
        sign: bool = True,
        random_start: bool = True,
        criterion: nn.Module | Callable[..., Tensor] | None = None,
        chunk: int | str | None = AUTO,
        generator: torch.Generator | None = None,
        G: NuisanceModel | None = None,
        memory_format: str = "auto",
    ) -> None:
        eps = check_range("eps", eps, 0, open_low=True, why="the ℓ∞ radius", model="PGDWrapper")
        if G is None:
            if image_shape is None or len(tuple(image_shape)) != 3:
                raise ValueError(
                    f"PGDWrapper needs image_shape=(C, H, W) of the inputs to size δ "
                    f"(C·H·W coordinates), got {image_shape!r}."
                )
            from ..registry import load  # lazy: training/ otherwise depends on base.py only

            G = load("additive-linf", shape=tuple(int(s) for s in image_shape), eps=eps)
        super().__init__(model, G, k=steps, step_size=step_size, lam=lam, sign=sign,
                         random_start=random_start, criterion=criterion, chunk=chunk,
                         generator=generator, memory_format=memory_format)
        self.eps = eps

    def _relative_step(self, like: Tensor) -> Tensor:
        # The user's step is absolute (image units); the shared search takes it relative to G's scale.
        return relative_step(self.G, self.step_size, self.sign, device=like.device, dtype=like.dtype)

    @property
    def steps(self) -> int:
        """Number of ascent steps (``k``)."""
        return self.k

    def extra_repr(self) -> str:
        return f"eps={self.eps}, {super().extra_repr()}"
