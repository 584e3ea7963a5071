"""The pretrained zoo: names of learned models -> hub repo, revision and weights sha256.

Entries are added here as models are trained and bundled in ``hub_cards/<name>/``.
"""
from .registry import PretrainedEntry, register_pretrained  # noqa: F401

ZOO: list = []
for _entry in ZOO:
    register_pretrained(_entry)
