"""Evaluation: nuisance-space grids, galleries and robustness reports."""
from .grid import delta_grid, gallery, load_image, save_image_grid  # noqa: F401
from .robustness import accuracy, evaluate  # noqa: F401
