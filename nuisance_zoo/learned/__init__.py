"""Learned models of natural variation (MUNIT-style generator), their trainer and imports."""
from .config import FitConfig, GeneratorConfig  # noqa: F401
from .fit import fit  # noqa: F401
from .generator import MunitGenerator  # noqa: F401  (registers the "munit-generator" architecture)
from .munit_import import import_munit  # noqa: F401
from .pretrained import PretrainedMixin  # noqa: F401
from .structured import StructuredGenerator  # noqa: F401  (registers "structured-generator")
