"""The learned model of natural variation: a MUNIT-style generator ``G(x, δ) = Dec_B(Enc_A^c(x), δ)``.

Section 4.3 and Appendix E of Robey et al. (2020) learn ``G`` with MUNIT (Huang et al., 2018):
a content encoder keeps what an image shows, a decoder re-renders it with a *style* code that
carries the nuisance, and the style code plays the role of δ with prior N(0, I) (the paper uses
a 2-dimensional style). This module holds the inference half:

- :class:`ContentEncoder`: first convolution, stride-2 down-samplings, residual blocks, all
  with instance norm.
- :class:`StyleMLP`: δ → the AdaIN parameters of every decoder residual block.
- :class:`Decoder`: AdaIN residual blocks, ×2 nearest up-sampling + convolution + layer norm,
  last convolution and tanh.
- :class:`MunitGenerator`: the :class:`~nuisance_zoo.base.NuisanceModel` tying them together
  (``encode`` = content encoder, ``decode`` = MLP + decoder), and
- :class:`StyleEncoder`, needed only to train (style reconstruction and autoencoding).

With the ``"paper"`` configuration these layers are exactly MUNIT's ``AdaINGen``, so the
authors' checkpoints import (:mod:`nuisance_zoo.learned.munit_import`); the ``"small"``
configuration is the zoo's CPU-friendly variant.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..base import NuisanceModel
from ..catalogue import register_architecture
from .blocks import AdaINResBlock, ConvBlock, ResBlock, UpBlock, make_activation
from .config import GeneratorConfig
from .pretrained import PretrainedMixin

__all__ = ["MunitGenerator", "ContentEncoder", "StyleEncoder", "StyleMLP", "Decoder", "resolve_generator_config"]


def resolve_generator_config(config: "GeneratorConfig | dict | str | Path | None", overrides: dict) -> GeneratorConfig:
    """A :class:`GeneratorConfig` from a preset name, a JSON/YAML path, a dict or a config."""
    if config is None:
        return GeneratorConfig.preset("paper", **overrides)
    if isinstance(config, GeneratorConfig):
        return replace(config, **overrides) if overrides else config
    if isinstance(config, dict):
        return GeneratorConfig.from_dict({**config, **overrides})
    if isinstance(config, (str, Path)):
        if str(config) in ("small", "paper"):
            return GeneratorConfig.preset(str(config), **overrides)
        cfg = GeneratorConfig.from_file(config)
        return replace(cfg, **overrides) if overrides else cfg
    raise TypeError(f"config must be 'small', 'paper', a JSON/YAML path, a dict or a GeneratorConfig; got {type(config).__name__}.")


class ContentEncoder(nn.Module):
    """Image (internal range) → content code ``(B, dim·2^n_downsample, H/2^n, W/2^n)``."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        kw = dict(activ=cfg.activ, pad_type=cfg.pad_type)
        # The first layer sees 1-3 channels: a separable convolution would save nothing there.
        self.stem = ConvBlock(cfg.in_channels, cfg.dim, cfg.stem_kernel, 1, cfg.stem_kernel // 2, norm="in", **kw)
        ch = cfg.dim
        down = []
        for _ in range(cfg.n_downsample):
            down.append(ConvBlock(ch, 2 * ch, cfg.down_kernel, 2, 1, norm="in", separable=cfg.separable, **kw))
            ch *= 2
        self.down = nn.ModuleList(down)
        self.res = nn.ModuleList(ResBlock(ch, "in", separable=cfg.separable, **kw) for _ in range(cfg.n_res))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for m in self.down:
            x = m(x)
        for m in self.res:
            x = m(x)
        return x


class StyleEncoder(nn.Module):
    """Image (internal range) → style code ``(B, style_dim)``; used only for training.

    The first two down-samplings double the width, later ones keep it; global average pooling
    and a 1×1 convolution follow (no normalisation, as in MUNIT).
    """

    def __init__(self, cfg: GeneratorConfig, in_channels: int | None = None) -> None:
        super().__init__()
        kw = dict(norm="none", activ=cfg.activ, pad_type=cfg.pad_type)
        ch = cfg.style_channels
        self.stem = ConvBlock(in_channels or cfg.in_channels, ch, cfg.stem_kernel, 1, cfg.stem_kernel // 2, **kw)
        down = []
        for i in range(cfg.style_n_downsample):
            cout = 2 * ch if i < 2 else ch
            down.append(ConvBlock(ch, cout, cfg.down_kernel, 2, 1, separable=cfg.separable, **kw))
            ch = cout
        self.down = nn.ModuleList(down)
        self.head = nn.Conv2d(ch, cfg.style_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for m in self.down:
            x = m(x)
        return self.head(x.mean(dim=(2, 3), keepdim=True)).flatten(1)


class StyleMLP(nn.Module):
    """δ ``(B, style_dim)`` → AdaIN parameters ``(B, n_params)`` (``n_layers`` linear layers)."""

    def __init__(self, style_dim: int, hidden: int, n_params: int, n_layers: int, activ: str) -> None:
        super().__init__()
        dims = [style_dim] + [hidden] * (n_layers - 1) + [n_params]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = make_activation(activ)

    def forward(self, s: Tensor) -> Tensor:
        h = s.flatten(1)  # reshape(B, -1) fails for B = 0
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return h


class Decoder(nn.Module):
    """Content code + AdaIN parameters → pre-tanh image ``(B, out_channels, H, W)``.

    ``adain_params`` holds, block after block, ``[beta1, gamma1, beta2, gamma2]`` of each
    residual block (``4 * content_channels`` numbers per block): MUNIT's layout.
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        ch = cfg.content_channels
        self.block_params = 4 * ch
        self.res = nn.ModuleList(
            AdaINResBlock(ch, cfg.activ, cfg.pad_type, separable=cfg.separable) for _ in range(cfg.n_res)
        )
        up = []
        for _ in range(cfg.n_downsample):
            up.append(UpBlock(ch, ch // 2, cfg.up_kernel, norm="ln", activ=cfg.activ, pad_type=cfg.pad_type,
                              separable=cfg.separable))
            ch //= 2
        self.up = nn.ModuleList(up)
        self.out = ConvBlock(ch, cfg.n_out, cfg.out_kernel, 1, cfg.out_kernel // 2, norm="none", activ="none",
                             pad_type=cfg.pad_type, separable=cfg.separable)

    @property
    def num_adain_params(self) -> int:
        """Length of the AdaIN parameter vector the decoder needs per sample."""
        return self.block_params * len(self.res)

    def forward(self, c: Tensor, adain_params: Tensor) -> Tensor:
        h = c
        for i, blk in enumerate(self.res):
            h = blk(h, adain_params[:, i * self.block_params:(i + 1) * self.block_params])
        for m in self.up:
            h = m(h)
        return self.out(h)


@register_architecture("munit-generator")
class MunitGenerator(PretrainedMixin, NuisanceModel):
    r"""A learned model of natural variation ``G(x, δ) = Dec_B(Enc_A^c(x), δ)`` (MUNIT-style).

    ``encode`` computes the content code of ``x`` once; ``decode`` renders it with one δ per
    row through an MLP that emits the AdaIN parameters of the decoder. The prior on δ is
    N(0, I) and ``G`` is differentiable in δ (MAT can ascend on it). ``decode`` keeps no state
    between calls: a batch may carry a different δ for every row.

    Args:
        config: ``"small"``, ``"paper"`` (default), a JSON/YAML path, a dict of fields or a
            :class:`~nuisance_zoo.learned.config.GeneratorConfig`.
        **overrides: config fields to change, e.g. ``style_dim=3`` or ``in_channels=1``.

    Shape:
        - x: :math:`(B, C_{in}, H, W)` in [0, 1], H and W divisible by ``2 ** n_downsample``.
        - delta: :math:`(B, \text{style\_dim})`.
        - output: :math:`(B, C_{out}, H, W)` in [0, 1].

    Example:
        >>> import torch
        >>> from nuisance_zoo.learned.generator import MunitGenerator
        >>> G = MunitGenerator("small").eval()
        >>> x = torch.rand(4, 3, 32, 32)
        >>> G(x).shape
        torch.Size([4, 3, 32, 32])
        >>> imgs, delta = G.forward_multi(x, k=5)     # one encode, one batched decode
        >>> imgs.shape, delta.shape
        (torch.Size([5, 4, 3, 32, 32]), torch.Size([5, 4, 2]))
    """

    architecture = "munit-generator"
    prior = "normal"
    kind = "learned"
    differentiable = True
    gray_policy = "fixed: the generator reads in_channels and writes out_channels channels"

    def __init__(self, config: "GeneratorConfig | dict | str | Path | None" = None, **overrides: Any) -> None:
        cfg = resolve_generator_config(config, overrides)
        super().__init__()
        self.cfg = cfg
        self.delta_dim = cfg.style_dim
        self.delta_names = tuple(f"style{i}" for i in range(cfg.style_dim))
        self.content = ContentEncoder(cfg)
        self.decoder = Decoder(cfg)
        self.mlp = StyleMLP(cfg.style_dim, cfg.mlp_dim, self.decoder.num_adain_params, cfg.n_mlp, cfg.activ)

    # ------------------------------------------------------------------ configuration
    def config(self) -> dict:
        """JSON-serialisable keyword arguments: ``MunitGenerator(**G.config())`` rebuilds ``G``."""
        return self.cfg.to_dict()

    @classmethod
    def combine(cls, encoder_side: "MunitGenerator", decoder_side: "MunitGenerator") -> "MunitGenerator":
        """The cross-domain generator: content encoder of one, MLP and decoder of the other.

        ``combine(gen_a, gen_b)`` is MUNIT's A→B translation ``Dec_B(Enc_A^c(x), δ)``.
        """
        a, b = encoder_side.cfg, decoder_side.cfg
        strip = dict(in_channels=1, out_channels=1, image_size=None)
        if replace(a, **strip) != replace(b, **strip):
            raise ValueError(f"cannot combine generators with different architectures: {a} vs {b}.")
        g = cls(replace(a, out_channels=b.n_out))
        g.content.load_state_dict(encoder_side.content.state_dict())
        g.mlp.load_state_dict(decoder_side.mlp.state_dict())
        g.decoder.load_state_dict(decoder_side.decoder.state_dict())
        p = next(encoder_side.parameters())
        return g.to(device=p.device, dtype=p.dtype)

    # ------------------------------------------------------------------ [0, 1] <-> internal range
    def to_internal(self, x: Tensor) -> Tensor:
        """[0, 1] images → the range the encoders were trained on."""
        return x * 2.0 - 1.0 if self.cfg.io == "symmetric" else x

    def from_internal(self, y: Tensor) -> Tensor:
        """tanh output → [0, 1] images."""
        return y * 0.5 + 0.5 if self.cfg.io == "symmetric" else y.clamp(0.0, 1.0)

    def encode_internal(self, x: Tensor) -> Tensor:
        """Content code of an image already in the internal range (training uses this)."""
        return self.content(x)

    def decode_internal(self, content: Tensor, style: Tensor) -> Tensor:
        """tanh image in the internal range from a content code and style rows (training)."""
        return torch.tanh(self.decoder(content, self.mlp(style)))

    # ------------------------------------------------------------------ the contract
    def _param_dtype(self) -> torch.dtype:
        return self.content.stem.conv.weight.dtype

    def encode(self, x: Tensor) -> Tensor:
        """Content code of ``x`` (float in [0, 1], shape ``(B, in_channels, H, W)``)."""
        if x.ndim != 4 or x.shape[1] != self.cfg.in_channels:
            hint = " Gray to RGB: x.expand(-1, 3, -1, -1); RGB to gray: x.mean(1, keepdim=True)." if x.ndim == 4 else ""
            raise ValueError(
                f"this generator reads {self.cfg.in_channels}-channel images (B, {self.cfg.in_channels}, H, W); "
                f"got shape {tuple(x.shape)}.{hint}"
            )
        step = 2 ** self.cfg.n_downsample
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(
                f"image height and width must be divisible by 2**n_downsample = {step}; got "
                f"{tuple(x.shape[-2:])}. Pad or resize, e.g. F.pad(x, (2, 2, 2, 2)) for 28×28 MNIST."
            )
        return self.encode_internal(self.to_internal(x.to(self._param_dtype())))

    def decode(self, content: Tensor, delta: Tensor) -> Tensor:
        """Render content codes with one δ row each; returns ``delta``'s dtype, values in [0, 1]."""
        if delta.ndim != 2 or delta.shape != (content.shape[0], self.delta_dim):
            raise ValueError(
                f"delta must have shape (B, style_dim) = ({content.shape[0]}, {self.delta_dim}); got {tuple(delta.shape)}."
            )
        dt = self._param_dtype()
        y = self.decode_internal(content.to(dt), delta.to(dt))
        return self.from_internal(y).to(delta.dtype)

    def extra_repr(self) -> str:
        c = self.cfg
        return (f"delta_dim={self.delta_dim}, prior='normal', dim={c.dim}, n_downsample={c.n_downsample}, "
                f"n_res={c.n_res}, separable={c.separable}, io={c.io!r}")
