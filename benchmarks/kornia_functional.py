"""Known models vs the kornia functional op that computes the same maths (issue 12, item 3).

For every known model whose formula has an exact counterpart among kornia's *functional* ops
(``kornia.enhance``, ``kornia.color``, ``kornia.filters``, ``kornia.geometry``), this times our
model's ``decode(x, δ)`` against that op called with the per-sample parameters derived from the
same δ (a different δ for every image), and checks, in the same run:

* **max |diff|**: the largest absolute difference of the two outputs (float32);
* **∂/∂δ**: whether the kornia path has a nonzero, finite gradient w.r.t. δ (autograd, on an
  input that contains black pixels, where ``pow`` and ``log`` have their edge cases);
* **identity**: whether the kornia path returns x bit for bit at ``G.identity_delta`` (our
  models promise it; ``tests/known`` checks it);
* **∂/∂x finite at black**: the gradient w.r.t. x is finite on black pixels for δ across Δ;
* **gradcheck**: ``torch.autograd.gradcheck`` of the kornia path w.r.t. (x, δ) in float64 on a
  small batch (``tests/known`` runs the same check on our models).

A kornia op replaces our code only if it passes all five and is at least as fast (≥ 1.00×
ours on the best-of-reps CPU time at 32×32, batch 256, the package's main size); the section lists
the candidates that were rejected before timing (different maths) and why.

Usage:
    python benchmarks/kornia_functional.py                     # 32×32 (batch 256) and 224×224 (batch 32)
    python benchmarks/kornia_functional.py --quick             # 32×32 only, 2 reps
    python benchmarks/kornia_functional.py --threads 1 --clock cpu --reps 5
    python benchmarks/kornia_functional.py --models gamma rotation --reps 1 --out /tmp/b.md
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import Tensor  # noqa: E402

import nuisance_zoo as nz  # noqa: E402
from _common import DOCS, add_timing_args, best_time, load_now, machine_line, md_table, write_section  # noqa: E402

SECTION = "kornia_functional"
#: kornia/ours speed needed at 32×32 (best of reps), with the other checks, to switch.
SPEED_BAR = 1.0
DIFF_BAR = 1e-5


def _col(delta: Tensor, i: int = 0) -> Tensor:
    return delta[:, i]


def _brightness(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.enhance as KE
    # kornia's adjust_contrast is a per-image gain with the [0, 1] clip: clamp(x · f, 0, 1).
    return KE.adjust_contrast(x, torch.exp2(_col(delta)))


def _gamma(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.enhance as KE
    return KE.adjust_gamma(x, torch.exp2(_col(delta)))


def _saturation(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.enhance as KE
    # clamp((1 − s) · Y + s · x, 0, 1) with Y = rgb_to_grayscale (Rec. 601), as ours.
    return KE.adjust_saturation_with_gray_subtraction(x, _col(delta))


def _decolorize(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.color as KC
    return torch.lerp(x, KC.rgb_to_grayscale(x), delta[:, 0].view(-1, 1, 1, 1))


def _blur(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.filters as KF
    from nuisance_zoo.known.geometry import _BLUR_EPS
    # kornia's taps are exp(-t²/(2σ'²)); ours exp(-t²/(2σ²+ε)): the same taps with σ'² = σ² + ε/2
    # (also keeps σ' > 0, which kornia requires). Same radius (cut to size − 1) and border.
    h, w = x.shape[-2:]
    ks = (2 * min(G.radius, h - 1) + 1, 2 * min(G.radius, w - 1) + 1)
    sig = torch.sqrt(_col(delta) ** 2 + _BLUR_EPS / 2).unsqueeze(-1).expand(-1, 2)
    return KF.gaussian_blur2d(x, ks, sig, border_type=G.padding_mode)


def _rotation(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.geometry.transform as KT
    # Both are the pixel-frame rotation about ((W−1)/2, (H−1)/2), sampled with align_corners=False.
    return KT.rotate(x, _col(delta), mode="bilinear", padding_mode=G.padding_mode, align_corners=False)


def _affine_pixel_matrix(delta: Tensor, h: int, w: int) -> Tensor:
    """Our forward map in kornia's pixel frame: ``p_out = A (p_in − c) + c + (tx·W, ty·H)``,
    ``c = ((W−1)/2, (H−1)/2)``, ``A = s P R(θ) Sh(φ) P`` (see
    :func:`nuisance_zoo.known.geometry.affine_theta`, whose linear part is ``A⁻¹``), written out:
    ``s · [[cos θ, sin θ − cos θ tan φ], [−sin θ, cos θ + sin θ tan φ]]``.
    """
    ang, log2s, tx, ty, sh = delta.unbind(-1)
    a = torch.deg2rad(ang)
    c, s = torch.cos(a), torch.sin(a)
    t = torch.tan(torch.deg2rad(sh))
    sc = torch.exp2(log2s)
    a00, a01 = sc * c, sc * (s - c * t)
    a10, a11 = -sc * s, sc * (c + s * t)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    b0 = cx - (a00 * cx + a01 * cy) + tx * w
    b1 = cy - (a10 * cx + a11 * cy) + ty * h
    return torch.stack([torch.stack([a00, a01, b0], -1), torch.stack([a10, a11, b1], -1)], -2)


def _affine(G, x: Tensor, delta: Tensor) -> Tensor:
    import kornia.geometry.transform as KT
    h, w = x.shape[-2:]
    m = _affine_pixel_matrix(delta, h, w)
    return KT.warp_affine(x, m, (h, w), mode="bilinear", padding_mode=G.padding_mode, align_corners=False)


#: model → (kornia op as shown in the table, its call with parameters derived from δ).
CANDIDATES: dict[str, tuple[str, Callable]] = {
    "brightness": ("enhance.adjust_contrast(x, 2^δ)", _brightness),
    "gamma": ("enhance.adjust_gamma(x, 2^δ)", _gamma),
    "saturation": ("enhance.adjust_saturation_with_gray_subtraction(x, s)", _saturation),
    "decolorize": ("lerp(x, color.rgb_to_grayscale(x), t)", _decolorize),
    "gaussian-blur": ("filters.gaussian_blur2d(x, 19, √(σ²+ε/2), reflect)", _blur),
    "rotation": ("geometry.transform.rotate(x, δ)", _rotation),
    "affine": ("geometry.transform.warp_affine(x, M(δ))", _affine),
}

def _ours(name: str) -> Callable:
    return lambda G, x, delta: G.decode(x, delta)


#: Known models examined and left out: no kornia functional op computes the same maths.
REJECTED = [
    ("brightness vs `enhance.adjust_brightness`", "kornia's brightness adds a shift (x + f); ours is a gain "
     "clamp(x · 2^δ): kornia's `adjust_contrast` (a gain with the clip) is the equivalent, timed above."),
    ("contrast vs `enhance.adjust_contrast_with_mean_subtraction`", "kornia subtracts the mean of the "
     "grayscale (luma-weighted) image for RGB input; ours the mean over all channels (colour balance kept). "
     "`enhance.adjust_contrast` has no mean at all."),
    ("hue vs `enhance.adjust_hue`", "kornia shifts hue in HSV (kinks at every hue sector); ours is a "
     "rotation of the YIQ chroma plane that keeps luma."),
    ("saturation vs `enhance.adjust_saturation`", "HSV saturation scale; ours blends with the Rec. 601 "
     "luma (kornia's `adjust_saturation_with_gray_subtraction`, timed above)."),
    ("colorize, background-color/-texture, foreground-color", "no kornia op tints toward a colour or "
     "recolours a masked region."),
    ("noise, additive-l2, additive-linf", "x + noise(δ) is one addition; kornia has no functional op "
     "for it (RandomGaussianNoise draws its own noise)."),
    ("erasing, erasing-soft", "kornia's erasing is `augmentation.RandomErasing` (hard box, random "
     "draws, no functional op with a box from δ, not differentiable in the box)."),
    ("snow, rain, haze, shadow, dirty-lens", "kornia's RandomSnow/RandomRain/RandomPlasmaShadow are "
     "different generative models with their own discrete random draws; no functional op computes "
     "our particle fields, haze or lens model (their blur is the shared `_blur.separable_blur`, "
     "judged through gaussian-blur)."),
]


def _grad_ok(fn: Callable, G, x: Tensor, delta: Tensor) -> str:
    """'yes' if ∂(Σ w·out)/∂δ exists, is finite everywhere and nonzero (x has black pixels)."""
    x = x.clone()
    x[:, :, :2, :2] = 0.0  # black pixels: pow/log edge cases
    d = delta.clone().requires_grad_(True)
    wgt = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    try:
        out = fn(G, x, d)
        (g,) = torch.autograd.grad((out * wgt).sum(), d)
    except Exception as e:  # noqa: BLE001 - reported in the table
        return f"no ({type(e).__name__})"
    if not bool(torch.isfinite(g).all()):
        return "no (non-finite)"
    return "yes" if bool((g != 0).any()) else "no (zero)"


def _identity_exact(fn: Callable, G, name: str) -> str:
    """'yes' if the kornia path returns x bit for bit at the identity δ (float32 and float64, square
    and non-square); where ours is not bit-exact either (the warps), within the tests' 1e-6 as ours."""
    ident = G.identity_delta(4)
    if ident is None:
        return "—"
    ours = _ours(name)
    loose = False
    for dtype in (torch.float32, torch.float64):
        for h, w in ((16, 16), (9, 5)):
            x = torch.rand(4, 3, h, w, generator=torch.Generator().manual_seed(2), dtype=dtype)
            d = ident.to(dtype)
            try:
                y = fn(G, x, d)
            except Exception as e:  # noqa: BLE001
                return f"no ({type(e).__name__})"
            if torch.equal(y, x):
                continue
            if not torch.equal(ours(G, x, d), x) and (y - x).abs().max().item() <= 1e-6:
                loose = True
                continue
            return f"no ({str(dtype).split('.')[-1]}, {h}×{w})"
    return "≤ 1e-6, as ours" if loose else "yes"


def _grad_x_at_black(fn: Callable, G) -> str:
    """'yes' if ∂/∂x of the kornia path is finite on black pixels at every δ of a grid over Δ
    (our models promise it; e.g. ``tests/known`` checks gamma's at x = 0 for γ < 1)."""
    lo, hi = torch.tensor(G.delta_space()["bounds"], dtype=torch.float64).T
    d = lo + torch.linspace(0, 1, 5, dtype=torch.float64).unsqueeze(-1) * (hi - lo)
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    x[:, :, :2, :2] = 0.0
    x.requires_grad_(True)
    try:
        (g,) = torch.autograd.grad(fn(G, x, d).sum(), x)
    except Exception as e:  # noqa: BLE001
        return f"no ({type(e).__name__})"
    return "yes" if bool(torch.isfinite(g).all()) else "no (non-finite)"


def _gradcheck(fn: Callable, name: str) -> str:
    """float64 gradcheck of the kornia path w.r.t. (x, δ) on a small batch, as tests/known does."""
    G = nz.load(name, max_sigma=1.0) if name == "gaussian-blur" else nz.load(name)
    gen = torch.Generator().manual_seed(3)
    x = 0.1 + 0.8 * torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    d = G.sample_delta(2, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    d.requires_grad_(True)
    try:
        ok = torch.autograd.gradcheck(lambda a, b: fn(G, a, b), (x, d), eps=1e-6, atol=1e-6, raise_exception=False)
    except Exception as e:  # noqa: BLE001
        return f"no ({type(e).__name__})"
    return "yes" if ok else "no"


def bench_one(name: str, size: int, batch: int, reps: int, min_time: float, clock) -> dict:
    label, fn = CANDIDATES[name]
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size)
    G = nz.load(name).eval()
    delta = G.sample_delta(batch, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _ours(name)
        diff = (ours(G, x, delta) - fn(G, x, delta)).abs().max().item()
        timed = {"ours": lambda: ours(G, x, delta), "kornia": lambda: fn(G, x, delta)}
        best = {k: float("inf") for k in timed}
        for f in timed.values():
            f()  # warm-up
        # Round-robin, as benchmarks/known_models.py: a load burst hits both columns alike.
        ratios = []  # kornia/ours speed within each round
        for _ in range(max(1, reps)):
            t = {k: best_time(f, 1, warmup=0, min_time=min_time, clock=clock) for k, f in timed.items()}
            ratios.append(t["ours"] / t["kornia"])
            best = {k: min(best[k], t[k]) for k in best}
    row = {"model": name, "op": label, "size": size, "batch": batch, "diff": diff,
           "ours": batch / best["ours"], "kornia": batch / best["kornia"],
           "rmin": min(ratios), "rmax": max(ratios)}
    row["grad"] = _grad_ok(fn, G, x[: min(batch, 8)], delta[: min(batch, 8)])
    return row


def checks(name: str) -> dict:
    """The size-independent exactness checks of the kornia path."""
    _, fn = CANDIDATES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G = nz.load(name)
        return {"identity": _identity_exact(fn, G, name), "black": _grad_x_at_black(fn, G), "gradcheck": _gradcheck(fn, name)}


def qualifies(row: dict, chk: dict) -> bool:
    return (row["diff"] <= DIFF_BAR and row["grad"] == "yes" and chk["identity"] in ("yes", "—", "≤ 1e-6, as ours")
            and chk["gradcheck"] == "yes" and chk["black"] == "yes" and row["kornia"] >= SPEED_BAR * row["ours"] and row["rmin"] >= SPEED_BAR)


def _why_not(row: dict, chk: dict) -> str:
    why = []
    if row["kornia"] < SPEED_BAR * row["ours"]:
        why.append("slower")
    elif row["rmin"] < SPEED_BAR:
        why.append("not faster in every round")
    if row["diff"] > DIFF_BAR:
        why.append("diff")
    if row["grad"] != "yes":
        why.append("no ∂/∂δ")
    if chk["identity"] not in ("yes", "—", "≤ 1e-6, as ours"):
        why.append("identity not exact")
    if chk["black"] != "yes":
        why.append("∂/∂x not finite at black")
    if chk["gradcheck"] != "yes":
        why.append("gradcheck fails")
    return "**qualifies in this run**" if not why else "keep ours (" + ", ".join(why) + ")"


def table(rows: list[dict], chks: dict[str, dict]) -> str:
    header = ["model", "kornia functional op", "ours img/s", "kornia img/s", "kornia/ours", "per round", "max |diff|",
              "kornia ∂/∂δ", "identity exact", "∂/∂x finite at black", "float64 gradcheck", "verdict"]
    body = [[r["model"], f"`{r['op']}`", f"{r['ours']:,.0f}", f"{r['kornia']:,.0f}", f"{r['kornia'] / r['ours']:.2f}×", f"{r['rmin']:.2f}–{r['rmax']:.2f}×",
             f"{r['diff']:.1e}", r["grad"], chks[r["model"]]["identity"], chks[r["model"]]["black"], chks[r["model"]]["gradcheck"],
             _why_not(r, chks[r["model"]]) if r["size"] == 32 else "—"] for r in rows]
    return md_table(header, body, "---|---|---:|---:|---:|---:|---:|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="32×32 only, 2 reps")
    p.add_argument("--models", nargs="*", default=None, choices=sorted(CANDIDATES), help="subset of candidates")
    add_timing_args(p)
    p.add_argument("--out", default=str(DOCS))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load0 = load_now()
    reps = args.reps or (2 if args.quick else 3)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    names = args.models or list(CANDIDATES)
    plan = [(n, 32, 256) for n in names] + ([] if args.quick else [(n, 224, 32) for n in names])
    chks = {n: checks(n) for n in names}
    rows = []
    for name, size, batch in plan:
        r = bench_one(name, size, batch, reps, args.min_time, clock)
        rows.append(r)
        print(f"{name:14s} {size:3d}px  ours {r['ours']:>11,.0f}  kornia {r['kornia']:>11,.0f}  "
              f"({r['kornia'] / r['ours']:.2f}×, rounds {r['rmin']:.2f}–{r['rmax']:.2f}×)  diff {r['diff']:.1e}  grad {r['grad']}  "
              f"identity {chks[name]['identity']}  black {chks[name]['black']}  gradcheck {chks[name]['gradcheck']}", flush=True)
    switch = [r["model"] for r in rows if r["size"] == 32 and qualifies(r, chks[r["model"]])]
    cmd = (f"python benchmarks/kornia_functional.py{' --quick' if args.quick else ''}"
           f"{f' --threads {args.threads}' if args.threads != 2 else ''}{' --clock cpu' if args.clock == 'cpu' else ''}"
           f"{f' --reps {args.reps}' if args.reps else ''}{' --models ' + ' '.join(args.models) if args.models else ''}")
    lines = ["## Known models vs kornia functional ops with the same maths (the judge of issue 12, item 3)", "",
             machine_line(args.threads, load0), "",
             f"`{cmd}`: best of {reps} "
             f"{'(CPU time of the process, `time.process_time`) ' if args.clock == 'cpu' else ''}"
             f"round-robin repetitions of ≥ {args.min_time * 1e3:.0f} ms each (one warm-up), float32 input in "
             "[0, 1], `torch.inference_mode()`. **ours** is `G.decode(x, δ)` (the maths, without the input "
             "check of `G(x, δ)`); **kornia** is the kornia functional op computing the same map with the "
             "per-sample parameters derived from the same δ (a different δ per image; the derivation, e.g. "
             "2^δ, is inside the timed call, as it is inside `decode`). **max |diff|**: largest absolute "
             "difference of the outputs. **kornia ∂/∂δ**: autograd gives a finite, nonzero gradient "
             "w.r.t. δ (input with black pixels). **identity exact**: the kornia path returns x bit for bit "
             "at `G.identity_delta` in float32 and float64, on 16×16 and 9×5 images (our colour and blur models "
             "guarantee it, `tests/known` checks it; our warps are exact only to ~1e-7, and the tests allow "
             "1e-6: there the kornia path must be within 1e-6 too). "
             "**∂/∂x finite at black**: the kornia path's gradient w.r.t. x is finite on black pixels for δ "
             "across Δ (ours are; `tests/known` checks gamma's at x = 0, γ < 1). "
             "**float64 gradcheck**: `torch.autograd.gradcheck` w.r.t. (x, δ), as `tests/known` runs on ours. "
             "**per round**: the range of kornia/ours over the round-robin rounds (both timed in the same round). "
             f"A model switches to kornia only if, at 32×32 batch 256, kornia/ours ≥ {SPEED_BAR:.2f}× on these "
             f"best-of numbers and in every round (a lead that flips between rounds is noise), max |diff| ≤ {DIFF_BAR:g}, and all three checks pass.", ""]
    for size in sorted({r["size"] for r in rows}):
        rs = [r for r in rows if r["size"] == size]
        lines += [f"### {size}×{size}, batch {rs[0]['batch']}", "", table(rs, chks), ""]
    lines += ["### Verdict", ""]
    if switch:
        lines.append(f"Qualified at 32×32 in this run: {', '.join(switch)}. A switch also needs the lead to "
                     "repeat in separate runs of this script (see Findings for the decision).")
    else:
        lines.append("No kornia functional op qualifies: each equivalent is slower than ours at 32×32 (or not "
                     "faster in every round), or breaks a guarantee of ours, so no known model switches (see the "
                     "verdict column).")
    lines += ["", "Examined and rejected before timing (not the same maths):", ""]
    lines += [f"- {what}: {why}" for what, why in REJECTED]
    out = write_section(SECTION, "\n".join(lines), args.out)
    print(f"qualify: {switch or 'none'}; wrote section {SECTION!r} of {out}")
    return rows


if __name__ == "__main__":
    main()
