"""A nuisance model as a torchvision v2 transform: :class:`RandomNuisance`.

Data augmentation with a model of natural variation in an ordinary ``Dataset``/``DataLoader``
pipeline: each call draws δ from ``G``'s prior (one row per image) and returns ``G(x, δ)``.
This is MDA with k = 1 done in the data workers; the training wrappers (``MDAWrapper`` etc.)
remain the way to get k draws per image, worst-case search or gradient ascent on δ.
"""
from __future__ import annotations

import os
from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as TF

from ..base import NuisanceModel

__all__ = ["RandomNuisance"]


def _is_pure_tensor(inpt: Any) -> bool:
    # torchvision's own helper is private; this is its definition.
    return isinstance(inpt, Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


def _batch_size(inpt: Any) -> int:
    if isinstance(inpt, PIL.Image.Image):
        return 1
    return int(inpt.shape[0]) if inpt.ndim == 4 else 1


class RandomNuisance(Transform):
    r"""Apply ``G(x, δ)`` with δ drawn from ``G``'s prior on every call: a torchvision v2 transform.

    What is transformed, following torchvision's v2 rules: ``tv_tensors.Image``, PIL images and
    plain tensors (a plain tensor only when the sample holds no ``Image``/PIL image, and then
    only the first one, as every v2 transform does). Everything else passes through untouched:
    labels (ints or tensors), ``Mask``, ``BoundingBoxes``, ``Video``, strings, dicts' other
    entries. A geometric ``G`` therefore does not move boxes or masks: use photometric models
    with detection or segmentation targets.

    One call draws one δ per image: a ``(C, H, W)`` image gets one row, a ``(B, C, H, W)`` batch
    gets B rows, and several images in one sample (e.g. a stereo pair) share their draws, as a
    v2 transform shares its parameters within a call. uint8 in gives uint8 out; float images
    must be in [0, 1] (normalise after this transform).

    Randomness: by default δ comes from torch's global generator, like every torchvision
    transform; a ``DataLoader`` seeds each worker differently, and seeding it (``torch.manual_seed``
    or ``DataLoader(generator=...)``) makes runs reproducible with fresh draws every epoch. With
    ``seed``, the transform keeps its own generator instead, seeded with ``seed`` in the main
    process and with ``(seed, worker id)`` in each ``DataLoader`` worker, so the draws are
    reproducible regardless of the loader; note that workers restart every epoch unless
    ``persistent_workers=True``, and then repeat their draws.

    Args:
        G: the nuisance model (any kind: known, learned, composed, ``from_kornia``); it is put
            in eval mode, as augmentation in a data pipeline wants.
        seed: optional seed of a private generator (see above).

    Example:
        >>> import torch, nuisance_zoo as nz
        >>> from torchvision import tv_tensors
        >>> t = nz.RandomNuisance(nz.load("brightness"), seed=0)
        >>> img = tv_tensors.Image(torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8))
        >>> out, label = t(img, 7)
        >>> type(out).__name__, out.dtype, out.shape, label
        ('Image', torch.uint8, torch.Size([3, 8, 8]), 7)
    """

    _transformed_types = (tv_tensors.Image, PIL.Image.Image, _is_pure_tensor)

    def __init__(self, G: NuisanceModel, seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(G, NuisanceModel):
            raise TypeError(f"RandomNuisance needs a NuisanceModel (e.g. nz.load('brightness')), got {type(G).__name__}.")
        self.G = G.eval()
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._generator_owner: tuple | None = None

    def __getstate__(self) -> dict:
        # A spawned worker gets its own generator (made on first use), not a copy of this one.
        state = self.__dict__.copy()
        state["_generator"], state["_generator_owner"] = None, None
        return state

    def _rng(self) -> torch.Generator | None:
        """The private generator of this process (and worker), or None for torch's global one."""
        if self.seed is None:
            return None
        info = torch.utils.data.get_worker_info()
        owner = (os.getpid(), None if info is None else info.id)
        if self._generator is None or self._generator_owner != owner:
            # A forked worker inherits the parent's generator state: re-seed per worker so that
            # workers do not all draw the same δ.
            seed = self.seed if info is None else hash((self.seed, info.id)) & (2**63 - 1)
            self._generator = torch.Generator().manual_seed(seed)
            self._generator_owner = owner
        return self._generator

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        sizes = {_batch_size(inpt) for inpt in flat_inputs}
        if len(sizes) > 1:
            raise ValueError(f"RandomNuisance got images with different batch sizes {sorted(sizes)} in one call.")
        n = sizes.pop() if sizes else 0
        return {"delta": self.G.sample_delta(n, generator=self._rng(), device="cpu")}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        delta = params["delta"]
        # Augmentation in a data pipeline needs no graph; G's output is data, not a leaf to train.
        with torch.no_grad():
            if isinstance(inpt, PIL.Image.Image):
                out = self.G(TF.pil_to_tensor(inpt), delta)
                return TF.to_pil_image(out, mode=inpt.mode)
            if isinstance(inpt, tv_tensors.Image):
                return tv_tensors.wrap(self.G(inpt.as_subclass(Tensor), delta), like=inpt)
            return self.G(inpt, delta)

    def extra_repr(self) -> str:
        return f"G={type(self.G).__name__}(delta_dim={self.G.delta_dim}), seed={self.seed}"
