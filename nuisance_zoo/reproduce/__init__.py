"""Reproduce the paper's Section 6 tables: one named row per experiment, one command per row.

- :mod:`.rows`: the row table (domains, model, columns, the paper's numbers).
- :mod:`.run`: :func:`reproduce` runs a row (seeds × columns, resumable) into ``ROW.json``.
- :mod:`.report`: ``docs/results.md`` and its figures from the JSONs.

This layer sits on top: it uses training, eval, data, learned and the registry; only the CLI
imports it.

Example:
    >>> from nuisance_zoo.reproduce import ROWS
    >>> "t2-gtsrb-brightness" in ROWS
    True
"""
from .rows import PAPER_COLUMNS, ROWS, TABLES, Column, ModelRecipe, Row
from .run import QUICK, get_row, reproduce, rows_of_table

__all__ = ["reproduce", "get_row", "rows_of_table", "ROWS", "TABLES", "PAPER_COLUMNS", "Row", "Column", "ModelRecipe", "QUICK"]
