"""Known (analytic) models of natural variation, one small file per family.

Importing this package registers every known model by name (see ``nuisance_zoo.list_models``).
"""
from . import colour, geometry, occlusion, noise, weather  # noqa: F401  (registration)
from .levels import CURE_TSR_LEVELS, challenge_delta  # noqa: F401
