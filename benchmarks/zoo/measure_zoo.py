"""Measure what a zoo model does and what it buys a classifier (the numbers on its card).

    python -m benchmarks.zoo.measure_zoo gtsrb-brightness --model runs/zoo/gtsrb-brightness/model \
        --device cuda --seeds 0 1 2 --out runs/zoo

(a) shift: the mean brightness/contrast (or background colour) change G produces on
    domain-A test images at prior draws, beside the real gap between domains A and B;
(b) label preservation: accuracy of a classifier trained on the whole data set, on x and on G(x, δ);
(c) what it buys: domain-B test accuracy of the paper's CNN trained on domain A with ERM,
    with MDA-5 over this model, with MDA-5 over the closest known model and with MRT-10 over
    this model (mean ± std over seeds);
(e) the card's picture (``grid.png``, :mod:`benchmarks.zoo.card_grid`): inputs, G's outputs, real domain B.
Size and CPU throughput (d) come from ``make_card.py``, on the 2-core CPU machine.
Results go to ``OUT/NAME/metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import nuisance_zoo as nz
from nuisance_zoo.data import brightness, contrast, load_dataset
from nuisance_zoo.eval.robustness import accuracy
from nuisance_zoo.training.trainer import train

from .card_grid import card_grid
from .experiments import EXPERIMENTS, known_model

#: Epochs of classifier training per data set (GTSRB domains hold 1–5k images, MNIST 30k).
EPOCHS = {"GTSRB": 15, "MNIST": 3}


@torch.no_grad()
def _apply(G, x_uint8: torch.Tensor, device: str, seed: int = 0, batch: int = 512) -> torch.Tensor:
    """G at prior draws on uint8 images; returns uint8 on the CPU."""
    gen = torch.Generator(device=device).manual_seed(seed)
    out = []
    for i in range(0, len(x_uint8), batch):
        xb = x_uint8[i:i + batch].to(device)
        out.append(G(xb, generator=gen).cpu())
    return torch.cat(out)


def _background_rgb(x: torch.Tensor, mask: torch.Tensor) -> list:
    """Mean RGB (0..255) over masked pixels."""
    m = mask.unsqueeze(1).expand_as(x)
    return [round(float(x[:, c][m[:, c]].float().mean()), 1) for c in range(x.shape[1])]


def shift_stats(exp, G, a, b, device: str) -> dict:
    ga = _apply(G, a.x, device)
    if exp.statistic == "background":
        # Background pixels of domain A are exactly the painted colour (Algorithm 4's mask).
        bg = (a.x == a.x[:, :, :1, :1]).all(dim=1)
        return {"statistic": "background RGB (0..255)", "A": _background_rgb(a.x, bg),
                "G(A)": _background_rgb(ga, bg),
                "B": _background_rgb(b.x, (b.x == b.x[:, :, :1, :1]).all(dim=1))}
    f = brightness if exp.statistic == "brightness" else contrast
    sa, sb, sg = (float(f(t).float().mean()) for t in (a.x, b.x, ga))
    return {"statistic": f"mean {exp.statistic} (0..255)", "A": round(sa, 1), "G(A)": round(sg, 1),
            "B": round(sb, 1), "shift": round(sg - sa, 1), "real_gap": round(sb - sa, 1)}


def reference_classifier(exp, device: str, root, epochs: int, cache: Path | None = None):
    """The label-preservation judge: the paper CNN trained (ERM, seed 0) on the whole data set.

    With ``cache`` (a folder) it is trained once, saved there with
    :func:`~nuisance_zoo.training.classifiers.save_classifier` and reloaded afterwards, so that
    several generators (an old and a new fit, an ablation) are judged by the same network.
    """
    from nuisance_zoo.training.classifiers import load_classifier, save_classifier

    if cache is not None and (cache / "classifier.json").is_file():
        clf = load_classifier(cache, device)
        made = clf.classifier_config
        if made.get("data") != exp.all_data or made.get("epochs") != epochs:
            raise ValueError(f"{cache} holds a classifier of {made.get('data')} for {made.get('epochs')} epochs, "
                             f"not of {exp.all_data} for {epochs}; choose another --reference-cache.")
        return clf
    res = train(model="paper-cnn", algorithm="erm", data=exp.all_data, epochs=epochs, device=device,
                data_root=root, seed=0, progress=False)
    clf = res.model.to(device).eval()
    if cache is not None:
        probe = load_dataset(exp.test_a, root=root)
        save_classifier(clf, cache, "paper-cnn", num_classes=clf.num_classes, in_chans=probe.x.shape[1],
                        input_size=list(probe.x.shape[-2:]), extra={"data": exp.all_data, "epochs": epochs})
    return clf


def label_preservation(exp, G, a_test, device: str, root, epochs: int, cache: Path | None = None) -> dict:
    clf = reference_classifier(exp, device, root, epochs, cache)
    ga = _apply(G, a_test.x, device, seed=1)
    acc = lambda x: accuracy(clf, (x, a_test.y), device=device)  # noqa: E731
    return {"classifier": f"paper-cnn, ERM on {exp.all_data}, {epochs} epochs",
            "acc_x": round(100 * acc(a_test.x), 2), "acc_G(x)": round(100 * acc(ga), 2)}


#: The classifier trainings of (c), by the short names ``--variants`` takes.
VARIANTS = ("erm", "this", "known", "mrt10")
#: How the known-model training's label starts (the rest names the known models).
KNOWN_PREFIX = "MDA-5 (known: "


def known_key(buys: dict) -> str | None:
    """The label of the known-model training in a ``test_B_accuracy`` dict, or None."""
    return next((k for k in buys if k.startswith(KNOWN_PREFIX)), None)


def trainings(exp, G, which=VARIANTS) -> dict:
    """label → (algorithm, nuisance model, k) for the short names in ``which``, in VARIANTS order."""
    known = KNOWN_PREFIX + " ∘ ".join(reversed(exp.known)) + ")"
    table = {"erm": ("ERM", "erm", None, None), "this": ("MDA-5 (this model)", "mda", G, 5),
             "known": (known, "mda", known_model(exp) if "known" in which else None, 5),
             "mrt10": ("MRT-10 (this model)", "mrt", G, 10)}
    return {label: (alg, model, k) for short, (label, alg, model, k) in table.items() if short in which}


def what_it_buys(exp, G, device: str, root, seeds, epochs: int, save_partial=None, which=VARIANTS) -> dict:
    variants = trainings(exp, G, which)
    out: dict = {}
    accs_by: dict = {label: [] for label in variants}
    for s in seeds:  # seeds outermost: a run cut short still has every variant per finished seed
        for label, (alg, model, k) in variants.items():
            accs = accs_by[label]
            res = train(model="paper-cnn", nuisance=model, algorithm=alg, k=k, lam=1.0, data=exp.domain_a,
                        test_domains={"B": exp.test_b}, epochs=epochs, device=device, data_root=root,
                        seed=s, progress=False)
            accs.append(100 * res.metrics[-1]["acc/B"])
            out[label] = {"accs": [round(a, 2) for a in accs], "mean": round(statistics.mean(accs), 2),
                          "std": round(statistics.pstdev(accs), 2)}
            if save_partial is not None:
                save_partial[0]["test_B_accuracy"] = out
                save_partial[1]()
    return out


def measure(name: str, model_dir: Path, out: Path, device: str, root, seeds, skip_buy: bool = False,
            epochs: int | None = None, reference_cache: Path | None = None, variants=VARIANTS) -> dict:
    exp = EXPERIMENTS[name]
    G = nz.load(f"local-dir:{model_dir}").to(device)
    a_test = load_dataset(exp.test_a, root=root)
    b_test = load_dataset(exp.test_b, root=root)
    epochs = epochs or EPOCHS[exp.dataset]
    t0 = time.time()
    metrics = {"name": name, "device": device if device == "cpu" else torch.cuda.get_device_name(0),
               "seeds": list(seeds), "epochs": epochs, "paper": exp.paper,
               "domains": {"A": exp.domain_a, "B": exp.domain_b, "test A": exp.test_a, "test B": exp.test_b}}
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every part, so a run cut short still reports what it finished
        metrics["wall_s"] = round(time.time() - t0, 1)
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))

    card_grid(G, a_test, b_test, folder / "grid.png")
    G.to(device)
    metrics["shift"] = shift_stats(exp, G, a_test, b_test, device)
    save()
    if not skip_buy:
        metrics["test_B_accuracy"] = what_it_buys(exp, G, device, root, seeds, epochs, save_partial=(metrics, save),
                                                  which=variants)
    metrics["label_preservation"] = label_preservation(exp, G, a_test, device, root, epochs, reference_cache)
    save()
    return metrics


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(EXPERIMENTS))
    p.add_argument("--model", required=True, help="the generator's Hub folder (fit_zoo's OUT/NAME/model)")
    p.add_argument("--out", default="runs/zoo")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-root", default=None)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="classifier epochs (default: EPOCHS per data set)")
    p.add_argument("--skip-buy", action="store_true", help="skip (c), the classifier trainings")
    p.add_argument("--reference-cache", default=None, metavar="DIR",
                   help="train (b)'s whole-data classifier once into this file and reuse it on later calls")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                   help="which trainings of (c): ERM, MDA-5 with this model, MDA-5 with the closest known model, "
                        "MRT-10 with this model")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = Path(args.reference_cache) if args.reference_cache else None
    print(json.dumps(measure(args.name, Path(args.model), Path(args.out), args.device, args.data_root,
                             args.seeds, args.skip_buy, args.epochs, cache, tuple(args.variants)), indent=2))


if __name__ == "__main__":
    main()
