"""Why the content term is normalised image gradients, and how far the structured model's box reaches.

    python -m benchmarks.zoo.term_check --data-root ../shared/data --out runs/term_check.json

(1) On 256 night test images x of ``gtsrb-brightness``'s domain A, each candidate content distance
    d(x, T(x)) for photometric changes T the generator *should* be free to make (×4 brightness,
    gamma 0.4, both) and for a change it must not make (another image), plus the current hub
    model's G(x, δ). A useful term is small on the first and large on the second; the ratio
    "other image / gamma+gain" says how well it separates them.
(2) The hub model's mode-seeking ratio |G(x, δ1) − G(x, δ2)| / |δ1 − δ2| in the generator's
    [-1, 1] range, to size ``diversity_cap``.
(3) The structured model's Δ box: the brightness and contrast (0..255, the curation statistics)
    of domain-A test images pushed to its box corners, beside domain B's 5/50/95 % quantiles.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

import nuisance_zoo as nz
from nuisance_zoo.data import brightness, contrast, load_dataset
from nuisance_zoo.learned.fit_terms import structure_loss
from nuisance_zoo.learned.structured import StructuredGenerator

from .experiments import EXPERIMENTS


def _lcn(t: torch.Tensor, k: int = 7, eps: float = 0.02) -> torch.Tensor:
    """Local contrast normalisation of the grey image (the alternative content distance)."""
    t = t.mean(1, keepdim=True)
    m = F.avg_pool2d(t, k, 1, k // 2, count_include_pad=False)
    v = F.avg_pool2d((t - m) ** 2, k, 1, k // 2, count_include_pad=False)
    return (t - m) / (v.sqrt() + eps)


def _q(t: torch.Tensor) -> list[float]:
    return [round(float(v), 1) for v in torch.quantile(t.float(), torch.tensor([0.05, 0.5, 0.95]))]


@torch.no_grad()
def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=None)
    p.add_argument("--model", default="local-dir:hub_cards/gtsrb-brightness", help="the generator to compare")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    exp = EXPERIMENTS["gtsrb-brightness"]
    a, b = load_dataset(exp.test_a, root=args.data_root), load_dataset(exp.test_b, root=args.data_root)
    x = a.x[:256].float() / 255
    g = torch.Generator().manual_seed(0)
    G = nz.load(args.model)
    d1, d2 = G.sample_delta(len(x), generator=g), G.sample_delta(len(x), generator=g)
    g1, g2 = G(x, d1), G(x, d2)
    shifts = {"x4 brightness": (x * 4).clamp(0, 1), "gamma 0.4": x ** 0.4, "gamma+gain": ((x ** 0.5) * 2).clamp(0, 1),
              "other image": x[torch.randperm(len(x), generator=g)], "hub G(x, δ)": g1}
    distances = {"normalised gradients (structure_loss)": structure_loss,
                 "local contrast normalised L1": lambda u, v: (_lcn(u) - _lcn(v)).abs().mean(),
                 "raw L1": lambda u, v: (u - v).abs().mean()}
    report: dict = {"content_distance": {}}
    for name, f in distances.items():
        vals = {k: round(float(f(x, t)), 3) for k, t in shifts.items()}
        vals["other / gamma+gain"] = round(vals["other image"] / max(vals["gamma+gain"], 1e-9), 2)
        report["content_distance"][name] = vals
    ratio = (g1 - g2).abs().flatten(1).mean(1) * 2 / (d1 - d2).abs().mean(1)
    report["hub_mode_seeking_ratio"] = {"median": round(float(ratio.median()), 3), "mean": round(float(ratio.mean()), 3)}
    S = StructuredGenerator()
    box = {m: [lo.tolist(), hi.tolist()] for m, lo, hi in zip(S.chain, S.param_low.split(S._splits),
                                                             S.param_high.split(S._splits))}
    br, ga, co = (nz.load(n) for n in ("brightness", "gamma", "contrast"))
    ones = torch.ones(len(x), 1)
    corners = {}
    for gname, gval in (("gamma low", box["gamma"][0][0]), ("gamma high", box["gamma"][1][0])):
        y = ga(br(x, ones * box["brightness"][1][0]), ones * gval)
        for cname, cval in (("contrast low", box["contrast"][0][0]), ("contrast high", box["contrast"][1][0])):
            u = (co(y, ones * cval) * 255).round().to(torch.uint8)
            corners[f"brightness max, {gname}, {cname}"] = {"brightness": _q(brightness(u)), "contrast": _q(contrast(u))}
    report["structured_box"] = {"box": box, "A": {"brightness": _q(brightness(a.x)), "contrast": _q(contrast(a.x))},
                                "B": {"brightness": _q(brightness(b.x)), "contrast": _q(contrast(b.x))},
                                "corners (5/50/95 %)": corners}
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
