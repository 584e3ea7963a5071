"""CURE-TSR challenge levels → regions of Δ, so challenge-level test sets can be synthesised.

CURE-TSR (Temel et al., 2017) grades each challenge type at levels 1–5. It cannot be
downloaded here, so the zoo maps every challenge type that one of its known models matches to
that model and, for each level, a box inside Δ. Level 0 is the clean image. Each family module
(``colour``, ``geometry``, ``noise``, ``weather``) declares its own mappings in a module-level
``CHALLENGES`` list; this module gathers them.

Example:
    >>> import torch
    >>> from nuisance_zoo.known import challenge_delta, synthesize_challenge
    >>> x = torch.rand(8, 3, 32, 32)
    >>> y = synthesize_challenge(x, "haze", level=3, generator=torch.Generator().manual_seed(0))
    >>> y.shape
    torch.Size([8, 3, 32, 32])
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor

from ..catalogue import create

__all__ = ["ChallengeSpec", "CURE_TSR_LEVELS", "challenge_model", "challenge_delta",
           "synthesize_challenge", "LEVELS"]

#: The graded levels; 0 means "no challenge" (the clean image).
LEVELS = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ChallengeSpec:
    """How one CURE-TSR challenge type maps onto a known model.

    Attributes:
        challenge: CURE-TSR's challenge name (``"snow"``, ``"darkening"``, ...).
        model: registry name of the known model that synthesises it.
        regions: level (1..5) → ``(low, high)``, a box inside the model's Δ; δ for that level
            is drawn uniformly from it.
        kwargs: keyword arguments for ``load(model, **kwargs)``.
        note: why these regions (what changes between levels).
    """

    challenge: str
    model: str
    regions: dict
    kwargs: dict = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if sorted(self.regions) != [1, 2, 3, 4, 5]:
            raise ValueError(f"{self.challenge}: regions must cover levels 1..5, got {sorted(self.regions)}")


#: challenge type → :class:`ChallengeSpec`; filled by ``nuisance_zoo.known`` on import from
#: each family module's ``CHALLENGES`` list.
CURE_TSR_LEVELS: dict[str, ChallengeSpec] = {}


def collect_challenges(*modules) -> None:
    """Add every family module's ``CHALLENGES`` entries to :data:`CURE_TSR_LEVELS`."""
    for mod in modules:
        for spec in getattr(mod, "CHALLENGES", []):
            CURE_TSR_LEVELS[spec.challenge] = spec


def _spec(challenge: str) -> ChallengeSpec:
    if challenge not in CURE_TSR_LEVELS:
        close = difflib.get_close_matches(challenge, list(CURE_TSR_LEVELS), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown challenge type {challenge!r}.{hint} Known: {sorted(CURE_TSR_LEVELS)}.")
    return CURE_TSR_LEVELS[challenge]


def challenge_model(challenge: str):
    """The known model that synthesises ``challenge`` (in eval mode)."""
    spec = _spec(challenge)
    return create(spec.model, **spec.kwargs)


def challenge_delta(challenge: str, level: int, n: int, generator: torch.Generator | None = None,
                    device=None, dtype=torch.float32) -> Tensor:
    """``n`` draws of δ for ``challenge`` at ``level`` (1..5), uniform in that level's box.

    Shape:
        Output: ``(n, q)`` with q the model's ``delta_dim``.
    """
    spec = _spec(challenge)
    if level not in spec.regions:
        raise ValueError(f"level must be one of 1..5 for a δ region (0 is the clean image), got {level!r}.")
    low, high = (torch.as_tensor(v, dtype=dtype, device=device) for v in spec.regions[level])
    u = torch.rand(n, low.numel(), generator=generator, device=device, dtype=dtype)
    return low + (high - low) * u


def synthesize_challenge(x: Tensor, challenge: str, level: int, generator: torch.Generator | None = None,
                         model=None) -> Tensor:
    """Apply ``challenge`` at ``level`` to every image of ``x`` (level 0 returns ``x``).

    Args:
        x: ``(B, C, H, W)`` images (uint8 or float in [0, 1]).
        challenge: a key of :data:`CURE_TSR_LEVELS`.
        level: 0..5.
        generator: for reproducible δ draws.
        model: a pre-built model to reuse across calls (default: ``challenge_model(challenge)``).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be in 0..5, got {level!r}.")
    if level == 0:
        _spec(challenge)
        return x
    G = model if model is not None else challenge_model(challenge)
    delta = challenge_delta(challenge, level, x.shape[0], generator=generator, device=x.device)
    return G(x, delta)


def level_regions_table(challenges: Sequence[str] | None = None) -> str:
    """A Markdown table of the level → Δ regions (for docs)."""
    rows = ["| challenge | model | level | δ low | δ high |", "|---|---|---|---|---|"]
    for name in challenges or sorted(CURE_TSR_LEVELS):
        s = CURE_TSR_LEVELS[name]
        for lv in range(1, 6):
            lo, hi = s.regions[lv]
            rows.append(f"| {name} | {s.model} | {lv} | {list(lo)} | {list(hi)} |")
    return "\n".join(rows)
