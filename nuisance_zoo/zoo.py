"""The pretrained zoo: names of learned models → hub repo, revision and the sha256 of the weights.

Each entry is bundled in ``hub_cards/<name>/`` (card, config, weights, grid, metrics), which is
exactly what is uploaded to ``nuisance-zoo/<name>`` on the Hub; :mod:`nuisance_zoo.hub` downloads
and verifies it, falling back to the bundled copy when the Hub cannot be reached. The measured
numbers are on each card and in ``docs/zoo.md``; ``benchmarks/zoo/`` regenerates them.

A model is *listed* (``nz.list_models()``) only if its card meets the zoo's criteria
(:func:`zoo_verdict`): it keeps labels, and training with it beats ERM. One that does not is
*experimental*: loaded as ``"experimental/<name>"``, with a warning that says what it fails
(``tests/test_zoo_cards.py`` checks the table below against each card's ``metrics.json``).
"""
from __future__ import annotations

from .catalogue import PretrainedEntry, register_pretrained

#: The zoo's criteria (issue 9): the reference classifier's accuracy on G(x, δ) at prior draws
#: is at least LABEL_MIN % and at least LABEL_RATIO × its accuracy on x; MDA-5 with the model
#: beats ERM on domain B by at least GAIN_MIN points, and reaches the paper's MDA number where
#: the paper has one for this shift.
LABEL_MIN, LABEL_RATIO, GAIN_MIN = 90.0, 0.95, 3.0


def zoo_verdict(metrics: dict) -> list[str]:
    """The zoo criteria that a card's ``metrics.json`` fails (empty: the model is listed).

    Args:
        metrics: a card's measurements (``benchmarks/zoo/measure_zoo.py``): ``label_preservation``
            (``acc_x``, ``acc_G(x)``), ``test_B_accuracy`` (``ERM`` and ``MDA-5 (this model)``,
            each with a ``mean`` over seeds) and ``paper`` (its ``MDA (learned)``, if any).

    Example:
        >>> zoo_verdict({"label_preservation": {"acc_x": 99.0, "acc_G(x)": 97.0},
        ...              "test_B_accuracy": {"ERM": {"mean": 80.0}, "MDA-5 (this model)": {"mean": 85.0}}})
        []
        >>> zoo_verdict({"label_preservation": {"acc_x": 99.0, "acc_G(x)": 17.6},
        ...              "test_B_accuracy": {"ERM": {"mean": 83.9}, "MDA-5 (this model)": {"mean": 69.0}}})[0]
        'keeps 17.6 % of labels (needs >= 90 % and >= 0.95 x 99.0 %, its accuracy on x)'
    """
    fails = []
    labels, accs = metrics.get("label_preservation"), metrics.get("test_B_accuracy")
    if not labels or not accs or "ERM" not in accs or "MDA-5 (this model)" not in accs:
        return ["not measured (its card has no label preservation or ERM vs MDA-5 numbers)"]
    kept, on_x = labels["acc_G(x)"], labels["acc_x"]
    if kept < LABEL_MIN or kept < LABEL_RATIO * on_x:
        fails.append(f"keeps {kept:.1f} % of labels (needs >= {LABEL_MIN:.0f} % and >= {LABEL_RATIO} x "
                     f"{on_x:.1f} %, its accuracy on x)")
    erm, mda = accs["ERM"]["mean"], accs["MDA-5 (this model)"]["mean"]
    if mda < erm + GAIN_MIN:
        fails.append(f"MDA-5 with it reaches {mda:.1f} % on domain B vs ERM {erm:.1f} % (needs >= ERM + {GAIN_MIN:.0f})")
    paper = (metrics.get("paper") or {}).get("MDA (learned)")
    if paper is not None and mda < paper:
        fails.append(f"MDA-5 with it reaches {mda:.1f} %, below the paper's {paper:.1f} %")
    return fails


def default_rank(metrics: dict) -> tuple:
    """How a variant ranks for its name's default (lower wins): fewest failed zoo criteria; on a
    tie the one that keeps labels (the zoo's safety criterion comes first); then higher MDA-5.

    Example:
        >>> keeps = {"label_preservation": {"acc_x": 99.0, "acc_G(x)": 97.0}, "paper": {"MDA (learned)": 78.4},
        ...          "test_B_accuracy": {"ERM": {"mean": 61.0}, "MDA-5 (this model)": {"mean": 78.2}}}
        >>> loses_labels = {**keeps, "label_preservation": {"acc_x": 99.0, "acc_G(x)": 90.2},
        ...                 "test_B_accuracy": {"ERM": {"mean": 61.0}, "MDA-5 (this model)": {"mean": 83.2}}}
        >>> default_rank(keeps) < default_rank(loses_labels)   # one failure each: keeping labels wins
        True
    """
    fails = zoo_verdict(metrics)
    label_fail = any(f.startswith("keeps ") for f in fails)
    mda = ((metrics.get("test_B_accuracy") or {}).get("MDA-5 (this model)") or {}).get("mean", float("-inf"))
    return len(fails), label_fail, -mda


_PAPER = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020"
_MUNIT = "nuisance-zoo: MUNIT-style generator trained with benchmarks/zoo/fit_zoo.py"


def _structured(config: str) -> str:
    """The source line of a structured zoo model fitted with ``config``."""
    return ("nuisance-zoo: structured generator (known models driven by a learned MLP), trained with "
            f"benchmarks/zoo/fit_zoo.py --config {config}")


def zoo_status_line(name: str, metrics: dict) -> str:
    """The card's one-line zoo status, from :func:`zoo_verdict` of its ``metrics.json``.

    Example:
        >>> zoo_status_line("m", {"label_preservation": {"acc_x": 99.0, "acc_G(x)": 97.0},
        ...     "test_B_accuracy": {"ERM": {"mean": 80.0}, "MDA-5 (this model)": {"mean": 85.0}}})[:26]
        '**Zoo status: listed.** It'
    """
    fails = zoo_verdict(metrics)
    if not fails:
        return ("**Zoo status: listed.** It meets the zoo's criteria: the reference classifier keeps "
                f">= {LABEL_MIN:.0f} % of labels on G(x, δ), and MDA-5 with it beats ERM by >= {GAIN_MIN:.0f} points.")
    return (f"**Zoo status: experimental** (`nz.load(\"experimental/{name}\")`, with a warning; not listed by "
            f"`nz.list_models()`): it {'; '.join(fails)}.")


def _entry(name: str, sha256: str, description: str, size=(3, 32, 32), experimental: str = "",
           source: str = _MUNIT) -> PretrainedEntry:
    return PretrainedEntry(name=name, hub_id=f"nuisance-zoo/{name}", revision="main", sha256=sha256,
                           source=source, license="Apache-2.0", paper=_PAPER, description=description,
                           input_size=size, experimental=experimental)


#: A name's default is the variant that wins on its card (:func:`default_rank`); the others are
#: ``NAME.TAG`` (timm's pretrained tags), each with its own card and hub repo, and every card of a
#: name shows all of them.
ZOO = [
    _entry("gtsrb-brightness", "22997168f3b8b34bbadf38fe59113c2c1be3d33a6c82d58935d12fccd466c774",
           "Learned GTSRB night → day (brightness B < 40 → B > 170): a structured model fitted with the "
           "label term.", source=_structured("structured-keep")),
    _entry("gtsrb-brightness.munit", "70836e5e848f45ad06d5d613243fe7eb26e1a520fc91d431f5055822e8600db8",
           "Learned GTSRB night → day (brightness B < 40 → B > 170): the MUNIT-style generator.",
           experimental=(
               "keeps 17.6 % of labels (needs >= 90 % and >= 0.95 x 99.0 %, its accuracy on x); "
               "MDA-5 with it reaches 69.0 % on domain B vs ERM 83.9 % (needs >= ERM + 3); "
               "MDA-5 with it reaches 69.0 %, below the paper's 82.0 %"
           )),
    _entry("gtsrb-contrast", "fc4d1186481fd09bd63c24366c344c076df7c4d321a1425c245c87bfd1c26d6b",
           "Learned GTSRB low → high contrast (C < 70 → C > 240): a structured model fitted with the label term "
           "at a tenth of its weight.", source=_structured("structured-keep-light")),
    _entry("gtsrb-contrast.structured-keep", "1eb5fabd6ba40d2c4e4b74713d1f5a992b6dc945d904511347478adcdf1ba43f",
           "Learned GTSRB low → high contrast (C < 70 → C > 240): a structured model fitted with the label term "
           "at full weight.", source=_structured("structured-keep"),
           experimental="MDA-5 with it reaches 78.2 %, below the paper's 78.4 %"),
    _entry("gtsrb-contrast.structured", "9501c0e1a70363816a9d425db05a465488bd406409b1e9ff98376937f940e2fe",
           "Learned GTSRB low → high contrast (C < 70 → C > 240): a structured model fitted without the label term.",
           source=_structured("structured"),
           experimental="keeps 90.2 % of labels (needs >= 90 % and >= 0.95 x 98.9 %, its accuracy on x)"),
    _entry("gtsrb-contrast.munit", "229fdde495389d64450c8bfb855bde562408e52a1c8041d3c3e8d5f68669b8ca",
           "Learned GTSRB low → high contrast (C < 70 → C > 240): the MUNIT-style generator.",
           experimental=(
               "keeps 42.8 % of labels (needs >= 90 % and >= 0.95 x 99.6 %, its accuracy on x); "
               "MDA-5 with it reaches 74.1 %, below the paper's 78.4 %"
           )),
    _entry("gtsrb-brightness-contrast", "99d3d948d05ae36fe194c1f0d67d16338ef09e4a50d77a769d218e355b28a417",
           "Learned GTSRB dark and dull → bright and crisp (B < 40, C < 70 → B > 125, C > 200; the paper's "
           "Figure 11 shift in one model): a structured model whose MLP also sees image statistics.",
           source=_structured("structured-keep-adaptive")),
    _entry("mnist-background-color", "4838ff92fc9b2251a2a0d5b1a2570dc7387c6b97885da200c38e5a026e296b3b",
           "Learned MNIST blue → red backgrounds (Appendix A.1.2).", size=(3, 28, 28)),
    _entry("gtsrb-snow", "e703ea636a452d5191d72317319832fd0f4fffd42d692a2e8d3c2951a6416995",
           "Learned GTSRB clean → synthetic snow, challenge level 1.",
           experimental=(
               "keeps 85.3 % of labels (needs >= 90 % and >= 0.95 x 99.6 %, its accuracy on x); "
               "MDA-5 with it reaches 90.0 % on domain B vs ERM 90.6 % (needs >= ERM + 3)"
           )),
    _entry("gtsrb-haze", "8eb202b7bf8992bf8b986219ccdf5e36adb32cca58d8979cbf13ef28b00696bc",
           "Learned GTSRB clean → synthetic haze, challenge level 1.",
           experimental=(
               "keeps 87.0 % of labels (needs >= 90 % and >= 0.95 x 99.6 %, its accuracy on x); "
               "MDA-5 with it reaches 97.1 % on domain B vs ERM 97.4 % (needs >= ERM + 3)"
           )),
]
for _e in ZOO:
    register_pretrained(_e)
