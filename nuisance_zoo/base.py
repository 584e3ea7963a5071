"""The contract every nuisance model keeps: :class:`NuisanceModel` and composition.

A model of natural variation is a map ``G(x, δ)`` from an image ``x`` and a nuisance
parameter ``δ ∈ Δ ⊂ R^q`` to an image (Section 3 of Robey et al., 2020). This module defines
the one base class every model derives from, the Δ box and its prior, dtype and shape
handling, the batched multi-draw entry point, and composition (``G2 @ G1``, :class:`Compose`).
The input checks it applies live in :mod:`nuisance_zoo.checks` (re-exported here).

It imports nothing else from the package but :mod:`nuisance_zoo.checks`, so every other part
can depend on it.
"""
from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import Tensor, nn

from .checks import (
    COMPUTE_DTYPE,
    INPUT_CHECK_MODES,
    NORMAL_PRIOR_LIMIT,
    check_delta,
    check_delta_shape,
    check_image,
    check_range,
    get_input_checks,
    input_checks,
    no_sync_input_checks,
    set_input_checks,
)

__all__ = ["NuisanceModel", "Compose", "Content", "check_image", "check_delta", "check_delta_shape", "check_range",
           "set_input_checks", "get_input_checks", "input_checks", "no_sync_input_checks", "INPUT_CHECK_MODES"]

#: What ``encode`` returns: a tensor or a tuple of tensors, each with the batch first.
Content = Union[Tensor, tuple]


def _repeat_content(c: Content, k: int) -> Content:
    """Repeat a content code ``k`` times along the batch: row ``i*B + j`` is draw i of image j."""
    if isinstance(c, Tensor):
        return c.repeat(k, *([1] * (c.ndim - 1)))
    if isinstance(c, tuple):
        return tuple(_repeat_content(part, k) for part in c)
    raise TypeError(f"encode() must return a tensor or a tuple of tensors, got {type(c).__name__}.")


_COLOUR_POLICIES = ("identity", "luminance")
# Boxes of more coordinates (additive perturbations: one per pixel) are left out of repr.
_REPR_MAX_BOX = 6


def _gray_guard(decode):
    """Wrap a ``decode`` so that it applies the model's ``gray_policy`` (see NuisanceModel)."""

    @functools.wraps(decode)
    def guarded(self, content, delta):
        if isinstance(content, Tensor) and content.shape[0] == 0:
            # An empty batch gives an empty batch, without running image maths that index or
            # reshape by the batch size (several kernels and grids fail on B = 0).
            return content
        if self.gray_policy in _COLOUR_POLICIES and isinstance(content, Tensor):
            c = content.shape[1]
            if c == 1 and self.gray_policy == "identity":
                return content
            if c not in (1, 3):
                raise ValueError(
                    f"{type(self).__name__} needs RGB (C=3) or gray (C=1) images, got C={c} (shape "
                    f"{tuple(content.shape)}). Drop an alpha channel with x[:, :3]; for channels-last "
                    f"data use x.permute(0, 3, 1, 2)."
                )
        return decode(self, content, delta)

    guarded._gray_guarded = True
    return guarded


@functools.lru_cache(maxsize=None)
def _config_names(cls: type) -> tuple:
    """``cls.__init__``'s named arguments, then ``cls.repr_attrs`` (for ``extra_repr``)."""
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.name != "self"
             and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return tuple(dict.fromkeys([*names, *cls.repr_attrs]))


def _repr_value(v) -> str:
    """Floats to 4 significant digits (12/255 -> 0.04706); everything else as repr."""
    if isinstance(v, float):
        return format(v, ".4g")
    if isinstance(v, tuple) and all(isinstance(e, float) for e in v):
        return "(" + ", ".join(format(e, ".4g") for e in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


class NuisanceModel(nn.Module):
    r"""Base class of every model of natural variation :math:`G(x, \delta)`.

    Subclasses set :attr:`delta_dim`, the Δ box (``delta_low``/``delta_high``, via
    :meth:`set_delta_box`) or a normal prior, :attr:`differentiable`, and implement
    :meth:`decode` (known models: the image maths, with ``encode`` the identity) or both
    :meth:`encode` and :meth:`decode` (learned models).

    ``decode`` receives a float tensor ``(B, C, H, W)`` in [0, 1] (float32 or float64, on the
    input's device) and ``delta`` of shape ``(B, delta_dim)`` in the same dtype; it returns the
    transformed batch in [0, 1]. Everything else (``(C, H, W)`` inputs, uint8 in/out, half
    precision, input checks (see :func:`set_input_checks`), prior draws, the gray-input policy
    declared in :attr:`gray_policy`, and a ``repr`` built from the constructor's arguments) is
    handled here once. In particular:

    * **δ is projected into Δ.** ``forward`` and ``forward_multi`` apply :meth:`project` to a δ
      the caller gives (after refusing NaN/inf under the ``"full"`` checks), so ``G(x, δ)`` is
      ``G(x, Π_Δ(δ))`` and ``decode`` only ever sees δ in Δ; prior draws are in Δ already and
      are not projected again. The gradient in δ is unchanged inside Δ and on its faces and 0
      outside. ``decode`` itself does not project: the searches (MAT, PGD, ``evaluate``) call it
      with iterates they have just projected, so nothing is paid twice.
    * **B = 0.** An empty batch gives an empty batch of the input's shape and dtype
      (``forward_multi``: ``(k, 0, C, H, W)``) without calling ``encode`` or ``decode``; a
      ``decode`` called directly with an empty tensor content returns it.

    Attributes:
        delta_dim: dimension q of the nuisance space Δ.
        delta_names: one short name per coordinate of δ (used by grids and ``info``).
        prior: ``"uniform"`` (uniform on the box [delta_low, delta_high]) or ``"normal"``
            (N(0, I), the paper's and MUNIT's prior for learned models).
        differentiable: whether ∂G/∂δ exists (MAT needs it).
        kind: ``"known"`` or ``"learned"``.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("brightness")
        >>> x = torch.rand(4, 3, 32, 32)
        >>> G(x).shape                       # δ drawn from the prior
        torch.Size([4, 3, 32, 32])
        >>> delta = G.sample_delta(4, generator=torch.Generator().manual_seed(0))
        >>> torch.equal(G(x, delta), G(x, delta))
        True
    """

    delta_dim: int = 0
    delta_names: tuple = ()
    prior: str = "uniform"
    differentiable: bool = True
    kind: str = "known"
    #: How gray (C = 1) inputs are treated, enforced here for every ``decode`` call (also inside
    #: compositions and the wrappers' direct ``decode`` calls):
    #:
    #: * ``"per-channel"``: any C; the formula does not care.
    #: * ``"identity"``: C must be 1 or 3; a gray image has nothing to change and is returned
    #:   unchanged (``decode`` is not called).
    #: * ``"luminance"``: C must be 1 or 3; ``decode`` receives gray images and lets δ's colours
    #:   act through their luminance.
    #:
    #: Other values (learned and composed models) describe the behaviour and are not enforced.
    gray_policy: str = "per-channel"
    #: Attributes that ``repr`` shows besides the constructor arguments kept under their own
    #: names (e.g. a derived kernel radius, or an argument stored under another name).
    repr_attrs: tuple = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # Every decode a subclass defines gets the gray-policy guard, so no model repeats it.
        decode = cls.__dict__.get("decode")
        if decode is not None and not getattr(decode, "_gray_guarded", False):
            cls.decode = _gray_guard(decode)

    def __init__(self) -> None:
        super().__init__()
        # Non-persistent buffers: they follow .to(device) but stay out of state_dict.
        self.register_buffer("delta_low", torch.zeros(0), persistent=False)
        self.register_buffer("delta_high", torch.zeros(0), persistent=False)

    # ------------------------------------------------------------------ Δ and its prior
    def set_delta_box(self, low: Sequence[float], high: Sequence[float]) -> None:
        """Declare Δ as the box ``[low, high]`` (one bound per coordinate)."""
        low_t = torch.as_tensor(low, dtype=torch.float64).flatten()
        high_t = torch.as_tensor(high, dtype=torch.float64).flatten()
        if low_t.shape != high_t.shape or low_t.numel() != self.delta_dim:
            raise ValueError(
                f"{type(self).__name__}: the Δ box needs {self.delta_dim} lower and upper "
                f"bounds, got {low_t.numel()} and {high_t.numel()}."
            )
        if bool((low_t > high_t).any()):
            raise ValueError(f"{type(self).__name__}: Δ box has low > high: {low_t.tolist()} > {high_t.tolist()}.")
        self.delta_low = low_t.to(self.delta_low.device)
        self.delta_high = high_t.to(self.delta_high.device)

    # The public questions below are the whole contract that training/, eval/, learned/ and
    # the CLI may ask about Δ: they never read delta_low/delta_high or look inside a Compose.
    @property
    def device(self) -> torch.device:
        """Where the model lives (the device its draws and δ defaults go to)."""
        return self.delta_low.device

    def bounds(self, device: torch.device | str | None = None,
               dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor] | None:
        """The Δ box ``(low, high)``, each of shape ``(delta_dim,)``, or None when Δ is not a box.

        Args:
            device: where to put the bounds (default: the model's device).
            dtype: their dtype (default float64, as declared).

        Example:
            >>> import nuisance_zoo as nz
            >>> low, high = nz.load("brightness").bounds()
            >>> low.shape == high.shape == (1,)
            True
        """
        if not (self.delta_low.numel() == self.delta_dim and self.delta_dim > 0):
            return None
        device = device if device is not None else self.device
        dtype = dtype or self.delta_low.dtype
        return self.delta_low.to(device=device, dtype=dtype), self.delta_high.to(device=device, dtype=dtype)

    @property
    def has_box(self) -> bool:
        """Whether Δ is a bounded box (``project`` clamps into it); see :meth:`bounds`."""
        return self.bounds() is not None

    def delta_scale(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
        """The natural unit of each coordinate of δ, shape ``(delta_dim,)``.

        The box width ``high - low`` for a box, the prior's standard deviation (1) for N(0, I).
        Gradient searches take their steps in these units (``training.search``), so a step
        size means the same thing on every model. Models whose Δ is neither (an ℓ2 ball)
        return 1 unless they override this.

        Example:
            >>> import nuisance_zoo as nz
            >>> nz.load("rotation").delta_scale()     # a ±30° box is 60° wide
            tensor([60.])
        """
        device = device if device is not None else self.device
        dtype = dtype or torch.float32
        box = self.bounds(device=device, dtype=dtype)
        if box is not None:
            return box[1] - box[0]
        return torch.ones(self.delta_dim, device=device, dtype=dtype)

    def reference_delta(self, n: int = 1, device: torch.device | str | None = None,
                        dtype: torch.dtype | None = None) -> Tensor:
        """The "neutral" δ, shape ``(n, delta_dim)``: the identity where the model has one, else the
        centre of the box, else the prior's mean (0). Grids hold the coordinates they do not
        sweep here; MAT starts here.

        Example:
            >>> import nuisance_zoo as nz
            >>> nz.load("contrast").reference_delta()     # the identity: factor 1
            tensor([[1.]])
        """
        device = device if device is not None else self.device
        dtype = dtype or torch.float32
        ident = self.identity_delta(n, device=device, dtype=dtype)
        if ident is not None:
            return ident
        box = self.bounds(device=device, dtype=dtype)
        if box is not None:
            return ((box[0] + box[1]) / 2).expand(n, -1).clone()
        return torch.zeros(n, self.delta_dim, device=device, dtype=dtype)

    def delta_range(self, device: torch.device | str | None = None,
                    dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """A finite interval per coordinate to sweep in grids, ``(low, high)`` of shape ``(delta_dim,)``.

        The box where there is one; ±2σ around the mean for a normal prior (as MUNIT's style
        grids); otherwise :meth:`reference_delta` ± half of :meth:`delta_scale`.
        """
        device = device if device is not None else self.device
        dtype = dtype or torch.float32
        box = self.bounds(device=device, dtype=dtype)
        if box is not None:
            return box
        centre = self.reference_delta(1, device=device, dtype=dtype)[0]
        half = self.delta_scale(device=device, dtype=dtype) * (2.0 if self.prior == "normal" else 0.5)
        return centre - half, centre + half

    def input_spec(self) -> dict:
        """What images the model accepts: ``{"channels", "size": [H, W], "range": [0.0, 1.0]}``.

        ``channels`` or ``size`` is None when any is accepted (known models take any size).
        Learned models report what they were trained on.
        """
        return {"channels": None, "size": None, "range": [0.0, 1.0]}

    def parts(self) -> list["NuisanceModel"]:
        """The models applied in order: ``[self]``, or a composition's parts (flattened)."""
        return [self]

    def save_pretrained(self, save_directory, **kwargs) -> Path:
        """Write the model as a folder :func:`nuisance_zoo.load` reads (``local-dir:PATH``).

        Learned models implement this (``PretrainedMixin``). Models without weights are rebuilt
        from their name and arguments, so this raises a ``TypeError`` that says so.
        """
        raise TypeError(
            f"{type(self).__name__} cannot be saved with save_pretrained: only learned models have a "
            f"weights folder. Rebuild it with nz.load(name, **kwargs)"
            + (", and rebuild a composition from its parts (save each learned part, then "
               "nz.load('local-dir:A') @ nz.load('B'))." if len(self.parts()) > 1 else ".")
        )

    def delta_space(self) -> dict:
        """A plain description of Δ: names, bounds (None when unbounded) and the prior."""
        box = self.bounds()
        if box is not None:
            bounds = [[float(a), float(b)] for a, b in zip(box[0].tolist(), box[1].tolist())]
        else:
            bounds = None
        names = list(self.delta_names) or [f"d{i}" for i in range(self.delta_dim)]
        return {"dim": self.delta_dim, "names": names, "bounds": bounds, "prior": self.prior}

    def sample_delta(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Draw ``n`` nuisance parameters from the prior P_Δ, shape ``(n, delta_dim)``.

        Args:
            n: number of draws (one per image).
            generator: a ``torch.Generator`` for reproducible draws; it must live on
                ``device`` (draws are made there).
            device: where to put the draws (default: the model's device).
            dtype: floating dtype of the draws (default float32).
        """
        device, dtype = self._draw_placement(n, generator, device, dtype)
        if self.prior == "normal":
            return torch.randn(n, self.delta_dim, generator=generator, device=device, dtype=dtype)
        box = self.bounds(device=device, dtype=dtype)
        if box is None:
            raise NotImplementedError(f"{type(self).__name__} has a uniform prior but no Δ box.")
        u = torch.rand(n, self.delta_dim, generator=generator, device=device, dtype=dtype)
        low, high = box
        return low + (high - low) * u

    def _draw_placement(self, n: int, generator: torch.Generator | None, device, dtype) -> tuple:
        """Check ``sample_delta``'s arguments; return where and in which dtype to draw."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{type(self).__name__}.sample_delta: n must be an int >= 0 (draws), got {n!r}.")
        device = torch.device(device) if device is not None else self.device
        if generator is not None and generator.device.type != device.type:
            raise ValueError(
                f"generator is on {generator.device} but the draws go to {device}; "
                f"create it with torch.Generator(device={str(device)!r})."
            )
        return device, dtype or torch.float32

    def project(self, delta: Tensor) -> Tensor:
        """Π_Δ: the closest point of Δ: a clamp onto the box; for a normal prior N(0, I) a clamp
        onto ``±NORMAL_PRIOR_LIMIT`` (1000 standard deviations, far beyond any draw: a numerical
        guard, the identity for every δ that matters); otherwise the identity.

        ``delta`` has shape ``(..., delta_dim)``. Only its type and shape are checked (the
        searches call this at every step): a NaN stays NaN, as in ``torch.clamp``.
        """
        check_delta_shape(delta, self.delta_dim)
        box = self.bounds(device=delta.device, dtype=delta.dtype)
        if box is None:
            if self.prior != "normal":
                return delta
            # N(0, I) has no mass out there, but a generator's MLP overflows to inf - inf = NaN on
            # δ ~ 1e38: so R^q is cut at ±NORMAL_PRIOR_LIMIT standard deviations.
            low, high = -NORMAL_PRIOR_LIMIT, NORMAL_PRIOR_LIMIT
        else:
            low, high = box
        clamped = delta.clamp(low, high)
        if not delta.requires_grad:
            return clamped
        # clamp (like max/min) halves the gradient on the box's faces; keep it whole on the closed
        # box, so ∂G/∂δ through forward's projection is unchanged wherever δ is in Δ (an identity
        # δ often lies on a face: σ = 0 of a blur).
        return torch.where((delta >= low) & (delta <= high), delta, clamped.detach())

    #: The δ that leaves images unchanged (one row), or None when there is none. Subclasses set
    #: it as a class attribute, or in ``__init__`` when it depends on their configuration.
    identity_point: Sequence[float] | None = None

    def identity_delta(self, n: int = 1, device=None, dtype=None) -> Tensor | None:
        """``identity_point`` repeated ``n`` times, shape ``(n, delta_dim)``; None when the model has
        no identity or Δ (as configured) excludes it."""
        if self.identity_point is None:
            return None
        ident = torch.as_tensor(self.identity_point, dtype=torch.float64)
        box = self.bounds(device="cpu", dtype=torch.float64)
        if box is not None and bool(((ident < box[0]) | (ident > box[1])).any()):
            return None
        device = device if device is not None else self.device
        return ident.to(device=device, dtype=dtype or torch.float32).expand(n, -1).clone()

    # ------------------------------------------------------------------ the maps
    def encode(self, x: Tensor) -> Content:
        """Content code of ``x`` (computed once per image). Known models: ``x`` itself."""
        return x

    def decode(self, content: Content, delta: Tensor) -> Tensor:
        """Image from a content code and one δ row per code. Subclasses implement this."""
        raise NotImplementedError

    def forward(self, x: Tensor, delta: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Apply ``G(x, δ)``.

        Args:
            x: ``(B, C, H, W)`` or ``(C, H, W)``; float in [0, 1] or uint8.
            delta: ``(B, delta_dim)``, one row per image, projected into Δ before use (see the
                class docstring); ``None`` draws from the prior.
            generator: used only when ``delta`` is None.

        Returns:
            A tensor with the shape, dtype and device of ``x`` (empty when B = 0).
        """
        xf, restore = self._prepare(x)
        b = xf.shape[0]
        if delta is None:
            delta = self.sample_delta(b, generator=generator, device=xf.device, dtype=xf.dtype)
        else:
            # A user's δ is projected into Δ once, here: outside Δ several models' formulas
            # leave [0, 1] or overflow. Prior draws are inside Δ already.
            delta = self.project(check_delta(delta, b, self.delta_dim).to(device=xf.device, dtype=xf.dtype))
        if b == 0:
            return restore(xf)  # B = 0: an empty batch of the input's shape, no encode/decode
        return restore(self.decode(self.encode(xf), delta))

    def forward_multi(
        self,
        x: Tensor,
        k: int | None = None,
        delta: Tensor | None = None,
        generator: torch.Generator | None = None,
        content: Content | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``k`` draws of G for every image of a batch in one call (one encode, one decode).

        Args:
            x: ``(B, C, H, W)`` batch (float in [0, 1] or uint8).
            k: number of draws per image (inferred from ``delta`` when given).
            delta: optional ``(k, B, delta_dim)``, projected into Δ before use; drawn from the
                prior when None.
            generator: used only when ``delta`` is None.
            content: ``G.encode`` of this batch as a float32/float64 batch in [0, 1] (uint8
                divided by 255, half types in float32), when the caller already has it: the
                training wrappers decode their draws in several calls and encode once.

        Returns:
            ``(images, delta)`` with ``images`` of shape ``(k, B, C, H, W)`` (dtype of ``x``)
            and ``delta`` of shape ``(k, B, delta_dim)``, the δ used (after projection).
            ``images[i, j] == G(x[j], delta[i, j])``.
        """
        if isinstance(x, Tensor) and x.ndim != 4:
            raise ValueError(f"forward_multi needs a batch (B, C, H, W), got shape {tuple(x.shape)}; use x.unsqueeze(0).")
        xf, restore = self._prepare(x)
        b = xf.shape[0]
        if k is None and delta is None:
            raise ValueError("forward_multi needs k >= 1 draws per image or a delta (k, B, q), got neither.")
        if k is not None:
            k = check_range("k", k, 1, integer=True, why="draws per image; or pass delta (k, B, q)",
                            model="forward_multi")
        if delta is None:
            delta = self.sample_delta(k * b, generator=generator, device=xf.device, dtype=xf.dtype)
            delta = delta.view(k, b, self.delta_dim)
        else:
            if not isinstance(delta, Tensor):
                raise TypeError(f"delta for forward_multi must be a torch.Tensor (k, B, q), got {type(delta).__name__}.")
            if delta.ndim != 3 or delta.shape[1:] != (b, self.delta_dim) or (k is not None and delta.shape[0] != k):
                raise ValueError(
                    f"delta for forward_multi must have shape (k, B, q) = ({k or 'k'}, {b}, "
                    f"{self.delta_dim}), got {tuple(delta.shape)}."
                )
            k = delta.shape[0]
            check_delta(delta.reshape(-1, self.delta_dim), delta.shape[0] * b, self.delta_dim)
            delta = self.project(delta.to(device=xf.device, dtype=xf.dtype))  # see forward
        if b == 0 or k == 0:
            out = restore(xf.unsqueeze(0).expand(k, *xf.shape).reshape(k * b, *xf.shape[1:]))
            return out.view(k, b, *out.shape[1:]), delta
        content = _repeat_content(self.encode(xf) if content is None else content, k)
        out = self.decode(content, delta.reshape(k * b, self.delta_dim))
        out = restore(out)
        return out.view(k, b, *out.shape[1:]), delta

    def check_input(self, x: Tensor) -> None:
        """Model-specific checks of an input batch, run by ``forward`` and ``forward_multi``
        before δ is checked (so the error names the model's own fix). Default: none."""

    def _prepare(self, x: Tensor):
        """Check ``x``, lift it to a float (B, C, H, W) batch, and return how to undo that."""
        check_image(x)
        self.check_input(x)
        in_dtype, batched = x.dtype, x.ndim == 4
        xf = x if batched else x.unsqueeze(0)
        if in_dtype == torch.uint8:
            xf = xf.float() / 255.0
        elif in_dtype in COMPUTE_DTYPE:
            xf = xf.to(COMPUTE_DTYPE[in_dtype])

        def restore(y: Tensor) -> Tensor:
            if in_dtype == torch.uint8:
                y = (y.clamp(0, 1) * 255.0).round().to(torch.uint8)
            elif y.dtype != in_dtype:
                y = y.to(in_dtype)
            return y if batched or y.shape[0] != 1 or y.ndim != 4 else y.squeeze(0)

        return xf, restore

    # ------------------------------------------------------------------ composition
    def __matmul__(self, other: "NuisanceModel") -> "Compose":
        """``G2 @ G1`` applies G1 first, then G2; δ is ``[δ1, δ2]``."""
        if not isinstance(other, NuisanceModel):
            return NotImplemented
        return Compose([other, self])

    def extra_repr(self) -> str:
        """The contract's facts, the Δ box (when small) and the configuration.

        The configuration is every ``__init__`` argument that the instance keeps as an
        attribute of the same name, plus the names in :attr:`repr_attrs`, so subclasses need
        no ``extra_repr`` of their own.
        """
        parts = [f"delta_dim={self.delta_dim}", f"prior={self.prior!r}", f"differentiable={self.differentiable}"]
        if self.has_box and self.delta_dim <= _REPR_MAX_BOX:
            box = ", ".join(f"[{_repr_value(a)}, {_repr_value(b)}]"
                            for a, b in zip(self.delta_low.tolist(), self.delta_high.tolist()))
            parts.append(f"delta_box=[{box}]")
        for name in _config_names(type(self)):
            if name in self.__dict__:
                parts.append(f"{name}={_repr_value(self.__dict__[name])}")
        return ", ".join(parts)


class Compose(NuisanceModel):
    r"""Apply nuisance models in order: ``Compose([G1, G2])(x, δ) = G2(G1(x, δ1), δ2)``.

    δ is the concatenation ``[δ1, δ2, ...]``; the prior is the product of the priors,
    ``project`` projects each block, and the composition is differentiable when every part is.
    Every other question of the contract (``bounds``, ``delta_scale``, ``reference_delta``,
    ``delta_range``, ``identity_delta``, ``input_spec``) is answered by asking the parts, so a
    composition goes wherever a single model goes. ``G2 @ G1`` is ``Compose([G1, G2])``; nested
    compositions are flattened (``parts()`` lists them in order).

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("haze") @ nz.load("brightness")      # brightness first, then haze
        >>> G.delta_dim == nz.load("brightness").delta_dim + nz.load("haze").delta_dim
        True
        >>> G(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
        >>> G.delta_scale()                                   # brightness's box, then haze's
        tensor([6.0000, 3.0000, 0.5000])
    """

    def __init__(self, models: Sequence[NuisanceModel]) -> None:
        super().__init__()
        flat: list[NuisanceModel] = []
        for m in models:
            if not isinstance(m, NuisanceModel):
                raise TypeError(f"Compose takes NuisanceModel instances, got {type(m).__name__}.")
            flat.extend(m.models if isinstance(m, Compose) else [m])
        if not flat:
            raise ValueError("Compose needs at least one model.")
        self.models = nn.ModuleList(flat)
        self.delta_dim = sum(m.delta_dim for m in flat)
        self.delta_names = tuple(
            f"{i}.{n}" for i, m in enumerate(flat) for n in (m.delta_space()["names"])
        )
        self.differentiable = all(m.differentiable for m in flat)
        self.kind = "learned" if any(m.kind == "learned" for m in flat) else "known"
        priors = {m.prior for m in flat}
        self.prior = priors.pop() if len(priors) == 1 else "product"
        self.gray_policy = "see parts"
        self._splits = [m.delta_dim for m in flat]
        # Fail at composition, not at the first call, when the parts accept no common image.
        self.input_spec()

    def _split(self, delta: Tensor) -> list[Tensor]:
        return list(torch.split(delta, self._splits, dim=-1))

    def parts(self) -> list[NuisanceModel]:
        return list(self.models)

    def _cat(self, per_part: list) -> Tensor:
        return torch.cat(per_part, dim=-1)

    def bounds(self, device=None, dtype=None):
        """The product box when every part has one (else None: a normal-prior part is unbounded)."""
        device = device if device is not None else self.device
        boxes = [m.bounds(device=device, dtype=dtype or torch.float64) for m in self.models]
        if any(b is None for b in boxes):
            return None
        return self._cat([b[0] for b in boxes]), self._cat([b[1] for b in boxes])

    def delta_scale(self, device=None, dtype=None) -> Tensor:
        device = device if device is not None else self.device
        return self._cat([m.delta_scale(device=device, dtype=dtype) for m in self.models])

    def reference_delta(self, n: int = 1, device=None, dtype=None) -> Tensor:
        # Per part: a part without an identity still lets the others keep theirs.
        device = device if device is not None else self.device
        return self._cat([m.reference_delta(n, device=device, dtype=dtype) for m in self.models])

    def delta_range(self, device=None, dtype=None) -> tuple[Tensor, Tensor]:
        device = device if device is not None else self.device
        ranges = [m.delta_range(device=device, dtype=dtype) for m in self.models]
        return self._cat([r[0] for r in ranges]), self._cat([r[1] for r in ranges])

    def input_spec(self) -> dict:
        """What every part accepts (each part sees an image of the input's shape)."""
        spec: dict = {"channels": None, "size": None, "range": [0.0, 1.0]}
        for m in self.models:
            part = m.input_spec()
            for key in ("channels", "size"):
                want = part.get(key)
                if want is None:
                    continue
                want = list(want) if key == "size" else want
                if spec[key] is not None and spec[key] != want:
                    raise ValueError(
                        f"Compose: the parts accept no common image: {type(m).__name__} needs {key} "
                        f"{want}, an earlier part needs {spec[key]}."
                    )
                spec[key] = want
        return spec

    def delta_space(self) -> dict:
        names, bounds = [], []
        for i, m in enumerate(self.models):
            s = m.delta_space()
            names += [f"{i}.{n}" for n in s["names"]]
            bounds += s["bounds"] if s["bounds"] is not None else [None] * m.delta_dim
        return {"dim": self.delta_dim, "names": names, "bounds": bounds, "prior": self.prior,
                "parts": [m.delta_space() for m in self.models]}

    def sample_delta(self, n, generator=None, device=None, dtype=None) -> Tensor:
        device = torch.device(device) if device is not None else self.device
        return torch.cat([m.sample_delta(n, generator=generator, device=device, dtype=dtype) for m in self.models], dim=-1)

    def project(self, delta: Tensor) -> Tensor:
        check_delta_shape(delta, self.delta_dim)
        return torch.cat([m.project(d) for m, d in zip(self.models, self._split(delta))], dim=-1)

    def identity_delta(self, n: int = 1, device=None, dtype=None):
        parts = [m.identity_delta(n, device=device, dtype=dtype) for m in self.models]
        return None if any(p is None for p in parts) else torch.cat(parts, dim=-1)

    def encode(self, x: Tensor) -> Content:
        # Only the first model sees x; the later ones encode the previous model's output.
        return self.models[0].encode(x)

    def decode(self, content: Content, delta: Tensor) -> Tensor:
        if isinstance(content, Tensor) and content.shape[0] == 0:
            return content  # B = 0: see _gray_guard
        parts = self._split(delta)
        y = self.models[0].decode(content, parts[0])
        for m, d in zip(self.models[1:], parts[1:]):
            y = m.decode(m.encode(y), d)
        return y

    def __repr__(self) -> str:
        inner = ", ".join(type(m).__name__ for m in self.models)
        return f"Compose([{inner}])"
