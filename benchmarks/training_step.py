"""Per-step wall time of the model-based training wrappers, against their ideal and a
reference (authors'-style) implementation, on CPU.

For each classifier (the paper's CNN and timm's resnet18) and each nuisance model (a known
one, ``brightness``, and the zoo's learned MUNIT-style ``gtsrb-contrast.munit``) this times one optimiser step
(``loss = wrapper(x, y); loss.backward(); opt.step(); opt.zero_grad()``) at batch 64, 32×32, of
ERM, PGD-20, MRT-1, MRT-10, MDA-5 and MAT-10, and in the same run:

* **ideal**: the sum of the step's parts, each timed alone: one ``G.encode``; the batched
  ``G.decode`` of ``k·B`` images; the classifier forward + backward + SGD step on the
  augmented batch; for MRT the search forward (eval, no grad) on ``k·B`` images in one batch
  or in ``k`` batches of ``B``, whichever is faster (on CPU the loop can be; MRT-1 has nothing
  to score); for MAT and
  PGD ``k`` × (decode of ``B`` with grad + classifier forward/backward to the input + backward
  through G) and the final decode. ``step/ideal`` is the wrappers' overhead.
* **reference**: the structure of the authors' code: a Python loop over the ``k`` draws or
  steps, calling the full ``G(x, δ)`` (encode again for every draw), MRT scoring each draw with
  its own classifier forward. ``reference/step`` is our speed-up.

Targets on CPU: step/ideal ≤ 1.10 for MDA and MRT, ≤ 1.25 for MAT; every MDA/MRT/MAT/PGD step
at least as fast as the reference (ours/ref ≥ 1.0); with a learned G, ≥ 2× faster than the
reference at k = 5 (MDA-5). On an accelerator: MDA-5 ≤ 1.1 × (k + 1) × the ERM step.

Every timed function runs once before the rounds (warm-up: the wrappers' one-off search-plan
measurement, ``torch.compile``), then the rounds run round-robin and each number is the best.

Usage:
    python benchmarks/training_step.py                # both classifiers, both G, best of 3 rounds (resnet18: 2)
    python benchmarks/training_step.py --quick        # paper CNN only, 1 round
    python benchmarks/training_step.py --classifiers paper-cnn --threads 1 --clock cpu --reps 3
    python benchmarks/training_step.py --device cuda --amp bf16 --channels-last --compile --batch 256 \\
        --section gpu_training_step_compiled          # see benchmarks/gpu_training_step.sh
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import nuisance_zoo as nz  # noqa: E402
from nuisance_zoo.base import _repeat_content  # noqa: E402
from nuisance_zoo.training import MATWrapper, MDAWrapper, MRTWrapper, PGDWrapper, paper_cnn  # noqa: E402
from _common import DOCS, device_name, load_now, machine_line, md_table, write_section  # noqa: E402

SECTION = "training_step"
METHODS = ("ERM", "PGD-20", "MRT-1", "MRT-10", "MDA-5", "MAT-10")
# The learned G is the zoo's MUNIT-style model (its plain name now gives a structured one, which
# costs what a known model costs): the timing docs/benchmarks.md reports is of an encoder-decoder.
GS = ("brightness", "gtsrb-contrast.munit")
CLASSIFIERS = ("paper-cnn", "resnet18")
BATCH, SIZE, CLASSES = 64, 32, 10
#: Set by main(): where and how everything runs (device, bf16 autocast, memory format, compile).
CFG = {"device": torch.device("cpu"), "amp": False, "channels_last": False, "compile": False}
MAT_STEP = 0.1
TARGET = {"MDA": 1.10, "MRT": 1.10, "MAT": 1.25}


_COMPILED: dict[str, nn.Module] = {}


def make_classifier(name: str) -> nn.Module:
    """The classifier on CFG's device and memory format, compiled when CFG says so (the
    optimisers below take the parameters, which a compiled module shares). A compiled
    classifier is built once per name and shared by every method, so its graphs compile once
    (its weights drift between methods; the timings do not depend on them)."""
    if CFG["compile"] and name in _COMPILED:
        return _COMPILED[name]
    torch.manual_seed(0)
    if name == "paper-cnn":
        model = paper_cnn(num_classes=CLASSES, in_chans=3, input_size=SIZE)
    else:
        import timm

        model = timm.create_model(name, num_classes=CLASSES, pretrained=False)
    model = model.to(CFG["device"])
    if CFG["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if CFG["compile"]:
        model = _COMPILED[name] = torch.compile(model)
    return model


def wrapper_layout(t: torch.Tensor) -> torch.Tensor:
    """A classifier batch in the layout the wrappers give it with their default
    ``memory_format="auto"``: channels_last on CPU (and wherever the inputs are channels_last),
    so the ideal's parts run the kernels the step runs."""
    if CFG["device"].type == "cpu" or CFG["channels_last"]:
        return t.contiguous(memory_format=torch.channels_last)
    return t


def load_g(name: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nz.load(name, **kw).eval().requires_grad_(False).to(CFG["device"])


def amp():
    """bf16 autocast around every timed call when CFG asks for it (G itself runs in float32)."""
    if not CFG["amp"]:
        return contextlib.nullcontext()
    return torch.autocast(CFG["device"].type, dtype=torch.bfloat16)


def parse(method: str) -> tuple[str, int]:
    kind, _, k = method.partition("-")
    return kind, int(k) if k else 0


def make_wrapper(method: str, model: nn.Module, G) -> nn.Module | None:
    kind, k = parse(method)
    if kind == "ERM":
        return None
    if kind == "PGD":
        return PGDWrapper(model, image_shape=(3, SIZE, SIZE), steps=k).to(CFG["device"])
    if kind == "MRT":
        return MRTWrapper(model, G, k=k)
    if kind == "MDA":
        return MDAWrapper(model, G, k=k)
    return MATWrapper(model, G, k=k, step_size=MAT_STEP, sign=False)  # raw steps, like the reference below


# ---------------------------------------------------------------- the step, as users run it
def step_fn(method: str, model: nn.Module, G, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    wrapper = make_wrapper(method, model, G)
    crit = nn.CrossEntropyLoss()
    if wrapper is None:
        def step():
            model.train()
            crit(model(x), y).backward()
            opt.step()
            opt.zero_grad()
        return step
    wrapper.train()

    def step():
        wrapper(x, y).backward()
        opt.step()
        opt.zero_grad()
    return step


# ---------------------------------------------------------------- the ideal: parts timed alone
def ideal_parts(method: str, model: nn.Module, G, x, y) -> list[tuple[str, int, object]]:
    """The step's parts as ``(name, multiplicity, fn)``; ideal = Σ multiplicity × time(fn)."""
    kind, k = parse(method)
    b = x.shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss(reduction="none")
    if kind == "PGD":
        G = load_g("additive-linf", shape=(3, SIZE, SIZE), eps=0.3)

    def update(n):  # classifier forward + backward + SGD step on n·B images, train mode
        imgs, tgt = wrapper_layout(torch.cat([x] * n)), torch.cat([y] * n)

        def run():
            model.train()
            (crit(model(imgs), tgt).sum() / b).backward()
            opt.step()
            opt.zero_grad()
        return run

    if kind == "ERM":
        return [("update B", 1, update(1))]
    with torch.no_grad():
        content = G.encode(x)

    def encode():
        with torch.no_grad():
            G.encode(x)

    def decode(n):
        c = _repeat_content(content, n)
        d = G.sample_delta(n * b, device=x.device)

        def run():
            with torch.no_grad():
                G.decode(c, d)
        return run

    if kind == "MDA":
        return [("encode", 1, encode), (f"decode {k}B", 1, decode(k)), (f"update {k + 1}B", 1, update(k + 1))]
    if kind == "MRT":
        imgs, tgt = wrapper_layout(torch.cat([x] * k)), torch.cat([y] * k)
        xb = wrapper_layout(x)

        def search():
            model.eval()
            with torch.no_grad():
                crit(model(imgs), tgt)

        def search_loop():
            model.eval()
            with torch.no_grad():
                for _ in range(k):
                    crit(model(xb), y)
        if k == 1:  # one candidate: nothing to score
            return [("encode", 1, encode), ("decode B", 1, decode(1)), ("update 2B", 1, update(2))]
        # "min:" parts: only the faster of the two counts (one k·B batch, or k batches of B).
        return [("encode", 1, encode), (f"decode {k}B", 1, decode(k)), (f"min:search fwd {k}B", 1, search),
                (f"min:search fwd {k}×B", 1, search_loop), ("update 2B", 1, update(2))]
    # MAT / PGD: one ascent step = G decode with grad + backward through G, and the
    # classifier's forward/backward to its input (eval mode), timed separately.
    d0 = G.sample_delta(b, device=x.device)

    def g_fb():
        d = d0.clone().requires_grad_(True)
        out = G.decode(content, d)
        torch.autograd.grad(out, d, grad_outputs=torch.ones_like(out))

    def f_fb():
        model.eval()
        inp = x.detach().requires_grad_(True)
        torch.autograd.grad(crit(model(wrapper_layout(inp)), y).sum(), inp)
    return [("encode", 1, encode), ("G fwd+bwd B", k, g_fb), ("f fwd+bwd B", k, f_fb),
            ("decode B", 1, decode(1)), ("update 2B", 1, update(2))]


# ---------------------------------------------------------------- the authors' structure
class ChannelsLastInputs(nn.Module):
    """``model`` with its inputs converted to channels_last (a user's one-line change)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.model(t.contiguous(memory_format=torch.channels_last))


def reference_fn(method: str, model: nn.Module, G, x, y, channels_last: bool = False):
    """Loop over k, full ``G(x, δ)`` (encode again) per draw, as the authors' code does.
    ``channels_last``: the same loop with every classifier batch in channels_last (what a user
    of the authors' code could add by hand: the fair comparison for the layout choice)."""
    kind, k = parse(method)
    if kind == "ERM":
        return None
    if channels_last:
        model = ChannelsLastInputs(model)
    b = x.shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss(reduction="none")
    if kind == "PGD":
        G = load_g("additive-linf", shape=(3, SIZE, SIZE), eps=0.3)

    def update(gen):
        model.train()
        imgs = torch.cat([x, gen])
        (crit(model(imgs), torch.cat([y] * (imgs.shape[0] // b))).sum() / b).backward()
        opt.step()
        opt.zero_grad()

    if kind == "MDA":
        def step():
            with torch.no_grad():
                gen = torch.cat([G(x, G.sample_delta(b, device=x.device)) for _ in range(k)])
            update(gen)
        return step
    if kind == "MRT":
        def step():
            model.eval()
            worst, worst_loss = None, -float("inf")
            with torch.no_grad():
                for _ in range(k):
                    xi = G(x, G.sample_delta(b, device=x.device))
                    li = float(crit(model(xi), y).sum())
                    if li > worst_loss:
                        worst, worst_loss = xi, li
            update(worst)
        return step
    sign, alpha = (True, 0.01) if kind == "PGD" else (False, MAT_STEP)

    def step():
        model.eval()
        d = G.sample_delta(b, device=x.device) if kind == "PGD" else (
            G.identity_delta(b, device=x.device) if G.identity_delta(b) is not None
            else torch.zeros(b, G.delta_dim, device=x.device))
        d = G.project(d)
        for _ in range(k):
            d = d.detach().requires_grad_(True)
            g = torch.autograd.grad(crit(model(G(x, d)), y).sum(), d)[0]
            d = G.project(d.detach() + alpha * (g.sign() if sign else g))
        with torch.no_grad():
            gen = G(x, d)
        update(gen)
    return step


# ---------------------------------------------------------------- driver
def timed(fn, clock) -> float:
    """Seconds of one call of ``fn`` under CFG's autocast; on an accelerator the queued work is
    waited for before and after (the step's own code makes no sync, so without this the clock
    would stop before the device finishes)."""
    dev = CFG["device"]
    if dev.type != "cpu":
        torch.accelerator.synchronize(dev)
    t = clock()
    with amp():
        fn()
    if dev.type != "cpu":
        torch.accelerator.synchronize(dev)
    return clock() - t


def run_config(clf: str, g_name: str, methods, rounds: int, done_pgd: set, batch: int = BATCH,
               clock=time.perf_counter) -> list[dict]:
    torch.manual_seed(0)
    x = torch.rand(batch, 3, SIZE, SIZE).to(CFG["device"])
    if CFG["channels_last"]:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, CLASSES, (batch,)).to(CFG["device"])
    G = load_g(g_name)
    rows = []
    for method in methods:
        kind, k = parse(method)
        if kind in ("ERM", "PGD"):  # independent of G: measured once per classifier
            if (clf, method) in done_pgd:
                continue
            done_pgd.add((clf, method))
        model = make_classifier(clf)
        # Round-robin: step, reference and every ideal part once per round, best of the rounds
        # for each, so a burst of load from other jobs hits all of them alike.
        fns = {"step": step_fn(method, model, G, x, y)}
        ref = reference_fn(method, model, G, x, y)
        if ref is not None:
            fns["ref"] = ref
            if CFG["device"].type == "cpu" and not CFG["channels_last"]:
                fns["ref_cl"] = reference_fn(method, model, G, x, y, channels_last=True)
        parts = ideal_parts(method, model, G, x, y)
        fns.update({f"part:{name}": fn for name, _, fn in parts})
        # Warm-up, not timed: first-call allocations, the wrappers' search-plan measurement (once
        # per batch shape), torch.compile.
        for fn in fns.values():
            timed(fn, clock)
        best = {name: float("inf") for name in fns}
        for _ in range(max(1, rounds)):
            for name, fn in fns.items():
                best[name] = min(best[name], timed(fn, clock))
        model.train()
        step, ref_t = best["step"], best.get("ref")
        ideal = sum(m * best[f"part:{name}"] for name, m, _ in parts if not name.startswith("min:"))
        alternatives = [m * best[f"part:{name}"] for name, m, _ in parts if name.startswith("min:")]
        ideal += min(alternatives, default=0.0)
        row = {"classifier": clf, "G": "—" if kind in ("ERM",) else ("additive-linf" if kind == "PGD" else g_name),
               "learned": g_name.startswith("gtsrb") and kind not in ("ERM", "PGD"),
               "method": method, "kind": kind, "k": k, "step": step, "ideal": ideal, "ref": ref_t,
               "ref_cl": best.get("ref_cl")}
        rows.append(row)
        print(f"{clf:9s} {row['G']:15s} {method:7s} step {step * 1e3:8.1f} ms  ideal {ideal * 1e3:8.1f} ms  "
              f"step/ideal {step / ideal:5.2f}  ref {('—' if ref_t is None else f'{ref_t * 1e3:8.1f} ms'):>11s}  "
              f"{verdict(row)}", flush=True)
    return rows


def verdict(r: dict) -> str:
    out = []
    lim = TARGET.get(r["kind"])
    if lim is not None:
        q = r["step"] / r["ideal"]
        out.append(f"≤{lim:.2f}: " + ("met" if q <= lim else f"**not met** (+{(q / lim - 1) * 100:.0f}%)"))
    if r["ref"] is not None:
        out.append("≥ref: " + ("met" if r["ref"] >= r["step"] else "**not met**"))
    if r["learned"] and r["method"] == "MDA-5" and r["ref"] is not None:
        s = r["ref"] / r["step"]
        out.append("≥2× ref: " + ("met" if s >= 2 else f"**not met** ({s:.2f}×)"))
    return ", ".join(out) or "—"


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="paper CNN only, 1 round")
    p.add_argument("--classifiers", nargs="*", default=None, choices=None)
    p.add_argument("--gs", nargs="*", default=list(GS))
    p.add_argument("--methods", nargs="*", default=list(METHODS))
    p.add_argument("--reps", type=int, default=None,
                   help="rounds (best of; the first includes warm-up); default 3 (paper CNN), 2 (resnet18), 1 (--quick)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or this process's CPU time (with --threads 1: repeatable on a loaded machine)")
    p.add_argument("--batch", type=int, default=BATCH)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--amp", choices=("none", "bf16"), default="none", help="bf16 autocast around every call")
    p.add_argument("--channels-last", action="store_true", help="classifier and batch in channels_last")
    p.add_argument("--compile", action="store_true", help="torch.compile the classifier (slow to warm up on CPU)")
    p.add_argument("--section", default=SECTION, help="the marked section of --out to write")
    p.add_argument("--out", default=str(DOCS))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    CFG.update(device=torch.device(args.device), amp=args.amp == "bf16", channels_last=args.channels_last,
               compile=args.compile)
    if args.clock == "cpu" and CFG["device"].type != "cpu":
        p.error("--clock cpu counts host CPU time only; use the wall clock on an accelerator")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    load0 = load_now()
    clfs = args.classifiers or (["paper-cnn"] if args.quick else list(CLASSIFIERS))
    rows, done, rounds_used = [], set(), {}
    for clf in clfs:
        reps = args.reps or (1 if args.quick else 3 if clf == "paper-cnn" else 2)
        rounds_used[clf] = reps
        for g in args.gs:
            rows += run_config(clf, g, args.methods, reps, done, args.batch, clock)

    def ms(v):
        return "—" if v is None else f"{v * 1e3:,.1f}"
    body = [[r["classifier"], r["G"], r["method"], ms(r["step"]), ms(r["ideal"]),
             "—" if r["kind"] == "ERM" else f"{r['step'] / r['ideal']:.2f}", ms(r["ref"]),
             "—" if r["ref"] is None else f"{r['ref'] / r['step']:.2f}×", ms(r["ref_cl"]),
             "—" if r["ref_cl"] is None else f"{r['ref_cl'] / r['step']:.2f}×", verdict(r)] for r in rows]
    table = md_table(["classifier", "G", "method", "ours (step) ms", "ideal ms", "step/ideal", "authors' loop ms",
                      "ours vs authors' loop", "authors' loop, channels_last ms", "ours vs it", "targets"], body,
                     "---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    flags = "".join([f" --classifiers {' '.join(args.classifiers)}" if args.classifiers else "",
                     " --quick" if args.quick else "", f" --reps {args.reps}" if args.reps else "",
                     f" --threads {args.threads}" if args.threads != 2 else "",
                     " --clock cpu" if args.clock == "cpu" else "",
                     f" --batch {args.batch}" if args.batch != BATCH else "",
                     f" --device {args.device}" if args.device != "cpu" else "",
                     " --amp bf16" if CFG["amp"] else "", " --channels-last" if args.channels_last else "",
                     " --compile" if args.compile else "",
                     f" --section {args.section}" if args.section != SECTION else ""])
    checked = [r for r in rows if r["kind"] in TARGET]
    met = [r for r in checked if r["step"] / r["ideal"] <= TARGET[r["kind"]]]
    where = machine_line(args.threads, load0)
    if CFG["device"].type != "cpu":
        where = f"Device: {device_name(CFG['device'])}, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    lines = [f"## Training step: wrappers vs ideal vs the authors' loop ({', '.join(clfs)}, {args.device}"
             f"{', bf16 autocast' if CFG['amp'] else ''}{', channels_last' if args.channels_last else ''}"
             f"{', torch.compile' if args.compile else ''})", "",
             where, "",
             f"`python benchmarks/training_step.py{flags}`: batch {args.batch}, "
             f"{SIZE}×{SIZE}, {CLASSES} classes, SGD; one step = objective + backward + `opt.step()`. "
             f"Round-robin timing: each round runs the step, the reference and every ideal part once; each "
             f"number is the best over the rounds ({', '.join(f'{c}: {n}' for c, n in rounds_used.items())}) "
             f"of {'the process CPU time (`time.process_time`: time other jobs hold the cores is not counted)' if args.clock == 'cpu' else 'wall time' + (' (device synchronised before and after each call)' if CFG['device'].type != 'cpu' else '')}, "
             "after one untimed warm-up call of each (the wrappers' search-plan measurement, compilation). "
             "**ours** is the wrapper's step with its defaults (`chunk=\"auto\"`). **ideal**: the "
             "step's parts timed alone and summed (encode once, batched decode of k·B, classifier "
             "forward/backward on the augmented batch; MRT: + the search forward on k·B images, in one batch or "
             "k batches of B, whichever was faster (none for MRT-1: one candidate has nothing to score); MAT/PGD: + k × "
             "(decode with grad and backward through G, classifier forward/backward to the input)). "
             "**reference**: the authors' structure, a Python loop over k calling the full G(x, δ) "
             "(re-encoding) for every draw/step, MRT scoring each draw with its own forward, on contiguous "
             "batches as the authors wrote it; **authors' loop, channels_last** (CPU): the same loop with "
             "every classifier batch made channels_last by hand, the layout our wrappers choose on CPU "
             "(`memory_format=\"auto\"`), so that column isolates what the wrappers' structure gains. "
             "The ideal's parts run in the wrappers' layout. PGD-20 uses "
             "`additive-linf` (ε 0.3) whatever G is; ERM has no G. The wrappers feed the clean batch "
             "too (2B images in the update, also for PGD with λ = 0), and so do ideal and reference.", "",
             table, "", "### Targets", "",
             f"- step/ideal (≤ 1.10 MDA/MRT, ≤ 1.25 MAT): met in {len(met)}/{len(checked)} rows."]
    for r in checked:
        if r not in met:
            q = r["step"] / r["ideal"]
            lines.append(f"  - not met: {r['classifier']} / {r['G']} / {r['method']}: {q:.2f} "
                         f"({(q / TARGET[r['kind']] - 1) * 100:.0f}% over).")
    with_ref = [r for r in rows if r["ref"] is not None]
    slower = [r for r in with_ref if r["ref"] < r["step"]]
    lines.append(f"- ours ≥ the authors' loop (ours/ref ≥ 1.0): met in {len(with_ref) - len(slower)}/{len(with_ref)} rows"
                 + (": not met: " + ", ".join(f"{r['classifier']} / {r['G']} / {r['method']} ({r['ref'] / r['step']:.2f}×)"
                                               for r in slower) + "." if slower else "."))
    erm = {r["classifier"]: r["step"] for r in rows if r["kind"] == "ERM"}
    for r in rows:
        if r["kind"] == "MDA" and r["classifier"] in erm:
            bound = 1.1 * (r["k"] + 1) * erm[r["classifier"]]
            lines.append(f"- {r['classifier']} / {r['G']} / {r['method']} (the accelerator target): step {r['step'] * 1e3:,.1f} ms vs 1.1 × (k + 1) × ERM "
                         f"= {bound * 1e3:,.1f} ms: {'met' if r['step'] <= bound else 'not met'}.")
    for r in rows:
        if r["learned"] and r["method"] == "MDA-5" and r["ref"] is not None:
            s = r["ref"] / r["step"]
            lines.append(f"- learned G, MDA-5, {r['classifier']}: {s:.2f}× faster than the reference "
                         f"(target ≥ 2×: {'met' if s >= 2 else 'not met'}).")
    out = write_section(args.section, "\n".join(lines), args.out)
    print("\n".join(lines[-(len(lines) - lines.index('### Targets')):]))
    print(f"wrote section {args.section!r} of {out}")
    return rows


if __name__ == "__main__":
    main()
