"""`nuisance-zoo list [PATTERN]`: registered model names."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("list", help="list registered nuisance models (fnmatch PATTERN, e.g. 'gtsrb-*')")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard (default: all)")
    p.add_argument("--kind", choices=["known", "learned", "composed"], help="only models of this kind")
    p.add_argument("--experimental", action="store_true",
                   help="also list the zoo models that fail the zoo's criteria, as experimental/NAME")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..registry import get_entry, list_models

    names = list_models(args.pattern, kind=args.kind, experimental=args.experimental)
    if not names:
        hidden = [] if args.experimental else list_models(args.pattern, kind=args.kind, experimental=True)
        print(f"no models match {args.pattern!r}"
              + (f" (experimental ones do: {', '.join(hidden)}; add --experimental)" if hidden else ""))
        return 1
    width = max(len(n) for n in names)
    for n in names:
        e = get_entry(n)
        print(f"{n:<{width}}  {e.kind:<7}  {e.description}")
    return 0
