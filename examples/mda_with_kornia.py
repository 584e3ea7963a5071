"""MDA over a kornia augmentation: the augmentation you already have becomes the model of variation.

    python examples/mda_with_kornia.py --steps 300

``nz.from_kornia`` turns a kornia ``AugmentationSequential`` (affine warp, blur, contrast) into a
nuisance model G(x, δ) whose δ are the augmentation's parameters and whose Δ box is its sampling
ranges. ``MDAWrapper`` then trains a small CNN on the MNIST sample bundled with nuisance-zoo with
k = 3 draws of δ per image. Accuracy is reported on clean test digits and on test digits passed
through the kornia augmentation itself.
"""
from __future__ import annotations

import argparse

import kornia.augmentation as K
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nuisance_zoo as nz


def small_cnn(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, num_classes),
    )


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--k", type=int, default=3, help="draws of δ per image")
    p.add_argument("--n-train", type=int, default=6000, help="training images used from the bundled sample")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    train, test = nz.sample_mnist("train"), nz.sample_mnist("test")
    x_train, y_train = train.to_float()[: args.n_train], train.y[: args.n_train]
    x_test, y_test = test.to_float(), test.y

    aug = K.AugmentationSequential(
        K.RandomAffine(degrees=30.0, translate=(0.1, 0.1), scale=(0.8, 1.2), p=1.0),
        K.RandomGaussianBlur(3, (0.1, 1.0), p=1.0),
        K.RandomContrast((0.4, 1.2), p=1.0),
    )
    G = nz.from_kornia(aug)  # δ = (angle, translate_x, translate_y, scale, sigma, contrast_factor)
    print(f"G: δ = {G.delta_space()['names']}, differentiable={G.differentiable}")
    x_test_aug = aug(x_test).clamp(0, 1)  # kornia's own draws: the shift we train for

    model = nz.MDAWrapper(small_cnn(), G, k=args.k)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    step = 0
    while step < args.steps:
        model.train()
        for x, y in loader:
            loss = model(x, y)  # k = 3 draws of G(x, δ) per image, and the clean image
            loss.backward()
            opt.step()
            opt.zero_grad()
            step += 1
            if step >= args.steps:
                break
    print(f"after {step} MDA-{args.k} steps: clean {100 * accuracy(model, x_test, y_test):.1f}%, "
          f"kornia-augmented {100 * accuracy(model, x_test_aug, y_test):.1f}% (loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
