"""The row table: one named experiment per row of the paper's Section 6 tables, with its numbers.

A :class:`Row` says everything :func:`~nuisance_zoo.reproduce.run.reproduce` needs: the training
domain A, the test domains (the first is the one the paper reports), the model of natural
variation (a known model, a zoo model, a composition, or one fitted on the spot with the zoo's
recipe), the classifier, and the columns (algorithm + k + which model). ``paper`` holds the
paper's numbers for the first test domain (or, for Table 6, one dict per test domain).

Where the paper's data is not available here (SVHN, CURE-TSR, Fashion-MNIST, ...), the row is
the closest honest analogue and says so in ``analogue``: its paper numbers are those of the
experiment it stands in for, printed beside ours for orientation, not as a like-for-like target.

Example:
    >>> from nuisance_zoo.reproduce.rows import ROWS
    >>> ROWS["t2-gtsrb-brightness"].paper["MDA-5"]
    82.0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Column", "ModelRecipe", "Row", "ROWS", "PAPER_COLUMNS", "TABLES", "standard_columns", "PGD_KWARGS",
           "AUTHORS_PGD", "AUTHORS_PGD_COLUMN"]

#: The paper's six classifiers, in its column order.
PAPER_COLUMNS = ("Vanilla", "PGD", "MRT-1", "MRT-10", "MDA-5", "MAT-10")

#: Paper table → one-line caption (the order of docs/results.md).
TABLES = {
    "Table 2": "Model-based training on one dataset (test on domain B)",
    "Table 3": "A more challenging test set (A = B, test on red backgrounds)",
    "Figure 11": "Composition of two learned models (brightness + contrast)",
    "Table 5": "Reusing a model learned on MNIST on other data sets (blue → red)",
    "Table 6": "Out-of-distribution challenge levels (train on levels 0–1, test on 2–5)",
    "Table 7": "Classifier architectures (GTSRB night → day)",
}

#: The paper's PGD baseline (Section 6): ε = 0.3, step 0.01 (absolute, image units), 20 steps.
PGD_KWARGS = {"eps": 0.3, "step_size": 0.01, "steps": 20}

#: The PGD of the authors' public code (arobey1/mbrdl, ``core/training/train_algs.py``), which
#: differs from the paper's text: δ starts at 0, ten steps δ ← clamp(δ + 0.01·∇δ L, ±8/255) with
#: the raw gradient of the batch-*mean* loss (not its sign), then training on x + δ only. Our
#: search differentiates the per-image losses' sum, so the same step is 0.01 / 64 at the rows'
#: batch size of 64. On GTSRB the paper's stated ε = 0.3 cannot be trained (docs/results.md);
#: this is the PGD whose numbers the paper's GTSRB rows report.
AUTHORS_PGD = (("eps", 8 / 255), ("steps", 10), ("step_size", 0.01 / 64), ("sign", False),
               ("random_start", False))


@dataclass(frozen=True)
class Column:
    """One classifier of a row.

    Attributes:
        label: the column name (``"MDA-5"``, ``"MDA-5 (known: hue)"``).
        algorithm: ``erm``, ``pgd``, ``mrt``, ``mat`` or ``mda``.
        k: draws (MRT, MDA) or ascent steps (MAT); None for erm/pgd.
        model: which of the row's models it trains against (``"main"`` or a key of
            :attr:`Row.extra_models`).
        kwargs: wrapper arguments beyond the paper's, as ``(name, value)`` pairs (a tuple keeps
            the column hashable); for PGD they override :data:`PGD_KWARGS`. The PGD of the
            authors' public code (:data:`AUTHORS_PGD_COLUMN`) is such a column.
    """

    label: str
    algorithm: str
    k: int | None = None
    model: str = "main"
    kwargs: tuple[tuple[str, Any], ...] = ()


def standard_columns() -> tuple[Column, ...]:
    """The paper's six classifiers: Vanilla, PGD, MRT-1, MRT-10, MDA-5, MAT-10."""
    return (Column("Vanilla", "erm"), Column("PGD", "pgd"), Column("MRT-1", "mrt", 1),
            Column("MRT-10", "mrt", 10), Column("MDA-5", "mda", 5), Column("MAT-10", "mat", 10))


@dataclass(frozen=True)
class ModelRecipe:
    """How a row obtains a model of natural variation.

    Attributes:
        kind: ``"load"`` (``names`` are zoo/known names, composed with ``@`` so that the first
            name is applied last, as ``nz.load(a) @ nz.load(b)`` reads) or ``"fit"`` (learn it
            with :func:`nuisance_zoo.fit` from ``domain_a`` → ``domain_b``, the zoo's recipe).
        names: for ``load``: the models, outermost first.
        domain_a, domain_b: for ``fit``: the two unpaired image sets (data specs).
        what: a one-line description for tables (``"zoo: gtsrb-contrast"``).
    """

    kind: str
    names: tuple[str, ...] = ()
    domain_a: str = ""
    domain_b: str = ""
    what: str = ""

    def describe(self) -> str:
        """A one-line description for tables."""
        if self.what:
            return self.what
        if self.kind == "fit":
            return f"fitted: {self.domain_a} → {self.domain_b}"
        return " @ ".join(self.names)

    def as_dict(self) -> dict:
        """The recipe as JSON-ready data (what the results JSON records)."""
        d = {"kind": self.kind, "describe": self.describe()}
        if self.kind == "load":
            d["names"] = list(self.names)
        else:
            d.update(domain_a=self.domain_a, domain_b=self.domain_b)
        return d


def load(*names: str, what: str = "") -> ModelRecipe:
    """A model loaded by name; several names compose, outermost first (``load("a", "b")`` is ``a @ b``)."""
    return ModelRecipe("load", tuple(names), what=what)


def fitted(domain_a: str, domain_b: str, what: str = "") -> ModelRecipe:
    """A model fitted on the spot from ``domain_a`` to ``domain_b`` (data specs) with the zoo's recipe."""
    return ModelRecipe("fit", domain_a=domain_a, domain_b=domain_b, what=what)


@dataclass(frozen=True)
class Row:
    """One experiment, end to end.

    Attributes:
        name: the row's name on the command line.
        table: the paper table it reproduces (a key of :data:`TABLES`).
        title: what the row is, in the paper's words (domains A → B).
        train: training data spec(s) of domain A (several are concatenated).
        tests: ``{name: spec}``; the first is the domain the paper reports.
        model: the row's main model of natural variation.
        columns: the classifiers to train.
        paper: the paper's test accuracy (%) per column label, for the first test domain;
            for rows with several reported test domains, ``{test_name: {label: acc}}``.
        analogue: None when the row is the paper's experiment on the paper's data; otherwise
            what it stands in for and how it differs.
        extra_models: other models that extra columns train against (``{key: recipe}``).
        classifier: ``"paper-cnn"``, a key of :data:`~.architectures.ARCHITECTURES` or a timm name.
        num_classes: classes of the task (given, not inferred, so a small quick sample with a
            class missing keeps the same classifier).
        epochs: epochs of the full run.
        optional_data: the data may be absent (torchvision sets that need a download): the
            row then records ``status: "data-unavailable"`` instead of failing.
        note: anything else a reader of the results must know.
    """

    name: str
    table: str
    title: str
    train: tuple[str, ...]
    tests: dict
    model: ModelRecipe
    columns: tuple[Column, ...] = field(default_factory=standard_columns)
    paper: dict = field(default_factory=dict)
    analogue: str | None = None
    extra_models: dict = field(default_factory=dict)
    classifier: str = "paper-cnn"
    num_classes: int = 10
    epochs: int = 10
    optional_data: bool = False
    note: str = ""

    @property
    def main_test(self) -> str:
        """The test domain the paper reports (the first of :attr:`tests`)."""
        return next(iter(self.tests))

    def paper_for(self, test: str) -> dict:
        """The paper's numbers for test domain ``test`` (empty when it has none)."""
        if self.paper and all(isinstance(v, dict) for v in self.paper.values()):
            return dict(self.paper.get(test, {}))
        return dict(self.paper) if test == self.main_test else {}


def _paper(*values) -> dict:
    """Paper numbers in :data:`PAPER_COLUMNS` order (None where the paper has none)."""
    return {c: v for c, v in zip(PAPER_COLUMNS, values) if v is not None}


def _with_known(name: str, what: str) -> tuple[Column, ...]:
    """The six columns plus MDA-5 over the closest known model (Table 2's learned rows)."""
    return standard_columns() + (Column(f"MDA-5 (known: {what})", "mda", 5, model="known"),)


#: PGD as the authors' code runs it (:data:`AUTHORS_PGD`): an extra column of the GTSRB rows of
#: Table 2, where the paper's stated PGD (ε = 0.3) does not train.
AUTHORS_PGD_COLUMN = Column("PGD (authors' code)", "pgd", kwargs=AUTHORS_PGD)


#: The paper trains its MNIST classifiers for twenty epochs (Appendix A.1.2, Figure 17).
MNIST_EPOCHS = 20
#: The paper does not state GTSRB's epochs (it shows 100 on SVHN, Figures 8c and 23); 25 passes over
#: the small GTSRB domains (2,000-9,000 images) keep a full row within a short GPU call.
GTSRB_EPOCHS = 25
#: The paper averages five trials; the issue asks for three by default (``--seeds 5`` matches the paper).

_G10 = "gtsrb:{split}?classes=largest10"


def _gtsrb(split: str, extra: str) -> str:
    return _G10.format(split=split) + "&" + extra


_ROWS: list[Row] = []


def _add(row: Row) -> None:
    """Append ``row`` to the table (names are unique: :data:`ROWS` is keyed by them)."""
    if any(r.name == row.name for r in _ROWS):
        raise ValueError(f"duplicate row name {row.name!r}")
    _ROWS.append(row)


# ---- Table 2: one data set, train on A, test on B -------------------------------------------
_add(Row(
    name="t2-mnist-gray-rgb", table="Table 2", title="MNIST background colour: gray → RGB (known model)",
    train=("mnist:train?colorize=gray",),
    tests={"B": "mnist:test?colorize=gray-rgb&seed=0", "A": "mnist:test?colorize=gray"},
    model=load("background-color", what="known: background-color (Algorithm 4)"),
    paper=_paper(87.8, 75.9, 98.8, 98.8, 98.9, None), epochs=MNIST_EPOCHS,
    note="The paper omits MAT here (its background model was not differentiable); ours is, so MAT-10 runs.",
))
_add(Row(
    name="t2-mnist-blue-red", table="Table 2", title="MNIST background colour: blue → red (learned)",
    train=("mnist:train?colorize=blue",),
    tests={"B": "mnist:test?colorize=red", "A": "mnist:test?colorize=blue"},
    model=load("mnist-background-color", what="zoo: mnist-background-color"),
    extra_models={"known": load("hue", what="known: hue")},
    columns=_with_known("hue", "hue"),
    paper=_paper(84.4, 82.4, 97.2, 97.3, 97.3, 91.8), epochs=MNIST_EPOCHS,
))
_add(Row(
    name="t2-gtsrb-contrast", table="Table 2", title="GTSRB contrast: low (C < 70) → high (C > 240), ten largest classes",
    train=(_gtsrb("train", "contrast=<70"),),
    tests={"B": _gtsrb("test", "contrast=>240"), "A": _gtsrb("test", "contrast=<70")},
    model=load("gtsrb-contrast", what="zoo: gtsrb-contrast"),
    extra_models={"known": load("contrast", what="known: contrast")},
    columns=_with_known("contrast", "contrast") + (AUTHORS_PGD_COLUMN,),
    paper=_paper(67.0, 69.5, 73.6, 73.9, 78.4, 78.8), epochs=GTSRB_EPOCHS,
))
_add(Row(
    name="t2-gtsrb-brightness", table="Table 2", title="GTSRB brightness: night (B < 40) → day (B > 170), ten largest classes",
    train=(_gtsrb("train", "brightness=<40"),),
    tests={"B": _gtsrb("test", "brightness=>170"), "A": _gtsrb("test", "brightness=<40")},
    model=load("gtsrb-brightness", what="zoo: gtsrb-brightness"),
    # brightness then gamma (first applied first): gamma @ brightness
    extra_models={"known": load("gamma", "brightness", what="known: gamma @ brightness")},
    columns=_with_known("gamma @ brightness", "gamma @ brightness") + (AUTHORS_PGD_COLUMN,),
    paper=_paper(65.0, 67.6, 78.5, 79.1, 82.0, 74.8), epochs=GTSRB_EPOCHS,
))

# ---- Table 3: A = B, a harder test set --------------------------------------------------------
for _name, _mode, _title, _nums in (
    ("t3-mnist-half", "blue0-4-red5-9", "MNIST blue 0–4 / red 5–9 → red (Appendix A.1.3)", (50.7, 50.6, 96.2, 96.4, 97.7)),
    ("t3-mnist-one-red", "red0-blue1-9", "MNIST red 0 / blue 1–9 → red (Appendix A.1.4)", (9.8, 9.8, 97.5, 97.4, 97.4)),
):
    _dom = f"mnist:train?limit=30000&colorize={_mode}"
    _add(Row(
        name=_name, table="Table 3", title=_title,
        train=(f"mnist:train?colorize={_mode}",),
        tests={"red": "mnist:test?colorize=red", "A": f"mnist:test?colorize={_mode}"},
        # A = B (Appendix A.1.3-4): the model learns both colours from the mixed set itself.
        model=fitted(_dom, _dom, what=f"fitted on the spot: {_mode} → {_mode} (A = B, zoo recipe)"),
        paper=_paper(*_nums, None), epochs=MNIST_EPOCHS,
        note="The paper's Table 3 has no MAT column; ours runs MAT-10 for completeness.",
    ))

# ---- Figure 11 analogue: composition -----------------------------------------------------------
_add(Row(
    name="f11-gtsrb-bright-contrast", table="Figure 11",
    title="GTSRB low brightness + low contrast → high brightness + high contrast, composed model",
    train=(_gtsrb("train", "brightness=<40&contrast=<70"),),
    tests={"B": _gtsrb("test", "brightness=>125&contrast=>200"),
           "B-strict": _gtsrb("test", "brightness=>170&contrast=>240"),
           "A": _gtsrb("test", "brightness=<40&contrast=<70")},
    model=load("gtsrb-contrast", "gtsrb-brightness", what="zoo: gtsrb-contrast @ gtsrb-brightness"),
    extra_models={"contrast": load("gtsrb-contrast", what="zoo: gtsrb-contrast alone"),
                  "brightness": load("gtsrb-brightness", what="zoo: gtsrb-brightness alone")},
    columns=standard_columns() + (Column("MDA-5 (gtsrb-contrast alone)", "mda", 5, model="contrast"),
                                  Column("MDA-5 (gtsrb-brightness alone)", "mda", 5, model="brightness")),
    analogue="Figure 11 composes SVHN models (no numbers given beyond 'nearly 25% over the baselines'); "
             "this is the GTSRB analogue with the zoo's two GTSRB models. Test B relaxes Table 11's "
             "thresholds (B > 125, C > 200: 1,041 test images) because B > 170 and C > 240 together "
             "leave 57 (reported as B-strict).",
    epochs=GTSRB_EPOCHS,
))

# ---- Table 5: reuse of mnist-background-color on other data sets --------------------------------
_add(Row(
    name="t5-letters", table="Table 5", title="Rendered capital letters, blue → red, with the MNIST-learned model",
    train=("letters:train?colorize=blue",),
    tests={"B": "letters:test?colorize=red", "A": "letters:test?colorize=blue"},
    model=load("mnist-background-color", what="zoo: mnist-background-color (learned on MNIST)"),
    extra_models={"known": load("hue", what="known: hue")},
    columns=_with_known("hue", "hue"), num_classes=26, epochs=MNIST_EPOCHS,
    analogue="The paper's Q/E/K-MNIST, Fashion-MNIST and USPS cannot be downloaded here; this is "
             "the rendered-letters set of docs/reuse.md (26 FreeType capitals, 120 per class to train, "
             "40 to test). Paper numbers shown are none: no paper row uses this data.",
))
for _tv, _nums, _ncls, _extra in (
    ("FashionMNIST", (69.3, 67.7, 81.4, 80.1, 79.1, 76.1), 10, ""),
    ("QMNIST", (87.0, 79.9, 98.0, 98.0, 97.9, 98.0), 10, ""),
    ("EMNIST", (63.5, 49.3, 86.1, 85.9, 85.6, 84.1), 27, "variant=letters&"),
    ("KMNIST", (47.9, 47.7, 89.1, 89.3, 88.2, 86.8), 10, ""),
    ("USPS", (89.8, 87.4, 93.3, 93.4, 93.3, 91.9), 10, "size=28&"),
):
    _add(Row(
        name=f"t5-{_tv.lower()}", table="Table 5", title=f"{_tv}, blue → red, with the MNIST-learned model",
        train=(f"tv:{_tv}:train?download=0&{_extra}colorize=blue",),
        tests={"B": f"tv:{_tv}:test?download=0&{_extra}colorize=red",
               "A": f"tv:{_tv}:test?download=0&{_extra}colorize=blue"},
        model=load("mnist-background-color", what="zoo: mnist-background-color (learned on MNIST)"),
        paper=_paper(*_nums), num_classes=_ncls, epochs=MNIST_EPOCHS, optional_data=True,
        note="Runs where torchvision's copy of the data is present (never downloads); "
             "otherwise recorded as data-unavailable.",
    ))

# ---- Table 6 analogue: synthetic challenge levels -------------------------------------------
_T6_PAPER = {
    "snow": {5: (52.8, 56.1, 68.4, 68.4, 68.5, 58.3), 4: (72.0, 73.3, 76.0, 76.8, 75.8, 72.6),
             3: (83.2, 83.9, 85.2, 85.6, 85.3, 83.9), 2: (88.0, 88.4, 89.6, 90.2, 90.2, 89.4)},
    "decolorization": {5: (69.5, 74.3, 80.3, 80.6, 81.0, 69.7), 4: (80.3, 80.8, 81.9, 82.3, 83.4, 73.3),
                   3: (86.3, 86.0, 83.5, 83.9, 86.1, 76.8), 2: (88.4, 88.1, 85.0, 85.0, 87.7, 78.2)},
    "shadow": {5: (76.4, 73.6, 81.0, 79.5, 80.6, 76.0), 4: (82.5, 82.9, 85.8, 85.0, 84.8, 85.4),
               3: (87.9, 88.4, 87.8, 87.6, 86.9, 89.0), 2: (90.3, 90.3, 89.1, 88.7, 87.8, 90.6)},
    "haze": {5: (51.2, 51.1, 58.8, 60.4, 62.5, 47.0), 4: (54.8, 55.5, 67.9, 69.6, 70.7, 50.5),
             3: (78.8, 80.7, 84.1, 84.4, 83.3, 65.0), 2: (89.0, 89.3, 89.0, 89.1, 87.8, 75.8)},
    "rain": {5: (80.4, 81.3, 81.3, 81.6, 79.8, 63.3), 4: (83.9, 84.2, 84.2, 84.5, 83.6, 66.2),
             3: (84.9, 85.6, 85.7, 85.9, 84.9, 69.5), 2: (85.7, 86.6, 86.5, 86.7, 85.5, 72.0)},
    "dirty-lens": {},
}
_T6_CLEAN = "brightness=85-125"  # the zoo's clean domain (medium brightness leaves room both ways)
_T6_ZOO = {"snow": "gtsrb-snow", "haze": "gtsrb-haze"}
for _ch, _levels in _T6_PAPER.items():
    _lvl0 = _gtsrb("train", _T6_CLEAN)
    _lvl1 = _gtsrb("train", f"{_T6_CLEAN}&challenge={_ch}&level=1&seed=1")
    if _ch in _T6_ZOO:
        _model = load(_T6_ZOO[_ch], what=f"zoo: {_T6_ZOO[_ch]} (fitted on levels 0 → 1 with this recipe)")
    else:
        _model = fitted(_lvl0, _lvl1, what=f"fitted on the spot: {_ch} level 0 → 1 (zoo recipe)")
    _add(Row(
        name=f"t6-{_ch}", table="Table 6", title=f"GTSRB synthetic {_ch}: train on levels 0–1, test on levels 2–5",
        train=(_lvl0, _lvl1),
        tests={f"level {L}": _gtsrb("test", f"{_T6_CLEAN}&challenge={_ch}&level={L}&seed=2") for L in (5, 4, 3, 2)},
        model=_model,
        paper={f"level {L}": _paper(*v) for L, v in _levels.items()},
        analogue="CURE-TSR is not available here; GTSRB's ten largest classes (medium brightness) with "
                 f"the zoo's synthetic {_ch} at CURE-TSR-style levels 0–5 stand in for it."
                 + (" The paper has no dirty-lens row." if not _levels else ""),
        epochs=GTSRB_EPOCHS,
    ))

# ---- Table 7: architectures -------------------------------------------------------------------
_T7 = {"A": (49.3, 40.3, 77.1, 77.1, 73.7, 60.6), "B": (50.8, 47.8, 76.3, 76.7, 74.3, 62.4),
       "C": (59.6, 58.0, 82.5, 82.5, 81.3, 32.1), "D": (59.0, 60.8, 81.9, 81.4, 80.0, 50.1)}
for _arch, _nums in list(_T7.items()) + [("resnet18", None)]:
    _add(Row(
        name=f"t7-{_arch.lower()}", table="Table 7",
        title=(f"architecture {_arch} on GTSRB night → day" if _nums else "timm resnet18 on GTSRB night → day"),
        train=(_gtsrb("train", "brightness=<40"),),
        tests={"B": _gtsrb("test", "brightness=>170"), "A": _gtsrb("test", "brightness=<40")},
        model=load("gtsrb-brightness", what="zoo: gtsrb-brightness"),
        classifier=f"paper-cnn-{_arch.lower()}" if _nums else "resnet18",
        paper=_paper(*_nums) if _nums else {},
        analogue="Table 7 trains on SVHN medium brightness and tests on low brightness; SVHN is not "
                 "available here, so the architectures run on GTSRB night → day (Table 2's row).",
        epochs=GTSRB_EPOCHS,
    ))

#: Every row by name, in table order.
ROWS: dict[str, Row] = {r.name: r for r in _ROWS}
