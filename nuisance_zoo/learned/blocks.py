"""Building blocks of the MUNIT-style generator: convolutions, normalisations, AdaIN.

Written from the MUNIT paper's description (Huang et al., ECCV 2018, Appendix B.2): convolution
blocks "pad → conv → norm → activation", residual blocks of two 3×3 blocks, instance norm in
the content encoder, adaptive instance norm (AdaIN) in the decoder's residual blocks, a
per-sample layer norm after each up-sampling convolution.

AdaIN is *functional* here: its affine parameters are an argument, never module state, so a
decoder call depends only on its inputs (the reference implementation assigns them to module
attributes before each call, which breaks re-entrancy and batching of several δ).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS", "PAD_TYPES", "make_activation", "adain", "MunitLayerNorm", "SeparableConv2d",
    "ConvBlock", "ResBlock", "AdaINResBlock", "UpBlock", "upsample2x",
]

ACTIVATIONS = ("relu", "lrelu", "selu", "tanh", "none")
PAD_TYPES = ("reflect", "replicate", "zero")
_EPS = 1e-5


def make_activation(name: str) -> nn.Module:
    """The activation called ``name`` (MUNIT's names; ``lrelu`` has slope 0.2)."""
    if name == "relu":
        return nn.ReLU()
    if name == "lrelu":
        return nn.LeakyReLU(0.2)
    if name == "selu":
        return nn.SELU()
    if name == "tanh":
        return nn.Tanh()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}.")


def adain(x: Tensor, beta: Tensor, gamma: Tensor, eps: float = _EPS) -> Tensor:
    r"""Adaptive instance normalisation with per-sample affine parameters.

    ``gamma * (x - mean) / sqrt(var + eps) + beta`` where mean and (biased) variance are taken
    over each sample's and channel's spatial positions.

    Shape:
        - x: :math:`(B, C, H, W)`
        - beta, gamma: :math:`(B, C)`
        - output: :math:`(B, C, H, W)`
    """
    h = F.instance_norm(x, eps=eps)
    return torch.addcmul(beta[:, :, None, None], h, gamma[:, :, None, None])


class MunitLayerNorm(nn.Module):
    r"""MUNIT's layer norm: one mean and one *unbiased* std per sample, per-channel affine.

    ``(x - mean) / (std + eps) * gamma + beta``; statistics over (C, H, W) of each sample. It
    differs from :class:`torch.nn.LayerNorm` (std not variance, eps outside the root,
    per-channel affine), and imported checkpoints need exactly this.

    Shape:
        - input/output: :math:`(B, C, H, W)`
    """

    def __init__(self, num_features: int, eps: float = _EPS) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        var, mean = torch.var_mean(x.flatten(1), dim=1, correction=1)  # flatten: reshape(0, -1) fails for B = 0
        inv = 1.0 / (var.sqrt() + self.eps)
        # Fold normalisation and affine into one scale and shift: one pass over x instead of three.
        scale = inv.view(-1, 1, 1, 1) * self.gamma.view(1, -1, 1, 1)
        shift = self.beta.view(1, -1, 1, 1) - mean.view(-1, 1, 1, 1) * scale
        return torch.addcmul(shift, x, scale)


class SeparableConv2d(nn.Module):
    """Depthwise k×k convolution followed by a pointwise 1×1 convolution (cheaper on CPU)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, kernel_size, stride, padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def upsample2x(x: Tensor) -> Tensor:
    """×2 nearest-neighbour up-sampling (equal to ``F.interpolate(x, scale_factor=2)``, faster on CPU)."""
    b, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)


class ConvBlock(nn.Module):
    """``pad → conv → norm → activation``.

    Args:
        cin, cout: channels in and out.
        kernel_size, stride, padding: of the convolution.
        norm: ``"none"``, ``"in"`` (instance norm, no affine) or ``"ln"`` (:class:`MunitLayerNorm`).
        activ: one of :data:`ACTIVATIONS`.
        pad_type: ``"reflect"``, ``"replicate"`` or ``"zero"`` (zero padding is done by the
            convolution itself, which is faster than a separate pad).
        separable: use :class:`SeparableConv2d` instead of a dense convolution.
        depthwise: a depthwise convolution alone (``cin == cout``; used by :class:`UpBlock`).
    """

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 norm: str = "none", activ: str = "relu", pad_type: str = "zero",
                 separable: bool = False, depthwise: bool = False) -> None:
        super().__init__()
        if pad_type not in PAD_TYPES:
            raise ValueError(f"unknown pad_type {pad_type!r}; choose one of {PAD_TYPES}.")
        self.pad_mode = {"reflect": "reflect", "replicate": "replicate"}.get(pad_type)
        self.padding = padding
        conv_pad = padding if self.pad_mode is None else 0
        if depthwise:
            if cin != cout:
                raise ValueError(f"a depthwise convolution keeps the channels; got {cin} -> {cout}.")
            self.conv = nn.Conv2d(cin, cout, kernel_size, stride, conv_pad, groups=cin)
        elif separable and cin > 1:
            self.conv = SeparableConv2d(cin, cout, kernel_size, stride, conv_pad)
        else:
            self.conv = nn.Conv2d(cin, cout, kernel_size, stride, conv_pad)
        if norm == "ln":
            self.norm = MunitLayerNorm(cout)
        elif norm == "in":
            self.norm = nn.InstanceNorm2d(cout, affine=False, eps=_EPS)
        elif norm == "none":
            self.norm = nn.Identity()
        else:
            raise ValueError(f"unknown norm {norm!r}; choose 'none', 'in' or 'ln'.")
        self.act = make_activation(activ)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad_mode is not None and self.padding:
            x = F.pad(x, [self.padding] * 4, mode=self.pad_mode)
        return self.act(self.norm(self.conv(x)))


class ResBlock(nn.Module):
    """``x + block2(block1(x))`` with two 3×3 :class:`ConvBlock` (no activation after the second)."""

    def __init__(self, dim: int, norm: str, activ: str, pad_type: str, separable: bool = False) -> None:
        super().__init__()
        self.conv1 = ConvBlock(dim, dim, 3, 1, 1, norm=norm, activ=activ, pad_type=pad_type, separable=separable)
        self.conv2 = ConvBlock(dim, dim, 3, 1, 1, norm=norm, activ="none", pad_type=pad_type, separable=separable)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.conv1(x))


class AdaINResBlock(nn.Module):
    """A residual block whose two normalisations are AdaIN with parameters given per call.

    ``forward(x, p)`` takes ``p`` of shape ``(B, 4 * dim)`` laid out as
    ``[beta1, gamma1, beta2, gamma2]`` (each ``dim`` wide), the order MUNIT's MLP emits them.
    """

    def __init__(self, dim: int, activ: str, pad_type: str, separable: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.conv1 = ConvBlock(dim, dim, 3, 1, 1, norm="none", activ="none", pad_type=pad_type, separable=separable)
        self.conv2 = ConvBlock(dim, dim, 3, 1, 1, norm="none", activ="none", pad_type=pad_type, separable=separable)
        self.act = make_activation(activ)

    def forward(self, x: Tensor, p: Tensor) -> Tensor:
        b1, g1, b2, g2 = torch.split(p, self.dim, dim=1)
        h = self.act(adain(self.conv1(x), b1, g1))
        return x + adain(self.conv2(h), b2, g2)


class UpBlock(nn.Module):
    """×2 nearest up-sampling, then ``pad → conv → norm → activation``.

    With ``separable=True`` the 1×1 (pointwise) half runs *before* the up-sampling: a 1×1
    convolution commutes with nearest up-sampling, so this is the same function class at a
    quarter of the pointwise cost, and the up-sampling copies ``cout`` instead of ``cin`` channels.
    """

    def __init__(self, cin: int, cout: int, kernel_size: int, norm: str, activ: str, pad_type: str,
                 separable: bool = False) -> None:
        super().__init__()
        self.separable = separable
        if separable:
            self.pointwise = nn.Conv2d(cin, cout, 1)
            self.block = ConvBlock(cout, cout, kernel_size, 1, kernel_size // 2, norm=norm, activ=activ,
                                   pad_type=pad_type, depthwise=True)
        else:
            self.block = ConvBlock(cin, cout, kernel_size, 1, kernel_size // 2, norm=norm, activ=activ,
                                   pad_type=pad_type)

    def forward(self, x: Tensor) -> Tensor:
        if self.separable:
            x = self.pointwise(x)
        return self.block(upsample2x(x))
