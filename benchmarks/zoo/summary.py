"""Write docs/zoo.md's zoo table: every bundled model's numbers, gathered from hub_cards/*/metrics.json.

    python -m benchmarks.zoo.summary
"""
from __future__ import annotations

import json
from pathlib import Path

from nuisance_zoo.zoo import zoo_verdict

from .experiments import EXPERIMENTS
from .make_card import hardware

ROOT = Path(__file__).resolve().parents[2]


def _f(v: dict | None) -> str:
    return f"{v['mean']:.1f} ± {v['std']:.1f}" if v else "–"


#: docs/zoo.md keeps its prose; only the text between these markers is rewritten.
BEGIN, END = "<!-- zoo-table -->", "<!-- /zoo-table -->"


def bundles(name: str) -> list[Path]:
    """``hub_cards/NAME`` (the default) and its variants ``hub_cards/NAME.TAG``, default first."""
    cards = ROOT / "hub_cards"
    return [f for f in [cards / name, *sorted(cards.glob(f"{name}.*"))] if (f / "metrics.json").is_file()]


def table() -> str:
    rows = ["| model | fit config | ERM | MDA-5, this model | MRT-10, this model | MDA-5, closest known model | "
            "paper (ERM → MDA) | label pres. x → G(x) | shift / real gap | measured on | zoo status |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in EXPERIMENTS:
        folders = bundles(name)
        if not folders:
            rows.append(f"| `{name}` | not trained yet | | | | | | | | | |")
        for f in folders:
            m = json.loads((f / "metrics.json").read_text())
            b = m.get("test_B_accuracy", {})
            known_key = next((k for k in b if k.startswith("MDA-5 (known")), None)
            paper = m.get("paper") or {}
            paper_s = f"{paper['ERM']} → {paper['MDA (learned)']}" if paper else "–"
            s, lp = m["shift"], m["label_preservation"]
            shift = f"{s['shift']:+} / {s['real_gap']:+}" if "shift" in s else f"bg {s['A']} → {s['G(A)']} (B: {s['B']})"
            known_label = f" ({known_key[len('MDA-5 (known: '):-1]})" if known_key else ""
            status = "experimental" if zoo_verdict(m) else "**listed**"
            rows.append(f"| `{f.name}` | `{m['fit']['config']}` | {_f(b.get('ERM'))} | {_f(b.get('MDA-5 (this model)'))} | "
                        f"{_f(b.get('MRT-10 (this model)'))} | {_f(b.get(known_key))}{known_label} | {paper_s} | "
                        f"{lp['acc_x']:.1f} → {lp['acc_G(x)']:.1f} | {shift} | {hardware(m['device'])} | {status} |")
    return "\n".join(rows)


def main() -> None:
    out = ROOT / "docs" / "zoo.md"
    text = out.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{out} has no {BEGIN} ... {END} markers around the zoo table.")
    head, rest = text.split(BEGIN, 1)
    out.write_text(head + BEGIN + "\n" + table() + "\n" + END + rest.split(END, 1)[1])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
