"""Geometric and optical known models: ``rotation``, ``affine`` and ``gaussian-blur``.

The warps build one 2×3 affine matrix per image from δ with plain tensor maths and resample
with ``F.affine_grid`` + ``F.grid_sample`` (bilinear), so the output is differentiable in δ and
in x (almost everywhere: bilinear sampling has kinks where a sample point crosses a pixel
row or column). The matrix is built in pixel units and then converted to the normalised
[-1, 1] coordinates of ``affine_grid``, so a rotation stays a rotation on non-square images.
``align_corners=False`` puts pixel centres at symmetric normalised positions, which makes a
90° turn of a square image land exactly on pixel centres.

Conventions (pixel frame: u to the right, v down, origin at the image centre):

* a positive angle turns the content counter-clockwise on screen (as ``torch.rot90`` with
  ``k=1, dims=(-2, -1)``, torchvision's ``rotate`` and kornia's ``rotate``);
* a positive ``tx`` moves the content right, a positive ``ty`` moves it down; both are fractions
  of the image width/height, so one Δ serves every image size;
* a positive shear moves rows above the centre to the right (shear along x by that angle).

Padding: ``padding_mode="zeros"`` (default, the torchvision/kornia default: uncovered corners
are black), ``"border"`` (repeat the edge pixels: no black corners) or ``"reflection"``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import NuisanceModel
from ..catalogue import register_model
from ._blur import separable_blur
from ._checks import check_choice, check_range
from .levels import ChallengeSpec

__all__ = ["Rotation", "Affine", "GaussianBlur", "affine_theta", "CHALLENGES"]

_PADDING_MODES = ("zeros", "border", "reflection")
_BLUR_PADDING_MODES = ("reflect", "replicate")
# Added to 2σ² so the kernel is exactly the identity at σ = 0 (exp(-k²/1e-4) underflows to 0
# for every k ≠ 0) while k²/(2σ²+ε)² stays finite: at σ = 0 the gradient is 0, not NaN.
_BLUR_EPS = 1e-4


def affine_theta(
    angle_deg: Tensor,
    log2_scale: Tensor,
    tx: Tensor,
    ty: Tensor,
    shear_deg: Tensor,
    height: int,
    width: int,
) -> Tensor:
    r"""The ``(B, 2, 3)`` matrices for ``F.affine_grid`` that realise a forward affine map.

    The forward map (content motion) in the pixel frame, with the image centre as origin, is
    ``p_out = P (s R(θ) Sh(φ)) P p_in + (tx·W, ty·H)`` where ``R`` is the counter-clockwise
    rotation and ``Sh = [[1, tan φ], [0, 1]]`` in the y-up frame and ``P = diag(1, -1)`` turns
    y-up into the image's y-down frame. ``affine_grid`` needs the inverse (where each output
    pixel samples the input) in normalised coordinates ``n = p / (W/2, H/2)``; both are written
    in closed form, so every entry is differentiable in every parameter.

    Args:
        angle_deg, log2_scale, tx, ty, shear_deg: tensors of shape ``(B,)``.
        height, width: image size in pixels.

    Returns:
        ``theta`` of shape ``(B, 2, 3)`` in the parameters' dtype.
    """
    a = torch.deg2rad(angle_deg)
    c, s = torch.cos(a), torch.sin(a)
    t = torch.tan(torch.deg2rad(shear_deg))
    inv_scale = torch.exp2(-log2_scale)
    # Inverse linear part in the y-up frame is (1/s) Sh(-φ) R(-θ); conjugating by P flips the
    # off-diagonal signs, and conjugating by diag(W, H) rescales them for the aspect ratio.
    m00 = inv_scale * (c + t * s)
    m01 = inv_scale * (t * c - s) * (height / width)
    m10 = inv_scale * s * (width / height)
    m11 = inv_scale * c
    # n_in = A (n_out - t_norm), with the translation in normalised units (2·tx, 2·ty).
    nx, ny = 2 * tx, 2 * ty
    b0 = -(m00 * nx + m01 * ny)
    b1 = -(m10 * nx + m11 * ny)
    row0 = torch.stack([m00, m01, b0], dim=-1)
    row1 = torch.stack([m10, m11, b1], dim=-1)
    return torch.stack([row0, row1], dim=-2)


def _warp(x: Tensor, theta: Tensor, padding_mode: str) -> Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


@register_model("rotation")
class Rotation(NuisanceModel):
    r"""Rotation about the image centre by δ degrees (counter-clockwise for δ > 0).

    Δ = [-max_degrees, max_degrees] (default [-30, 30]), uniform prior; δ = 0 is the identity.
    ``G(x, δ) = x ∘ R(-δ)``: each output pixel samples the input bilinearly at the point that
    the rotation carries onto it (``F.affine_grid`` + ``F.grid_sample``, ``align_corners=False``).
    Uncovered corners follow ``padding_mode``. Differentiable in δ and x (almost everywhere).
    Gray inputs: every channel is warped the same way, so any C works (``gray_policy =
    "per-channel"``).

    Args:
        max_degrees: half-width of Δ in degrees (>= 0).
        padding_mode: ``"zeros"`` (default: black corners, as torchvision/kornia),
            ``"border"`` (repeat edges) or ``"reflection"``.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 1)``, the angle in degrees.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("rotation", max_degrees=15)
        >>> x = torch.rand(2, 3, 32, 32)
        >>> G(x, torch.tensor([[10.0], [-5.0]])).shape
        torch.Size([2, 3, 32, 32])
        >>> torch.allclose(G(x, G.identity_delta(2)), x, atol=1e-5)
        True
    """

    delta_dim = 1
    delta_names = ("angle_deg",)
    identity_point = (0.0,)
    prior = "uniform"
    differentiable = True
    gray_policy = "per-channel"

    def __init__(self, max_degrees: float = 30.0, padding_mode: str = "zeros") -> None:
        super().__init__()
        m = check_range("max_degrees", max_degrees, 0, model=self)
        self.padding_mode = check_choice("padding_mode", padding_mode, _PADDING_MODES, model=self)
        self.set_delta_box([-m], [m])

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        angle = delta[:, 0]
        zero = torch.zeros_like(angle)
        theta = affine_theta(angle, zero, zero, zero, zero, x.shape[-2], x.shape[-1])
        return _warp(x, theta, self.padding_mode)


@register_model("affine")
class Affine(NuisanceModel):
    r"""Affine warp: rotation, isotropic scale, translation and shear about the image centre.

    δ = (angle_deg, log2_scale, tx, ty, shear_deg); uniform prior on the box
    Δ = [-max_degrees, max_degrees] × [log2 scale_range[0], log2 scale_range[1]]
    × [-max_translate, max_translate]² × [-max_shear, max_shear]
    (default [-30, 30] × [log2 0.8, log2 1.25] × [-0.1, 0.1]² × [-10, 10]).
    The scale is stored as its base-2 logarithm so Δ is symmetric about the identity and a
    uniform draw treats shrinking and enlarging alike. tx and ty are fractions of the image
    width and height (positive: right and down). δ = 0 is the identity.

    Formula (pixel frame, centre as origin, y down): the content moves by
    ``p ↦ P (s R(θ) Sh(φ)) P p + (tx·W, ty·H)`` with ``s = 2**log2_scale``, ``R`` the
    counter-clockwise rotation, ``Sh = [[1, tan φ], [0, 1]]``, ``P = diag(1, -1)``; the output
    samples the input bilinearly at the inverse image of each pixel (see :func:`affine_theta`).
    Differentiable in δ and x (almost everywhere). Gray inputs: every channel is warped the same
    way (``gray_policy = "per-channel"``).

    Args:
        max_degrees: rotation half-range in degrees.
        scale_range: ``(min_scale, max_scale)``, both > 0.
        max_translate: translation half-range as a fraction of the image size.
        max_shear: shear half-range in degrees (< 90).
        padding_mode: ``"zeros"`` (default), ``"border"`` or ``"reflection"``.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 5)``.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("affine", max_translate=0.2)
        >>> x = torch.rand(4, 3, 32, 32)
        >>> y = G(x, generator=torch.Generator().manual_seed(0))
        >>> y.shape
        torch.Size([4, 3, 32, 32])
    """

    delta_dim = 5
    delta_names = ("angle_deg", "log2_scale", "tx", "ty", "shear_deg")
    identity_point = (0.0,) * 5
    prior = "uniform"
    differentiable = True
    gray_policy = "per-channel"

    def __init__(
        self,
        max_degrees: float = 30.0,
        scale_range: Sequence[float] = (0.8, 1.25),
        max_translate: float = 0.1,
        max_shear: float = 10.0,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        deg = check_range("max_degrees", max_degrees, 0, model=self)
        tr = check_range("max_translate", max_translate, 0, why="a fraction of the image size", model=self)
        sh = check_range("max_shear", max_shear, 0, 90, open_high=True, why="degrees; tan diverges at 90",
                         model=self)
        try:
            lo_s, hi_s = (float(v) for v in scale_range)
        except (TypeError, ValueError):
            raise ValueError(f"scale_range must be a pair (min_scale, max_scale), got {scale_range!r}.") from None
        lo_s = check_range("scale_range[0]", lo_s, 0, open_low=True, why="min_scale", model=self)
        hi_s = check_range("scale_range[1]", hi_s, lo_s, why="max_scale >= min_scale", model=self)
        self.padding_mode = check_choice("padding_mode", padding_mode, _PADDING_MODES, model=self)
        self.set_delta_box(
            [-deg, math.log2(lo_s), -tr, -tr, -sh],
            [deg, math.log2(hi_s), tr, tr, sh],
        )

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        x = content
        theta = affine_theta(*delta.unbind(dim=-1), x.shape[-2], x.shape[-1])
        return _warp(x, theta, self.padding_mode)


@register_model("gaussian-blur")
class GaussianBlur(NuisanceModel):
    r"""Separable Gaussian blur with standard deviation δ = σ pixels.

    Δ = [0, max_sigma] (default [0, 3]), uniform prior; σ = 0 is exactly the identity.
    ``G(x, σ) = k_σ ⊛_rows (k_σ ⊛_cols x)`` with the normalised kernel
    ``k_σ(j) ∝ exp(-j² / (2σ² + 1e-4))``, ``|j| <= ceil(3·max_sigma)`` (one kernel length for
    the whole batch so that different σ run in one grouped convolution). Borders are padded by
    ``padding_mode`` (``"reflect"``, the default as in torchvision, or ``"replicate"``), so a
    constant image stays constant; on images smaller than the kernel the radius is cut to
    ``size - 1`` along that axis. Weights are a convex combination, so [0, 1] is preserved.
    Continuous and differentiable in σ (including at σ → 0) and linear in x.
    Gray inputs: each channel is blurred alike (``gray_policy = "per-channel"``).

    Args:
        max_sigma: upper end of Δ in pixels (> 0); also fixes the kernel radius.
        padding_mode: ``"reflect"`` or ``"replicate"``.

    Shape:
        - x: ``(B, C, H, W)`` or ``(C, H, W)``.
        - delta: ``(B, 1)``, σ in pixels.
        - Output: same as x.

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> G = nz.load("gaussian-blur")
        >>> x = torch.rand(2, 3, 32, 32)
        >>> torch.equal(G(x, torch.zeros(2, 1)), x)
        True
        >>> bool(G(x, torch.full((2, 1), 2.0)).var() < x.var())
        True
    """

    delta_dim = 1
    delta_names = ("sigma",)
    identity_point = (0.0,)
    prior = "uniform"
    differentiable = True
    gray_policy = "per-channel"
    repr_attrs = ("radius",)

    def __init__(self, max_sigma: float = 3.0, padding_mode: str = "reflect") -> None:
        super().__init__()
        m = check_range("max_sigma", max_sigma, 0, open_low=True, why="pixels", model=self)
        self.padding_mode = check_choice("padding_mode", padding_mode, _BLUR_PADDING_MODES, model=self)
        self.radius = int(math.ceil(3 * m))
        self.set_delta_box([0.0], [m])

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        y = separable_blur(content, delta[:, 0], self.radius, self.padding_mode, eps=_BLUR_EPS)
        # Taps summing to 1 in float32 can still lift a white patch to 1.0000002: clamp the value
        # but keep the blur's gradient (a plain clamp would zero ∂G/∂x on saturated regions).
        # y + (c - y) is exactly c here: the two are within a factor of 2, so c - y is exact.
        return y + (y.detach().clamp(0.0, 1.0) - y.detach())


CHALLENGES = [
    ChallengeSpec(
        challenge="blur",
        model="gaussian-blur",
        regions={
            1: ((0.3,), (0.6,)),
            2: ((0.6,), (1.0,)),
            3: ((1.0,), (1.5,)),
            4: ((1.5,), (2.2,)),
            5: ((2.2,), (3.0,)),
        },
        note=(
            "CURE-TSR Gaussian blur, levels 1-5 as adjacent, non-overlapping σ boxes (pixels at "
            "32×32) covering Δ = [0, 3]: σ grows with the level, so detail is lost "
            "monotonically; at level 5 (σ up to 3 px ≈ 10% of the width) a 32-px sign is "
            "still recognisable by shape and colour. Chosen by eye, not fitted to CURE-TSR "
            "(not downloadable here)."
        ),
    ),
]
