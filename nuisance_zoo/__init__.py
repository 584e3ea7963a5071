"""nuisance-zoo: models of natural variation G(x, δ) and model-based robust training.

Example:
    >>> import torch, nuisance_zoo as nz
    >>> G = nz.load("brightness")
    >>> G(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
"""
from .version import __version__

from .base import Compose, NuisanceModel, get_input_checks, input_checks, set_input_checks
from .registry import (
    ExperimentalModelWarning,
    PretrainedEntry,
    UnknownModelError,
    info,
    list_models,
    load,
    register_architecture,
    register_model,
    register_pretrained,
)
from .training import MATWrapper, MDAWrapper, ModelBasedWrapper, MRTWrapper, PGDWrapper, load_classifier, train
from .eval import evaluate
from . import hub  # noqa: E402
from .hub import ChecksumMismatchError, HubError, ModelFolderError
from .data import ImageDataset, curate, load_dataset, sample_mnist, set_challenge_synthesizer
from .learned import MunitGenerator, StructuredGenerator, fit
from .adapters import RandomNuisance, from_kornia
from .known import synthesize_challenge

# The package is the one place that knows both data/ and the models: it wires data specs'
# ``challenge=NAME&level=L`` to the known models (data/ itself imports no model code).
set_challenge_synthesizer(synthesize_challenge)

__all__ = [
    "NuisanceModel", "Compose", "set_input_checks", "get_input_checks", "input_checks", "load", "list_models", "info", "register_model",
    "register_pretrained", "register_architecture", "PretrainedEntry", "UnknownModelError",
    "ExperimentalModelWarning", "MDAWrapper", "MRTWrapper", "MATWrapper", "PGDWrapper", "ModelBasedWrapper", "train", "evaluate",
    "load_classifier", "fit", "MunitGenerator", "StructuredGenerator",
    "hub", "HubError", "ChecksumMismatchError", "ModelFolderError",
    "ImageDataset", "load_dataset", "curate", "sample_mnist",
    "from_kornia", "RandomNuisance",
    "__version__",
]
