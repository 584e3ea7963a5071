"""Adapters to the libraries users already train with: kornia augmentations become nuisance
models (:func:`from_kornia`), and a nuisance model becomes a torchvision v2 transform
(:class:`RandomNuisance`)."""
from .kornia import KorniaNuisance, KorniaSequential, UnsupportedAugmentationError, from_kornia
from .torchvision import RandomNuisance

__all__ = ["from_kornia", "RandomNuisance", "KorniaNuisance", "KorniaSequential", "UnsupportedAugmentationError"]
