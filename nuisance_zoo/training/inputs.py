"""Data as the trainer and the evaluator see it: whole tensors in memory, batches in [0, 1].

The paper's datasets (MNIST, SVHN, GTSRB subsets) fit in memory as uint8, so batches are cut
from one tensor with a seeded permutation: no DataLoader workers, and an exact, cheap resume
(the order of epoch e is a function of the seed and e alone).

Example:
    >>> import torch
    >>> from nuisance_zoo.training.inputs import as_tensors, to_model_input
    >>> d = as_tensors((torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.arange(4)))
    >>> to_model_input(d.x[:2], in_chans=3).shape       # gray stacked thrice, as the paper does
    torch.Size([2, 3, 28, 28])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..base import check_range, get_input_checks

__all__ = ["DataTensors", "as_tensors", "to_model_input", "epoch_order", "check_range", "check_labels",
           "check_label_values", "check_logits"]


@dataclass
class DataTensors:
    """A labelled image set held as tensors.

    Attributes:
        x: ``(N, C, H, W)`` uint8, or float in [0, 1].
        y: ``(N,)`` int64 labels.
        name: a short description (the spec it came from).
        classes: class names or ids, when known.
    """

    x: Tensor
    y: Tensor
    name: str = "data"
    classes: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_classes(self) -> int:
        """``len(classes)`` when known, else ``max(y) + 1``."""
        if self.classes:
            return len(self.classes)
        return int(self.y.max().item()) + 1 if len(self.y) else 0

    def subset(self, n: int | None, seed: int = 0) -> "DataTensors":
        """The first ``n`` items of a seeded shuffle (all of them when ``n`` is None or >= N)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return DataTensors(self.x[idx], self.y[idx], f"{self.name}[:{n}]", self.classes)


def _tensor(a: Any, what: str) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))
    raise TypeError(f"{what} must be a torch.Tensor or numpy array, got {type(a).__name__}.")


def as_tensors(data: Any, root: str | None = None, split: str = "train") -> DataTensors:
    """Turn a data spec, a dataset or an ``(x, y)`` pair into :class:`DataTensors`.

    Args:
        data: a spec string for :func:`nuisance_zoo.data.load_dataset` (``"mnist-sample:train"``,
            ``"npz:PATH"``, ...); an object with ``x`` ``(N, C, H, W)`` and ``y`` attributes
            (an ``ImageDataset``); an ``(x, y)`` pair; or :class:`DataTensors`.
        root: data root passed to ``load_dataset`` for spec strings.
        split: passed to ``load_dataset`` for specs that do not name their split.
    """
    if isinstance(data, DataTensors):
        return data
    name, classes = "data", []
    if isinstance(data, str):
        from ..data import load_dataset

        name = data
        data = load_dataset(data, root=root, split=split)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
        name = str(getattr(data, "name", name) or name)
        classes = list(getattr(data, "classes", None) or [])
    else:
        raise TypeError(
            f"data must be a spec string (e.g. 'mnist-sample:train'), an ImageDataset, or an "
            f"(x, y) pair of tensors; got {type(data).__name__}."
        )
    x, y = _tensor(x, "x"), _tensor(y, "y")
    if x.ndim == 3:  # (N, H, W): gray without a channel axis
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(x.shape)}.")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        raise ValueError(
            f"images look channels-last {tuple(x.shape)}; pass x.permute(0, 3, 1, 2) (N, C, H, W)."
        )
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise TypeError(f"images must be uint8 or float in [0, 1], got {x.dtype}.")
    y = check_labels(y.flatten() if y.ndim == 2 and y.shape[1] == 1 else y, name="labels")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels.")
    check_label_values(y, name="labels", mode="full")  # once per data set: no hot path here
    return DataTensors(x, y, name, classes)


def to_model_input(xb: Tensor, in_chans: int | None = None, device: str | torch.device | None = None) -> Tensor:
    """A float32 batch in [0, 1] with ``in_chans`` channels (gray is stacked, as in the paper).

    Shape:
        - Input: ``(B, C, H, W)`` uint8 or float.
        - Output: ``(B, in_chans, H, W)`` float32.
    """
    if device is not None:
        xb = xb.to(device, non_blocking=True)
    x = xb.float() / 255.0 if xb.dtype == torch.uint8 else xb.float()
    c = x.shape[1]
    if in_chans is None or in_chans == c:
        return x
    if c == 1:
        return x.expand(-1, in_chans, -1, -1).contiguous()
    raise ValueError(
        f"the classifier takes {in_chans}-channel images but the data has {c} channels; "
        f"train with in_chans={c} or convert the data (e.g. a gray spec option)."
    )


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The data order of one epoch: a permutation that depends only on ``(seed, epoch)``."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    return torch.randperm(n, generator=g)


# ---------------------------------------------------------------------------- checks at the edge
# The wrappers, train and evaluate check what a user hands them here, once per call: types,
# shapes and dtypes from metadata only; label values through the base's check modes.

_INT_TYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def check_labels(y: Any, batch: int | None = None, name: str = "y", allow_probabilities: bool = False) -> Tensor:
    """Return class-index labels as int64, or raise a clear error (metadata only, no host sync).

    Args:
        y: labels ``(B,)`` of an integer dtype (uint8..int64 are converted to int64), or, with
            ``allow_probabilities``, float class probabilities ``(B, num_classes)``.
        batch: the number of images the labels go with (None: not checked).
        name: how the messages call ``y``.
        allow_probabilities: accept float ``(B, num_classes)`` soft labels (cross-entropy takes them).

    Raises:
        TypeError: not a tensor.
        ValueError: float/bool labels where class indices are needed, a wrong shape or batch size.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices (B,), got {type(y).__name__}.")
    soft = allow_probabilities and y.ndim == 2 and y.is_floating_point()
    if not soft and (y.dtype not in _INT_TYPES or y.ndim != 1):
        also = " or class probabilities (float, shape (B, num_classes))" if allow_probabilities else ""
        raise ValueError(
            f"{name} must hold class indices (an integer dtype, shape (B,)){also}; got {y.dtype} of shape "
            f"{tuple(y.shape)}. Convert whole-number labels with {name}.long().view(-1)"
            + ("; for another target type pass criterion=." if allow_probabilities else ".")
        )
    if batch is not None and y.shape[0] != batch:
        raise ValueError(f"{name} must hold one target per image: batch {batch}, got shape {tuple(y.shape)}.")
    return y if soft or y.dtype == torch.int64 else y.long()


def check_label_values(y: Tensor, num_classes: int | None = None, name: str = "y", mode: str | None = None) -> None:
    """Refuse class indices outside ``[0, num_classes)`` (negative ones when it is None).

    Cross-entropy would silently drop ``-100`` (its ``ignore_index``) and fail with an internal
    error on the others. The test follows the input-check mode (``nz.set_input_checks``):
    ``"full"`` costs one reduction and one host sync and raises a ``ValueError``; ``"async"``
    queues it without a sync; ``"off"`` skips it.

    Args:
        y: int64 class indices.
        num_classes: the classifier's number of outputs, when known.
        name: how the messages call ``y``.
        mode: the check mode to use instead of the process-wide one.
    """
    if y.is_floating_point():
        # Class probabilities (B, num_classes): their width must match the classifier's (metadata).
        if num_classes is not None and (y.ndim != 2 or y.shape[1] != num_classes):
            raise ValueError(f"{name} holds class probabilities of shape {tuple(y.shape)} but the classifier "
                             f"returns {num_classes} classes; they must be (B, {num_classes}).")
        return
    mode = mode or get_input_checks()
    if mode == "off" or y.numel() == 0:
        return
    top = f" < {num_classes} (the classifier's outputs)" if num_classes is not None else ""
    if mode == "async":
        ok = y.min() >= 0
        if num_classes is not None:
            ok = ok & (y.max() < num_classes)
        torch._assert_async(ok, f"{name} holds class indices outside 0 <= {name}{top} (asynchronous input check).")
        return
    lo, hi = torch.aminmax(y.detach())
    lo, hi = int(lo), int(hi)  # one host sync (full mode)
    if lo < 0 or (num_classes is not None and hi >= num_classes):
        ignore = (" Labels of -100 (cross-entropy's ignore_index) are not supported: drop those images "
                  "instead.") if lo == -100 else ""
        raise ValueError(f"{name} must hold class indices 0 <= {name}{top}, got values from {lo} to {hi}.{ignore}")


def check_logits(out: Any, batch: int, who: str = "the classifier", min_ndim: int = 2) -> None:
    """Raise a clear error unless ``out`` is a logits tensor ``(batch, num_classes, ...)``.

    Metadata only (no host sync), so it may run at every call.

    Args:
        out: what the classifier returned.
        batch: the number of images it was given.
        who: how the messages call the classifier.
        min_ndim: the fewest dimensions accepted (1 for a custom criterion on ``(N,)`` outputs).
    """
    if isinstance(out, torch.Tensor):
        if out.ndim < min_ndim or out.ndim == 0 or out.shape[0] != batch:
            raise ValueError(
                f"{who} returned a tensor of shape {tuple(out.shape)} for a batch of {batch} images; it must "
                f"return logits (B, num_classes) = ({batch}, num_classes), one row per image. Check its last "
                f"layer (and that it does not flatten the batch away)."
            )
        return
    what = type(out).__name__
    keys = f" with keys {sorted(map(str, out))[:5]}" if isinstance(out, dict) else ""
    raise TypeError(
        f"{who} returned a {what}{keys}, not a tensor; wrap it to return the logits tensor "
        f"(B, num_classes), e.g. nn.Sequential(model, PickLogits()) with a module whose forward "
        f"returns out[0] (tuple) or out['logits'] (dict)."
    )
