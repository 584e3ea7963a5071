"""`nuisance-zoo info NAME`: Δ, prior, differentiability, source and licence of a model."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a nuisance model (Δ, prior, source, licence)")
    p.add_argument("name", help="a registered name, hf-hub:ORG/REPO or local-dir:PATH")
    p.add_argument("--json", action="store_true", help="print the info dict as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..registry import info

    d = info(args.name)
    if args.json:
        print(json.dumps(d, indent=2, default=str))
        return 0
    space = d["delta_space"]
    print(f"{d['name']}  ({d['kind']})")
    if d["description"]:
        print(f"  {d['description']}")
    print(f"  delta_dim      {d['delta_dim']}")
    print(f"  prior          {d['prior']}")
    bounds = space.get("bounds")
    names = space.get("names", [])
    shown = min(len(names), 12)
    for i in range(shown):
        b = bounds[i] if bounds is not None and bounds[i] is not None else "unbounded"
        print(f"    δ[{i}] {names[i]:<16} {b}")
    if len(names) > shown:
        print(f"    ... ({len(names) - shown} more coordinates)")
    for key in ("differentiable", "gray", "source", "license", "paper"):
        print(f"  {key:<14} {d[key]}")
    return 0
