"""Evaluation: nuisance-space grids, galleries and robustness reports."""
from .grid import delta_grid, gallery, save_image_grid  # noqa: F401
