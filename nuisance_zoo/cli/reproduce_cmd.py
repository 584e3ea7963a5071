"""`nuisance-zoo reproduce`: rerun a row of the paper's tables, beside the paper's numbers.

Example::

    nuisance-zoo reproduce --list
    nuisance-zoo reproduce t2-gtsrb-brightness --seeds 3          # docs/results/t2-gtsrb-brightness.json
    nuisance-zoo reproduce t2-gtsrb-brightness --quick            # CI size, docs/results/quick/
    nuisance-zoo reproduce --all --quick                          # every row, CI size
    nuisance-zoo reproduce --table 2 --device cuda                # every row of Table 2
    nuisance-zoo reproduce --report                               # docs/results.md from the JSONs
    nuisance-zoo reproduce --table 2 --estimate                   # time a few steps: how long would it take?
"""
from __future__ import annotations

from .argtypes import int_at_least


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="rerun a row of the paper's tables (six classifiers, seeds, per-epoch accuracy)",
        description="Train Vanilla, PGD, MRT-1, MRT-10, MDA-5 and MAT-10 for one row of the paper's "
                    "Section 6 (data → domains → model → classifiers), evaluate on domain B after every "
                    "epoch, and write OUT/ROW.json (resumable: finished (seed, algorithm) units are kept). "
                    "Peak accuracy (the paper's) selects the epoch on the test set; final does not.",
    )
    p.add_argument("row", nargs="?", help="row name (see --list)")
    p.add_argument("--list", action="store_true", help="list the rows with the paper's numbers")
    p.add_argument("--all", action="store_true", help="run every row")
    p.add_argument("--table", default=None, metavar="TABLE",
                   help="run every row of one paper table: 2, 3, 5, 6, 7 or f11 (Figure 11)")
    p.add_argument("--estimate", action="store_true",
                   help="time a few training steps of every column on the full data and print how long the full "
                        "row would take here (writes OUT/estimates/ROW.json; runs no unit)")
    p.add_argument("--report", action="store_true", help="(re)write docs/results.md and its figures from the JSONs")
    p.add_argument("--quick", action="store_true",
                   help="CI size: 128 images, 1 epoch, 1 seed, k <= 2 (results under OUT/quick)")
    p.add_argument("--seeds", type=int_at_least(1), default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--epochs", type=int_at_least(1), default=None, help="override the row's epochs")
    p.add_argument("--out", default=None, help="results folder (default docs/results, quick: docs/results/quick)")
    p.add_argument("--no-resume", action="store_true", help="start afresh instead of keeping finished units")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--data-root", default=None, help="root folder for data specs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _list() -> int:
    from ..reproduce.report import format_row_list

    print(format_row_list())
    return 0


def _estimate(names: list[str], args) -> int:
    import json
    from pathlib import Path

    from ..reproduce.estimate import estimate, format_estimate
    from ..reproduce.run import DEFAULT_OUT

    folder = Path(args.out or DEFAULT_OUT) / "estimates"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        e = estimate(name, seeds=args.seeds, device=args.device, data_root=args.data_root, epochs=args.epochs)
        if e["status"] != "data-unavailable":
            (folder / f"{name}.json").write_text(json.dumps(e, indent=1) + "\n")
        print(format_estimate(e), flush=True)
    return 0


def run(args) -> int:
    import time

    from ..reproduce import ROWS, get_row, reproduce, rows_of_table

    if args.list:
        return _list()
    if args.report:
        from ..reproduce.report import write_report

        print(f"wrote {write_report()}")
        return 0
    if not args.row and not args.all and not args.table:
        raise ValueError("name a row (see `nuisance-zoo reproduce --list`), or pass --table, --all or --list.")
    if args.all:
        names = list(ROWS)
    elif args.table:
        names = rows_of_table(args.table)
    else:
        names = [get_row(args.row).name]
    if args.estimate:
        return _estimate(names, args)
    for name in names:
        t0 = time.perf_counter()
        res = reproduce(name, seeds=args.seeds, quick=args.quick, out=args.out, resume=not args.no_resume,
                        device=args.device, epochs=args.epochs, data_root=args.data_root,
                        progress=not args.no_progress)
        line = f"{name}: {res['status']} in {time.perf_counter() - t0:.1f} s"
        best = res.get("summary", {}).get(res.get("main_test"), {})
        if best:
            line += "  " + "  ".join(f"{c} {v['peak_mean']:.1f}" for c, v in best.items())
        elif res.get("reason"):
            line += f" ({res['reason']})"
        print(line, flush=True)
    return 0
