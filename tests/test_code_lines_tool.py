"""tools/code_lines.py: the code-line count behind issue 12's "the hub and card code shrinks"."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("code_lines", ROOT / "tools" / "code_lines.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_counts_code_but_not_docstrings_comments_or_blanks(tmp_path, capsys):
    tool = _tool()
    src = '"""Module doc,\nover two lines."""\n\n# a comment\ndef f(x):\n    """Doc."""\n    return (x +\n            1)  # two lines of code\n'
    assert tool.code_lines(src) == 3  # def, and the two lines of the return
    assert tool.code_lines("x = '''not a docstring'''\n") == 1
    path = tmp_path / "m.py"
    path.write_text(src)
    assert tool.main([str(path), str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].split()[:4] == ["16", "lines", "6", "code"]
