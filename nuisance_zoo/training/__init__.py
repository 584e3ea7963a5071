"""Model-based training: wrappers that turn a classifier and a nuisance model into the
paper's objectives (MDA, MRT, MAT; PGD as MAT over the additive ℓ∞ model).

Example:
    >>> import torch, torch.nn as nn, nuisance_zoo as nz
    >>> from nuisance_zoo.training import MDAWrapper
    >>> f = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    >>> wrapper = MDAWrapper(f, nz.load("brightness"), k=5)
    >>> opt = torch.optim.SGD(wrapper.parameters(), lr=0.1)   # trains the classifier only
    >>> loss = wrapper(torch.rand(4, 3, 8, 8), torch.randint(0, 10, (4,)))
    >>> loss.backward(); opt.step(); opt.zero_grad()
"""
from .mat import MATWrapper
from .mda import MDAWrapper
from .mrt import MRTWrapper
from .pgd import PGDWrapper
from .wrapper import ModelBasedWrapper, per_sample_criterion
from .search import projected_gradient_ascent, relative_step
from .classifiers import create_classifier, load_classifier, paper_cnn, save_classifier
from .trainer import TrainResult, train

__all__ = ["ModelBasedWrapper", "MDAWrapper", "MRTWrapper", "MATWrapper", "PGDWrapper", "per_sample_criterion",
           "projected_gradient_ascent", "relative_step",
           "train", "TrainResult", "paper_cnn", "create_classifier", "load_classifier", "save_classifier"]
