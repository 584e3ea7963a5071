"""Bad input across the package gets a clear error that names the problem and the fix."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import nuisance_zoo as nz


class ToGray(nz.NuisanceModel):
    """A model whose output has another channel count than its input (like a colour → gray generator)."""

    delta_dim = 1

    def __init__(self):
        super().__init__()
        self.set_delta_box([0.0], [1.0])

    def decode(self, x, delta):
        return x.mean(dim=1, keepdim=True)


def test_nan_delta_is_refused():
    G = nz.load("brightness")
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="NaN or infinite"):
        G(x, torch.tensor([[0.0], [float("nan")]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        G.forward_multi(x, delta=torch.full((2, 2, 1), float("inf")))


@pytest.mark.parametrize("y,match", [(torch.rand(4), "class indices"), (torch.zeros(4, 1, dtype=torch.long), "class indices"),
                                     (torch.zeros(3, dtype=torch.long), "one target per image")])
def test_wrapper_labels_of_the_wrong_kind(y, match):
    W = nz.MDAWrapper(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10)), nz.load("brightness"), k=2)
    with pytest.raises(ValueError, match=match):
        W(torch.rand(4, 3, 8, 8), y)


def test_wrapper_accepts_soft_labels_and_custom_targets():
    f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    W = nz.MDAWrapper(f, nz.load("brightness"), k=2)
    soft = torch.softmax(torch.randn(4, 10), dim=1)
    assert W(torch.rand(4, 3, 8, 8), soft).ndim == 0
    mse = nz.MDAWrapper(f, nz.load("brightness"), k=2, criterion=nn.MSELoss())
    assert mse(torch.rand(4, 3, 8, 8), torch.rand(4, 10)).ndim == 0


def test_wrapper_g_on_another_device_and_g_changing_channels():
    f = nn.Sequential(nn.Flatten(), nn.LazyLinear(10))
    W = nz.MDAWrapper(f, nz.load("brightness").to("meta"), k=2)
    with pytest.raises(ValueError, match=r"nuisance model is on meta but the batch is on cpu.*wrapper.to"):
        W(torch.rand(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))
    W = nz.MDAWrapper(f, ToGray(), k=2)
    with pytest.raises(ValueError, match=r"turns \(3, 4, 4\) images into \(1, 4, 4\)"):
        W(torch.rand(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))


def test_fit_refuses_zero_iterations_and_mismatched_domains():
    a = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        nz.fit(a, a, config="small", iterations=0, progress=False)
    with pytest.raises(ValueError, match=r"\(3, 32, 32\) and domain_b images \(1, 32, 32\).*channels="):
        nz.fit(a, a[:, :1], config="small", iterations=1, progress=False)
    with pytest.raises(ValueError, match=r"size=H"):
        nz.fit(a, torch.randint(0, 255, (4, 3, 64, 64), dtype=torch.uint8), config="small", iterations=1, progress=False)
