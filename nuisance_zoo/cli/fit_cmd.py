"""``nuisance-zoo fit``: learn a model of natural variation from two unpaired image domains.

Example:
    nuisance-zoo fit --domain-a "gtsrb:train?classes=largest10&brightness=85..125" \\
        --domain-b "gtsrb:train?classes=largest10&brightness=<40" --out runs/night \\
        --iterations 5000 --config small
"""
from __future__ import annotations

import argparse

from .argtypes import int_at_least


def register(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="learn G(x, δ) mapping domain A to domain B (MUNIT objective, optional label/structure/diversity terms)",
        description="Learn a model of natural variation G(x, δ) = Dec_B(Enc_A(x), δ) from two unpaired "
                    "image sets with MUNIT's four losses (paper Appendix E). Writes grids, an atomic "
                    "checkpoint (resumable) and OUT/model (safetensors + config.json + card).",
    )
    p.add_argument("--domain-a", required=True, metavar="SPEC", help="source domain, a data spec (see nuisance_zoo.data)")
    p.add_argument("--domain-b", required=True, metavar="SPEC", help="target domain, a data spec")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--iterations", type=int_at_least(1), default=None, metavar="N", help="training iterations (default: the config's)")
    p.add_argument("--config", default="small", metavar="small|small-keep|paper|structured|structured-keep|FILE",
                   help="preset or JSON/YAML file (zoo or MUNIT spelling); 'structured' learns known models "
                        "(brightness, gamma, contrast, ...) driven by a small MLP instead; the '-keep' presets add "
                        "the label term; default: small")
    p.add_argument("--batch-size", type=int_at_least(1), default=None, metavar="B")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if OUT holds a checkpoint (the previous run's outputs are deleted first)")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--data-root", default=None, metavar="PATH", help="data root (default: $NUISANCE_ZOO_DATA or ../shared/data)")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download named data sets (fashion-mnist, svhn, ...) that are neither under "
                        "the data root nor in the dataset cache, into the cache; the same as ?download=1 in a spec")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--grid-every", type=int_at_least(1), default=None, metavar="N")
    p.add_argument("--checkpoint-every", type=int_at_least(1), default=None, metavar="N")
    p.add_argument("--snapshots", default="", metavar="N,N,...", help="iterations after which to save the generator")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--until", choices=("iterations", "plateau"), default=None,
                   help="plateau: check quality every --monitor-every iterations and stop (keeping the best "
                        "generator) once the score has not improved for the config's patience; --iterations "
                        "stays the cap. Default: the config's (iterations)")
    p.add_argument("--monitor-every", type=int_at_least(0), default=None, metavar="N",
                   help="measure label preservation and the distance to domain B every N iterations "
                        "(log.jsonl, monitor.png, progress bar); default: the config's (small-keep: 250)")
    p.add_argument("--classifier-epochs", type=int_at_least(1), default=5, metavar="E",
                   help="when the config has the label term or a monitor (e.g. --config small-keep), train the "
                        "paper CNN on domain A for E epochs first and use it frozen (default: 5)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import torch

    from ..data import load_dataset
    from ..learned.fit import fit

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        snapshots = [int(s) for s in args.snapshots.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--snapshots must be comma-separated iterations, got {args.snapshots!r}") from None
    # None, not False: without the flag a spec's own ?download=1 still counts
    download = True if args.download else None
    a = load_dataset(args.domain_a, root=args.data_root, split="train", download=download)
    b = load_dataset(args.domain_b, root=args.data_root, split="train", download=download)
    print(f"domain A: {len(a)} images {tuple(a.x.shape[1:])}  ({args.domain_a})")
    print(f"domain B: {len(b)} images {tuple(b.x.shape[1:])}  ({args.domain_b})")
    info = {"domains": {"A (source)": args.domain_a, "B (target)": args.domain_b}, "config": args.config,
            "seed": args.seed}
    classifier = _domain_classifier(args, info)
    fit(a, b, config=args.config, iterations=args.iterations, batch_size=args.batch_size, out_dir=args.out,
        resume=args.resume, seed=args.seed, grid_every=args.grid_every, checkpoint_every=args.checkpoint_every,
        device=args.device, progress=not args.no_progress, snapshots=snapshots, overwrite=args.overwrite,
        training_info=info, classifier=classifier, until=args.until, monitor_every=args.monitor_every)
    print(f"saved the A→B generator to {args.out}/model (load it with nuisance_zoo.load('local-dir:{args.out}/model'))")
    return 0


def _domain_classifier(args: argparse.Namespace, info: dict):
    """The frozen judge the label term and the monitor need: the paper CNN trained on domain A (or None).

    Trained here, in the app layer, because learned/ does not depend on training/. Seeded by
    ``--seed``, so a ``--resume`` rebuilds the same classifier.
    """
    from ..learned.fit import fit_needs_classifier

    if not fit_needs_classifier(args.config, args.until, args.monitor_every):
        return None
    from ..training.trainer import train

    print(f"training the domain-A classifier (paper-cnn, {args.classifier_epochs} epochs) for the label term/monitor")
    res = train(model="paper-cnn", algorithm="erm", data=args.domain_a, epochs=args.classifier_epochs,
                device=args.device, data_root=args.data_root, seed=args.seed, progress=False)
    info["label_classifier"] = f"paper-cnn, ERM on domain A, {args.classifier_epochs} epochs, seed {args.seed}"
    return res.model.eval()
