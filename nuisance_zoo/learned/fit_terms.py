"""Fitting terms that keep content and label, added to MUNIT's objective (issue 9).

MUNIT's four losses only ask ``G(x, δ) = Dec_B(Enc_A^c(x), δ)`` to look like domain B and to
keep a content code the generator itself chose; on night → day GTSRB that code lost the sign
(17.6 % of labels kept). Three optional terms, each weighted by a :class:`FitConfig` field
(0 = off, today's objective):

- :func:`label_loss` (``label_w``): a frozen classifier trained on domain A must still recognise
  the class of ``G(x, δ)``: cross-entropy against the label (``label_mode="ce"``) or KL to the
  classifier's own prediction on ``x`` (``"kl"``, when the labels are noisy).
- :func:`structure_loss` (``structure_w``): the edges of ``x`` and ``G(x, δ)`` must be at the
  same places. Image gradients are normalised per image, so the term is blind to the brightness,
  gain and (mostly) gamma changes the generator should make, and sees only a moved or lost edge.
- :func:`diversity_loss` (``diversity_w``, ``diversity_cap``): mode seeking (Mao et al. 2019):
  two δ must give two looks, ``|G(x, δ1) − G(x, δ2)| / |δ1 − δ2|`` pushed up to a cap (a
  hinge, so the term is bounded and stops pulling once draws differ enough).

The classifier is passed in (an ``nn.Module`` or any callable from [0, 1] images to logits):
learned/ does not train classifiers (that is training/'s job; the CLI and the zoo benchmark
build one). :class:`FrozenClassifier` freezes it so that no gradient reaches its weights.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FrozenClassifier", "label_inputs", "label_loss", "structure_loss", "normalised_gradients", "diversity_loss",
           "LABEL_MODES"]

LABEL_MODES = ("ce", "kl")


class FrozenClassifier:
    """A classifier used as a fixed judge: eval mode, no parameter gradients, not trainable.

    Deliberately not an ``nn.Module``: assigned to a trainer it is not registered as a
    sub-module, so it is neither in the trainer's optimiser nor in its checkpoints.

    Args:
        model: an ``nn.Module`` or a callable mapping ``(B, C, H, W)`` images in [0, 1] to logits.
        device: where to move an ``nn.Module`` (None: leave it).
    """

    def __init__(self, model: nn.Module | Callable[[Tensor], Tensor], device: torch.device | str | None = None) -> None:
        if isinstance(model, nn.Module):
            if device is not None:
                model = model.to(device)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
        elif not callable(model):
            raise TypeError(f"classifier must be an nn.Module or a callable images → logits, got {type(model).__name__}.")
        self.model = model

    def __call__(self, x01: Tensor) -> Tensor:
        """Logits of ``x01`` (images in [0, 1]); differentiable in ``x01``."""
        if isinstance(self.model, nn.Module) and self.model.training:
            self.model.eval()  # someone called .train() on it: batch statistics would move
        return self.model(x01)


def label_inputs(label_w: float, label_mode: str, classifier, domain_a, labels_a, n_a: int) -> Tensor | None:
    """Domain A's labels for the label term (``labels_a``, else ``domain_a.y``; None if neither),
    checked against what the term needs; shared by the MUNIT and the structured fit.

    Raises:
        ValueError: labels and images differ in number; ``label_w > 0`` without a classifier; the
            ``"ce"`` mode without labels.
    """
    ya = labels_a if labels_a is not None else getattr(domain_a, "y", None)
    if ya is not None:
        ya = torch.as_tensor(ya).long()
        if len(ya) != n_a:
            raise ValueError(f"labels_a has {len(ya)} labels for {n_a} domain_a images.")
    if label_w > 0 and classifier is None:
        raise ValueError("the config's label term (label_w > 0) needs a frozen classifier of domain A: pass "
                         "classifier=... (the CLI trains one with --classifier-epochs).")
    if label_w > 0 and label_mode == "ce" and ya is None:
        raise ValueError("label_mode 'ce' needs domain A's labels: pass an ImageDataset with .y or labels_a=...")
    return ya


def label_loss(classifier: Callable[[Tensor], Tensor], g01: Tensor, y: Tensor | None = None,
               x01: Tensor | None = None, mode: str = "ce") -> Tensor:
    """How much ``G(x, δ)`` changes the frozen classifier's verdict.

    Args:
        classifier: logits from [0, 1] images (see :class:`FrozenClassifier`).
        g01: generated images ``G(x, δ)`` in [0, 1], with gradient to the generator.
        y: labels of ``x`` (``mode="ce"``).
        x01: the inputs in [0, 1] (``mode="kl"``: the target is the classifier's prediction on them).
        mode: ``"ce"`` (cross-entropy to ``y``) or ``"kl"`` (KL(p(x) ‖ p(G(x, δ)))).
    """
    logits = classifier(g01)
    if mode == "ce":
        if y is None:
            raise ValueError("label_mode 'ce' needs domain A's labels (an ImageDataset with .y, or labels_a=...).")
        return F.cross_entropy(logits, y.to(logits.device).long())
    if mode == "kl":
        if x01 is None:
            raise ValueError("label_mode 'kl' needs the inputs x.")
        with torch.no_grad():
            target = F.log_softmax(classifier(x01), dim=1)
        return F.kl_div(F.log_softmax(logits, dim=1), target, log_target=True, reduction="batchmean")
    raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {mode!r}.")


_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def normalised_gradients(x: Tensor, eps: float = 1e-3) -> Tensor:
    """Sobel gradients of the grey image, divided by their per-image RMS magnitude.

    ``(B, 2, H, W)``. An affine change of intensity (brightness, gain, the generator's [-1, 1]
    range) leaves it unchanged; a monotone one (gamma) changes edge strengths but not their
    places or signs. ``eps`` keeps flat images (no edges) from blowing up noise.
    """
    grey = x.mean(dim=1, keepdim=True)
    k = torch.stack([_SOBEL, _SOBEL.t()]).unsqueeze(1).to(x)
    g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k)
    rms = g.pow(2).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True).sqrt()
    return g / (rms + eps)


def structure_loss(x: Tensor, g: Tensor) -> Tensor:
    """Mean L1 distance between the normalised gradient fields of ``x`` and ``G(x, δ)``.

    Both in the same range (any affine map of [0, 1] is fine: the term is invariant to it).
    ``x``'s side is a constant target: only the generator's output receives gradient.
    """
    with torch.no_grad():
        target = normalised_gradients(x)
    return (normalised_gradients(g) - target).abs().mean()


def diversity_loss(g1: Tensor, g2: Tensor, d1: Tensor, d2: Tensor, cap: float = 1.0, eps: float = 1e-5) -> Tensor:
    """Mode-seeking hinge: ``mean(relu(cap − |g1 − g2|₁ / |d1 − d2|₁))`` over the batch.

    Args:
        g1, g2: ``G(x, δ1)`` and ``G(x, δ2)`` for the same ``x``.
        d1, d2: the two δ, ``(B, q)``.
        cap: the ratio (mean absolute image change per mean absolute δ change, in the
            generator's range) beyond which draws count as diverse enough; the term is in
            ``[0, cap]``, so it cannot outweigh the others by growing without bound.
    """
    num = (g1 - g2).abs().flatten(1).mean(dim=1)
    den = (d1 - d2).abs().mean(dim=1)
    return F.relu(cap - num / (den + eps)).mean()
