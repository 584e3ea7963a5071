r"""Structured learned model of natural variation: a small network drives a chain of known models.

``G_θ(x, δ) = K(x, h_θ(δ, s(x)))``: ``K`` is a composition of registered *known* models
(by default brightness, gamma, contrast, saturation, hue, haze, Gaussian blur, applied in that
order) and ``h_θ`` a small MLP mapping the nuisance code ``δ ~ N(0, I)`` (optionally
concatenated with a low-resolution summary ``s(x)`` of the image) to K's parameters. Each
parameter is squashed onto its known model's Δ box with a sigmoid, ``low + (high - low) ·
σ(·)``, so every output is exactly a known model applied with an in-range parameter, whatever
δ is: labels stay safe because K never moves content, only photometry and blur.

It is far cheaper than a MUNIT generator (it runs at the speed of the known models) and its
nuisance space is interpretable: :meth:`StructuredGenerator.known_params` says which
brightness, gamma, ... a given ``δ`` means. Train it with
``nuisance_zoo.learned.fit.fit(a, b, config="structured")``.

Example:
    >>> import torch
    >>> from nuisance_zoo.learned.structured import StructuredGenerator
    >>> G = StructuredGenerator(delta_dim=2)
    >>> x = torch.rand(4, 3, 32, 32)
    >>> G(x).shape
    torch.Size([4, 3, 32, 32])
    >>> p = G.known_params(x, torch.full((4, 2), 1e6))   # huge δ still lands inside Δ
    >>> bool((p >= G.param_low).all() and (p <= G.param_high).all())
    True
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import NuisanceModel
from .. import known  # noqa: F401  (registers the known models a chain names)
from ..catalogue import ModelEntry, create, entries, register_architecture
from .pretrained import PretrainedMixin

__all__ = ["StructuredGenerator", "DEFAULT_CHAIN", "SUMMARIES"]

#: Known models applied in this order (first to last) by default.
DEFAULT_CHAIN = ("brightness", "gamma", "contrast", "saturation", "hue", "haze", "gaussian-blur")
#: Image summaries ``h_θ`` may see besides δ: none, per-channel mean and std, or a 4×4 average pool.
SUMMARIES = ("none", "stats", "pool4")
#: Upper bounds on the sizes a config may ask for: a file cannot make the loader allocate without limit.
MAX_DELTA_DIM, MAX_HIDDEN, MAX_LAYERS = 1024, 4096, 32
# Where the sigmoid starts for a parameter whose identity value lies on the box edge (haze
# density 0, blur σ 0): close to the edge but with a usable gradient.
_EDGE_FRACTION = 0.02


def _summary_dim(summary: str, channels: int) -> int:
    return {"none": 0, "stats": 2 * channels, "pool4": 16 * channels}[summary]


@register_architecture("structured-generator")
class StructuredGenerator(PretrainedMixin, NuisanceModel):
    r"""``G_θ(x, δ) = K(x, h_θ(δ, s(x)))``: an MLP picks the parameters of a chain of known models.

    ``encode(x)`` is ``x`` (with ``summary="none"``) or ``(x, s(x))``; ``decode`` runs the MLP,
    squashes its outputs into each known model's Δ box and applies the chain. Nothing is kept
    between calls. The MLP's last layer starts with zero weights and biases at the chain's
    identity parameters, so an untrained model is (nearly) the identity for every δ.

    Args:
        delta_dim: dimension of the nuisance code δ (prior N(0, I)).
        chain: registered known model names, applied first to last. Each must have a Δ box and
            be differentiable.
        summary: what of ``x`` the MLP sees besides δ: ``"none"``, ``"stats"`` (per-channel
            mean and standard deviation) or ``"pool4"`` (a 4×4 average pool, ``16·C`` values).
        channels: image channels (1 or 3); needed for the summary's size and the model card.
        hidden: width of the MLP's hidden layers.
        layers: number of linear layers of the MLP (>= 1).
        image_size: ``[H, W]`` of the training images, for the model card only.

    Shape:
        - x: :math:`(B, C, H, W)` in [0, 1] (or ``(C, H, W)``, uint8; see ``NuisanceModel``).
        - delta: :math:`(B, q)` with ``q = delta_dim``.
        - output: like ``x``.

    Example:
        >>> import torch
        >>> G = StructuredGenerator(delta_dim=3, chain=["brightness", "haze"], summary="stats")
        >>> x, d = torch.rand(2, 3, 8, 8), torch.randn(2, 3)
        >>> torch.equal(G(x, d), G(x, d))
        True
    """

    architecture = "structured-generator"
    prior = "normal"
    kind = "learned"
    differentiable = True
    gray_policy = "see parts"

    def __init__(self, delta_dim: int = 2, chain: Sequence[str] = DEFAULT_CHAIN, summary: str = "none",
                 channels: int = 3, hidden: int = 32, layers: int = 2, image_size: list | None = None) -> None:
        super().__init__()
        self.validate_model_config(dict(delta_dim=delta_dim, chain=chain, summary=summary, channels=channels,
                                        hidden=hidden, layers=layers))
        models = []
        for name in chain:
            m = create(name)
            # What the squashing needs, asked through the contract: a box to squash into and a
            # gradient through the model (whatever kind of model provides them).
            if m.bounds() is None or not m.differentiable:
                raise ValueError(f"StructuredGenerator: chain entry {name!r} must be a differentiable model "
                                 f"with a bounded Δ box (box={m.has_box}, "
                                 f"differentiable={m.differentiable}); e.g. {list(DEFAULT_CHAIN)}.")
            models.append(m)
        self.delta_dim = delta_dim
        self.delta_names = tuple(f"z{i}" for i in range(delta_dim))
        self.chain = list(chain)
        self.summary, self.channels, self.hidden, self.layers = summary, channels, hidden, layers
        self.image_size = [int(v) for v in ([image_size] * 2 if isinstance(image_size, int) else image_size)] \
            if image_size is not None else None
        self.models = nn.ModuleList(models)
        self._splits = [m.delta_dim for m in models]
        # Bounds of K's parameters; non-persistent, they come from the known models, not the weights.
        self.register_buffer("param_low", torch.cat([m.bounds()[0] for m in models]).float(), persistent=False)
        self.register_buffer("param_high", torch.cat([m.bounds()[1] for m in models]).float(), persistent=False)

        n_in, n_out = delta_dim + _summary_dim(summary, channels), sum(self._splits)
        net: list[nn.Module] = []
        width = n_in
        for _ in range(layers - 1):
            net += [nn.Linear(width, hidden), nn.SiLU()]  # smooth, so gradcheck never meets a kink
            width = hidden
        net.append(nn.Linear(width, n_out))
        self.mlp = nn.Sequential(*net)
        self._init_at_identity()

    @classmethod
    def validate_model_config(cls, cfg: dict) -> None:
        """Check a configuration before anything is built (the constructor and file loads call it).

        The chain may name registered *known* models only: never a pretrained zoo entry, an
        ``hf-hub:``/``local-dir:`` name, a composition or this architecture, so a model folder
        cannot make the loader fetch, recurse or read another file. Sizes are bounded
        (``MAX_DELTA_DIM``, ``MAX_HIDDEN``, ``MAX_LAYERS``).

        Raises:
            ValueError: the first problem, naming the field.
        """
        for name, lo, hi in (("delta_dim", 1, MAX_DELTA_DIM), ("hidden", 1, MAX_HIDDEN), ("layers", 1, MAX_LAYERS)):
            v = cfg.get(name, lo)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"StructuredGenerator: {name} must be an int in [{lo}, {hi}], got {v!r}.")
        summary = cfg.get("summary", "none")
        if summary not in SUMMARIES:
            raise ValueError(f"StructuredGenerator: summary must be one of {SUMMARIES}, got {summary!r}.")
        channels = cfg.get("channels", 3)
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"StructuredGenerator: channels must be 1 (gray) or 3 (RGB), got {channels!r}.")
        chain = cfg.get("chain", DEFAULT_CHAIN)
        if isinstance(chain, str) or not isinstance(chain, (list, tuple)) or not chain:
            raise ValueError(f"StructuredGenerator: chain must be a non-empty list of known model names, got {chain!r}.")
        if len(chain) > 64:
            raise ValueError(f"StructuredGenerator: chain may hold at most 64 models, got {len(chain)}.")
        table = entries()
        for name in chain:
            entry = table.get(name) if isinstance(name, str) else None
            if not isinstance(entry, ModelEntry) or entry.kind != "known":
                shown = repr(name[:60]) if isinstance(name, str) else type(name).__name__
                raise ValueError(f"StructuredGenerator: chain entry {shown} is not a registered known model; a "
                                 f"chain names known models only (no hub, local or pretrained names), e.g. "
                                 f"{list(DEFAULT_CHAIN)}.")

    def _init_at_identity(self) -> None:
        """Zero last-layer weights; biases at the logits of the chain's identity parameters."""
        ident_t = torch.cat([m.reference_delta(1, dtype=torch.float64)[0] for m in self.models])
        low, high = self.param_low.double(), self.param_high.double()
        frac = ((ident_t - low) / (high - low).clamp_min(1e-12)).clamp(_EDGE_FRACTION, 1 - _EDGE_FRACTION)
        last = self.mlp[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.logit(frac).float())

    def config(self) -> dict:
        return {"delta_dim": self.delta_dim, "chain": list(self.chain), "summary": self.summary,
                "channels": self.channels, "hidden": self.hidden, "layers": self.layers,
                "image_size": self.image_size}

    # ------------------------------------------------------------------ the maps
    def image_summary(self, x: Tensor) -> Tensor:
        """``s(x)``: the low-resolution summary the MLP sees, shape ``(B, summary_dim)``."""
        if self.summary == "stats":
            flat = x.flatten(2)
            return torch.cat([flat.mean(-1), flat.std(-1, unbiased=False)], dim=1)
        if self.summary == "pool4":
            return F.adaptive_avg_pool2d(x, 4).flatten(1)
        return x.new_zeros(x.shape[0], 0)

    def encode(self, x: Tensor):
        """``x`` itself, or ``(x, s(x))`` when the MLP sees a summary of the image."""
        if x.shape[1] != self.channels:
            raise ValueError(f"StructuredGenerator was built for {self.channels}-channel images, got {x.shape[1]} "
                             f"channels; build it with channels={x.shape[1]}.")
        return x if self.summary == "none" else (x, self.image_summary(x))

    def params_from(self, delta: Tensor, summary: Tensor | None = None) -> Tensor:
        """``h_θ(δ, s)``: K's parameters, shape ``(B, P)``, each strictly inside its model's Δ box."""
        z = delta if summary is None else torch.cat([delta, summary], dim=1)
        raw = self.mlp(z.to(self.mlp[-1].weight.dtype)).to(delta.dtype)
        low = self.param_low.to(delta.dtype)
        high = self.param_high.to(delta.dtype)
        return low + (high - low) * torch.sigmoid(raw)

    def known_params(self, x: Tensor, delta: Tensor) -> Tensor:
        """The known models' parameters ``(B, P)`` that ``G(x, δ)`` applies (float ``x`` in [0, 1])."""
        c = self.encode(x)
        return self.params_from(delta, None if isinstance(c, Tensor) else c[1])

    def apply_chain(self, x: Tensor, params: Tensor) -> Tensor:
        """``K(x, params)``: the known models applied first to last, each with its slice of ``params``."""
        y = x
        for m, p in zip(self.models, torch.split(params, self._splits, dim=1)):
            y = m.decode(m.encode(y), p)
        return y

    def decode(self, content, delta: Tensor) -> Tensor:
        x, s = (content, None) if isinstance(content, Tensor) else content
        return self.apply_chain(x, self.params_from(delta, s))

    def extra_repr(self) -> str:
        return f"delta_dim={self.delta_dim}, chain={self.chain}, summary={self.summary!r}"
