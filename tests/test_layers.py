"""The package's layers point one way (docs/architecture.md): no upward import, no cycle.

Every module under ``nuisance_zoo/`` is parsed with :mod:`ast` (function-level, lazy imports
included), mapped to its layer, and each import of another ``nuisance_zoo`` module is checked
against the rules below. The self-tests at the end feed the checker synthetic modules, so a
checker that flags nothing cannot pass.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "nuisance_zoo"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# (module or package prefix, group); the longest matching prefix wins.
GROUPS: dict[str, str] = {
    "nuisance_zoo.base": "base",
    "nuisance_zoo.checks": "base",
    "nuisance_zoo.version": "base",
    "nuisance_zoo.checkpoint": "base",
    "nuisance_zoo.run_lock": "base",
    "nuisance_zoo.catalogue": "base",
    "nuisance_zoo.model_folder": "base",
    "nuisance_zoo.data": "data",
    "nuisance_zoo.known": "known",
    "nuisance_zoo.learned": "learned",
    "nuisance_zoo.adapters": "adapters",
    "nuisance_zoo.hub": "hub",
    "nuisance_zoo.registry": "registry",
    "nuisance_zoo.zoo": "registry",
    "nuisance_zoo.training": "training",
    "nuisance_zoo.eval": "eval",
    "nuisance_zoo.cli": "app",
    "nuisance_zoo.demo": "app",
    "nuisance_zoo.reproduce": "app",  # runs the paper's experiments end to end, like the demo
    "nuisance_zoo.__main__": "app",
    "nuisance_zoo": "app",  # the package's __init__: the public face, wires the layers together
}

#: Layer of each group; a module may import groups of a lower layer.
RANK = {"base": 0, "known": 1, "learned": 1, "adapters": 1, "hub": 2, "registry": 2,
        "training": 3, "eval": 3, "app": 4}

#: Allowed imports between different groups of the same layer (importer, imported).
SIDEWAYS = {
    ("learned", "known"),      # the structured generator drives known models
    ("registry", "hub"),       # names → files, never files → names
    ("eval", "training"),      # evaluation reuses training's inputs and metrics, never the reverse
}

#: data/ is a side layer: it imports only the base layer, and only these may import it.
DATA_IMPORTERS = {"training", "eval", "app"}
DATA_IMPORTER_MODULES = ("nuisance_zoo.learned.fit",)  # learned.fit* take data from it

#: Modules that import nothing from the package at all.
LEAVES = {"nuisance_zoo.checks", "nuisance_zoo.version", "nuisance_zoo.checkpoint", "nuisance_zoo.model_folder",
          "nuisance_zoo.run_lock"}


@dataclass(frozen=True)
class Import:
    """One import of a package module: who imports what, where, and which names."""

    importer: str
    target: str
    line: int
    names: tuple[str, ...]
    path: str


def group_of(module: str) -> str | None:
    """The group of a dotted module name (None for a module no rule covers)."""
    best = None
    for prefix in GROUPS:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return GROUPS[best] if best is not None else None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect_imports(source: str, module: str, is_package: bool, known_modules: set[str],
                    path: str = "<memory>") -> list[Import]:
    """Every import of a ``nuisance_zoo`` module in ``source``, at any depth (lazy ones included)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    found.append(Import(module, alias.name, node.lineno, (), path))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if not (origin == PACKAGE or origin.startswith(PACKAGE + ".")):
                continue
            plain = []
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                if sub in known_modules:  # "from . import hub" imports the module nuisance_zoo.hub
                    found.append(Import(module, sub, node.lineno, (alias.name,), path))
                else:
                    plain.append(alias.name)
            if plain:
                found.append(Import(module, origin, node.lineno, tuple(plain), path))
    return found


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering, or None."""
    src, dst = group_of(imp.importer), group_of(imp.target)
    where = f"{imp.path}:{imp.line}: {imp.importer} imports {imp.target}"
    if src is None or dst is None:
        missing = imp.importer if src is None else imp.target
        return f"{where}: {missing} has no layer; add it to GROUPS in tests/test_layers.py and docs/architecture.md"
    if imp.importer in LEAVES:
        return f"{where}: {imp.importer} must import nothing from the package"
    if imp.importer == "nuisance_zoo.base" and imp.target != "nuisance_zoo.checks":
        return f"{where}: nuisance_zoo.base may import only nuisance_zoo.checks from the package"
    private = [n for n in imp.names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]
    if private and imp.target != imp.importer:
        return f"{where}: private name(s) {private} used across modules; make them public where they live"
    if src == dst:
        return None
    if dst == "data":
        if src in DATA_IMPORTERS or imp.importer.startswith(DATA_IMPORTER_MODULES):
            return None
        return f"{where}: data/ is a side layer only training, eval, the app and learned.fit* may import"
    if src == "data":
        if dst == "base":
            return None
        return f"{where}: data/ knows no models and imports only the base layer ({dst} is not)"
    if RANK[dst] < RANK[src]:
        return None
    if RANK[dst] == RANK[src] and (src, dst) in SIDEWAYS:
        return None
    kind = "up" if RANK[dst] > RANK[src] else "sideways"
    return f"{where}: goes {kind} from {src} (layer {RANK[src]}) to {dst} (layer {RANK[dst]})"


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def package_imports(root: Path = PACKAGE_DIR) -> list[Import]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root): p for p in files}
    found = []
    for mod, path in modules.items():
        found += collect_imports(path.read_text(encoding="utf-8"), mod, path.name == "__init__.py", set(modules),
                                 str(path.relative_to(root.parent)))
    return found


# ---------------------------------------------------------------------------------- the package
def test_every_module_has_a_layer():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert files, f"no modules found under {PACKAGE_DIR}"
    unmapped = [module_name(p, PACKAGE_DIR) for p in files if group_of(module_name(p, PACKAGE_DIR)) is None]
    assert not unmapped, f"modules without a layer: {unmapped}"


def test_no_import_goes_up_a_layer_or_sideways():
    imports = package_imports()
    assert len(imports) > 50, "the checker found suspiciously few imports"
    problems = [v for v in map(violation, imports) if v]
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_no_import_cycles_between_modules():
    edges: dict[str, set[str]] = {}
    for imp in package_imports():
        if imp.target != imp.importer:
            edges.setdefault(imp.importer, set()).add(imp.target)
    cycles = find_cycles(edges)
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


# ---------------------------------------------------------------------------------- self-tests
KNOWN = {"nuisance_zoo", "nuisance_zoo.base", "nuisance_zoo.known", "nuisance_zoo.known.colour",
         "nuisance_zoo.learned", "nuisance_zoo.learned.fit", "nuisance_zoo.registry", "nuisance_zoo.hub",
         "nuisance_zoo.training", "nuisance_zoo.training.trainer", "nuisance_zoo.eval",
         "nuisance_zoo.eval.robustness", "nuisance_zoo.data", "nuisance_zoo.data.spec"}


def _problems(source: str, module: str, is_package: bool = False) -> list[str]:
    return [v for v in map(violation, collect_imports(source, module, is_package, KNOWN)) if v]


@pytest.mark.parametrize("module, source, expect", [
    # a lazy (function-level) upward import: known → registry
    ("nuisance_zoo.known.colour", "def f():\n    from ..registry import load\n", "goes up from known"),
    # training must not import eval
    ("nuisance_zoo.training.trainer", "from ..eval.robustness import accuracy\n", "goes sideways from training"),
    # hub knows files, not names
    ("nuisance_zoo.hub", "from . import registry\n", "goes sideways from hub"),
    # known and learned are siblings, but known may not use learned
    ("nuisance_zoo.known.colour", "import nuisance_zoo.learned\n", "goes sideways from known"),
    # data knows no models
    ("nuisance_zoo.data.spec", "def f():\n    from ..known import synthesize_challenge\n", "data/ knows no models"),
    # and models do not read data
    ("nuisance_zoo.known.colour", "from nuisance_zoo.data import spec\n", "side layer"),
    # the package's face is the top layer: importing it from below goes up
    ("nuisance_zoo.hub", "from . import __version__\n", "goes up from hub"),
    # private names stay in their module
    ("nuisance_zoo.eval.robustness", "from ..training.trainer import _helper\n", "private name"),
])
def test_checker_flags_a_synthetic_bad_import(module, source, expect):
    problems = _problems(source, module)
    assert len(problems) == 1 and expect in problems[0], problems
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "import" in text)
    assert f":{line}: {module} imports" in problems[0]  # the message names the module and the line


@pytest.mark.parametrize("module, source", [
    ("nuisance_zoo.eval.robustness", "from ..training.trainer import train\n"),
    ("nuisance_zoo.learned.fit", "from ..data import spec\nfrom .. import known\n"),
    ("nuisance_zoo.registry", "from . import hub, known, learned\n"),
    ("nuisance_zoo", "from .registry import load\nfrom . import hub\n"),
])
def test_checker_accepts_downward_and_allowed_sideways_imports(module, source):
    assert _problems(source, module, is_package=module == "nuisance_zoo") == []


def test_cycle_finder_finds_a_cycle_and_only_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "d": {"a"}}) == []
