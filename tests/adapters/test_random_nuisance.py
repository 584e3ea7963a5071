"""nz.RandomNuisance: a torchvision v2 transform that draws δ per sample, in a 2-worker DataLoader,
with uint8/float/PIL images and pass-through of labels and other tv_tensors."""
from __future__ import annotations

import kornia.augmentation as K
import PIL.Image
import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

import nuisance_zoo as nz


def model() -> nz.NuisanceModel:
    # Brightness and contrast only: any channel count, and every δ changes a mid-grey image.
    return nz.from_kornia(K.ColorJiggle(brightness=0.3, contrast=0.3))


class Samples(Dataset):
    """Eight copies of one image with labels 0..7: any difference between outputs is the transform's."""

    def __init__(self, transform, dtype=torch.uint8) -> None:
        g = torch.Generator().manual_seed(0)
        base = 0.3 + 0.4 * torch.rand(3, 8, 8, generator=g)
        self.image = (base * 255).round().to(torch.uint8) if dtype == torch.uint8 else base
        self.transform = transform

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        return self.transform(tv_tensors.Image(self.image.clone()), i)


def collect(transform, dtype=torch.uint8, workers: int = 2):
    ds = Samples(transform, dtype)
    loader = DataLoader(ds, batch_size=2, num_workers=workers, shuffle=False)
    xs, ys = zip(*loader)
    return ds.image, torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_two_worker_dataloader_draws_per_sample_and_keeps_labels(dtype):
    image, x, y = collect(nz.RandomNuisance(model()), dtype)
    assert x.dtype == dtype and x.shape == (8, 3, 8, 8)
    assert y.tolist() == list(range(8))
    changed = (x.float() - image.float()).flatten(1).abs().amax(1)
    assert (changed > 0).all(), "some samples came back unchanged"
    # Every sample got its own δ, also across the two workers (indices 0-1 and 2-3 differ in worker).
    assert len({tuple(s.flatten().tolist()) for s in x}) == 8
    if dtype == torch.float32:
        assert 0 <= x.min() and x.max() <= 1


def test_seed_makes_the_pipeline_reproducible_and_workers_differ():
    _, a, _ = collect(nz.RandomNuisance(model(), seed=3))
    _, b, _ = collect(nz.RandomNuisance(model(), seed=3))
    _, c, _ = collect(nz.RandomNuisance(model(), seed=4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # Worker 0 serves batch 0 (samples 0-1) and worker 1 batch 1 (samples 2-3): not one shared stream.
    assert not torch.equal(a[0], a[2])


def test_in_process_seed_matches_G_with_the_same_draws():
    G = model()
    t = nz.RandomNuisance(G, seed=5)
    x = torch.rand(3, 8, 8)
    out = t(x)
    d = G.sample_delta(1, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, G(x, d))


def test_labels_and_other_tv_tensors_pass_through_untouched():
    t = nz.RandomNuisance(model())
    img = tv_tensors.Image(torch.rand(3, 8, 8))
    mask = tv_tensors.Mask(torch.zeros(8, 8, dtype=torch.uint8))
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[1, 1, 4, 4]]), format="XYXY", canvas_size=(8, 8))
    label, extra = torch.tensor(3), torch.arange(5.0)
    out = t({"image": img, "mask": mask, "boxes": boxes, "label": label, "extra": extra, "name": "a"})
    assert isinstance(out["image"], tv_tensors.Image) and out["image"].shape == img.shape
    assert not torch.equal(out["image"], img)
    for key in ("mask", "boxes", "label", "extra", "name"):
        assert out[key] is {"mask": mask, "boxes": boxes, "label": label, "extra": extra, "name": "a"}[key]


def test_plain_tensor_batch_gets_one_draw_per_image():
    t = nz.RandomNuisance(model())
    x = torch.full((4, 3, 8, 8), 0.5)
    y = t(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert len({round(v, 6) for v in y[:, 0, 0, 0].tolist()}) == 4


def test_pil_in_pil_out_and_inside_v2_compose():
    pil = PIL.Image.fromarray((torch.rand(8, 8, 3) * 255).to(torch.uint8).numpy())
    out = nz.RandomNuisance(model())(pil)
    assert isinstance(out, PIL.Image.Image) and out.size == pil.size and out.mode == pil.mode
    pipeline = v2.Compose([v2.ToImage(), nz.RandomNuisance(model()), v2.ToDtype(torch.float32, scale=True)])
    x = pipeline(pil)
    assert isinstance(x, tv_tensors.Image) and x.dtype == torch.float32 and x.shape == (3, 8, 8)


def test_refuses_what_is_not_a_nuisance_model():
    with pytest.raises(TypeError, match="needs a NuisanceModel"):
        nz.RandomNuisance(K.RandomBrightness((0.8, 1.2)))
