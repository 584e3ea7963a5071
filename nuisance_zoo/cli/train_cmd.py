"""`nuisance-zoo train`: train a classifier with ERM, PGD, MRT, MAT or MDA against a nuisance model.

Example::

    nuisance-zoo train --model paper-cnn --nuisance background-color --algorithm mda --k 5 \\
        --data "mnist:train?colorize=gray" --in-chans 3 \\
        --test gray="mnist:test?colorize=gray" --test rgb="mnist:test?colorize=gray-rgb&seed=0" \\
        --epochs 10 --out runs/mnist-mda --data-root ../shared/data
"""
from __future__ import annotations

import json

from .argtypes import float_above, float_at_least, int_at_least


def _name_spec(text: str) -> tuple[str, str]:
    """``NAME=SPEC`` (or a bare ``SPEC``, named by itself); only the first ``=`` splits, so
    specs with query options (``?a=b``) still parse."""
    head, sep, tail = text.partition("=")
    if sep and "?" not in head and ":" not in head:
        if not head or not tail:
            raise ValueError(f"--test takes NAME=SPEC, got {text!r}.")
        return head, tail
    return text, text


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train a classifier (erm, pgd, mrt, mat, mda) and evaluate it on test domains",
        description="Train a classifier against a model of natural variation (the paper's Section 6 "
                    "protocol: Adadelta lr 1.0, batch 64, λ = 1). Writes model.safetensors, "
                    "classifier.json, metrics.csv/json and a resumable checkpoint into --out.",
    )
    p.add_argument("--model", default="paper-cnn", help="'paper-cnn' (default) or a timm model name")
    p.add_argument("--nuisance", default=None, help="nuisance model name (needed by mrt, mat, mda)")
    p.add_argument("--algorithm", default="mda", choices=["erm", "pgd", "mrt", "mat", "mda"],
                   help="training algorithm (default mda)")
    p.add_argument("--k", type=int_at_least(1), default=None, help="draws (mda, mrt) or steps (mat); default 5/10/10")
    p.add_argument("--lam", type=float_at_least(0), default=None, help="λ, weight of the clean term (default 1; pgd 0)")
    p.add_argument("--selection", choices=["batch", "sample"], default=None,
                   help="MRT: worst draw per batch (Algorithm 1) or per sample")
    p.add_argument("--step-size", type=float_above(0), default=None, help="ascent step: MAT relative to Δ's width or the prior's std (default 2.5/k); PGD absolute, in image units (default 0.01)")
    p.add_argument("--data", default="mnist-sample:train", help="training data spec (default mnist-sample:train)")
    p.add_argument("--test", action="append", default=[], metavar="NAME=SPEC",
                   help="a test domain evaluated every epoch (repeatable)")
    p.add_argument("--epochs", type=int_at_least(1), default=10, help="epochs (default 10)")
    p.add_argument("--batch-size", type=int_at_least(1), default=64, help="batch size (default 64, the paper's)")
    p.add_argument("--lr", type=float_above(0), default=None, help="learning rate (default 1.0 for adadelta)")
    p.add_argument("--optimizer", default="adadelta", choices=["adadelta", "sgd", "adam", "adamw"])
    p.add_argument("--n-train", type=int_at_least(1), default=None, help="train on a random subset of N images")
    p.add_argument("--in-chans", type=int_at_least(1), default=None, help="classifier input channels (default: the data's)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out has a checkpoint (its checkpoint, metrics and classifier are deleted first)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    p.add_argument("--data-root", default=None, help="root folder for data specs")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download named data sets (fashion-mnist, svhn, ...) that are neither under "
                        "the data root nor in the dataset cache, into the cache; the same as ?download=1 in a spec")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--checkpoint-every", type=int_at_least(1), default=500, help="steps between checkpoints (default 500)")
    p.add_argument("--max-steps", type=int_at_least(1), default=None, help="stop after this many steps in total (resumable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import with_download
    from ..training.trainer import train

    tests = dict(_name_spec(t) for t in args.test)
    if args.download:  # the flag means ?download=1 on every spec that can download
        args.data = with_download(args.data)
        tests = {name: with_download(spec) for name, spec in tests.items()}
    extra = {}
    if args.selection is not None:
        extra["selection"] = args.selection
    if args.step_size is not None:
        extra["step_size"] = args.step_size
    result = train(
        model=args.model, nuisance=args.nuisance, algorithm=args.algorithm, k=args.k, lam=args.lam,
        data=args.data, test_domains=tests, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, out=args.out, seed=args.seed, resume=args.resume, device=args.device,
        data_root=args.data_root, n_train=args.n_train, in_chans=args.in_chans, algorithm_kwargs=extra,
        checkpoint_every=args.checkpoint_every, max_steps=args.max_steps, progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    if not result.completed:
        print(f"stopped after {result.global_step} steps; continue with the same command and --resume")
    if result.metrics:
        print(json.dumps(result.metrics[-1]))
    print(f"classifier: {result.out}")
    return 0
