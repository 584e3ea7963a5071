"""Learned models of natural variation (MUNIT-style generator), their trainer and imports."""
