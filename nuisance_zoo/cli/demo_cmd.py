"""`nuisance-zoo demo`: Table 2's Gray → RGB MNIST row, ERM against MDA-5, in about two minutes.

Runs offline on the MNIST sample bundled with the package; ``--data ROOT`` uses the full MNIST
(``ROOT/mnist/{train,test}.npz``).
"""
from __future__ import annotations

from .argtypes import int_at_least


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="train ERM and MDA-5 on gray MNIST, test on random RGB backgrounds (~2 min on CPU)",
        description="The paper's Gray → RGB MNIST experiment (Table 2) in miniature: the paper's CNN "
                    "trained on gray digits, plainly and with MDA-5 over the background-colour model, "
                    "tested on digits with random RGB backgrounds; prints both accuracies beside the "
                    "paper's and writes a picture of the augmentations.",
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--data", default=None, metavar="ROOT",
                   help="folder with mnist/train.npz and mnist/test.npz (default: the bundled sample)")
    p.add_argument("--epochs", type=int_at_least(1), default=None, help="epochs (default 1)")
    p.add_argument("--n-train", type=int_at_least(0), default=None, help="training images (default 6000; 0: all)")
    p.add_argument("--n-test", type=int_at_least(0), default=None, help="test images per domain (default 1000; 0: all)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo

    run_demo(args.out, data=args.data, epochs=args.epochs, seed=args.seed, n_train=args.n_train,
             n_test=args.n_test, device=args.device, progress=not args.no_progress)
    return 0
