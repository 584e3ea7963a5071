"""How robust is a classifier to a nuisance model? Accuracy clean, at random δ, and at the worst δ.

For a classifier ``f`` and a model ``G`` the report gives, on a labelled set:

- ``clean``: accuracy on the images as they are;
- ``random``: accuracy on ``G(x, δ)`` with δ drawn from the prior (the mean over ``k`` draws);
- ``worst_of_k``: an image counts only if all ``k`` draws are classified correctly (the
  accuracy at each image's worst sampled δ under the 0-1 loss: MRT's global search);
- ``gradient``: projected gradient ascent on the cross-entropy in δ (``steps`` signed steps
  of ``step_size`` times the width of Δ, or the prior's std, then ``G.project``: the search of
  :mod:`nuisance_zoo.training.search` that MAT and PGD use), started from each image's
  highest-loss sampled δ; an image counts only if every iterate is classified correctly
  (MAT's local search; only when ``G.differentiable``);
- ``worst``: correct under every δ tried, sampled or found by gradient.

Example:
    >>> import torch, nuisance_zoo as nz
    >>> from nuisance_zoo.eval.robustness import evaluate
    >>> f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    >>> x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 2, (16,))
    >>> r = evaluate(f, (x, y), nuisance=nz.load("brightness"), k=4, steps=3)
    >>> sorted(r)[:4]
    ['clean', 'gradient', 'k', 'n']
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import NuisanceModel, check_image
from ..training.inputs import as_tensors, check_label_values, check_logits, check_range, to_model_input
# Re-exported: accuracy lives with the trainer, which must not import eval/ (one-way layers).
from ..training.metrics import accuracy
from ..training.search import projected_gradient_ascent

__all__ = ["evaluate", "accuracy"]




def _gradient_search(model, G, x, y, delta0, steps, step_size):
    """Signed PGA on δ; returns a (B,) bool: correct at every iterate (the start included)."""
    ok = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    # x was checked by forward_multi already: encode once and decode per step, which skips the
    # per-call input checks (and their host syncs) and the re-encoding.
    with torch.no_grad():
        content = G.encode(x)

    def grad_fn(delta: Tensor) -> Tensor:
        nonlocal ok
        with torch.enable_grad():
            logits = model(G.decode(content, delta).to(x.dtype))
            # Sum, not mean: each image's δ gets its own gradient, unscaled by the batch size.
            loss = F.cross_entropy(logits, y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
        ok = ok & (logits.argmax(1) == y)  # a tensor op: no host sync per step
        return grad

    delta = projected_gradient_ascent(G, delta0.to(x.dtype), grad_fn, steps, step_size, sign=True)
    with torch.no_grad():
        ok &= model(G.decode(content, delta).to(x.dtype)).argmax(1) == y
    return ok


def evaluate(
    model: nn.Module | str,
    data: Any,
    nuisance: Any = None,
    k: int = 10,
    steps: int = 10,
    step_size: float | None = None,
    batch_size: int = 256,
    seed: int = 0,
    device: str | torch.device = "cpu",
    in_chans: int | None = None,
    data_root: str | None = None,
    progress: bool = False,
) -> dict:
    """Robustness report of a classifier against a nuisance model (see the module docstring).

    Args:
        model: a classifier, or the folder of one trained by ``nuisance-zoo train``.
        data: a data spec (``"mnist:test"``), an ``ImageDataset`` or an ``(x, y)`` pair.
        nuisance: a nuisance model or a zoo name; None reports clean accuracy only.
        k: prior draws per image (``random``, ``worst_of_k``).
        steps: gradient-ascent steps on δ (0 skips the search; non-differentiable models skip it).
        step_size: ascent step as a fraction of Δ's width per coordinate (default ``2.5 / steps``,
            the usual PGD choice, so the search can cross the box).
        batch_size: images per batch (each makes ``k`` decoded copies).
        seed: seeds the δ draws, so reports are reproducible.
        device: where to run.
        in_chans: channels the classifier takes (gray data is stacked); default: the
            classifier's saved config, else the data's.
        data_root: root for data specs.
        progress: show a tqdm bar.

    Returns:
        A dict of accuracies (fractions in [0, 1]) ``clean``, and with a nuisance ``random``,
        ``worst_of_k``, ``gradient`` (None when not run) and ``worst``, plus ``n``, ``k``,
        ``steps`` and ``nuisance``.
    """
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from ..training.classifiers import load_classifier

        model = load_classifier(model, device=device)
    if not isinstance(model, nn.Module):
        raise TypeError(f"evaluate: model must be an nn.Module classifier or the folder of one, got {type(model).__name__}.")
    if in_chans is None:
        in_chans = getattr(model, "classifier_config", {}).get("in_chans")
    nuisance_name = nuisance if isinstance(nuisance, str) else type(nuisance).__name__
    if isinstance(nuisance, str):
        from ..registry import load

        nuisance = load(nuisance)
    if nuisance is not None and not isinstance(nuisance, NuisanceModel):
        raise TypeError(f"evaluate: nuisance must be a NuisanceModel, a zoo name or None, got {type(nuisance).__name__}.")
    k = check_range("k", k, 1, integer=True, why="prior draws per image", model="evaluate")
    steps = check_range("steps", steps, 0, integer=True, why="gradient-ascent steps; 0: none", model="evaluate")
    if step_size is not None:
        step_size = check_range("step_size", step_size, 0, open_low=True,
                                why="a fraction of Δ's width; a negative step would descend", model="evaluate")
    batch_size = check_range("batch_size", batch_size, 1, integer=True, model="evaluate")
    seed = check_range("seed", seed, 0, integer=True, model="evaluate")
    d = as_tensors(data, root=data_root, split="test")
    if len(d) == 0:
        # An accuracy over no images is undefined; a 0.0 would read as "always wrong".
        raise ValueError(f"evaluate: the data {d.name!r} holds no images.")
    if nuisance is not None:
        from ..training.trainer import check_nuisance_size

        check_nuisance_size(nuisance, tuple(d.x.shape[2:]), nuisance_name)
    model = model.to(device)
    was_training = model.training
    model.eval()
    G = nuisance.to(device) if nuisance is not None else None
    run_grad = G is not None and steps > 0 and bool(G.differentiable)
    alpha = step_size if step_size is not None else 2.5 / max(steps, 1)
    gen = torch.Generator(device=torch.device(device)).manual_seed(seed)
    n_clean = n_rand = n_worstk = n_grad = n_worst = 0
    batches = range(0, len(d), batch_size)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="evaluate", unit="batch")
    try:
        for i in batches:
            x = to_model_input(d.x[i:i + batch_size], in_chans, device)
            y = d.y[i:i + batch_size].to(device)
            b = x.shape[0]
            check_image(x, "the data's images")  # NaN/inf pixels would pass as wrong answers
            with torch.no_grad():
                out = model(x)
                if i == 0:
                    # Once: the output's type and shape, then every label against its classes.
                    check_logits(out, b)
                    check_label_values(d.y, out.shape[1], name="labels", mode="full")
                n_clean += (out.argmax(1) == y).sum().item()
            if G is None:
                continue
            with torch.no_grad():
                imgs, deltas = G.forward_multi(x, k, generator=gen)
                logits = model(imgs.reshape(k * b, *x.shape[1:])).view(k, b, -1)
                yk = y.expand(k, b)
                correct = logits.argmax(-1) == yk  # (k, B)
                losses = F.cross_entropy(logits.reshape(k * b, -1), yk.reshape(-1), reduction="none").view(k, b)
            n_rand += correct.float().mean(0).sum().item()
            ok_k = correct.all(0)
            n_worstk += ok_k.sum().item()
            ok = ok_k
            if run_grad:
                start = deltas[losses.argmax(0), torch.arange(b, device=x.device)]
                ok_g = _gradient_search(model, G, x, y, start, steps, alpha)
                n_grad += ok_g.sum().item()
                ok = ok & ok_g
            n_worst += ok.sum().item()
    finally:
        model.train(was_training)
    n = max(len(d), 1)
    report: dict = {"n": len(d), "clean": n_clean / n}
    if G is not None:
        report.update(
            random=n_rand / n, worst_of_k=n_worstk / n,
            gradient=(n_grad / n) if run_grad else None, worst=n_worst / n,
            k=k, steps=steps if run_grad else 0,
            nuisance=nuisance_name,
        )
    return report
