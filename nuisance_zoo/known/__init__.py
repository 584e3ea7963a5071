"""Known (analytic) models of natural variation, one small file per family.

Importing this package registers every known model by name (see ``nuisance_zoo.list_models``)
and fills the CURE-TSR challenge-level table (:mod:`nuisance_zoo.known.levels`).
"""
from . import colour, geometry, noise, occlusion, weather  # noqa: F401  (registration)
from .levels import (  # noqa: F401
    CURE_TSR_LEVELS,
    ChallengeSpec,
    challenge_delta,
    challenge_model,
    collect_challenges,
    synthesize_challenge,
)

collect_challenges(colour, geometry, noise, weather)
