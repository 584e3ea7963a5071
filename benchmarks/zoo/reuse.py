"""Reuse across data sets (the paper's Section 6.2, Tables 4–5): apply ``mnist-background-color``,
learned on MNIST, to data it never saw.

    python -m benchmarks.zoo.reuse --out docs/reuse           # picture + numbers, ~5 min on 2 CPU cores

The paper's other MNIST-like sets (Q/E/K-MNIST, Fashion-MNIST, USPS) cannot be downloaded here, so
the script renders its own: **letters**, the 26 capital letters drawn with a FreeType font at random
size, rotation, position and stroke width (28×28, white on black; 120 per class for training, 40 for
testing), colourised blue (domain A) or red (domain B) exactly as MNIST is (Algorithm 4's mask).
It also passes GTSRB signs through the model, to show what it does off its domain.

It writes ``OUT/reuse.png`` (rows: blue letters, G(letters), red letters; GTSRB, G(GTSRB)) and
``OUT/reuse.json``: the background colour G produces on blue letters, and the red-background test
accuracy of the paper's CNN trained on blue letters with ERM, with MDA-5 over the MNIST-learned
model, and with MDA-5 over the known hue rotation (one seed; 5 epochs).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.data import colorize, load_dataset
from nuisance_zoo.eval.grid import save_image_grid
from nuisance_zoo.reproduce.data import render_letters  # the one renderer, shared with reproduce t5-letters
from nuisance_zoo.training.trainer import train


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/reuse")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-root", default=None)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    G = nz.load("mnist-background-color")
    train_gray, test_gray = render_letters(120, seed=1), render_letters(40, seed=2)
    blue_train, blue_test = colorize(train_gray, "blue"), colorize(test_gray, "blue")
    red_test = colorize(test_gray, "red")

    # What G does to the background of letters it never saw: mean RGB of the blue background pixels.
    with torch.no_grad():
        g_letters = G(blue_test.x, generator=torch.Generator().manual_seed(0))
    bg = (test_gray.x[:, 0] <= 12)
    rgb = lambda x: [round(float(x[:, c][bg].float().mean()), 1) for c in range(3)]  # noqa: E731
    report = {"background_rgb": {"blue letters": rgb(blue_test.x), "G(blue letters)": rgb(g_letters),
                                 "red letters": rgb(red_test.x)}}

    # A Table-5-style check: does the MNIST-learned model buy robustness on letters?
    accs = {}
    for label, alg, model in (("ERM", "erm", None), ("MDA-5 (mnist-background-color)", "mda", G),
                              ("MDA-5 (known: hue)", "mda", nz.load("hue"))):
        res = train(model="paper-cnn", nuisance=model, algorithm=alg, k=5, data=blue_train,
                    test_domains={"blue": blue_test, "red": red_test}, epochs=args.epochs, seed=args.seed,
                    device=args.device, progress=False)
        accs[label] = {"blue": round(100 * res.metrics[-1]["acc/blue"], 1),
                       "red": round(100 * res.metrics[-1]["acc/red"], 1)}
    report["test_accuracy"] = accs
    (out / "reuse.json").write_text(json.dumps(report, indent=2))  # before the picture: never lose a run

    gtsrb = load_dataset("gtsrb:test?classes=largest10&limit=10&size=28", root=args.data_root)
    with torch.no_grad():
        g_gtsrb = G(gtsrb.x, generator=torch.Generator().manual_seed(0))
    idx = torch.arange(0, len(test_gray), len(test_gray) // 10)[:10]
    rows = torch.stack([blue_test.x[idx], g_letters[idx], red_test.x[idx], gtsrb.x[:10], g_gtsrb[:10]])
    save_image_grid(rows.float() / 255, out / "reuse.png", scale=3,
                    row_labels=["blue", "G(blue)", "red", "GTSRB", "G(GTSRB)"])
    report.update(epochs=args.epochs, seed=args.seed, n_train=len(blue_train), n_test=len(blue_test),
                  machine=f"{platform.machine()}, {torch.get_num_threads()} threads", wall_s=round(time.time() - t0, 1))
    (out / "reuse.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
