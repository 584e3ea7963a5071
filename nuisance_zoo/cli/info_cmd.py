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
    print(_delta_lines(space, indent="    "), end="")
    for key in ("differentiable", "gray", "source", "license", "paper"):
        print(f"  {key:<14} {d[key]}")
    return 0


def _delta_lines(space: dict, indent: str) -> str:
    """Δ as text: one line per coordinate, or a summary for per-pixel Δ (``info`` summarised it)."""
    lines = []
    if space.get("summarised") and space.get("parts"):
        # A long composition: each part on its own, so a per-pixel part does not hide the others.
        for i, part in enumerate(space["parts"]):
            lines.append(f"{indent}part {i} ({part['dim']} coordinates, prior {part.get('prior')}):")
            lines += _delta_lines(part, indent + "  ").splitlines()
    elif space.get("summarised"):
        extra = ", ".join(f"{k} {space[k]}" for k in ("set", "radius", "image_shape") if k in space)
        b = space.get("bounds")
        lines.append(f"{indent}{space['dim']} coordinates {space['names'][0]} ... {space['names'][-1]}"
                     f"{', bounds ' + str(b) if b is not None else ''}{', ' + extra if extra else ''}")
    else:
        bounds = space.get("bounds")
        for i, name in enumerate(space.get("names", [])):
            b = bounds[i] if bounds is not None and bounds[i] is not None else "unbounded"
            lines.append(f"{indent}δ[{i}] {name:<16} {b}")
    return "".join(line + "\n" for line in lines)
