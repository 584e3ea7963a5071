"""`nuisance-zoo list [PATTERN]`: registered model names."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("list", help="list registered nuisance models (fnmatch PATTERN, e.g. 'gtsrb-*')")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard (default: all)")
    p.add_argument("--kind", choices=["known", "learned", "composed"], help="only models of this kind")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..registry import get_entry, list_models

    names = list_models(args.pattern, kind=args.kind)
    if not names:
        print(f"no models match {args.pattern!r}")
        return 1
    width = max(len(n) for n in names)
    for n in names:
        e = get_entry(n)
        print(f"{n:<{width}}  {e.kind:<7}  {e.description}")
    return 0
