"""Kornia augmentations as models of natural variation: :func:`from_kornia`.

A kornia augmentation draws per-sample parameters from a box (its "param generator") and applies
them with a functional op. :func:`from_kornia` turns the continuous parameters into δ and their
sampling ranges into the Δ box, and computes ``G(x, δ)`` with kornia's own functional ops
(``kornia.enhance``, ``kornia.geometry``, ``kornia.filters``) so that the result equals what the
augmentation produces for the same parameters and is differentiable in δ wherever the op is.

What is kept from the augmentation and what is not:

* ``p`` (the probability of applying) is **ignored**: δ always describes the applied case.
  Model-based training draws many δ per image, and the "not applied" case is, for most ops, one
  point of Δ (``G.identity_delta``); a probability is not a coordinate of a box.
* ``same_on_batch`` is ignored: δ has one row per image, as the contract requires.
* Discrete parameters are not δ. An augmentation whose random parameters are discrete (a flip, a
  channel shuffle, a random kernel size) raises :class:`UnsupportedAugmentationError`; a discrete
  setting that is fixed at construction (motion blur's ``kernel_size`` when it is an int, blur
  border types, resampling modes, ColorJiggle's ``order``) is used as given.
* Every δ coordinate kornia samples is kept, including ones whose range is a single point (for
  example RandomGamma's default gain range ``(1, 1)``), so a δ layout depends only on the
  augmentation's class and options, never on its ranges.

Each returned model also has ``delta_from_kornia(params)``, which turns the parameters kornia
drew in a call (``aug._params``) into the δ rows that reproduce that call, and holds the
augmentation as ``G.augmentation`` (not a submodule: it adds nothing to ``state_dict``).

Example:
    >>> import torch, kornia.augmentation as K, nuisance_zoo as nz
    >>> aug = K.RandomBrightness((0.6, 1.4), p=1.0)
    >>> G = nz.from_kornia(aug)
    >>> G.delta_space()["names"], G.delta_space()["bounds"]
    (['brightness_factor'], [[0.6000000238418579, 1.399999976158142]])
    >>> x = torch.rand(2, 3, 8, 8)
    >>> y = aug(x)                                   # kornia draws its parameters ...
    >>> torch.allclose(G(x, G.delta_from_kornia(aug._params)), y)   # ... G replays them
    True
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from ..base import Compose, NuisanceModel

__all__ = ["from_kornia", "KorniaNuisance", "KorniaSequential", "UnsupportedAugmentationError", "SUPPORTED"]


class UnsupportedAugmentationError(TypeError):
    """The augmentation has discrete random parameters, or no mapping to δ exists yet."""


def _kornia():
    # Imported late so that ``import nuisance_zoo`` stays cheap and works without kornia.
    import kornia  # noqa: F401
    import kornia.augmentation as K

    return K


def _range(sampler: Any, what: str) -> tuple[float, float]:
    """``(low, high)`` of one of kornia's ``UniformDistribution`` samplers, as Python floats."""
    if sampler is None:
        raise ValueError(f"{what}: kornia has no sampler for it")
    return float(sampler.low), float(sampler.high)


def _col(delta: Tensor, i: int) -> Tensor:
    """Column ``i`` of δ, shape ``(B,)``."""
    return delta[:, i]


def _as_rows(values: Sequence[Tensor]) -> Tensor:
    """Stack per-parameter ``(B,)`` tensors from a kornia params dict into δ rows ``(B, q)``."""
    return torch.stack([torch.as_tensor(v).flatten().to(torch.float32) for v in values], dim=-1)


class KorniaNuisance(NuisanceModel):
    """Base class of the models :func:`from_kornia` builds (one subclass per augmentation).

    Subclasses set ``delta_names`` and the Δ box from the augmentation's sampling ranges in
    ``__init__``, and implement :meth:`decode` with kornia's functional ops and
    :meth:`delta_from_kornia`.
    """

    kind = "known"
    gray_policy = "as kornia"

    def __init__(self, aug: Any) -> None:
        super().__init__()
        # Kept outside the module tree: the augmentation's buffers are not G's state.
        self.__dict__["augmentation"] = aug

    #: Whether the op needs RGB input (kornia's HSV-based and white-balance ops do).
    rgb_only: bool = False

    def check_input(self, x: Tensor) -> None:
        if self.rgb_only and x.shape[-3] != 3:
            raise ValueError(
                f"{type(self.augmentation).__name__} works on RGB images (C = 3), got C = {x.shape[-3]}; "
                f"repeat a gray channel with x.expand(-1, 3, -1, -1)."
            )

    def delta_from_kornia(self, params: Mapping[str, Tensor]) -> Tensor:
        """The δ rows ``(B, delta_dim)`` that reproduce a call of the augmentation.

        kornia draws parameters for every row and marks in ``params["batch_prob"]`` the rows it
        applied (``p < 1`` leaves some out); those rows get the identity δ, and a model without
        one refuses such a call.

        Args:
            params: the dict kornia drew for a call, ``aug._params`` after ``aug(x)``.
        """
        rows = self._rows(params)
        applied = params.get("batch_prob")
        if applied is None or bool((torch.as_tensor(applied) > 0.5).all()):
            return rows
        ident = self.identity_delta(rows.shape[0], dtype=rows.dtype)
        if ident is None:
            raise ValueError(
                f"kornia left some rows unchanged (p < 1), and {type(self.augmentation).__name__} has no δ that "
                f"leaves an image unchanged; replay a call made with p=1."
            )
        keep = (torch.as_tensor(applied) > 0.5).reshape(-1, 1)
        return torch.where(keep, rows, ident)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        """δ rows for kornia's drawn parameters, ignoring ``batch_prob``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{type(self.augmentation).__name__}, {super().extra_repr()}"


def _warp_differentiable(aug: Any) -> bool:
    """Whether a warp is differentiable in its parameters: nearest-neighbour resampling copies
    pixels, so the output is piecewise constant in the warp (∂/∂δ = 0 almost everywhere)."""
    return aug.flags["resample"].name.lower() != "nearest"


# ---------------------------------------------------------------------------- photometric
class _PlainUniform(KorniaNuisance):
    """Augmentations whose parameters are independent uniform factors (a ``PlainUniformGenerator``):
    δ is those factors in kornia's order, the box their ranges."""

    #: kornia's factor names (the params keys), in δ order.
    keys: tuple = ()
    identity_values: tuple = ()

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        samplers = aug._param_generator.sampler_dict
        self.delta_dim = len(self.keys)
        self.delta_names = self.keys
        bounds = [_range(samplers[k], f"{type(aug).__name__}.{k}") for k in self.keys]
        self.set_delta_box([b[0] for b in bounds], [b[1] for b in bounds])
        self.identity_point = self.identity_values or None

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        return _as_rows([params[k] for k in self.keys])


class KorniaBrightness(_PlainUniform):
    """``RandomBrightness``: δ = ``(brightness_factor,)``; ``x + (factor - 1)``, clipped."""

    keys = ("brightness_factor",)
    identity_values = (1.0,)

    def __init__(self, aug: Any) -> None:
        if not aug.clip_output:
            raise UnsupportedAugmentationError(
                "RandomBrightness(clip_output=False) leaves [0, 1], which a nuisance model's output may not; "
                "use clip_output=True."
            )
        super().__init__(aug)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_brightness

        return adjust_brightness(x.clamp(0, 1), _col(delta, 0) - 1, True)


class KorniaContrast(_PlainUniform):
    """``RandomContrast``: δ = ``(contrast_factor,)``; ``x · factor``, clipped."""

    keys = ("contrast_factor",)
    identity_values = (1.0,)

    def __init__(self, aug: Any) -> None:
        if not aug.clip_output:
            raise UnsupportedAugmentationError(
                "RandomContrast(clip_output=False) leaves [0, 1], which a nuisance model's output may not; "
                "use clip_output=True."
            )
        super().__init__(aug)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_contrast

        return adjust_contrast(x.clamp(0, 1), _col(delta, 0), True)


class KorniaGamma(_PlainUniform):
    """``RandomGamma``: δ = ``(gamma_factor, gain_factor)``; ``gain · x^gamma``, clipped."""

    keys = ("gamma_factor", "gain_factor")
    identity_values = (1.0, 1.0)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_gamma

        return adjust_gamma(x.clamp(0, 1), _col(delta, 0), _col(delta, 1))


class KorniaHue(_PlainUniform):
    """``RandomHue``: δ = ``(hue_factor,)`` in turns of the hue circle (kornia: [-0.5, 0.5]). RGB only."""

    keys = ("hue_factor",)
    identity_values = (0.0,)
    rgb_only = True

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_hue

        return adjust_hue(x.clamp(0, 1), _col(delta, 0) * (2 * math.pi)).clamp(0, 1)


class KorniaSaturation(_PlainUniform):
    """``RandomSaturation``: δ = ``(saturation_factor,)``, scaling HSV saturation. RGB only."""

    keys = ("saturation_factor",)
    identity_values = (1.0,)
    rgb_only = True

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_saturation

        return adjust_saturation(x.clamp(0, 1), _col(delta, 0)).clamp(0, 1)


class KorniaRotation(_PlainUniform):
    """``RandomRotation``: δ = ``(degrees,)``, counter-clockwise about the image centre.
    Differentiable unless ``resample="nearest"`` (see :func:`_warp_differentiable`)."""

    keys = ("degrees",)
    identity_values = (0.0,)

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        self.differentiable = _warp_differentiable(aug)

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.geometry.transform import affine, get_rotation_matrix2d

        b, _, h, w = x.shape
        # kornia's _compute_tensor_center: the centre of the pixel grid.
        center = x.new_tensor([(w - 1) / 2, (h - 1) / 2]).expand(b, 2)
        m = get_rotation_matrix2d(center, _col(delta, 0), torch.ones_like(center))
        flags = self.augmentation.flags
        return affine(x, m, flags["resample"].name.lower(), "zeros", flags["align_corners"])


_JIGGLE_KEYS = ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")
_JIGGLE_NEUTRAL = (1.0, 1.0, 1.0, 0.0)


class KorniaColorJiggle(KorniaNuisance):
    """``ColorJiggle``: δ = ``(brightness_factor, contrast_factor, saturation_factor, hue_factor)``.

    The steps run in the augmentation's fixed ``order``; when it has none (kornia then draws a
    random permutation per call, a discrete parameter), in the canonical order brightness,
    contrast, saturation, hue. A step whose range is the single neutral value is skipped, as
    kornia skips it, so a brightness/contrast-only ColorJiggle accepts gray images.
    """

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        g = aug._param_generator
        samplers = (g.brightness_sampler, g.contrast_sampler, g.saturation_sampler, g.hue_sampler)
        bounds = [_range(s, f"ColorJiggle.{k}") for s, k in zip(samplers, _JIGGLE_KEYS)]
        self.delta_dim = 4
        self.delta_names = _JIGGLE_KEYS
        self.set_delta_box([b[0] for b in bounds], [b[1] for b in bounds])
        self.identity_point = _JIGGLE_NEUTRAL
        order = aug._fixed_order if aug._fixed_order is not None else (0, 1, 2, 3)
        # Static skip decision (never data-dependent): a factor fixed at its neutral value.
        self.order = tuple(i for i in order if bounds[i] != (_JIGGLE_NEUTRAL[i], _JIGGLE_NEUTRAL[i]))
        self.rgb_only = 2 in self.order or 3 in self.order  # saturation and hue go through HSV

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.enhance import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation

        steps = (
            lambda y, f: adjust_brightness(y, f - 1),
            adjust_contrast,
            adjust_saturation,
            lambda y, f: adjust_hue(y, f * (2 * math.pi)),
        )
        y = x.clamp(0, 1)
        for i in self.order:
            y = steps[i](y, _col(delta, i))
        return y.clamp(0, 1)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        return _as_rows([params[k] for k in _JIGGLE_KEYS])


class KorniaPlanckianJitter(KorniaNuisance):
    """``RandomPlanckianJitter``: δ = ``(temperature_index,)``, a continuous index into kornia's table.

    kornia picks a row ``i`` of its table of (red, blue) gains per image, a discrete choice. Here
    the index is continuous: the gains are interpolated linearly between rows ``⌊t⌋`` and
    ``⌊t⌋ + 1``, which equals kornia exactly at every integer ``t`` and is differentiable in
    between (the table runs along the black-body locus, so neighbouring rows are neighbouring
    colour temperatures). Box: ``[0, n_rows - 1]``. RGB only; no identity.
    """

    delta_names = ("temperature_index",)
    rgb_only = True

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        self.delta_dim = 1
        self.register_buffer("table", aug.pl.detach().clone().to(torch.float64), persistent=False)
        self.set_delta_box([0.0], [float(self.table.shape[0] - 1)])

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        table = self.table.to(dtype=x.dtype)
        n = table.shape[0]
        t = _col(delta, 0)
        if n == 1:
            gains = table.expand(t.shape[0], 2) + 0 * t[:, None]
        else:
            # floor carries no gradient; the fraction does, so ∂gains/∂t is the row difference.
            i0 = t.detach().floor().clamp(0, n - 2).long()
            frac = (t - i0.to(t.dtype))[:, None]
            gains = torch.lerp(table[i0], table[i0 + 1], frac)
        r = x[:, 0] * gains[:, 0, None, None]
        b = x[:, 2] * gains[:, 1, None, None]
        return torch.stack([r, x[:, 1], b], dim=1).clamp(0, 1)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        return _as_rows([params["idx"]])


class KorniaGaussianNoise(KorniaNuisance):
    r"""``RandomGaussianNoise``: δ = the standardised noise image, flattened, ``q = C·H·W``.

    ``G(x, δ) = clamp(x + mean + std · δ, 0, 1)``, with δ ~ N(0, I) (prior ``"normal"``; Δ is
    unbounded), which is exactly kornia's noise distribution. Per-pixel noise has one coordinate
    per pixel, so the image shape is fixed at construction (``from_kornia(aug, image_shape=(C, H,
    W))``) and other shapes are refused. kornia does not clip its output; the contract keeps
    values in [0, 1], so this model clips (the only difference from kornia's output). Identity:
    ``δ = -mean / std`` everywhere.
    """

    prior = "normal"

    def __init__(self, aug: Any, image_shape: Sequence[int] | None) -> None:
        super().__init__(aug)
        if image_shape is None or len(tuple(image_shape)) != 3:
            raise ValueError(
                "RandomGaussianNoise draws one value per pixel, so δ has C·H·W coordinates: pass the image "
                f"shape, from_kornia(aug, image_shape=(C, H, W)); got image_shape={image_shape!r}."
            )
        self.image_shape = tuple(int(s) for s in image_shape)
        g = aug._param_generator
        self.mean, self.std = float(g.mean), float(g.std)
        if self.std <= 0:
            raise UnsupportedAugmentationError(f"RandomGaussianNoise(std={self.std}) has no random part to map to δ.")
        self.delta_dim = math.prod(self.image_shape)
        c, h, w = self.image_shape
        self.delta_names = tuple(f"noise[{i},{j},{k}]" for i in range(c) for j in range(h) for k in range(w))
        self.identity_point = (-self.mean / self.std,) * self.delta_dim

    def check_input(self, x: Tensor) -> None:
        if tuple(x.shape[-3:]) != self.image_shape:
            raise ValueError(
                f"this RandomGaussianNoise model was built for images of shape (C, H, W) = {self.image_shape} "
                f"(δ is one value per pixel), got {tuple(x.shape[-3:])}; build another with "
                f"from_kornia(aug, image_shape={tuple(x.shape[-3:])})."
            )

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        noise = self.mean + self.std * delta.view(x.shape)
        return (x + noise).clamp(0, 1)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        z = (torch.as_tensor(params["gaussian_noise"]).to(torch.float64) - self.mean) / self.std
        b = int(params["forward_input_shape"][0]) if "forward_input_shape" in params else z.shape[0]
        return z.flatten(1).expand(b, -1).to(torch.float32)  # same_on_batch draws one image of noise


# ---------------------------------------------------------------------------- filters
class KorniaGaussianBlur(KorniaNuisance):
    """``RandomGaussianBlur``: δ = ``(sigma,)`` (the same σ along both axes, as kornia draws it);
    ``kernel_size``, ``border_type`` and ``separable`` come from the augmentation. No identity."""

    delta_names = ("sigma",)

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        self.delta_dim = 1
        self.set_delta_box(*zip(_range(aug._param_generator.sigma_sampler, "RandomGaussianBlur.sigma")))

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.filters import gaussian_blur2d

        flags = self.augmentation.flags
        sigma = delta[:, :1].expand(-1, 2)
        return gaussian_blur2d(x, flags["kernel_size"], sigma, flags["border_type"].name.lower(), flags["separable"])

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        return _as_rows([params["sigma"]])


class KorniaMotionBlur(KorniaNuisance):
    """``RandomMotionBlur``: δ = ``(angle_factor, direction_factor)`` (degrees; -1 … 1).

    The kernel size is discrete: it must be a single int (a range is refused). Differentiable in
    δ only with ``resample="bilinear"``: kornia's default ``"nearest"`` rotates the line kernel
    by copying taps, which is piecewise constant in the angle (∂/∂angle = 0 almost everywhere),
    so such a model reports ``differentiable = False``. No identity.
    """

    delta_names = ("angle_factor", "direction_factor")

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        ks = aug._param_generator.kernel_size
        if not isinstance(ks, int):
            raise UnsupportedAugmentationError(
                f"RandomMotionBlur(kernel_size={ks!r}) draws the kernel size, a discrete parameter; from_kornia "
                "supports a fixed kernel size: RandomMotionBlur(kernel_size=5, ...)."
            )
        self.kernel_size = ks
        g = aug._param_generator
        self.delta_dim = 2
        a, d = _range(g.angle_sampler, "angle"), _range(g.direction_sampler, "direction")
        self.set_delta_box([a[0], d[0]], [a[1], d[1]])
        self.mode = aug.flags["resample"].name.lower()
        self.differentiable = self.mode == "bilinear"

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.filters import motion_blur

        border = self.augmentation.flags["border_type"].name.lower()
        return motion_blur(x, self.kernel_size, _col(delta, 0), _col(delta, 1), border, self.mode)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        return _as_rows([params["angle_factor"], params["direction_factor"]])


# ---------------------------------------------------------------------------- geometry
class KorniaAffine(KorniaNuisance):
    """``RandomAffine``: δ = ``(angle, [translate_x, translate_y], [scale | scale_x, scale_y],
    [shear_x, shear_y])``, the bracketed groups present when the augmentation has that range.

    Angle and shears are in degrees; translations are fractions of the width and height (kornia
    multiplies its draw by the image size, so δ does not depend on it); scale is one factor for
    both axes when ``scale`` has 2 numbers, two when it has 4. Resampling, padding, fill value and
    ``align_corners`` come from the augmentation.
    """

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        g = aug._param_generator
        names, bounds = ["angle"], [_range(g.degree_sampler, "degrees")]
        self.has_translate = g.translate_x_sampler is not None
        self.scale_mode = 0 if g.scale_2_sampler is None else (2 if g.scale_4_sampler is not None else 1)
        self.has_shear = g.shear_x_sampler is not None
        if self.has_translate:
            names += ["translate_x", "translate_y"]
            bounds += [_range(g.translate_x_sampler, "translate"), _range(g.translate_y_sampler, "translate")]
        if self.scale_mode == 1:
            names += ["scale"]
            bounds += [_range(g.scale_2_sampler, "scale")]
        elif self.scale_mode == 2:
            names += ["scale_x", "scale_y"]
            bounds += [_range(g.scale_2_sampler, "scale"), _range(g.scale_4_sampler, "scale")]
        if self.has_shear:
            names += ["shear_x", "shear_y"]
            bounds += [_range(g.shear_x_sampler, "shear"), _range(g.shear_y_sampler, "shear")]
        ident = {"angle": 0.0, "translate_x": 0.0, "translate_y": 0.0, "scale": 1.0, "scale_x": 1.0,
                 "scale_y": 1.0, "shear_x": 0.0, "shear_y": 0.0}
        self.delta_dim = len(names)
        self.delta_names = tuple(names)
        self.set_delta_box([b[0] for b in bounds], [b[1] for b in bounds])
        self.identity_point = tuple(ident[n] for n in names)
        self.differentiable = _warp_differentiable(aug)

    def _columns(self, delta: Tensor) -> dict[str, Tensor]:
        return {n: delta[:, i] for i, n in enumerate(self.delta_names)}

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.geometry.transform import get_affine_matrix2d, warp_affine

        b, _, h, w = x.shape
        d = self._columns(delta)
        zero = torch.zeros_like(d["angle"])
        if self.has_translate:
            translations = torch.stack([d["translate_x"] * w, d["translate_y"] * h], dim=-1)
        else:
            translations = torch.stack([zero, zero], dim=-1)
        if self.scale_mode == 1:
            scale = torch.stack([d["scale"], d["scale"]], dim=-1)
        elif self.scale_mode == 2:
            scale = torch.stack([d["scale_x"], d["scale_y"]], dim=-1)
        else:
            scale = torch.stack([zero + 1, zero + 1], dim=-1)
        sx = d["shear_x"] if self.has_shear else zero
        sy = d["shear_y"] if self.has_shear else zero
        center = x.new_tensor([w / 2 - 0.5, h / 2 - 0.5]).expand(b, 2)
        deg = math.pi / 180.0
        m = get_affine_matrix2d(translations, center, scale, d["angle"], sx * deg, sy * deg)
        flags = self.augmentation.flags
        fill = flags["fill_value"]
        fill = None if fill is None else fill.to(device=x.device, dtype=x.dtype)  # kornia keeps it on the CPU
        return warp_affine(x, m[:, :2, :], (h, w), flags["resample"].name.lower(),
                           align_corners=flags["align_corners"], padding_mode=flags["padding_mode"].name.lower(),
                           fill_value=fill)

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        h, w = (int(s) for s in params["forward_input_shape"][-2:])
        cols = [params["angle"]]
        if self.has_translate:
            cols += [params["translations"][:, 0] / w, params["translations"][:, 1] / h]
        if self.scale_mode == 1:
            cols += [params["scale"][:, 0]]
        elif self.scale_mode == 2:
            cols += [params["scale"][:, 0], params["scale"][:, 1]]
        if self.has_shear:
            cols += [params["shear_x"], params["shear_y"]]
        return _as_rows(cols)


_CORNERS = ("top_left", "top_right", "bottom_right", "bottom_left")
# kornia's "basic" sampling moves each corner inwards by factor · u: signs per corner (x, y).
_INWARD = ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0))


class KorniaPerspective(KorniaNuisance):
    """``RandomPerspective``: δ = the 8 uniform draws that move the 4 corners, in [0, 1]^8.

    Layout ``(top_left_x, top_left_y, top_right_x, …, bottom_left_y)``. A corner moves by
    ``distortion_scale · size / 2 · u`` inwards (``sampling_method="basic"``; identity u = 0) or
    by ``distortion_scale · size · (u − 0.5)`` either way (``"area_preserving"``; identity
    u = 0.5), so δ does not depend on the image size.
    """

    def __init__(self, aug: Any) -> None:
        super().__init__(aug)
        g = aug._param_generator
        self.distortion_scale = float(g._distortion_scale)
        self.method = g.sampling_method
        self.delta_dim = 8
        self.delta_names = tuple(f"{c}_{a}" for c in _CORNERS for a in "xy")
        self.set_delta_box([0.0] * 8, [1.0] * 8)
        self.identity_point = (0.0 if self.method == "basic" else 0.5,) * 8
        self.differentiable = _warp_differentiable(aug)

    def _geometry(self, h: int, w: int, device, dtype) -> tuple[Tensor, Tensor]:
        """Start corners ``(1, 4, 2)`` and the per-axis offset factor ``(1, 1, 2)`` for an image size."""
        # kornia's _source_end_and_extent: a size-1 axis keeps its corner fixed.
        (x_end, x_ext), (y_end, y_ext) = [((1, 0) if s == 1 else (s - 1, s)) for s in (w, h)]
        start = torch.tensor([[[0, 0], [x_end, 0], [x_end, y_end], [0, y_end]]], device=device, dtype=dtype)
        factor = torch.tensor([[[self.distortion_scale * x_ext / 2, self.distortion_scale * y_ext / 2]]],
                              device=device, dtype=dtype)
        return start, factor

    def decode(self, x: Tensor, delta: Tensor) -> Tensor:
        from kornia.geometry.transform import get_perspective_transform, warp_perspective

        b, _, h, w = x.shape
        start, factor = self._geometry(h, w, x.device, x.dtype)
        u = delta.view(b, 4, 2)
        if self.method == "basic":
            offset = factor * u * x.new_tensor(_INWARD)
        else:
            offset = 2 * factor * (u - 0.5)
        start = start.expand(b, 4, 2)
        m = get_perspective_transform(start, start + offset)
        flags = self.augmentation.flags
        return warp_perspective(x, m, (h, w), mode=flags["resample"].name.lower(), align_corners=flags["align_corners"])

    def _rows(self, params: Mapping[str, Tensor]) -> Tensor:
        h, w = (int(s) for s in params["forward_input_shape"][-2:])
        start, factor = self._geometry(h, w, "cpu", torch.float64)
        offset = (params["end_points"].to(torch.float64) - params["start_points"].to(torch.float64))
        if self.method == "basic":
            u = offset / (factor * torch.tensor(_INWARD, dtype=torch.float64))
        else:
            u = offset / (2 * factor) + 0.5
        return u.flatten(1).to(torch.float32)


# ---------------------------------------------------------------------------- the table and the entry point
#: kornia class name -> adapter class. ``from_kornia`` refuses anything else.
_ADAPTERS: dict[str, type] = {
    "ColorJiggle": KorniaColorJiggle,
    "RandomBrightness": KorniaBrightness,
    "RandomContrast": KorniaContrast,
    "RandomGamma": KorniaGamma,
    "RandomHue": KorniaHue,
    "RandomSaturation": KorniaSaturation,
    "RandomAffine": KorniaAffine,
    "RandomRotation": KorniaRotation,
    "RandomPerspective": KorniaPerspective,
    "RandomGaussianBlur": KorniaGaussianBlur,
    "RandomMotionBlur": KorniaMotionBlur,
    "RandomPlanckianJitter": KorniaPlanckianJitter,
    "RandomGaussianNoise": KorniaGaussianNoise,
}
SUPPORTED: tuple = tuple(_ADAPTERS) + ("AugmentationSequential",)

# Why the common unsupported augmentations are refused (the rest get the generic message).
_DISCRETE = {
    "RandomHorizontalFlip": "flip or not is a discrete choice",
    "RandomVerticalFlip": "flip or not is a discrete choice",
    "RandomRotation90": "the number of quarter turns is discrete",
    "RandomGrayscale": "grayscale or not is a discrete choice",
    "RandomChannelShuffle": "a channel permutation is discrete",
    "RandomInvert": "invert or not is a discrete choice",
    "RandomEqualize": "it has no random parameter besides applying or not",
    "RandomPosterize": "the number of bits is discrete",
    "RandomErasing": "the erased rectangle's pixel corners are discrete",
    "RandomCrop": "the crop's pixel offsets are discrete",
    "RandomResizedCrop": "the crop's pixel corners are discrete",
    "RandomChannelDropout": "which channels drop is discrete",
    "RandomSaltAndPepperNoise": "which pixels flip is discrete",
    "RandomJPEG": "the JPEG quality is quantised",
}


def _unsupported(name: str, reason: str | None = None) -> UnsupportedAugmentationError:
    why = reason or _DISCRETE.get(name, "it has discrete random parameters or no mapping to δ yet")
    return UnsupportedAugmentationError(
        f"from_kornia cannot turn {name} into a nuisance model: {why}. Supported: {', '.join(SUPPORTED)}."
    )


class KorniaSequential(Compose):
    """``AugmentationSequential`` of supported augmentations: the composition of their models,
    with δ the concatenation of theirs in the sequence's order (like :class:`Compose`).

    Example:
        >>> import kornia.augmentation as K, nuisance_zoo as nz
        >>> G = nz.from_kornia(K.AugmentationSequential(K.RandomBrightness((0.8, 1.2)), K.RandomRotation(15.0)))
        >>> G.delta_space()["names"]
        ['0.brightness_factor', '1.degrees']
    """

    def __init__(self, models: Sequence[KorniaNuisance], aug: Any) -> None:
        super().__init__(models)
        self.__dict__["augmentation"] = aug

    def delta_from_kornia(self, params: Sequence[Any]) -> Tensor:
        """δ rows reproducing a call of the sequence, from its ``aug._params`` (a list of ``ParamItem``)."""
        items = list(params)
        if len(items) != len(self.models):
            raise ValueError(f"expected {len(self.models)} parameter items (one per augmentation), got {len(items)}.")
        return torch.cat([m.delta_from_kornia(item.data) for m, item in zip(self.models, items)], dim=-1)


def from_kornia(aug: Any, image_shape: Sequence[int] | None = None) -> NuisanceModel:
    """Turn a kornia augmentation into a :class:`~nuisance_zoo.base.NuisanceModel`.

    Its per-sample continuous parameters become δ and their sampling ranges the Δ box (the
    prior is uniform on the box, as kornia samples; Gaussian noise: N(0, I)). ``G(x, δ)`` is
    computed with kornia's functional ops, so it equals the augmentation's output for the same
    parameters and is differentiable in δ wherever the op is (``G.differentiable`` says so).
    The augmentation's ``p`` and ``same_on_batch`` are ignored: δ describes the applied case,
    one row per image.

    Args:
        aug: a kornia augmentation of a supported class (see :data:`SUPPORTED`), or an
            ``AugmentationSequential`` of them (δ concatenated in order).
        image_shape: ``(C, H, W)``; needed only by ``RandomGaussianNoise``, whose δ has one
            coordinate per pixel.

    Returns:
        A nuisance model with ``delta_from_kornia(aug._params)`` and the ``augmentation``.

    Raises:
        UnsupportedAugmentationError: the augmentation has discrete random parameters (a flip, a
            random kernel size, a random subset in ``AugmentationSequential``) or is not supported;
            the message names it and lists what is.

    Example:
        >>> import torch, kornia.augmentation as K, nuisance_zoo as nz
        >>> G = nz.from_kornia(K.RandomAffine(degrees=20.0, translate=(0.1, 0.1), p=0.5))
        >>> G.delta_space()["names"], G.differentiable
        (['angle', 'translate_x', 'translate_y'], True)
        >>> G(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """
    K = _kornia()
    name = type(aug).__name__
    if isinstance(aug, K.AugmentationSequential):
        if aug.random_apply:
            raise _unsupported(name, f"random_apply={aug.random_apply!r} applies a random subset, a discrete choice")
        children = list(aug.children())
        if not children:
            raise ValueError("from_kornia got an empty AugmentationSequential.")
        models = []
        for child in children:
            if isinstance(child, K.container.ImageSequential):
                raise _unsupported(type(child).__name__, "nested containers are not supported; list the "
                                   "augmentations in one AugmentationSequential")
            models.append(from_kornia(child, image_shape=image_shape))
        return KorniaSequential(models, aug)
    cls = _ADAPTERS.get(name)
    if cls is None or not isinstance(aug, getattr(K, name, ())):
        raise _unsupported(name)
    if cls is KorniaGaussianNoise:
        return cls(aug, image_shape)
    return cls(aug)
