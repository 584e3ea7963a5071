"""Write docs/zoo.md: the first zoo's measured numbers, gathered from hub_cards/*/metrics.json.

    python -m benchmarks.zoo.summary
"""
from __future__ import annotations

import json
from pathlib import Path

from .experiments import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[2]


def _f(v: dict | None) -> str:
    return f"{v['mean']:.1f} ± {v['std']:.1f}" if v else "–"


def main() -> None:
    rows = ["| model | ERM | MDA-5, this model | MDA-5, closest known model | paper (ERM → MDA) | label pres. x → G(x) | shift / real gap |",
            "|---|---|---|---|---|---|---|"]
    for name in EXPERIMENTS:
        f = ROOT / "hub_cards" / name / "metrics.json"
        if not f.is_file():
            rows.append(f"| `{name}` | not trained yet | | | | | |")
            continue
        m = json.loads(f.read_text())
        b = m.get("test_B_accuracy", {})
        known_key = next((k for k in b if k.startswith("MDA-5 (known")), None)
        paper = m.get("paper") or {}
        paper_s = f"{paper['ERM']} → {paper['MDA (learned)']}" if paper else "–"
        s, lp = m["shift"], m["label_preservation"]
        shift = f"{s['shift']:+} / {s['real_gap']:+}" if "shift" in s else f"bg {s['A']} → {s['G(A)']} (B: {s['B']})"
        known_label = known_key[len("MDA-5 (known: "):-1] if known_key else ""
        rows.append(f"| `{name}` | {_f(b.get('ERM'))} | {_f(b.get('MDA-5 (this model)'))} | "
                    f"{_f(b.get(known_key))} ({known_label}) | {paper_s} | {lp['acc_x']:.1f} → {lp['acc_G(x)']:.1f} | {shift} |")
    text = "\n".join([
        "# The first zoo: what each learned model buys a classifier", "",
        "Test accuracy (%) on domain B of the paper's CNN trained on domain A (mean ± std over 3 seeds), "
        "label preservation (accuracy of a classifier trained on the whole data set, on domain-A test images x "
        "and on G(x, δ) at prior draws) and the shift each model produces. Generators: the `small` "
        "configuration, 2,500 iterations at batch 16, five trained side by side on one NVIDIA H100 "
        "(about 130 s each); classifiers trained on the same H100. Each model's card "
        "(`hub_cards/NAME/README.md`) has the details and the commands that reproduce its numbers "
        "(`benchmarks/zoo/`).", "",
        *rows, "",
        "A learned model earns its place by beating the known-model column; the cards say where it does not.", "",
    ])
    out = ROOT / "docs" / "zoo.md"
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
