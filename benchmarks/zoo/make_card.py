"""Bundle one trained zoo model as ``hub_cards/NAME/``: weights, config and a card with measured numbers.

    python -m benchmarks.zoo.make_card gtsrb-contrast --run runs/zoo_gpu
    python -m benchmarks.zoo.make_card gtsrb-brightness --variant munit \
        --from-card hub_cards/gtsrb-brightness --run runs/rebundle        # keep the old model as a variant

Reads ``RUN/NAME/model`` (from ``fit_zoo``), ``RUN/NAME/fit.json``, ``RUN/NAME/metrics.json`` and
``RUN/NAME/grid.png`` (from ``measure_zoo``, or ``merge_metrics``), measures size and CPU throughput
here (d), and writes the card. The card states whether the learned model beats the closest known
model, and its *Variants* table lists every bundled variant of the name (``NAME`` is the default,
``NAME.TAG`` the others, as timm names pretrained tags); bundling one refreshes that table on all.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.zoo import zoo_status_line, zoo_verdict

from .._common import cpu_model
from .card_grid import CAPTION
from .experiments import EXPERIMENTS
from .measure_zoo import known_key

REPO_ORG = "nuisance-zoo"


def cpu_throughput(G, size, threads: int = 2, batch: int = 256, repeats: int = 5) -> float:
    """Images/s of encode + decode at prior draws, on ``threads`` CPU threads (best of ``repeats``)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        G = G.cpu().eval()
        x = torch.rand(batch, G.input_spec()["channels"], *size)
        d = G.sample_delta(batch, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            G(x, d)  # warm-up
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                G(x, d)
                best = min(best, time.perf_counter() - t)
        return batch / best
    finally:
        torch.set_num_threads(old)


def _fmt(v: dict) -> str:
    return f"{v['mean']:.1f} ± {v['std']:.1f}"


#: Markers around the variants table, so that bundling one variant refreshes it on the others' cards.
VARIANTS_BEGIN, VARIANTS_END = "<!-- variants -->", "<!-- /variants -->"


def bundle_name(name: str, variant: str = "") -> str:
    """The zoo name a card is bundled under: ``NAME`` (the default) or ``NAME.VARIANT`` (timm's tags)."""
    return f"{name}.{variant}" if variant else name


def hardware(device: str) -> str:
    """What a run's ``device`` field means on a card: the GPU's name, or this machine's CPU."""
    return device if device != "cpu" else f"CPU ({cpu_model()}, {os.cpu_count()} cores; one thread per run)"


def _training_line(fit: dict) -> str:
    if fit["device"] != "cpu":  # the H100 fits ran the five first zoo models side by side (docs/zoo.md)
        where = f"{fit['device']}; the zoo's models were fitted side by side on it"
    else:
        where = f"CPU ({cpu_model()}, {fit.get('threads', '?')} thread)"
    return (f"{fit['iterations']:,} iterations, batch {fit['batch_size']}, config `{fit['config']}`, "
            f"{fit['wall_s']:.0f} s wall on {where} ({fit['process_cpu_s']:.0f} s process CPU time)")


def bundled_variants(name: str, out_root: Path) -> list[Path]:
    """The bundled folders of ``name`` that hold measurements: ``NAME`` (the default) first, then
    its variants ``NAME.TAG`` in name order."""
    return [f for f in [out_root / name, *sorted(out_root.glob(f"{name}.*"))] if (f / "metrics.json").is_file()]


def variants_table(name: str, out_root: Path) -> str:
    """The table of every bundled variant of ``name`` (``hub_cards/NAME`` and ``hub_cards/NAME.*``)."""
    rows = ["| load as | fit config | labels kept on G(x, δ) | ERM | MDA-5, this model | MRT-10, this model | "
            "MDA-5, closest known model | measured on | zoo status |", "|---|---|---|---|---|---|---|---|---|"]
    for f in bundled_variants(name, out_root):
        m = json.loads((f / "metrics.json").read_text())
        buys = m.get("test_B_accuracy", {})
        cell = lambda key: _fmt(buys[key]) if key in buys else "not measured"  # noqa: E731
        known = known_key(buys)
        lp = m["label_preservation"]
        status = "listed" if not zoo_verdict(m) else "experimental"
        load = f.name if status == "listed" else f"experimental/{f.name}"
        rows.append(f"| `{load}` | `{m['fit']['config']}` | {lp['acc_G(x)']:.1f} % (x: {lp['acc_x']:.1f} %) | "
                    f"{cell('ERM')} | {cell('MDA-5 (this model)')} | {cell('MRT-10 (this model)')} | "
                    f"{cell(known) if known else 'not measured'} | {hardware(m['device'])} | {status} |")
    return "\n".join([VARIANTS_BEGIN, "## Variants of this name", "",
                      f"`nz.load(\"{name}\")` gives the default, the variant that wins on its card; the others load "
                      f"by their tag (timm's `name.tag`). Each row comes from that variant's own `metrics.json` "
                      f"(3 seeds); rows measured on different hardware are not strictly comparable.", "",
                      *rows, VARIANTS_END])


def refresh_variants(name: str, out_root: Path) -> None:
    """Rewrite the variants table on every bundled card of ``name`` (after one of them changed)."""
    table = variants_table(name, out_root)
    for f in bundled_variants(name, out_root):
        card = f / "README.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8")
            if VARIANTS_BEGIN in text:
                head, rest = text.split(VARIANTS_BEGIN, 1)
                card.write_text(head + table + rest.split(VARIANTS_END, 1)[1], encoding="utf-8")


def card_text(name: str, metrics: dict, fit: dict, facts: dict, variant: str = "") -> str:
    exp = EXPERIMENTS[name]
    bundle = bundle_name(name, variant)
    buys = metrics.get("test_B_accuracy", {})
    erm = buys.get("ERM")
    learned = buys.get("MDA-5 (this model)")
    known = buys.get(known_key(buys))
    if learned and known and erm:
        if learned["mean"] > known["mean"]:
            verdict = (f"**Verdict: it earns its place.** MDA-5 with this model beats MDA-5 with the closest "
                       f"known model ({_fmt(learned)} vs {_fmt(known)}) and ERM ({_fmt(erm)}).")
        else:
            verdict = (f"**Verdict: it does not (yet) earn its place.** MDA-5 with this model reaches "
                       f"{_fmt(learned)} on domain B, below the closest known model's {_fmt(known)}"
                       + (f" and below ERM's {_fmt(erm)}" if learned["mean"] < erm["mean"] else f" (ERM: {_fmt(erm)})")
                       + f". Use the known "
                       f"model ({' then '.join(exp.known)}) for training; this one is kept for comparison"
                       f" and as a baseline for better generators.")
    else:
        verdict = "Downstream accuracy was not measured."
    s = metrics["shift"]
    lp = metrics["label_preservation"]
    lines = [exp.description + ".", "", verdict, "", zoo_status_line(bundle, metrics), "",
             "## Measured numbers", "",
             f"All from `benchmarks/zoo/` (see *Reproduce*). Classifier numbers: the paper's CNN, "
             f"{metrics['epochs']} epochs, Adadelta lr 1.0, batch 64, λ = 1, seeds {metrics['seeds']}, "
             f"mean ± std; trained on {hardware(metrics['device'])}.", "",
             "### (a) What it does", "",
             f"{s['statistic']} on domain-A test images, δ from the prior:", "",
             "| domain A | G(domain A) | domain B |", "|---|---|---|",
             f"| {s['A']} | {s['G(A)']} | {s['B']} |", ""]
    if "shift" in s:
        lines += [f"Shift produced: {s['shift']:+}; real gap between the domains: {s['real_gap']:+}.", ""]
    lines += ["### (b) Label preservation", "",
              f"{lp['classifier']}: accuracy on domain-A test images {lp['acc_x']:.1f}%, on G(x, δ) "
              f"{lp['acc_G(x)']:.1f}%.", "",
              "### (c) What it buys: test accuracy on domain B (%)", "",
              "| training | accuracy | per seed |", "|---|---|---|"]
    for k, v in buys.items():
        lines.append(f"| {k} | {_fmt(v)} | {', '.join(f'{a:.1f}' for a in v['accs'])} |")
    for k, v in metrics.get("paper", {}).items():
        lines.append(f"| paper, Table 2: {k} | {v} | |")
    lines += ["", "### (d) Cost", "",
              "| | |", "|---|---|",
              f"| parameters | {facts['parameters']:,} |",
              f"| weights file | {facts['weights_bytes'] / 1024:.0f} KiB |",
              f"| forward (encode + decode), 2 CPU threads | {facts['cpu_images_per_s']:,.0f} images/s "
              f"({facts['cpu']}) |",
              f"| training | {_training_line(fit)} |", "",
              "### (e) What it looks like", "",
              "See the picture below: inputs, generated rows and real domain-B images.", "",
              VARIANTS_BEGIN, VARIANTS_END, ""]
    gpu = fit["device"] != "cpu"
    shorts = {"ERM": "erm", "MDA-5 (this model)": "this", "MRT-10 (this model)": "mrt10"}
    measured = [shorts.get(k, "known") for k in buys]
    fit_where = "--device cuda" if gpu else f"--threads {fit.get('threads', 1)}"
    measure_where = "--device cuda" if metrics["device"] != "cpu" else "--threads 1"
    lines += ["## Reproduce", "", "```bash",
              f"python -m benchmarks.zoo.fit_zoo {name} --config {fit['config']} --iterations {fit['iterations']} "
              f"--batch-size {fit['batch_size']} {fit_where} --out runs/zoo",
              f"python -m benchmarks.zoo.measure_zoo {name} --model runs/zoo/{name}/model --out runs/zoo "
              f"--seeds {' '.join(map(str, metrics['seeds']))} --variants {' '.join(measured)} {measure_where}",
              f"python -m benchmarks.zoo.make_card {name} --run runs/zoo" + (f" --variant {variant}" if variant else ""),
              "```", ""]
    if metrics.get("merged_runs", 1) > 1:
        lines += [f"The measurements ran as {metrics['merged_runs']} processes side by side (seeds and trainings "
                  f"split), joined by `python -m benchmarks.zoo.merge_metrics`; one `measure_zoo` call as above "
                  f"gives the same numbers.", ""]
    lines += ["Data: `../shared/data` (or `--data-root`); specs:", ""]
    lines += [f"- {k}: `{v}`" for k, v in metrics["domains"].items()]
    return "\n".join(lines)


def card_as_run(card: Path, name: str, run: Path, data_root=None) -> Path:
    """Lay a bundled card out as a ``fit_zoo``/``measure_zoo`` run folder, to bundle it again
    (under a variant name, or with a new card layout): its weights and numbers are kept, its
    picture is drawn again by :func:`~benchmarks.zoo.card_grid.card_grid`."""
    from nuisance_zoo.data import load_dataset

    from .card_grid import card_grid

    metrics = json.loads((card / "metrics.json").read_text())
    run_dir = run / name
    (run_dir / "model").mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copyfile(card / f, run_dir / "model" / f)
    (run_dir / "fit.json").write_text(json.dumps(metrics.pop("fit"), indent=2))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    exp = EXPERIMENTS[name]
    card_grid(nz.load(f"local-dir:{card}"), load_dataset(exp.test_a, root=data_root),
              load_dataset(exp.test_b, root=data_root), run_dir / "grid.png")
    return run


def make_card(name: str, run: Path, out_root: Path, variant: str = "") -> Path:
    """Bundle ``RUN/NAME`` as ``OUT_ROOT/NAME`` (or ``NAME.VARIANT``) and refresh the variants tables."""
    exp = EXPERIMENTS[name]
    bundle = bundle_name(name, variant)
    run_dir = run / name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fit = json.loads((run_dir / "fit.json").read_text())
    G = nz.load(f"local-dir:{run_dir / 'model'}")
    cfg = json.loads((run_dir / "model" / "config.json").read_text())
    size = cfg["input"]["size"]
    # A card bundled again keeps the cost measured when it was made (throughput needs idle cores).
    facts = metrics.pop("cost", None) or {
        "parameters": sum(p.numel() for p in G.parameters()),
        "weights_bytes": (run_dir / "model" / "model.safetensors").stat().st_size,
        "cpu_images_per_s": cpu_throughput(G, size),
        "cpu": f"{cpu_model()}, {os.cpu_count()} cores",
    }
    text = card_text(name, metrics, fit, facts, variant)
    folder = out_root / bundle
    G.save_pretrained(
        folder,
        training={**cfg["training"], "batch_size": fit["batch_size"], "config": fit["config"],
                  "device": fit["device"], "wall_s": fit["wall_s"]},
        card={"name": bundle, "repo_id": f"{REPO_ORG}/{bundle}", "title": f"nuisance-zoo: {bundle}",
              "description": text, "grid": str(run_dir / "grid.png"), "grid_caption": CAPTION,
              "datasets": [exp.dataset.lower()], "tags": ["robustness", exp.dataset.lower()]},
    )
    (folder / "metrics.json").write_text(json.dumps({**metrics, "bundle": bundle, "cost": facts, "fit": fit}, indent=2))
    refresh_variants(name, out_root)
    return folder


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", default=list(EXPERIMENTS))
    p.add_argument("--run", default="runs/zoo_gpu", help="folder holding fit_zoo/measure_zoo outputs")
    p.add_argument("--out", default="hub_cards")
    p.add_argument("--variant", default="", help="bundle as NAME.VARIANT (not the name's default)")
    p.add_argument("--from-card", default=None, metavar="FOLDER",
                   help="bundle an existing card folder again (e.g. under --variant); --run is a scratch folder")
    p.add_argument("--data-root", default=None, help="for --from-card's picture")
    args = p.parse_args(argv)
    if args.from_card and len(args.names) != 1:
        p.error("--from-card bundles one card: give one name.")
    for n in args.names:
        if args.from_card:
            card_as_run(Path(args.from_card), n, Path(args.run), args.data_root)
        print(make_card(n, Path(args.run), Path(args.out), args.variant))


if __name__ == "__main__":
    main()
