"""Write the zoo tables of docs/zoo.md and README.md from the cards (hub_cards/*/metrics.json).

    python -m benchmarks.zoo.summary
"""
from __future__ import annotations

import json
from pathlib import Path

from nuisance_zoo.zoo import zoo_verdict

from .experiments import EXPERIMENTS
from .make_card import _fmt, bundled_variants, hardware
from .measure_zoo import KNOWN_PREFIX, known_key

ROOT = Path(__file__).resolve().parents[2]
CARDS = ROOT / "hub_cards"


def _f(v: dict | None) -> str:
    return _fmt(v) if v else "–"


#: docs/zoo.md keeps its prose; only the text between these markers is rewritten.
BEGIN, END = "<!-- zoo-table -->", "<!-- /zoo-table -->"


def _cards():
    """(folder, metrics) of every bundled card, experiment by experiment, default first."""
    for name in EXPERIMENTS:
        for f in bundled_variants(name, CARDS):
            yield f, json.loads((f / "metrics.json").read_text())


def _facts(m: dict) -> dict:
    """The cells both tables share, from one card's metrics."""
    b = m.get("test_B_accuracy", {})
    known = known_key(b)
    paper = m.get("paper") or {}
    mine = _f(b.get("MDA-5 (this model)"))
    if known and "MDA-5 (this model)" in b and b["MDA-5 (this model)"]["mean"] > b[known]["mean"]:
        mine = f"**{mine}**"  # it beats the closest known model
    return {"erm": _f(b.get("ERM")), "mine": mine, "mrt": _f(b.get("MRT-10 (this model)")),
            "known": f"{_f(b[known])} ({known[len(KNOWN_PREFIX):-1]})" if known else "–",
            "paper": f"{paper['ERM']} → {paper['MDA (learned)']}" if paper else "–",
            "status": "experimental" if zoo_verdict(m) else "**listed**"}


def readme_table() -> str:
    """The README's shorter table: accuracy columns and zoo status."""
    rows = ["| model | domain-B accuracy: ERM | MDA-5, this model | MDA-5, closest known model | paper (ERM → MDA) "
            "| measured on | zoo status |", "|---|---|---|---|---|---|---|"]
    for f, m in _cards():
        c = _facts(m)
        where = m["device"] if m["device"] != "cpu" else "CPU"
        rows.append(f"| `{f.name}` | {c['erm']} | {c['mine']} | {c['known']} | {c['paper']} | {where} | {c['status']} |")
    return "\n".join(rows)


def table() -> str:
    """docs/zoo.md's table: every column of every card."""
    rows = ["| model | fit config | ERM | MDA-5, this model | MRT-10, this model | MDA-5, closest known model | "
            "paper (ERM → MDA) | label pres. x → G(x) | shift / real gap | measured on | zoo status |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f, m in _cards():
        c, s, lp = _facts(m), m["shift"], m["label_preservation"]
        shift = f"{s['shift']:+} / {s['real_gap']:+}" if "shift" in s else f"bg {s['A']} → {s['G(A)']} (B: {s['B']})"
        rows.append(f"| `{f.name}` | `{m['fit']['config']}` | {c['erm']} | {c['mine']} | {c['mrt']} | {c['known']} | "
                    f"{c['paper']} | {lp['acc_x']:.1f} → {lp['acc_G(x)']:.1f} | {shift} | {hardware(m['device'])} | "
                    f"{c['status']} |")
    rows += [f"| `{name}` | not fitted yet | | | | | | | | | |" for name in EXPERIMENTS if not bundled_variants(name, CARDS)]
    return "\n".join(rows)


def replace_between(path: Path, table_text: str) -> None:
    """Put ``table_text`` between the zoo-table markers of ``path``."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} markers around the zoo table.")
    head, rest = text.split(BEGIN, 1)
    path.write_text(head + BEGIN + "\n" + table_text + "\n" + END + rest.split(END, 1)[1])
    print(f"wrote {path}")


def main() -> None:
    replace_between(ROOT / "docs" / "zoo.md", table())
    replace_between(ROOT / "README.md", readme_table())


if __name__ == "__main__":
    main()
