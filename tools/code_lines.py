"""Count a Python file's code lines: not blank, not a comment, not a docstring.

    python tools/code_lines.py nuisance_zoo/hub.py nuisance_zoo/learned/pretrained.py
    python tools/code_lines.py 98e9fae:nuisance_zoo/hub.py HEAD:nuisance_zoo/hub.py   # REV:PATH via git show

Used to compare the size of a piece of the package across commits (issue 12's "the hub and card
code shrinks"), where plain ``wc -l`` would count docstrings and comments too.
"""
from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

_SKIP = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def code_lines(source: str) -> int:
    """Lines of ``source`` that hold a token other than a comment or a docstring.

    Example:
        >>> code_lines("'Doc.'\\n# note\\n\\nx = 1  # one\\n")
        1
    """
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in _SKIP:
            lines.update(n for n in range(tok.start[0], tok.end[0] + 1) if n not in docstrings)
    return len(lines)


def read(spec: str) -> str:
    """A file's text: a path, or ``REV:PATH`` read with ``git show``."""
    if ":" in spec and not Path(spec).exists():
        return subprocess.run(["git", "show", spec], capture_output=True, text=True, check=True).stdout
    return Path(spec).read_text()


def main(argv: list[str] | None = None) -> int:
    specs = argv if argv is not None else sys.argv[1:]
    if not specs:
        print(__doc__)
        return 2
    total_lines = total_code = 0
    for spec in specs:
        text = read(spec)
        n, c = len(text.splitlines()), code_lines(text)
        total_lines, total_code = total_lines + n, total_code + c
        print(f"{n:6d} lines {c:6d} code  {spec}")
    if len(specs) > 1:
        print(f"{total_lines:6d} lines {total_code:6d} code  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
