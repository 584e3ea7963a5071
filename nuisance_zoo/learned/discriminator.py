"""Multi-scale LSGAN patch discriminator used to train the generator (MUNIT, Appendix E).

One small convolutional net per scale; the image is average-pooled by two between scales.
Each net outputs a map of real/fake scores; the least-squares GAN loss pushes real maps to 1
and fake maps to 0 (the generator pushes its fakes to 1).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import ConvBlock
from .config import DiscriminatorConfig

__all__ = ["MultiScaleDiscriminator"]


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` patch discriminators of ``n_layer`` stride-2 4×4 convolutions each.

    Shape:
        - input: :math:`(B, C, H, W)` in the generator's internal range.
        - output: a list of ``num_scales`` score maps :math:`(B, 1, h_i, w_i)`.
    """

    def __init__(self, in_channels: int, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.nets = nn.ModuleList(self._make_net(in_channels) for _ in range(cfg.num_scales))

    def _make_net(self, cin: int) -> nn.Sequential:
        c = self.cfg
        dim = c.dim
        layers = [ConvBlock(cin, dim, 4, 2, 1, norm="none", activ=c.activ, pad_type=c.pad_type)]
        for _ in range(c.n_layer - 1):
            layers.append(ConvBlock(dim, 2 * dim, 4, 2, 1, norm="none", activ=c.activ, pad_type=c.pad_type))
            dim *= 2
        layers.append(nn.Conv2d(dim, 1, 1))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(net(x))
        return outs

    def loss_d(self, fake: Tensor, real: Tensor) -> Tensor:
        """LSGAN discriminator loss: fakes to 0, reals to 1, summed over scales."""
        loss = fake.new_zeros(())
        for f, r in zip(self(fake), self(real)):
            loss = loss + f.pow(2).mean() + (r - 1).pow(2).mean()
        return loss

    def loss_g(self, fake: Tensor) -> Tensor:
        """LSGAN generator loss: fakes to 1, summed over scales."""
        loss = fake.new_zeros(())
        for f in self(fake):
            loss = loss + (f - 1).pow(2).mean()
        return loss
