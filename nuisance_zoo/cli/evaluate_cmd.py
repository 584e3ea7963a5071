"""`nuisance-zoo evaluate`: accuracy of a trained classifier clean, at random δ and at the worst δ.

Example::

    nuisance-zoo evaluate --classifier runs/mnist-mda --data "mnist:test?colorize=gray" \\
        --nuisance background-color --k 10 --steps 10 --data-root ../shared/data
"""
from __future__ import annotations

import json

from .argtypes import float_above, int_at_least


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="robustness report of a trained classifier (clean, random δ, worst δ)",
        description="Accuracy of a classifier trained by `nuisance-zoo train` on a data set: clean, "
                    "at random δ (mean over K draws), at each image's worst of K draws, and under "
                    "projected gradient ascent on δ (S steps; differentiable models only).",
    )
    p.add_argument("--classifier", required=True, help="folder with classifier.json and model.safetensors")
    p.add_argument("--data", required=True, help="test data spec, e.g. 'mnist:test'")
    p.add_argument("--nuisance", default=None, help="nuisance model name (omit for clean accuracy only)")
    p.add_argument("--k", type=int_at_least(1), default=10, help="prior draws per image (default 10)")
    p.add_argument("--steps", type=int_at_least(0), default=10, help="gradient-ascent steps on δ (default 10; 0: none)")
    p.add_argument("--step-size", type=float_above(0), default=None,
                   help="ascent step as a fraction of Δ's width, or of the prior's std (default 2.5/steps)")
    p.add_argument("--batch-size", type=int_at_least(1), default=256, help="images per batch (default 256)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the δ draws (default 0)")
    p.add_argument("--data-root", default=None, help="root folder for data specs")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download named data sets (fashion-mnist, svhn, ...) that are neither under "
                        "the data root nor in the dataset cache, into the cache; the same as ?download=1 in a spec")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the report as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import with_download
    from ..eval.robustness import evaluate

    # the flag means ?download=1 on the spec (the API's spelling), so evaluate() needs no new argument
    data = with_download(args.data) if args.download else args.data
    report = evaluate(
        args.classifier, data, nuisance=args.nuisance, k=args.k, steps=args.steps,
        step_size=args.step_size, batch_size=args.batch_size, seed=args.seed, device=args.device,
        data_root=args.data_root,
    )
    print(f"{args.classifier} on {args.data} ({report['n']} images)")
    rows = [("clean", "clean")]
    if args.nuisance:
        rows += [("random", f"random δ (mean of {args.k})"), ("worst_of_k", f"worst of {args.k} draws"),
                 ("gradient", f"gradient ascent ({report['steps']} steps)"), ("worst", "worst found")]
    for key, label in rows:
        v = report.get(key)
        print(f"  {label:<28} {'n/a (not differentiable)' if v is None else f'{100 * v:6.2f}%'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0
