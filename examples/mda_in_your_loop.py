"""MDA in an existing training loop: a timm classifier, a composed nuisance model, two changed lines.

    python examples/mda_in_your_loop.py --steps 200

Trains timm's ``resnet10t`` on the MNIST sample bundled with nuisance-zoo (gray digits), with
MDA-5 over ``background-color`` composed with ``contrast``, and reports accuracy on digits with
random RGB backgrounds before and after.
"""
from __future__ import annotations

import argparse

import timm
import torch
from torch.utils.data import DataLoader, TensorDataset

import nuisance_zoo as nz


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="save the classifier's state dict here (a plain timm checkpoint)")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    train = nz.load_dataset("mnist-sample:train?colorize=gray")          # 3-channel gray digits
    test = nz.load_dataset("mnist-sample:test?colorize=gray-rgb&seed=0")  # random RGB backgrounds
    test_x, test_y = test.to_float(), test.y
    loader = DataLoader(TensorDataset(train.to_float(), train.y), batch_size=64, shuffle=True)

    G = nz.load("contrast") @ nz.load("background-color")      # recolour, then change contrast
    classifier = timm.create_model("resnet10t", num_classes=10, in_chans=3)
    model = nz.MDAWrapper(classifier, G, k=5)                 # change 1: wrap the classifier
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)      # G is frozen: only the classifier trains

    print(f"before: {100 * accuracy(model, test_x, test_y):.1f}% on random RGB backgrounds")
    step = 0
    while step < args.steps:
        model.train()
        for x, y in loader:
            loss = model(x, y)                                 # change 2: the wrapper returns the loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            step += 1
            if step >= args.steps:
                break
    print(f"after {step} MDA-5 steps: {100 * accuracy(model, test_x, test_y):.1f}% on random RGB backgrounds")
    if args.out:
        torch.save(model.model.state_dict(), args.out)  # no wrapper keys: loads into timm directly


if __name__ == "__main__":
    main()
