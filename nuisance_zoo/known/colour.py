"""Photometric known models: brightness, contrast, contrast-normalize, gamma, hue, saturation,
decolorize, colorize.

Each model is a closed-form, per-image map of pixel values with a low-dimensional δ, written in
plain tensor maths so that k draws for a batch cost one vectorised pass, and differentiable in
δ and x almost everywhere (the only kinks are the final clamps to [0, 1]). The mask-based
background/foreground colour models live in :mod:`nuisance_zoo.known.background`.

Conventions shared by the family:

* Luminance is Rec. 601 luma, ``Y = 0.299 R + 0.587 G + 0.114 B`` (what ``kornia`` and PIL
  call grayscale), computed on the [0, 1] values as given (no gamma decoding).
* Colour models accept C = 3 (RGB) or C = 1 (gray) and say in ``gray_policy`` what they do with
  gray inputs (the base class enforces it: other channel counts get one clear error, and
  ``"identity"`` models return gray images without calling ``decode``): ``"per-channel"`` (the formula does not care about C), ``"identity"`` (a gray
  image has no colour to change) or ``"luminance"`` (a colour in δ acts through its luminance).
* Identity δ values are exact: where a formula has one, the output at that δ is bit-identical
  to the input (``torch.lerp`` and ``x + 0 * (...)`` forms are used for that reason).

The module-level :data:`CHALLENGES` maps CURE-TSR's darkening, exposure and decolorization
challenges to levels inside these models' Δ.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from . import background  # noqa: F401  (registers background-color/-texture, foreground-color)
from ._checks import check_range
from ._colour_ops import LUMA, box, colour_luminance, luminance, per_image
from .levels import ChallengeSpec

__all__ = [
    "Brightness", "Contrast", "ContrastNormalize", "Gamma", "Hue", "Saturation", "Decolorize", "Colorize",
    "luminance", "LUMA", "CHALLENGES",
]

_SOURCE = "nuisance-zoo (analytic)"
_LICENSE = "Apache-2.0"


def _gain_about_mean(x: Tensor, m: Tensor, gain: Tensor) -> Tensor:
    """``clamp(m + gain · (x − m), 0, 1)`` for per-image ``m`` and ``gain`` shaped ``(B, 1, 1, 1)``."""
    # gain·x + (1 − gain)·m is exact at gain = 1 (x·1 + 0), so an identity δ returns x bit for bit.
    # Not lerp(m, x, gain): with two (B, 1, 1, 1) operands its CPU kernel runs unvectorised,
    # 4–5× slower. One new tensor, updated in place (mul and add keep no output for backward).
    return torch.mul(x, gain).add_((1.0 - gain) * m).clamp_(0.0, 1.0)


# ---------------------------------------------------------------------------- models
@register_model("brightness", source=_SOURCE, license=_LICENSE)
class Brightness(NuisanceModel):
    r"""Brightness (exposure gain): scale every pixel by ``2^δ`` and clip.

    ``G(x, δ) = clamp(x · 2^δ, 0, 1)``.

    Δ: ``δ = (stops,)`` in ``[low, high]`` (default ``[-3, 3]``, gains 1/8 … 8), prior uniform
    on the box, i.e. log-uniform in the gain. Multiplicative because illumination scales
    radiance: black stays black and a dark night image brightens without a grey veil; one stop
    doubles the light. A uniform prior in stops treats darkening and brightening alike. The
    default range covers GTSRB's night ↔ day change: on its test set the 2,611 images with mean
    < 40 of 255 (mean 27) reach a mean of 105 at +2 stops and 180 at +3 (clipping included),
    and the 684 with mean > 170 fall to 48 at −2 stops. Narrow it with, e.g.,
    ``load("brightness", low=-1, high=1)``.

    Identity: ``δ = 0``. Gray (C=1): the same formula (``gray_policy = "per-channel"``).
    Differentiable in δ and x except where ``x · 2^δ`` crosses 1 (saturated pixels have zero
    gradient).

    Args:
        low: lower bound of δ in stops.
        high: upper bound of δ in stops.

    Shape:
        - x: ``(B, C, H, W)``, any C; δ: ``(B, 1)``. Output: ``(B, C, H, W)``.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("brightness")
        >>> x = torch.full((1, 3, 2, 2), 0.2)
        >>> G(x, torch.tensor([[1.0]]))[0, 0, 0, 0].item()      # one stop up: 0.2 -> 0.4
        0.4000000059604645
    """

    delta_dim = 1
    delta_names = ("stops",)
    differentiable = True
    gray_policy = "per-channel"
    identity_point = (0.0,)

    def __init__(self, low: float = -3.0, high: float = 3.0) -> None:
        super().__init__()
        self.set_delta_box([low], [high])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        # One new tensor, clamped in place: mul keeps its inputs (not its output) for backward,
        # and on CPU a second full-size temporary costs more than the arithmetic.
        return torch.mul(x, torch.exp2(per_image(delta))).clamp_(0.0, 1.0)


@register_model("contrast", source=_SOURCE, license=_LICENSE)
class Contrast(NuisanceModel):
    r"""Contrast: stretch or squash pixel values about the image mean.

    ``G(x, c) = clamp(m + c · (x − m), 0, 1)`` with ``m`` the mean of each image over all its
    channels and pixels (so colour balance is kept), computed as ``c · x + (1 − c) · m``.

    Δ: ``δ = (c,)`` in ``[low, high]`` (default ``[0.2, 2.0]``), prior uniform on the box.
    ``c < 1`` lowers contrast (``c = 0`` would be a flat image), ``c > 1`` raises it.

    Identity: ``c = 1`` (exact). Gray (C=1): the same formula with the mean over the one channel
    (``gray_policy = "per-channel"``). Differentiable in c and x (also through m) except where the
    clamp is active.

    Args:
        low: lower bound of c.
        high: upper bound of c.

    Shape:
        - x: ``(B, C, H, W)``, any C; δ: ``(B, 1)``. Output: ``(B, C, H, W)``.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("contrast")
        >>> x = torch.tensor([[[[0.2, 0.6]]]])                    # mean 0.4
        >>> G(x, torch.tensor([[0.5]])).flatten().tolist()
        [0.30000001192092896, 0.5]
    """

    delta_dim = 1
    delta_names = ("c",)
    differentiable = True
    gray_policy = "per-channel"
    identity_point = (1.0,)

    def __init__(self, low: float = 0.2, high: float = 2.0) -> None:
        super().__init__()
        self.set_delta_box([low], [high])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        return _gain_about_mean(x, x.mean(dim=(1, 2, 3), keepdim=True), per_image(delta))


@register_model("contrast-normalize", source=_SOURCE, license=_LICENSE)
class ContrastNormalize(NuisanceModel):
    r"""Per-image contrast normalisation: move each image's spread toward a target, whatever it was.

    ``G(x, s) = clamp(m + g · (x − m), 0, 1)`` with ``g = (τ / σ)^s``, where ``m`` and ``σ`` are the
    mean and standard deviation of each image over all its channels and pixels and ``τ`` is
    ``target_std``. At ``s = 1`` every image leaves with spread τ (before the clamp), as
    ``tf.image.per_image_standardization`` would give, rescaled to τ and re-centred on the image's
    own mean; ``s`` in between moves the log-gain part of the way.

    Why beside :class:`Contrast`: ``contrast`` applies one gain ``c`` to every image, so a gain that
    lifts a flat night image to daylight contrast clips an image that already had some. Here the
    gain adapts per image, the way auto-contrast does, so one δ can carry a whole low-contrast
    domain to a high-contrast one (GTSRB's C < 70 → C > 240). It uses the standard deviation, not
    the min/max of PIL's ``autocontrast``: min and max are order statistics, which have no
    derivative where pixels tie (a flat border), and this model must stay differentiable.

    Δ: ``δ = (s,)`` in ``[0, max_strength]`` (default ``[0, 1]``), prior uniform on the box.

    Identity: ``s = 0`` (exact: ``g = (τ/σ)^0 = 1``). Gray (C=1): the same formula
    (``gray_policy = "per-channel"``). Differentiable in s and x (also through m and σ) except
    where the clamp is active; σ is floored at ``1e-3`` so a flat image keeps finite gradients
    (and, having ``x − m = 0``, stays as it is).

    Args:
        target_std: τ, the spread at ``s = 1`` on the [0, 1] scale (default 0.25: a sign that
            fills the range from near-black to near-white).
        max_strength: upper bound of s (``s > 1`` overshoots the target).

    Shape:
        - x: ``(B, C, H, W)``, any C; δ: ``(B, 1)``. Output: ``(B, C, H, W)``.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("contrast-normalize", target_std=0.2)
        >>> x = torch.tensor([[[[0.45, 0.55]]]])                  # mean 0.5, std 0.05
        >>> [round(v, 4) for v in G(x, torch.tensor([[1.0]])).flatten().tolist()]   # std → 0.2
        [0.3, 0.7]
    """

    delta_dim = 1
    delta_names = ("s",)
    differentiable = True
    gray_policy = "per-channel"
    identity_point = (0.0,)

    #: floor on σ: below it an image counts as flat (1/4 of one 8-bit grey level).
    MIN_STD = 1e-3

    def __init__(self, target_std: float = 0.25, max_strength: float = 1.0) -> None:
        super().__init__()
        self.target_std = check_range("target_std", target_std, 0, 0.5, open_low=True,
                                      why="a standard deviation of values in [0, 1]", model=self)
        max_strength = check_range("max_strength", max_strength, 0, 4, open_low=True,
                                   why="a power of the gain τ/σ", model=self)
        self.set_delta_box([0.0], [max_strength])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        sigma = x.std(dim=(1, 2, 3), keepdim=True, correction=0).clamp_min(self.MIN_STD)
        # (τ/σ)^0 = 1 exactly, so s = 0 returns x bit for bit.
        return _gain_about_mean(x, m, torch.pow(self.target_std / sigma, per_image(delta)))


@register_model("gamma", source=_SOURCE, license=_LICENSE)
class Gamma(NuisanceModel):
    r"""Gamma (tone curve): ``G(x, δ) = x^γ`` with ``γ = 2^δ``.

    Δ: ``δ = (log2_gamma,)`` in ``[log2(min_gamma), log2(max_gamma)]`` (default γ ∈ [0.3, 3],
    δ ∈ [-1.737, 1.585]); prior uniform on the box, i.e. log-uniform in γ, so brightening
    (γ < 1, over-exposure) and darkening (γ > 1) are drawn about equally often. Black and white
    stay fixed; mid-tones move.

    Computed as ``x · pow(x, γ − 1)`` on ``x > 0`` and exactly 0 at ``x = 0`` (a double ``where`` so
    that no ``log 0`` reaches the backward pass: the gradient at ``x = 0`` is 0, the limit of
    ``∂(x^γ)/∂γ = x^γ log x``; ``∂/∂x`` at 0 is set to 0 where the true one is infinite for
    γ < 1). Output stays in [0, 1] without clamping.

    Identity: ``δ = 0`` (γ = 1). Gray (C=1): the same formula (``gray_policy = "per-channel"``).

    Args:
        min_gamma: smallest γ (> 0).
        max_gamma: largest γ.

    Shape:
        - x: ``(B, C, H, W)``, any C; δ: ``(B, 1)``. Output: ``(B, C, H, W)``.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("gamma")
        >>> x = torch.tensor([[[[0.0, 0.25, 1.0]]]])
        >>> G(x, torch.tensor([[-1.0]])).flatten().tolist()    # γ = 1/2: square root
        [0.0, 0.5, 1.0]
    """

    delta_dim = 1
    delta_names = ("log2_gamma",)
    differentiable = True
    gray_policy = "per-channel"
    identity_point = (0.0,)

    def __init__(self, min_gamma: float = 0.3, max_gamma: float = 3.0) -> None:
        super().__init__()
        min_gamma = check_range("min_gamma", min_gamma, 0, open_low=True, why="γ is a power", model=self)
        max_gamma = check_range("max_gamma", max_gamma, min_gamma, model=self)
        self.set_delta_box([math.log2(min_gamma)], [math.log2(max_gamma)])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        gamma = torch.exp2(per_image(delta))
        pos = x > 0
        safe = torch.where(pos, x, torch.ones_like(x))
        # x · x^(γ−1) rather than x^γ: pow(x, 1) is not exact on CUDA, but pow(x, 0) = 1 is,
        # so γ = 1 returns x bit for bit on every device.
        return torch.where(pos, safe * torch.pow(safe, gamma - 1.0), torch.zeros_like(x))


# YIQ (FCC NTSC) rows for the two chroma axes; both rows sum to 0, so gray has no chroma.
_YIQ = ((0.299, 0.587, 0.114), (0.5959, -0.2746, -0.3213), (0.2115, -0.5227, 0.3112))


def _hue_operators() -> tuple[Tensor, Tensor]:
    """The chroma projector P and the chroma rotation generator J of YIQ, as RGB 3×3 maps.

    A hue rotation by θ is ``M(θ) = T⁻¹ diag(1, R(θ)) T = I + (cos θ − 1) P + sin θ J``.
    """
    t = torch.tensor(_YIQ, dtype=torch.float64)
    t_inv = torch.linalg.inv(t)
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    proj = t_inv[:, 1:] @ t[1:, :]
    gen = t_inv[:, 1:] @ rot @ t[1:, :]
    return proj, gen


@register_model("hue", source=_SOURCE, license=_LICENSE)
class Hue(NuisanceModel):
    r"""Hue rotation: rotate the chroma of every pixel by ``2π δ`` in YIQ space.

    With ``T`` the RGB → YIQ matrix, ``θ = 2π δ`` and ``R(θ)`` the 2-D rotation of the (I, Q)
    chroma plane, ``G(x, δ) = clamp(M(θ) x, 0, 1)`` with
    ``M(θ) = T⁻¹ diag(1, R(θ)) T = I + (cos θ − 1) P + sin θ J`` (P, J fixed 3×3 maps), a form
    that is exactly the identity matrix at δ = 0.
    Luminance Y is preserved before clipping; rotated colours that leave the RGB cube are
    clipped.

    Δ: ``δ = (turns,)`` in ``[low, high]`` (default ``[-0.5, 0.5]``, the whole circle: δ = −0.5
    and δ = 0.5 give the same image), prior uniform on the box.

    Identity: ``δ = 0``. Gray (C=1): identity, a gray image has no hue
    (``gray_policy = "identity"``); gray pixels of RGB images stay gray. Differentiable in δ and x
    except where the clamp is active. (Own closed form rather than ``kornia.enhance.adjust_hue``,
    which works in HSV and has kinks at every hue sector boundary.)

    Args:
        low: lower bound of δ in turns.
        high: upper bound of δ in turns.

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 1)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("hue")
        >>> x = torch.rand(2, 3, 8, 8)
        >>> torch.allclose(G(x, torch.full((2, 1), 0.5)), G(x, torch.full((2, 1), -0.5)), atol=1e-6)
        True
    """

    delta_dim = 1
    delta_names = ("turns",)
    differentiable = True
    gray_policy = "identity"
    identity_point = (0.0,)

    def __init__(self, low: float = -0.5, high: float = 0.5) -> None:
        super().__init__()
        self.set_delta_box([low], [high])
        proj, gen = _hue_operators()
        self.register_buffer("chroma_proj", proj, persistent=False)
        self.register_buffer("chroma_rot", gen, persistent=False)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        theta = ((2.0 * math.pi) * delta[:, 0]).view(-1, 1, 1)
        proj = self.chroma_proj.to(device=x.device, dtype=x.dtype)
        gen = self.chroma_rot.to(device=x.device, dtype=x.dtype)
        eye = torch.eye(3, device=x.device, dtype=x.dtype)
        # One 3×3 matrix per image, applied as three broadcast multiply-adds rather than a bmm:
        # a matmul may run in TF32 on GPUs (torch.set_float32_matmul_precision), which would
        # round the pixels. At θ = 0 the matrix is exactly I, so δ = 0 returns x bit for bit.
        rot = (eye + (torch.cos(theta) - 1.0) * proj + torch.sin(theta) * gen).unsqueeze(-1)
        y = rot[:, :, 0:1] * x[:, 0:1] + rot[:, :, 1:2] * x[:, 1:2] + rot[:, :, 2:3] * x[:, 2:3]
        return y.clamp_(0.0, 1.0)  # in place on a fresh sum (see Brightness.decode)


@register_model("saturation", source=_SOURCE, license=_LICENSE)
class Saturation(NuisanceModel):
    r"""Saturation: move each pixel away from or toward its gray value.

    ``G(x, s) = clamp(Y + s · (x − Y), 0, 1)`` with ``Y`` the Rec. 601 luminance of the pixel,
    computed as ``lerp(Y, x, s)``. ``s = 0`` gives the grayscale image, ``s > 1`` boosts colour.

    Δ: ``δ = (s,)`` in ``[low, high]`` (default ``[0, 2]``), prior uniform on the box.

    Identity: ``s = 1`` (exact). Gray (C=1): identity (``gray_policy = "identity"``).
    Differentiable in s and x except where the clamp is active (only possible for s > 1).

    Args:
        low: lower bound of s.
        high: upper bound of s.

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 1)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("saturation")
        >>> y = G(torch.rand(1, 3, 4, 4), torch.tensor([[0.0]]))
        >>> torch.allclose(y[:, 0], y[:, 1]) and torch.allclose(y[:, 1], y[:, 2])
        True
    """

    delta_dim = 1
    delta_names = ("s",)
    differentiable = True
    gray_policy = "identity"
    identity_point = (1.0,)

    def __init__(self, low: float = 0.0, high: float = 2.0) -> None:
        super().__init__()
        self.set_delta_box([low], [high])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        # lerp broadcasts the one-channel luminance; clamped in place as in Brightness.
        return torch.lerp(luminance(x), x, per_image(delta)).clamp_(0.0, 1.0)


@register_model("decolorize", source=_SOURCE, license=_LICENSE)
class Decolorize(NuisanceModel):
    r"""Decolorization: mix each image toward its grayscale version.

    ``G(x, t) = (1 − t) · x + t · Y(x)`` with ``Y`` the Rec. 601 luminance broadcast to the
    three channels, computed as ``lerp(x, Y, t)`` (exact at both ends: ``t = 1`` gives three
    identical channels). A convex combination of values in [0, 1], so no clamp is needed.

    Δ: ``δ = (t,)`` in ``[low, high]`` (default ``[0, 1]``), prior uniform on the box.

    Identity: ``t = 0``. Gray (C=1): identity (``gray_policy = "identity"``). Differentiable in t
    and x everywhere.

    Args:
        low: lower bound of t.
        high: upper bound of t.

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 1)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("decolorize")
        >>> y = G(torch.rand(1, 3, 4, 4), torch.tensor([[1.0]]))
        >>> torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
        True
    """

    delta_dim = 1
    delta_names = ("t",)
    differentiable = True
    gray_policy = "identity"
    identity_point = (0.0,)

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        self.set_delta_box([low], [high])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        return torch.lerp(x, luminance(x), per_image(delta))


@register_model("colorize", source=_SOURCE, license=_LICENSE)
class Colorize(NuisanceModel):
    r"""Colour tint: blend each image toward a monochrome version tinted with a colour.

    ``G(x, δ) = (1 − a) · x + a · Y(x) · c`` with ``δ = (r, g, b, a)``, ``c = (r, g, b)`` the
    tint colour, ``a`` the strength and ``Y`` the Rec. 601 luminance. At ``a = 1`` the image is
    a duotone black → ``c`` (e.g. ``c = (1.0, 0.8, 0.6)`` is sepia-like); the tinted part is no
    brighter than the luminance, so a saturated tint also darkens. A convex combination of values
    in [0, 1], so no clamp is needed.

    Δ: ``[0, 1]^4`` by default (``low``/``high`` set the bounds of r, g, b; ``max_strength`` the
    upper bound of a), prior uniform on the box.

    Identity: ``a = 0`` (any colour; ``identity_delta`` returns ``(1, 1, 1, 0)``). Gray (C=1):
    ``Y = x`` and the colour acts through its luminance, ``y = (1 − a) x + a · x · Y(c)``
    (``gray_policy = "luminance"``). Differentiable in δ and x everywhere.

    Args:
        low: lower bound of the colour components (one value or three).
        high: upper bound of the colour components (one value or three).
        max_strength: upper bound of a.

    Shape:
        - x: ``(B, 3, H, W)`` or ``(B, 1, H, W)``; δ: ``(B, 4)``. Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("colorize")
        >>> x = torch.ones(1, 3, 2, 2)                             # white
        >>> G(x, torch.tensor([[1.0, 0.5, 0.0, 1.0]]))[0, :, 0, 0].tolist()
        [1.0, 0.5, 0.0]
    """

    delta_dim = 4
    delta_names = ("r", "g", "b", "strength")
    differentiable = True
    gray_policy = "luminance"
    identity_point = (1.0, 1.0, 1.0, 0.0)

    def __init__(self, low: float | Sequence[float] = 0.0, high: float | Sequence[float] = 1.0,
                 max_strength: float = 1.0) -> None:
        super().__init__()
        max_strength = check_range("max_strength", max_strength, 0, 1, why="a blend weight", model=self)
        self.set_delta_box(box(low, 3, "low") + [0.0], box(high, 3, "high") + [max_strength])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        colour, strength = delta[:, :3], per_image(delta, 3)
        if x.shape[1] == 1:
            tinted = x * colour_luminance(colour).view(-1, 1, 1, 1)
        else:
            tinted = luminance(x) * colour.view(-1, 3, 1, 1)
        return torch.lerp(x, tinted, strength)


# ---------------------------------------------------------------------------- CURE-TSR levels
def _levels(bounds: Sequence[tuple[float, float]]) -> dict:
    """Level 1..5 → ``([low], [high])`` for a one-dimensional δ."""
    return {lv: ([lo], [hi]) for lv, (lo, hi) in enumerate(bounds, start=1)}


#: CURE-TSR challenge types this family synthesises (collected by :mod:`nuisance_zoo.known`).
#: CURE-TSR itself is not available here, so the boxes are set by eye to span a mild-to-severe
#: range in five adjacent, non-overlapping steps of the model's parameter.
CHALLENGES = [
    ChallengeSpec(
        challenge="darkening",
        model="brightness",
        regions=_levels([(-0.6, -0.3), (-1.0, -0.6), (-1.5, -1.0), (-2.0, -1.5), (-2.6, -2.0)]),
        note="Gain 2^δ below 1, δ in stops: each level removes a further 0.3-0.6 stop of light "
             "(level 1 keeps 66-81% of it, level 5 keeps 16-25%, about GTSRB's day-to-night "
             "drop in mean brightness).",
    ),
    ChallengeSpec(
        challenge="exposure",
        model="gamma",
        regions=_levels([(math.log2(0.7), math.log2(0.85)), (math.log2(0.55), math.log2(0.7)),
                         (math.log2(0.45), math.log2(0.55)), (math.log2(0.37), math.log2(0.45)),
                         (math.log2(0.3), math.log2(0.37))]),
        note="Over-exposure as a brightening tone curve γ < 1 (δ = log2 γ): γ falls from "
             "0.85-0.7 at level 1 to 0.37-0.3 at level 5, lifting shadows and mid-tones toward white.",
    ),
    ChallengeSpec(
        challenge="decolorization",
        model="decolorize",
        regions=_levels([(0.15, 0.3), (0.3, 0.45), (0.45, 0.6), (0.6, 0.8), (0.8, 1.0)]),
        note="The share t of grayscale mixed in grows from 15-30% at level 1 to 80-100% "
             "(fully gray) at level 5.",
    ),
]
