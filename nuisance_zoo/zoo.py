"""The pretrained zoo: names of learned models → hub repo, revision and the sha256 of the weights.

Each entry is bundled in ``hub_cards/<name>/`` (card, config, weights, grid, metrics), which is
exactly what is uploaded to ``nuisance-zoo/<name>`` on the Hub; :mod:`nuisance_zoo.hub` downloads
and verifies it, falling back to the bundled copy when the Hub cannot be reached. The measured
numbers are on each card and in ``docs/zoo.md``; ``benchmarks/zoo/`` regenerates them.
"""
from .catalogue import PretrainedEntry, register_pretrained

_PAPER = "Robey, Hassani, Pappas. Model-Based Robust Deep Learning. 2020"
_SOURCE = "nuisance-zoo: MUNIT-style generator trained with benchmarks/zoo/fit_zoo.py"


def _entry(name: str, sha256: str, description: str, size=(3, 32, 32)) -> PretrainedEntry:
    return PretrainedEntry(name=name, hub_id=f"nuisance-zoo/{name}", revision="main", sha256=sha256,
                           source=_SOURCE, license="Apache-2.0", paper=_PAPER, description=description,
                           input_size=size)


ZOO = [
    _entry("gtsrb-brightness", "70836e5e848f45ad06d5d613243fe7eb26e1a520fc91d431f5055822e8600db8",
           "Learned GTSRB night → day (brightness B < 40 → B > 170)."),
    _entry("gtsrb-contrast", "229fdde495389d64450c8bfb855bde562408e52a1c8041d3c3e8d5f68669b8ca",
           "Learned GTSRB low → high contrast (C < 70 → C > 240)."),
    _entry("mnist-background-color", "4838ff92fc9b2251a2a0d5b1a2570dc7387c6b97885da200c38e5a026e296b3b",
           "Learned MNIST blue → red backgrounds (Appendix A.1.2).", size=(3, 28, 28)),
    _entry("gtsrb-snow", "e703ea636a452d5191d72317319832fd0f4fffd42d692a2e8d3c2951a6416995",
           "Learned GTSRB clean → synthetic snow, challenge level 1."),
    _entry("gtsrb-haze", "8eb202b7bf8992bf8b986219ccdf5e36adb32cca58d8979cbf13ef28b00696bc",
           "Learned GTSRB clean → synthetic haze, challenge level 1."),
]
for _e in ZOO:
    register_pretrained(_e)
