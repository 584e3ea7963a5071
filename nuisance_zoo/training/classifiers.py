"""Classifiers to train against a nuisance model: the paper's CNN, any timm model, and their files.

A trained classifier is saved as an ordinary ``state_dict`` in ``model.safetensors`` beside a
``classifier.json`` that says how to rebuild it (name, classes, channels, input size), so
:func:`load_classifier` needs nothing but the folder.

Example:
    >>> import torch
    >>> from nuisance_zoo.training.classifiers import paper_cnn, create_classifier
    >>> paper_cnn(num_classes=10, in_chans=3, input_size=28)(torch.rand(2, 3, 28, 28)).shape
    torch.Size([2, 10])
    >>> create_classifier("paper-cnn", 43, 3, 32)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 43])
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..checkpoint import atomic_file, atomic_write_text

__all__ = [
    "paper_cnn", "PaperCNN", "create_classifier", "save_classifier", "load_classifier",
    "PAPER_CNN_NAMES",
]

#: Names that select :func:`paper_cnn` in :func:`create_classifier` (anything else goes to timm).
PAPER_CNN_NAMES = ("paper-cnn", "paper_cnn")

CLASSIFIER_CONFIG = "classifier.json"
CLASSIFIER_WEIGHTS = "model.safetensors"


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    # Accept (C, H, W) as well as (H, W): the channel count is given separately.
    if len(size) == 3:
        size = size[1:]
    if len(size) != 2:
        raise ValueError(f"input_size must be an int or (H, W), got {size!r}.")
    return size  # type: ignore[return-value]


class PaperCNN(nn.Sequential):
    """The classifier of Robey et al. (2020), Section 6 and Appendix E.

    ``c32-3, c64-3, p2, c128-3, p2, d0.25, flat, fc128, d0.5, fc10`` with ReLU after every
    convolution and after fc128; convolutions are unpadded ("valid"), as in the paper's Keras-
    style notation. Inputs are images in [0, 1] (the paper does not normalise).

    Shape:
        - Input: ``(B, in_chans, H, W)`` with ``(H, W) == input_size``.
        - Output: ``(B, num_classes)`` logits.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, input_size: int | Sequence[int] = 28) -> None:
        h, w = _size2(input_size)
        # Three valid 3x3 convs and two 2x2 pools: the smallest input that leaves a 1x1 map.
        if min(h, w) < 10:
            raise ValueError(f"paper_cnn needs inputs of at least 10x10, got {h}x{w}.")
        features = [
            nn.Conv2d(in_chans, 32, 3), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),
        ]
        # A dummy pass gives the flatten size for any input size (3200 at 28x28, 4608 at 32x32).
        with torch.no_grad():
            flat = nn.Sequential(*features)(torch.zeros(1, in_chans, h, w)).shape[1]
        super().__init__(
            *features,
            nn.Linear(flat, 128), nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )
        self.num_classes, self.in_chans, self.input_size = num_classes, in_chans, (h, w)


def paper_cnn(num_classes: int = 10, in_chans: int = 3, input_size: int | Sequence[int] = 28) -> PaperCNN:
    """Build the paper's CNN (see :class:`PaperCNN`).

    Args:
        num_classes: number of output logits.
        in_chans: input channels (3 for the paper's MNIST experiments, which stack gray thrice).
        input_size: ``H`` (square) or ``(H, W)``; 28 for MNIST, 32 for GTSRB/SVHN.
    """
    return PaperCNN(num_classes=num_classes, in_chans=in_chans, input_size=input_size)


def create_classifier(name: str, num_classes: int, in_chans: int = 3,
                      input_size: int | Sequence[int] = 32) -> nn.Module:
    """The paper's CNN (``"paper-cnn"``) or any timm architecture, untrained.

    Args:
        name: ``"paper-cnn"`` or a timm model name (``timm.list_models()``), e.g. ``"resnet18"``.
        num_classes: number of output logits.
        in_chans: input channels.
        input_size: ``H`` or ``(H, W)``; passed to timm models that take ``img_size`` (ViTs).

    Example:
        >>> m = create_classifier("test_vit", num_classes=10, in_chans=3, input_size=32)
        >>> m(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    if name in PAPER_CNN_NAMES:
        return paper_cnn(num_classes=num_classes, in_chans=in_chans, input_size=input_size)
    import timm

    if not timm.is_model(name):
        import difflib

        close = difflib.get_close_matches(name, list(PAPER_CNN_NAMES) + timm.list_models(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown classifier {name!r}: use 'paper-cnn' or a timm model name.{hint}")
    kwargs = dict(num_classes=num_classes, in_chans=in_chans, pretrained=False)
    try:
        # Transformers fix their patch grid from img_size; convnets do not accept the argument.
        return timm.create_model(name, img_size=_size2(input_size), **kwargs)
    except TypeError:
        return timm.create_model(name, **kwargs)


def save_classifier(model: nn.Module, out: str | Path, name: str, num_classes: int, in_chans: int,
                    input_size: int | Sequence[int], extra: dict | None = None) -> Path:
    """Write ``model.safetensors`` (a plain state dict) and ``classifier.json`` into ``out``.

    The pair changes in one step for a reader (:func:`load_classifier`): each file is written
    under a temporary name and renamed into place, and the config, which marks the folder as a
    classifier, is renamed in last. A config that would change (another architecture) is
    removed before the new weights go in, so the folder is at every moment the old classifier,
    no classifier, or the new one; a run's per-epoch saves keep the config and swap only the
    weights, in one rename.
    """
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    h, w = _size2(input_size)
    config = {"name": name, "num_classes": int(num_classes), "in_chans": int(in_chans),
              "input_size": [h, w], **(extra or {})}
    text = json.dumps(config, indent=2) + "\n"
    cfg_path = out / CLASSIFIER_CONFIG
    try:
        same = cfg_path.read_text() == text
    except OSError:
        same = False
    if not same:
        cfg_path.unlink(missing_ok=True)
    with atomic_file(out / CLASSIFIER_WEIGHTS, "classifier.weights") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    if not same:
        atomic_write_text(cfg_path, text, "classifier.config")
    return out


def load_classifier(folder: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a classifier saved by :func:`save_classifier` (or ``train``), in eval mode.

    The returned module carries the config as ``model.classifier_config`` (a dict).
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg_path, w_path = folder / CLASSIFIER_CONFIG, folder / CLASSIFIER_WEIGHTS
    if not cfg_path.is_file() or not w_path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a trained classifier: it needs {CLASSIFIER_CONFIG} and "
            f"{CLASSIFIER_WEIGHTS} (written by `nuisance-zoo train --out {folder}`)."
        )
    cfg = json.loads(cfg_path.read_text())
    model = create_classifier(cfg["name"], cfg["num_classes"], cfg["in_chans"], cfg["input_size"])
    model.load_state_dict(load_file(str(w_path)))
    model.classifier_config = cfg
    return model.to(device).eval()
