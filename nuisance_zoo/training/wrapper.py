"""The shared machinery of the model-based training wrappers (MDA, MRT, MAT, PGD).

A wrapper holds a classifier ``f`` and a frozen model of natural variation ``G`` and turns a
batch ``(x, y)`` into the paper's objective (Section 5, Algorithms 1-3)::

    loss = (1/m) · Σ_j [ Σ_i w_i · ℓ(G(x_j, δ_ij), y_j) + λ · ℓ(x_j, y_j) ]

where ``m`` is the batch size, the inner sum runs over the generated images of sample ``j``
(``k`` random draws for MDA, the one selected draw for MRT and MAT, all with weight 1) and
``ℓ`` is the per-sample criterion. The paper writes the sum over the batch without ``1/m``;
we divide by ``m`` so that the loss is a per-sample mean, its scale (and so the learning rate)
does not depend on the batch size, and averaging it over DDP ranks or accumulation steps gives
the loss of the whole batch. λ multiplies only the clean term, exactly as in the paper, so
``λ = 1`` weighs each generated image as much as its clean original (the authors' code instead
takes the mean over the concatenated batch, i.e. our loss divided by ``k + 1`` for MDA and by
2 for MRT/MAT, when λ = 1).

Every subclass implements :meth:`ModelBasedWrapper.augment`, which returns the images, targets
and per-image weights of that sum; :meth:`forward` evaluates it with one classifier forward.
"""
from __future__ import annotations

import contextlib
import copy
import time
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from ..base import NuisanceModel, check_image, check_range
from .inputs import check_label_values, check_labels, check_logits

__all__ = ["ModelBasedWrapper", "per_sample_criterion", "AUTO", "MEMORY_FORMATS"]

#: The default ``chunk``: each wrapper measures, once per configuration, how to split its inner
#: search (see :meth:`ModelBasedWrapper.search_plan`).
AUTO = "auto"
# A plan within this fraction of the fastest is taken as a tie; ties go to fewer, larger calls
# (timing noise on a shared machine is a few per cent; one big batch keeps an accelerator busiest).
_PLAN_TIE = 0.05
#: The ``memory_format`` choices of the wrappers (see :class:`ModelBasedWrapper`).
MEMORY_FORMATS = ("auto", "channels_last", "preserve")


class _FunctionalCriterion(nn.Module):
    """A criterion given as a function, called with ``reduction="none"``."""

    def __init__(self, fn: Callable[..., Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return self.fn(output, target, reduction="none")

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


def per_sample_criterion(criterion: nn.Module | Callable[..., Tensor] | None) -> nn.Module:
    """A copy of ``criterion`` that returns one loss per sample.

    Args:
        criterion: ``None`` (cross-entropy), a loss module with a ``reduction`` attribute
            (e.g. ``nn.CrossEntropyLoss(label_smoothing=0.1)``; it is deep-copied and the copy
            gets ``reduction="none"``, the caller's object is not changed) or a function that
            accepts ``reduction="none"`` (e.g. ``torch.nn.functional.cross_entropy``).

    Returns:
        An ``nn.Module`` mapping ``(output, target)`` to per-sample losses.

    Example:
        >>> import torch
        >>> crit = per_sample_criterion(torch.nn.CrossEntropyLoss())
        >>> crit(torch.zeros(3, 4), torch.tensor([0, 1, 2])).shape
        torch.Size([3])
    """
    if criterion is None:
        return nn.CrossEntropyLoss(reduction="none")
    if isinstance(criterion, nn.Module):
        if not hasattr(criterion, "reduction"):
            raise TypeError(
                f"criterion {type(criterion).__name__} has no `reduction` attribute, so the "
                f"wrapper cannot get per-sample losses from it. Pass a loss module such as "
                f"nn.CrossEntropyLoss(), or a function f(output, target, reduction='none')."
            )
        crit = copy.deepcopy(criterion)
        crit.reduction = "none"
        return crit
    if callable(criterion):
        return _FunctionalCriterion(criterion)
    raise TypeError(f"criterion must be None, an nn.Module loss or a function, got {type(criterion).__name__}.")


@contextlib.contextmanager
def search_mode(model: nn.Module, grad: bool) -> Iterator[None]:
    """Run an inner search: classifier in eval mode (BatchNorm statistics frozen, dropout
    off), gradients on only if ``grad``; every submodule's own mode is restored afterwards
    (a blanket ``model.train()`` would wake BatchNorm layers a user froze on purpose).

    With ``grad`` (MAT, PGD: gradients with respect to δ only) the parameters that require
    grad are switched off for the block and back on after it: autograd then records no
    parameter edges and saves no activations for weight gradients that would never be used.
    """
    modes = [(m, m.training) for m in model.modules()]
    # Lazy modules' parameters do not exist yet (no batch seen): they cannot be frozen, and
    # need not be (the classifier's first call in the search materialises them).
    frozen = ([p for p in model.parameters()
               if p.requires_grad and not isinstance(p, nn.parameter.UninitializedParameter)] if grad else [])
    model.eval()
    try:
        for p in frozen:
            p.requires_grad_(False)
        with torch.set_grad_enabled(grad):
            yield
    finally:
        for p in frozen:
            p.requires_grad_(True)
        for m, was_training in modes:
            m.training = was_training


def _synchronize(device: torch.device) -> None:
    """Wait for queued work on an accelerator (used only while timing a search plan)."""
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


class ModelBasedWrapper(nn.Module):
    r"""Base class of the wrappers: a classifier trained against a frozen nuisance model.

    * Training mode: ``wrapper(x, y)`` returns the scalar objective (see the module docstring
      for the exact formula and its ``1/m`` normalisation).
    * Eval mode: ``wrapper(x)`` returns exactly ``wrapper.model(x)``.
    * :meth:`augment` returns ``(images, targets, weights)`` for a custom loss:
      ``(weights * criterion_none(model(images), targets)).sum()`` equals the objective.

    ``G`` is frozen: its parameters get ``requires_grad=False``, it stays in eval mode when
    the wrapper is put in training mode, and no gradient ever reaches it, so
    ``torch.optim.SGD(wrapper.parameters(), ...)`` trains only the classifier (optimisers skip
    parameters without a gradient). ``wrapper.to(device)`` moves both. Save the classifier with
    ``wrapper.model.state_dict()``: it has no wrapper keys and loads into the bare classifier
    (``wrapper.state_dict()`` also holds G's weights under ``G.``).

    G always runs in float32/float64 with autocast disabled (images in [0, 1] lose small
    nuisances in half precision, as in :class:`~nuisance_zoo.base.NuisanceModel`); the
    classifier runs under the caller's autocast, and losses are computed in float32.

    Distributed training: wrap the wrapper, ``DDP(wrapper)``, not the classifier inside it.
    The inner searches call the classifier several times per step and MAT differentiates it
    with respect to δ only; under ``DDP(wrapper)`` DDP sees a single forward that returns the
    loss, and one backward. (A wrapper around ``DDP(model)`` would send every search call through
    DDP's forward, with its buffer broadcast, and MAT's grad-enabled search forwards have a
    backward that never reaches the parameters, which DDP's reducer does not expect; that
    layout is not supported.) Give every rank its own δ stream (e.g. a
    generator seeded with the rank), as with any data augmentation.

    Args:
        model: the classifier ``f``: images in [0, 1] ``(N, C, H, W)`` → outputs ``(N, ...)``.
            Put input normalisation (mean/std) inside it: G works on [0, 1] images.
        G: any :class:`~nuisance_zoo.base.NuisanceModel` (known, learned or composed).
        k: number of draws (MDA, MRT) or ascent steps (MAT).
        lam: λ ≥ 0, the weight of the clean term (the paper uses λ = 1).
        criterion: ``None`` for cross-entropy, or a loss supporting ``reduction="none"``
            (see :func:`per_sample_criterion`). Per-sample losses with extra dimensions are
            averaged over them.
        chunk: how the inner search is split (the draws of G and the classifier's search
            forwards; MAT/PGD: the classifier's forward/backward to the input). ``"auto"``
            (default): the wrapper times a few splits into pieces of whole draws at the first
            step of each configuration and keeps the fastest (:meth:`search_plan`); ``None``:
            one call each; an int: at most this many images per classifier call (and
            ``chunk // B`` draws, at least one, per G call), to bound memory. The update (the
            classifier's train-mode forward/backward on the clean and generated images) is
            always one call, so BatchNorm sees the whole batch and the gradients are summed in
            one order: the loss and the gradients are the same whatever ``chunk`` is, bit for
            bit, wherever the classifier's per-image outputs do not depend on how many images
            share a call (true on CPU for the tested networks from 4 images up; with a single
            image per call some BLAS kernels round differently). To bound the update's memory,
            use a smaller batch with gradient accumulation.
        generator: ``torch.Generator`` for the δ draws (on the device of the data).
        memory_format: the layout of the image batches the wrapper gives the classifier (the
            search's candidates and the update's clean + generated batch). ``"auto"``
            (default): ``channels_last`` on CPU, where oneDNN's convolutions run it 1.1-2×
            faster than the contiguous layout for the paper's CNN and resnet18 at 32×32
            (``benchmarks/training_step.py``; docs/benchmarks.md), and the layout of ``x``
            elsewhere (on an accelerator channels_last pays with autocast: pass channels_last
            inputs, or ``"channels_last"``). A classifier that cannot take channels_last inputs
            (e.g. it calls ``.view`` on a conv output) is detected by one forward on two images
            in eval mode at its first step, and gets the contiguous layout. ``"channels_last"``:
            always (no probe); ``"preserve"``: the layout of ``x``. The layout is a fixed rule,
            never timed, so the same seed gives the same result on the same machine; the values
            may differ from the contiguous layout's in the last bits, as with any kernel change.
            A ``torch.compile``'d classifier is not probed and gets the layout of ``x``.

    Shape:
        - x: ``(B, C, H, W)``, float in [0, 1] (uint8 is accepted by MDA and MRT and passed to
          the classifier as is, as in eval mode).
        - y: ``(B,)`` targets (or whatever the criterion takes, batch first). With the default
          cross-entropy: class indices of any integer dtype (converted to int64) with
          ``0 <= y < num_classes`` (checked at the first classifier output of each call; -100 is
          refused, not ignored), or float class probabilities ``(B, num_classes)``.
        - Output (training): scalar; (eval): ``model(x)``. An empty batch (B = 0) gives a float32
          zero with a ``grad_fn`` (see :meth:`empty_loss`).

    The classifier must return a logits tensor ``(N, num_classes, ...)``; a tuple, a dict or a
    wrong batch size is refused with an error that says so (metadata only, no host sync).
    """

    #: smallest allowed ``k`` (MAT allows 0 steps: train at the starting point).
    _min_k: int = 1
    #: what ``k`` counts, for error messages.
    _k_name: str = "k"

    def __init__(
        self,
        model: nn.Module,
        G: NuisanceModel,
        k: int,
        lam: float = 1.0,
        criterion: nn.Module | Callable[..., Tensor] | None = None,
        chunk: int | str | None = AUTO,
        generator: torch.Generator | None = None,
        memory_format: str = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module classifier, got {type(model).__name__}.")
        if not isinstance(G, NuisanceModel):
            raise TypeError(
                f"G must be a nuisance_zoo.NuisanceModel (e.g. nz.load('brightness')), got "
                f"{type(G).__name__}."
            )
        who = type(self).__name__
        if isinstance(k, bool) or not isinstance(k, int):  # 2.0 draws is a mistake too
            raise ValueError(f"{who}: {self._k_name} must be an int >= {self._min_k}, got {k!r}.")
        k = check_range(self._k_name, k, self._min_k, integer=True, model=who)
        lam = check_range("lam", lam, 0, why="λ, the weight of the clean term", model=who)
        if chunk is not None and chunk != AUTO:
            chunk = check_range("chunk", chunk, 1, integer=True, why="images per forward; 'auto': measured; None: all",
                                model=who)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"{who}: generator must be a torch.Generator or None, got {type(generator).__name__}.")
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(f"{who}: memory_format must be one of {', '.join(map(repr, MEMORY_FORMATS))}, "
                             f"got {memory_format!r}.")
        self.model = model
        self.G = G
        self.G.requires_grad_(False)
        self.G.eval()
        self.k = k
        self.lam = lam
        self.chunk = chunk
        self.generator = generator
        self.criterion = per_sample_criterion(criterion)
        self._default_criterion = criterion is None  # then y must be cross-entropy targets (checked per step)
        # Draws per piece of the inner search, chosen by search_plan, per configuration.
        self._plans: dict[tuple, int] = {}
        self.memory_format = memory_format
        # Whether the classifier (by identity) accepts channels_last inputs, probed once ("auto").
        self._takes_channels_last: dict[int, bool] = {}

    # ------------------------------------------------------------------ nn.Module behaviour
    def train(self, mode: bool = True) -> "ModelBasedWrapper":
        """Set the classifier's mode; G stays in eval mode (it is a fixed model)."""
        super().train(mode)
        self.G.eval()
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "ModelBasedWrapper":
        """Change ``requires_grad`` of the classifier only; G stays frozen."""
        self.model.requires_grad_(requires_grad)
        return self

    def extra_repr(self) -> str:
        layout = "" if self.memory_format == "auto" else f", memory_format={self.memory_format!r}"
        return f"k={self.k}, lam={self.lam}, chunk={self.chunk!r}{layout}"

    # ------------------------------------------------------------------ public API
    def forward(self, x: Tensor, y: Tensor | None = None, delta: Tensor | None = None) -> Tensor:
        """Training mode: the scalar objective; eval mode: ``model(x)``.

        Args:
            x: images ``(B, C, H, W)`` in [0, 1].
            y: targets ``(B,)``; required in training mode, not accepted in eval mode.
            delta: optional δ for the search (see the subclass); drawn when None.
        """
        if not self.training:
            if y is not None or delta is not None:
                raise ValueError(
                    f"{type(self).__name__} is in eval mode, where wrapper(x) returns "
                    f"model(x) and takes no targets. For the training objective call "
                    f"wrapper.train() first, or use wrapper.augment(x, y) for a custom loss."
                )
            return self.model(x)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} is in training mode: call wrapper(x, y) to get the loss, "
                f"or wrapper.eval() to get predictions with wrapper(x)."
            )
        if isinstance(x, Tensor) and x.ndim == 4 and x.shape[0] == 0:
            self._check_batch(x, y)
            return self.empty_loss(x)
        images, targets, weights = self.augment(x, y, delta)
        return self.weighted_loss(images, targets, weights)

    def augment(self, x: Tensor, y: Tensor, delta: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The augmented batch of the objective, for users with their own loss.

        Returns:
            ``(images, targets, weights)``: ``images`` ``(N, C, H, W)`` are the clean batch
            followed by the generated images, ``targets`` ``(N,)`` their targets and
            ``weights`` ``(N,)`` float32 such that
            ``(weights * criterion_none(model(images), targets)).sum()`` is the objective.
            No gradient flows into ``images``.
        """
        raise NotImplementedError

    def empty_loss(self, x: Tensor) -> Tensor:
        """The objective of an empty batch (B = 0): a float32 zero that has a ``grad_fn``.

        ``loss.backward()`` then works as for any batch and leaves zero gradients on the
        classifier's trainable parameters (the mean over no images contributes nothing); the
        classifier is not called, since many layers refuse empty batches.
        """
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            return torch.zeros((), device=x.device, requires_grad=True) * 0.0
        return sum((p.flatten()[:0].sum() for p in params), torch.zeros((), device=x.device)).float()

    def weighted_loss(self, images: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
        """``Σ weights · ℓ(model(images), targets)``, the classifier in its current mode.

        One classifier call whatever ``chunk`` is: in training mode BatchNorm's batch
        statistics, and the order in which the parameters' gradients are summed, are those
        of the whole augmented batch (see ``chunk`` in the class docstring).
        """
        return (weights * self._loss(images, targets)).sum()

    def per_sample_loss(self, images: Tensor, targets: Tensor, size: int | None = None) -> Tensor:
        """Per-sample criterion values ``(N,)`` in float32, in calls of at most ``size`` images
        (``None``: one call).

        The classifier runs in its current mode and with the current grad mode.
        """
        n = images.shape[0]
        if n == 0:  # B = 0: no classifier call (many layers refuse empty batches)
            return torch.zeros(0, device=images.device, dtype=torch.float32)
        size = n if size is None else size
        parts = [self._loss(images[s:s + size], targets[s:s + size]) for s in range(0, n, size)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def search_plan(self, x: Tensor, k: int, probe: Callable[[int], object] | None = None) -> tuple[int, int]:
        """How to split an inner search over ``k`` draws of the batch ``x``.

        Returns:
            ``(draws per G call, images per classifier call)``. ``chunk=None``: ``(k, k·B)``;
            an int ``chunk``: ``(max(1, chunk // B), chunk)``; ``"auto"``: ``(d, d·B)`` for
            the ``d`` chosen as below.

        ``"auto"`` times ``probe(d)`` (the search's work for ``d`` draws) for ``d`` in
        ``1, 2, 4, …, k``, best of two rounds, and keeps the ``d`` with the least time per draw
        (ties within 5 % go to the larger ``d``). On CPU one batch of ``k·B`` images is often
        slower than ``k`` batches of ``B`` (the activations of the big batch leave the caches;
        see docs/benchmarks.md), on accelerators it is usually faster: hence a measurement,
        not a rule. It runs once per (batch shape, dtype, device, memory format, autocast, k),
        at the first step that meets it, and is cached on the wrapper; on an accelerator it
        synchronises the device during that one measurement. The key also holds the identity
        of the classifier and of G, should either be replaced. The choice changes only the
        speed: the results are the same for every ``d``. A compiled classifier
        (``torch.compile``) is not timed (each piece size would compile anew): one call.
        """
        b = x.shape[0]
        if self.chunk is None:
            return k, k * b
        if self.chunk != AUTO:
            return max(1, self.chunk // max(b, 1)), self.chunk
        # A torch.compile'd classifier exposes its original module as _orig_mod (public
        # attribute of OptimizedModule); timing would recompile it for every piece size.
        if k == 1 or probe is None or getattr(self.model, "_orig_mod", None) is not None \
                or torch.compiler.is_compiling():
            return k, k * b
        dev = x.device.type
        key = (id(self.model), id(self.G), tuple(x.shape), x.dtype, x.device, x.is_contiguous(), k,
               torch.is_autocast_enabled(dev), torch.get_autocast_dtype(dev) if dev in ("cpu", "cuda") else None)
        d = self._plans.get(key)
        if d is None:
            d = self._plans[key] = self._time_plans(x.device, k, probe)
        return d, d * b

    @staticmethod
    def _time_plans(device: torch.device, k: int, probe: Callable[[int], object]) -> int:
        candidates = sorted({k} | {2 ** i for i in range(k.bit_length()) if 2 ** i < k})
        probe(candidates[0])  # first-call work (allocator, kernels) would bias the first candidate
        per_draw = {}
        for round_ in range(2):
            best = min(per_draw.values(), default=None)
            for d in candidates:
                # Second round: only the candidates that could still win.
                if round_ and per_draw[d] > 1.5 * best:
                    continue
                _synchronize(device)
                t = time.perf_counter()
                probe(d)
                _synchronize(device)
                per_draw[d] = min(per_draw.get(d, float("inf")), (time.perf_counter() - t) / d)
        fastest = min(per_draw.values())
        return max(d for d in candidates if per_draw[d] <= fastest * (1 + _PLAN_TIE))

    # ------------------------------------------------------------------ helpers for subclasses
    def _loss(self, images: Tensor, targets: Tensor) -> Tensor:
        out = self.model(images)
        # Metadata only. A custom criterion may take (N,) outputs (a regression loss).
        check_logits(out, images.shape[0], min_ndim=2 if self._default_criterion else 1)
        if self._unchecked_labels is not None:
            # Once per wrapper call, when the number of classes is first known (see _check_batch).
            labels, self._unchecked_labels = self._unchecked_labels, None
            check_label_values(labels, out.shape[1])
        # Losses in float32 under autocast: bf16 logits lose the small differences that the
        # searches compare.
        if out.is_floating_point() and out.dtype in (torch.float16, torch.bfloat16):
            out = out.float()
        loss = self.criterion(out, targets)
        if loss.ndim == 0:
            raise ValueError(
                f"the criterion returned a scalar for a batch of {images.shape[0]}; it must "
                f"honour reduction='none' and return one loss per sample."
            )
        if loss.ndim > 1:
            loss = loss.flatten(1).mean(1)
        return loss.float()

    #: Class-index labels of the current call whose values are checked at the first classifier
    #: output (only then is the number of classes known); see :meth:`_loss`.
    _unchecked_labels: Tensor | None = None

    def _check_batch(self, x: Tensor, y: Tensor) -> Tensor:
        """Check a call's batch (metadata only) and return ``y`` (integer labels as int64)."""
        # The [0, 1] range check runs inside G (check_image), once per step.
        if not isinstance(x, Tensor) or x.ndim != 4:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a batch (B, C, H, W), got {got}; use x.unsqueeze(0) for one image.")
        if not isinstance(y, Tensor) or y.ndim == 0 or y.shape[0] != x.shape[0]:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(f"y must be a tensor with one target per image, batch {x.shape[0]}; got {got}.")
        if self._default_criterion:
            # Cross-entropy takes class indices (B,) or class probabilities (B, num_classes).
            y = check_labels(y, x.shape[0], allow_probabilities=True)
            self._unchecked_labels = y
        g_device = self.G.device
        if g_device != x.device:
            raise ValueError(f"the nuisance model is on {g_device} but the batch is on {x.device}; move both with "
                             f"wrapper.to({str(x.device)!r}) (it moves the classifier and G).")
        return y

    def _g_context(self, x: Tensor):
        """G runs without autocast (see the class docstring) and, here, without gradients."""
        return torch.autocast(device_type=x.device.type, enabled=False)

    def _delta_dtype(self, x: Tensor) -> torch.dtype:
        return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32

    def _candidates(self, x: Tensor, k: int, delta: Tensor | None) -> Tensor:
        """The ``(k, B, q)`` draws of the step: ``delta`` checked, or drawn from the prior."""
        b, q = x.shape[0], self.G.delta_dim
        if delta is None:
            return self.G.sample_delta(k * b, generator=self.generator, device=x.device,
                                       dtype=self._delta_dtype(x)).view(k, b, q)
        if not isinstance(delta, Tensor) or tuple(delta.shape) != (k, b, q):
            got = tuple(delta.shape) if isinstance(delta, Tensor) else type(delta).__name__
            raise ValueError(
                f"delta must have shape (k, B, q) = ({k}, {b}, {q}): k draws per image and "
                f"q = G.delta_dim; got {got}."
            )
        # A given δ is projected into Δ here, once: G would project it again when decoding,
        # and the search reports the δ it actually used.
        return self.G.project(delta.to(device=x.device, dtype=self._delta_dtype(x)))

    def _encode(self, x: Tensor):
        """``G.encode`` of the batch as ``G.forward_multi`` would compute it (uint8 → float in
        [0, 1], half → float32), once per step: the draws are decoded in pieces from it."""
        xf = x.float() / 255.0 if x.dtype == torch.uint8 else x
        if xf.dtype not in (torch.float32, torch.float64):
            xf = xf.float()
        check_image(x)  # encode runs directly (not through G's forward), so check here
        with torch.no_grad(), self._g_context(x):
            return self.G.encode(xf)

    def _decode(self, x: Tensor, delta: Tensor, content) -> Tensor:
        """``G(x, δ)`` for draws ``delta`` ``(d, B, q)`` in one ``G.forward_multi`` call (one
        batched decode from ``content``): ``(d, B, C, H, W)``, without gradients."""
        with torch.no_grad(), self._g_context(x):
            images = self.G.forward_multi(x, delta=delta, content=content)[0]
        self._check_generated(images.shape[2:], x)
        return images

    def _check_generated(self, shape: tuple, x: Tensor) -> None:
        """G's images must look like the clean batch (one check for MDA, MRT and MAT)."""
        if tuple(shape) != tuple(x.shape[1:]):
            # e.g. a colour → gray generator: the classifier would get images unlike the clean batch.
            raise ValueError(
                f"the nuisance model turns ({', '.join(map(str, x.shape[1:]))}) images into "
                f"({', '.join(map(str, shape))}); the classifier needs both alike. Use a model "
                f"trained on this data's channels and size, or convert the data (channels=/size= in its spec)."
            )

    def _draw(self, x: Tensor, k: int, delta: Tensor | None) -> tuple[Tensor, Tensor]:
        """``k`` draws of G per image, ``((k, B, C, H, W), (k, B, q))``, without gradients:
        one encode, and decodes of as many draws per call as :meth:`search_plan` says."""
        delta = self._candidates(x, k, delta)
        content = self._encode(x)
        per_call, _ = self.search_plan(x, k, lambda d: self._decode(x, delta[:d], content))
        outs = [self._decode(x, part, content) for part in delta.split(per_call)]
        return (outs[0] if len(outs) == 1 else torch.cat(outs)), delta

    def _for_classifier(self, images: Tensor, x: Tensor) -> Tensor:
        """Give a 4-d batch for the classifier the layout of ``memory_format`` (see the class
        docstring; G's outputs are contiguous)."""
        if images.ndim == 4 and self._channels_last(x):
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def _channels_last(self, x: Tensor) -> bool:
        """Whether the classifier gets channels_last batches for the batch ``x``."""
        if x.ndim != 4 or x.shape[1] <= 1:  # one channel: both layouts are the same
            return False
        if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return True  # the caller's own choice
        if self.memory_format != "auto":
            return self.memory_format == "channels_last"
        if x.device.type != "cpu" or getattr(self.model, "_orig_mod", None) is not None \
                or torch.compiler.is_compiling():
            return False
        key = id(self.model)
        if key not in self._takes_channels_last:
            self._takes_channels_last[key] = self._probe_channels_last(x)
        return self._takes_channels_last[key]

    def _probe_channels_last(self, x: Tensor) -> bool:
        """One eval-mode forward of two images in channels_last: does the classifier take them?"""
        try:
            with search_mode(self.model, grad=False):
                self.model(x[:2].contiguous(memory_format=torch.channels_last))
        except Exception:  # e.g. `.view` on a conv output: the classifier needs contiguous inputs
            return False
        return True

    def _assemble(self, x: Tensor, y: Tensor, generated: Tensor, per_image: int) -> tuple[Tensor, Tensor, Tensor]:
        """Clean batch + generated images ``(n·B, ...)`` (draw-major), with their weights."""
        b = x.shape[0]
        if self._default_criterion and not y.is_floating_point():
            y = y.long()  # int32/uint8 class indices (accepted by _check_batch); a no-op for int64
        images = torch.cat([x, generated.to(x.dtype)])
        images = self._for_classifier(images, x)
        targets = torch.cat([y] * (per_image + 1))
        m = max(b, 1)  # B = 0: no weights to fill, and no division by zero
        weights = torch.full((images.shape[0],), 1.0 / m, device=x.device, dtype=torch.float32)
        weights[:b] = self.lam / m
        return images, targets, weights
