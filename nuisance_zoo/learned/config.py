"""Configurations of the learned generator and of its trainer, with presets and file loading.

Two presets:

- ``"paper"``: the architecture and hyper-parameters the paper's authors used for MNIST-sized
  images (MUNIT's generator with dim 64, mlp_dim 256, style_dim 2, one down-sampling, one
  residual block; a 3-scale, 3-layer LSGAN discriminator; Adam lr 1e-4, betas (0.5, 0.999),
  weight decay 1e-4, batch 1; Table 12's loss weights λx = 10, λc = 1, λs = 1, GAN 1; 10,000
  iterations; step decay ×0.5).
- ``"small"``: the zoo's CPU-friendly generator (narrow, zero padding, small kernels, separable
  convolutions), about an order of magnitude cheaper, trained with mini-batches.
- ``"small-keep"``: ``"small"`` plus the terms that keep content and label
  (:mod:`nuisance_zoo.learned.fit_terms`: label consistency, edge structure, diversity) and the
  quality monitor (:mod:`nuisance_zoo.learned.fit_monitor`) every 250 iterations. The label term
  and the monitor need a frozen classifier trained on domain A (``fit(..., classifier=...)``).

Files (JSON or YAML) hold the same fields; a top-level ``"preset"`` names the base they
override (default ``"paper"``). MUNIT's own YAML spelling is accepted too (``beta1``, ``beta2``,
``step_size``, ``gamma``, ``max_iter``; MUNIT's logging and data keys are ignored), so an
authors' ``config.yaml`` loads as is.

Example:
    >>> from nuisance_zoo.learned.config import FitConfig, GeneratorConfig
    >>> FitConfig.preset("paper").gen.dim
    64
    >>> GeneratorConfig.preset("small", style_dim=3).style_dim
    3
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .blocks import ACTIVATIONS, PAD_TYPES
from .fit_monitor import MonitorSettings, check_monitor_fields

__all__ = ["GeneratorConfig", "DiscriminatorConfig", "FitConfig", "PRESETS", "load_config_file"]

PRESETS = ("small", "paper", "small-keep")

# MUNIT YAML keys that describe logging, data or features the zoo does not use.
_MUNIT_IGNORED = {
    "image_save_iter", "image_display_iter", "display_size", "snapshot_save_iter", "log_iter",
    "num_workers", "new_size", "crop_image_height", "crop_image_width", "data_root",
    "data_folder_train_a", "data_folder_train_b", "data_folder_test_a", "data_folder_test_b",
    "data_list_train_a", "data_list_train_b", "data_list_test_a", "data_list_test_b",
    "vgg_model_path", "lr_policy", "input_dim_a", "input_dim_b", "dataset", "trainer",
}
_MUNIT_ALIASES = {"step_size": "lr_step", "gamma": "lr_gamma", "max_iter": "iterations"}


def load_config_file(path: str | Path) -> dict:
    """Read a JSON (``.json``) or YAML (anything else) file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {str(path)!r} is neither a preset ('small', 'paper', 'structured') nor an existing "
                                f"JSON/YAML file.")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            # e.msg/lineno/colno name the place without echoing the file (it may hold secrets).
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}).") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            # str(e) quotes the offending lines of the file; name only the problem and its place.
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ValueError(f"{path}: not valid YAML ({problem}{where}). Fix the file, or pass a preset "
                             f"('small', 'paper', 'structured').") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of config fields, got {type(data).__name__}.")
    return data


def _check_fields(cls, data: dict, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; {cls.__name__} has {sorted(known)}.")


@dataclass
class GeneratorConfig:
    """Architecture of the MUNIT-style generator (one domain's encoders and decoder).

    Attributes:
        in_channels: channels of the images the content encoder reads.
        out_channels: channels the decoder writes (None: same as ``in_channels``).
        style_dim: dimension of the style code, i.e. of δ (the paper uses 2).
        dim: channels after the first convolution; doubled by each down-sampling.
        mlp_dim: width of the MLP from δ to the AdaIN parameters.
        n_mlp: number of linear layers of that MLP (MUNIT: 3).
        n_downsample: stride-2 convolutions in the content encoder (= up-samplings in the decoder).
        n_res: residual blocks in the content encoder and (with AdaIN) in the decoder.
        activ: activation (``relu``, ``lrelu``, ``selu``, ``tanh``, ``none``).
        pad_type: ``reflect`` (MUNIT), ``replicate`` or ``zero``.
        separable: depthwise-separable convolutions everywhere but the first layer.
        stem_kernel, down_kernel, up_kernel, out_kernel: kernel sizes of the first convolution,
            the down-sampling ones, the ones after each ×2 nearest up-sampling, and the last.
        io: how [0, 1] images enter and leave. ``"symmetric"``: mapped to [-1, 1] and back
            with ``(tanh + 1) / 2`` (the zoo's training). ``"unit"``: fed as [0, 1] and the tanh
            output clamped to [0, 1] (the authors' checkpoints were trained that way).
        style_n_downsample: down-samplings of the style encoder (training only; MUNIT: 4).
        style_width: channels of the style encoder's first layer (None: ``dim``).
        image_size: ``[H, W]`` of the training images, for the model card only (the
            network is fully convolutional and does not depend on it).
    """

    in_channels: int = 3
    out_channels: int | None = None
    style_dim: int = 2
    dim: int = 64
    mlp_dim: int = 256
    n_mlp: int = 3
    n_downsample: int = 1
    n_res: int = 1
    activ: str = "relu"
    pad_type: str = "reflect"
    separable: bool = False
    stem_kernel: int = 7
    down_kernel: int = 4
    up_kernel: int = 5
    out_kernel: int = 7
    io: str = "symmetric"
    style_n_downsample: int = 4
    style_width: int | None = None
    image_size: list | None = None

    def __post_init__(self) -> None:
        if self.image_size is not None:
            size = [self.image_size] * 2 if isinstance(self.image_size, int) else list(self.image_size)
            self.image_size = [int(v) for v in size]
        for name in ("in_channels", "out_channels", "style_dim", "dim", "mlp_dim", "style_width"):
            v = getattr(self, name)
            if v is None and name in ("out_channels", "style_width"):
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"GeneratorConfig.{name} must be a positive int, got {v!r}.")
        for name in ("n_downsample", "n_res", "style_n_downsample"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"GeneratorConfig.{name} must be a non-negative int, got {v!r}.")
        if self.n_mlp < 2:
            raise ValueError(f"GeneratorConfig.n_mlp must be >= 2 (input and output layers), got {self.n_mlp}.")
        for name in ("stem_kernel", "up_kernel", "out_kernel"):
            if getattr(self, name) % 2 != 1:
                raise ValueError(f"GeneratorConfig.{name} must be odd (same-size convolution), got {getattr(self, name)}.")
        if self.down_kernel not in (3, 4):
            raise ValueError(f"GeneratorConfig.down_kernel must be 3 or 4 (halves the size with padding 1), got {self.down_kernel}.")
        if self.activ not in ACTIVATIONS:
            raise ValueError(f"GeneratorConfig.activ must be one of {ACTIVATIONS}, got {self.activ!r}.")
        if self.pad_type not in PAD_TYPES:
            raise ValueError(f"GeneratorConfig.pad_type must be one of {PAD_TYPES}, got {self.pad_type!r}.")
        if self.io not in ("symmetric", "unit"):
            raise ValueError(f"GeneratorConfig.io must be 'symmetric' or 'unit', got {self.io!r}.")

    @property
    def n_out(self) -> int:
        """Channels the decoder writes (``out_channels``, or ``in_channels`` when None)."""
        return self.in_channels if self.out_channels is None else self.out_channels

    @property
    def style_channels(self) -> int:
        """Channels of the style encoder's first layer (``style_width``, or ``dim`` when None)."""
        return self.dim if self.style_width is None else self.style_width

    @property
    def content_channels(self) -> int:
        """Channels of the content code."""
        return self.dim * 2 ** self.n_downsample

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "GeneratorConfig":
        """The ``"small"`` or ``"paper"`` generator, with fields overridden by ``overrides``."""
        if name == "paper":
            base = cls()
        elif name == "small":
            base = cls(dim=16, mlp_dim=64, pad_type="zero", separable=True, stem_kernel=5,
                       up_kernel=3, out_kernel=5, style_n_downsample=2, style_width=16)
        else:
            raise ValueError(f"unknown generator preset {name!r}; choose one of {PRESETS} or give a JSON/YAML file.")
        return replace(base, **overrides) if overrides else base

    @classmethod
    def from_dict(cls, data: dict, where: str = "GeneratorConfig") -> "GeneratorConfig":
        """Build from a dict of fields; ``"preset"`` names the base (default ``"paper"``)."""
        data = dict(data)
        base = data.pop("preset", "paper")
        _check_fields(cls, data, where)
        return cls.preset(base, **data)

    @classmethod
    def from_file(cls, path: str | Path) -> "GeneratorConfig":
        """Load from JSON/YAML: either the fields themselves or a file with a ``gen`` section."""
        data = load_config_file(path)
        if "gen" in data:
            return FitConfig.from_dict(data, where=str(path)).gen
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_munit(cls, gen: dict, input_dim: int = 3, output_dim: int | None = None) -> "GeneratorConfig":
        """The config that reproduces MUNIT's ``AdaINGen`` from its YAML ``gen`` section.

        MUNIT's generator is fixed apart from these keys: 7×7 first conv, 4×4 stride-2
        down-sampling, 5×5 conv after each up-sampling, 7×7 last conv, 3-layer MLP, 4-down
        style encoder. ``io`` is ``"unit"``: the authors fed [0, 1] images to the tanh decoder.
        """
        required = ("dim", "mlp_dim", "style_dim", "n_downsample", "n_res")
        missing = [k for k in required if k not in gen]
        if missing:
            raise ValueError(f"MUNIT 'gen' config lacks {missing}; it has {sorted(gen)}.")
        return cls(in_channels=int(input_dim), out_channels=int(output_dim or input_dim),
                   style_dim=int(gen["style_dim"]), dim=int(gen["dim"]), mlp_dim=int(gen["mlp_dim"]),
                   n_mlp=int(gen.get("n_mlp", 3)), n_downsample=int(gen["n_downsample"]),
                   n_res=int(gen["n_res"]), activ=str(gen.get("activ", "relu")),
                   pad_type=str(gen.get("pad_type", "zero")), separable=False, stem_kernel=7,
                   down_kernel=4, up_kernel=5, out_kernel=7, io="unit", style_n_downsample=4,
                   style_width=int(gen["dim"]))

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of all fields (``GeneratorConfig(**d)`` rebuilds it)."""
        return asdict(self)


@dataclass
class DiscriminatorConfig:
    """Multi-scale patch discriminator (one per domain).

    Attributes:
        dim: channels of the first layer; doubled by each further layer.
        n_layer: stride-2 4×4 convolutions per scale.
        num_scales: scales (the image, then average-pooled by 2 each time).
        activ: activation (``lrelu`` in MUNIT).
        pad_type: padding of the convolutions.
        gan_type: ``"lsgan"`` (MUNIT's default: least squares, targets 0 and 1).
    """

    dim: int = 64
    n_layer: int = 3
    num_scales: int = 3
    activ: str = "lrelu"
    pad_type: str = "reflect"
    gan_type: str = "lsgan"
    norm: str = "none"

    def __post_init__(self) -> None:
        if self.gan_type != "lsgan":
            raise ValueError(f"only gan_type 'lsgan' is implemented, got {self.gan_type!r}.")
        if self.norm != "none":
            raise ValueError(f"only discriminator norm 'none' is implemented (MUNIT's default), got {self.norm!r}.")
        if self.n_layer < 1 or self.num_scales < 1 or self.dim < 1:
            raise ValueError("DiscriminatorConfig: dim, n_layer and num_scales must be >= 1.")
        if self.activ not in ACTIVATIONS or self.pad_type not in PAD_TYPES:
            raise ValueError(f"DiscriminatorConfig: activ must be in {ACTIVATIONS}, pad_type in {PAD_TYPES}.")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "DiscriminatorConfig":
        """The ``"small"`` or ``"paper"`` discriminator."""
        if name == "paper":
            base = cls()
        elif name == "small":
            base = cls(dim=16, n_layer=3, num_scales=2, pad_type="zero")
        else:
            raise ValueError(f"unknown discriminator preset {name!r}; choose one of {PRESETS}.")
        return replace(base, **overrides) if overrides else base


@dataclass
class FitConfig(MonitorSettings):
    """Everything :func:`nuisance_zoo.learned.fit.fit` needs besides the data.

    Loss weights default to Table 12 of the paper (``gan_w`` 1, ``recon_x_w`` λx = 10,
    ``recon_c_w`` λc = 1, ``recon_s_w`` λs = 1); ``recon_x_cyc_w`` is MUNIT's optional
    cycle term (0 in the paper). The learning rate is multiplied by ``lr_gamma`` every
    ``lr_step`` iterations (Table 12's "step" policy; MUNIT's default step is 100,000).

    The terms of :mod:`nuisance_zoo.learned.fit_terms` are off at weight 0 (the default, the
    paper's objective): ``label_w`` (frozen-classifier consistency, ``label_mode`` ``"ce"`` or
    ``"kl"``), ``structure_w`` (normalised-gradient edge consistency), ``diversity_w`` with
    ``diversity_cap`` (mode-seeking hinge). ``monitor_every`` > 0 measures quality every so many
    iterations (:mod:`nuisance_zoo.learned.fit_monitor`) on ``monitor_n`` images of domain A held
    out from training and ``monitor_n`` images of B; ``monitor_kid_w`` and ``monitor_stat_w``
    weigh the distance to B in its score. ``until="plateau"`` stops once ``patience`` checks in a
    row did not raise the best score by more than ``min_delta`` (``iterations`` stays the cap) and
    keeps the best-scoring generator; ``until="iterations"`` runs them all.
    """

    gen: GeneratorConfig = field(default_factory=GeneratorConfig)
    dis: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    lr: float = 1e-4
    betas: tuple = (0.5, 0.999)
    weight_decay: float = 1e-4
    lr_step: int = 100_000
    lr_gamma: float = 0.5
    gan_w: float = 1.0
    recon_x_w: float = 10.0
    recon_c_w: float = 1.0
    recon_s_w: float = 1.0
    recon_x_cyc_w: float = 0.0
    init: str = "kaiming"
    iterations: int = 10_000
    batch_size: int = 1
    grid_every: int = 1000
    checkpoint_every: int = 1000
    label_w: float = 0.0
    label_mode: str = "ce"
    structure_w: float = 0.0
    diversity_w: float = 0.0
    diversity_cap: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.gen, dict):
            self.gen = GeneratorConfig(**self.gen)
        if isinstance(self.dis, dict):
            self.dis = DiscriminatorConfig(**self.dis)
        self.betas = tuple(float(b) for b in self.betas)
        if self.init not in ("kaiming", "xavier", "gaussian", "orthogonal", "default"):
            raise ValueError(f"FitConfig.init must be kaiming, xavier, gaussian, orthogonal or default, got {self.init!r}.")
        if self.batch_size < 1 or self.iterations < 0:
            raise ValueError("FitConfig: batch_size must be >= 1 and iterations >= 0.")
        if self.label_mode not in ("ce", "kl"):
            raise ValueError(f"FitConfig.label_mode must be 'ce' or 'kl', got {self.label_mode!r}.")
        for name in ("label_w", "structure_w", "diversity_w", "diversity_cap"):
            if getattr(self, name) < 0:
                raise ValueError(f"FitConfig.{name} must be >= 0, got {getattr(self, name)}.")
        check_monitor_fields(self, "FitConfig")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "FitConfig":
        """The ``"small"``, ``"small-keep"`` or ``"paper"`` trainer configuration.

        ``"small"`` trains the small generator and discriminator with batch 8, lr 2e-4 and
        5,000 iterations (≈ 11 minutes on two idle CPU cores); ``"paper"`` is Table 12 (batch 1,
        lr 1e-4, 10,000 iterations).
        """
        if name == "paper":
            base = cls(gen=GeneratorConfig.preset("paper"), dis=DiscriminatorConfig.preset("paper"))
        elif name in ("small", "small-keep"):
            base = cls(gen=GeneratorConfig.preset("small"), dis=DiscriminatorConfig.preset("small"),
                       batch_size=8, lr=2e-4, iterations=5000, grid_every=500, checkpoint_every=500)
            if name == "small-keep":
                base = replace(base, label_w=1.0, structure_w=1.0, diversity_w=1.0, monitor_every=250)
        else:
            raise ValueError(f"unknown config {name!r}; choose one of {PRESETS} or give a JSON/YAML file.")
        return replace(base, **overrides) if overrides else base

    @classmethod
    def from_dict(cls, data: dict, where: str = "FitConfig") -> "FitConfig":
        """Build from a dict in the zoo's or MUNIT's spelling (see the module docstring)."""
        data = dict(data)
        base = cls.preset(data.pop("preset", "paper"))
        if "vgg_w" in data:
            if float(data.pop("vgg_w")) > 0:
                raise ValueError(f"{where}: vgg_w > 0 (MUNIT's perceptual loss) is not supported; set it to 0.")
        if "beta1" in data or "beta2" in data:
            data["betas"] = (float(data.pop("beta1", base.betas[0])), float(data.pop("beta2", base.betas[1])))
        for old, new in _MUNIT_ALIASES.items():
            if old in data:
                data[new] = data.pop(old)
        for k in _MUNIT_IGNORED:
            data.pop(k, None)
        gen = data.pop("gen", {}) or {}
        dis = data.pop("dis", {}) or {}
        _check_fields(cls, data, where)
        gen_cfg = replace(base.gen, **_known(GeneratorConfig, gen, f"{where}: gen"))
        dis_cfg = replace(base.dis, **_known(DiscriminatorConfig, dis, f"{where}: dis"))
        return replace(base, gen=gen_cfg, dis=dis_cfg, **data)

    @classmethod
    def load(cls, spec: "str | Path | dict | FitConfig | None", **overrides: Any) -> "FitConfig":
        """A config from a preset name, a JSON/YAML path, a dict, or a FitConfig (None: paper)."""
        if spec is None:
            cfg = cls.preset("paper")
        elif isinstance(spec, FitConfig):
            cfg = spec
        elif isinstance(spec, dict):
            cfg = cls.from_dict(spec)
        elif isinstance(spec, (str, Path)) and str(spec) in PRESETS:
            cfg = cls.preset(str(spec))
        elif isinstance(spec, (str, Path)):
            cfg = cls.from_dict(load_config_file(spec), where=str(spec))
        else:
            raise TypeError(f"config must be 'small', 'paper', a file path, a dict or a FitConfig; got {type(spec).__name__}.")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(cfg, **overrides) if overrides else cfg

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (``FitConfig.from_dict`` rebuilds it)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


def _known(cls, data: dict, where: str) -> dict:
    """``data`` restricted to ``cls``'s fields; MUNIT discriminator/generator extras are dropped."""
    data = dict(data)
    # MUNIT's 'gen' has no channel fields and its 'dis' has nothing we lack; unknown names are
    # typos in a zoo file, so they are errors.
    _check_fields(cls, data, where)
    return data
