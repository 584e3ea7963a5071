"""CURE-TSR (Temel et al., 2017): traffic-sign crops with labelled challenge types and levels.

CURE-TSR is distributed by its authors on request (it cannot be downloaded here); point the
loader at the unpacked folder. File names follow the release's convention (README of
github.com/olivesgatech/CURE-TSR, "File Name Format")::

    sequenceType_signType_challengeType_challengeLevel_Index.bmp     e.g. 01_06_11_03_0123.bmp

- sequenceType: ``01`` real data, ``02`` unreal (synthetic) data;
- signType: ``01``..``14`` (speed limit ... parking), labelled 0..13 here, as the authors'
  loader does (``int(fname[3:5]) - 1`` in their ``utils.py``);
- challengeType: ``00`` no challenge, ``01`` decolorization, ``02`` lens blur, ``03`` codec
  error, ``04`` darkening, ``05`` dirty lens, ``06`` exposure, ``07`` gaussian blur,
  ``08`` noise, ``09`` rain, ``10`` shadow, ``11`` snow, ``12`` haze;
- challengeLevel: ``01`` (least severe) .. ``05`` (most severe); the challenge-free images
  are level 0 (the paper's "challenge-level 0", Section 6.3).

Images are found recursively under the folder. If folders on the way are named after splits
(``Real_Train``, ``Real_Test``, ...), only the requested split's are read. The crops differ in
size: give ``size=`` (e.g. ``cure-tsr:/data/CURE-TSR?size=32``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import torch

from .dataset import ImageDataset
from .folder import IMAGE_EXTENSIONS, read_images
from .paths import HOW_TO_POINT

__all__ = ["CURE_TSR_CHALLENGES", "CURE_TSR_SIGNS", "CureTsrName", "parse_cure_tsr_name",
           "challenge_code", "load_cure_tsr"]

#: challengeType code → name (the names ``challenge=`` accepts; ``_``, spaces and case are
#: forgiven). Hyphenated like the known models' challenge names (``nuisance_zoo.known``).
CURE_TSR_CHALLENGES: dict[int, str] = {
    0: "none", 1: "decolorization", 2: "lens-blur", 3: "codec-error", 4: "darkening",
    5: "dirty-lens", 6: "exposure", 7: "gaussian-blur", 8: "noise", 9: "rain", 10: "shadow",
    11: "snow", 12: "haze",
}

#: Class names, label k = signType k+1.
CURE_TSR_SIGNS: list[str] = [
    "speed_limit", "goods_vehicles", "no_overtaking", "no_stopping", "no_parking", "stop",
    "bicycle", "hump", "no_left", "no_right", "priority_to", "no_entry", "yield", "parking",
]

_NAME_RE = re.compile(r"^(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d+)$")
_ALIASES = {"clean": 0, "challenge-free": 0, "challengefree": 0, "no-challenge": 0}


class CureTsrName(tuple):
    """Parsed file name: ``(sequence, sign, challenge, level, index)`` as ints."""

    __slots__ = ()

    def __new__(cls, sequence: int, sign: int, challenge: int, level: int, index: int):
        return super().__new__(cls, (sequence, sign, challenge, level, index))

    sequence = property(lambda self: self[0])
    sign = property(lambda self: self[1])
    challenge = property(lambda self: self[2])
    level = property(lambda self: self[3])
    index = property(lambda self: self[4])


def parse_cure_tsr_name(name: str) -> CureTsrName | None:
    """Parse ``"01_06_11_03_0123.bmp"``; ``None`` if the name does not follow the convention."""
    m = _NAME_RE.match(Path(name).stem)
    if not m:
        return None
    seq, sign, chal, level, index = (int(g) for g in m.groups())
    if seq not in (1, 2) or not 1 <= sign <= len(CURE_TSR_SIGNS) or chal not in CURE_TSR_CHALLENGES \
            or not 0 <= level <= 5:
        return None
    return CureTsrName(seq, sign, chal, 0 if chal == 0 else level, index)


def challenge_code(name: str | int) -> int:
    """``"snow"`` / ``"Snow"`` / ``"11"`` / ``11`` → 11; ``"none"``/``"clean"`` → 0."""
    if isinstance(name, int):
        code = name
    else:
        key = re.sub(r"[\s_\-]+", "-", str(name).strip().lower())
        if key.isdigit():
            code = int(key)
        elif key in _ALIASES:
            code = _ALIASES[key]
        else:
            by_name = {v: k for k, v in CURE_TSR_CHALLENGES.items()}
            if key not in by_name:
                raise ValueError(f"unknown CURE-TSR challenge {name!r}; known: "
                                 f"{', '.join(CURE_TSR_CHALLENGES.values())}.")
            code = by_name[key]
    if code not in CURE_TSR_CHALLENGES:
        raise ValueError(f"CURE-TSR challenge codes are 0..12, got {code}.")
    return code


def _split_tags(rel: Path) -> set[str]:
    dirs = [p.lower() for p in rel.parts[:-1]]
    return {s for s in ("train", "test") if any(s in d for d in dirs)}


def load_cure_tsr(path: str | Path, split: str | None = None, challenges: Iterable[str | int] | None = None,
                  levels: Iterable[int] | None = None, sequence: str | int | None = None,
                  size: tuple[int, int] | None = None, channels: int | None = 3,
                  name: str | None = None) -> ImageDataset:
    """Load CURE-TSR images under ``path``, filtering by file name before decoding.

    Args:
        path: the unpacked release (or any folder below it).
        split: ``"train"`` or ``"test"``; used when folders on the way are named after splits.
        challenges: challenge types to keep (names or codes); default: all.
        levels: challenge levels to keep (0..5). Level 0 selects the challenge-free images, so
            ``challenges=["snow"], levels=[0, 1]`` is the paper's Section 6.3 training set.
        sequence: ``"real"`` (1) or ``"unreal"`` (2); default: both.
        size: ``(H, W)``; required unless all selected crops share one size.
        channels: 3 (default) or 1.
        name: dataset name.

    Returns:
        Labels 0..13 (sign type − 1), ``classes`` = :data:`CURE_TSR_SIGNS`, and ``meta``
        with ``sequence``, ``challenge``, ``level`` and ``index`` per image.

    Raises:
        FileNotFoundError: no folder or no images.
        ValueError: image files whose names do not follow the convention (a few are listed),
            or filters that select nothing.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"CURE-TSR folder {root} does not exist. " + HOW_TO_POINT)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}.")
    parsed = [(f, parse_cure_tsr_name(f.name)) for f in files]
    bad = [f for f, n in parsed if n is None]
    if bad:
        shown = ", ".join(str(f.relative_to(root)) for f in bad[:5])
        raise ValueError(f"{len(bad)} of {len(files)} images under {root} do not follow CURE-TSR's name "
                         f"format sequenceType_signType_challengeType_challengeLevel_Index (e.g. "
                         f"01_06_11_03_0123.bmp: real, stop, snow, level 3): {shown}"
                         f"{' ...' if len(bad) > 5 else ''}. Move other files out of the folder.")
    items: list[tuple[Path, CureTsrName]] = [(f, n) for f, n in parsed if n is not None]

    tags = [_split_tags(f.relative_to(root)) for f, _ in items]
    if split is not None and any(tags):
        s = split.lower()
        if s not in ("train", "test"):
            raise ValueError(f"CURE-TSR splits are 'train' and 'test', got {split!r}.")
        items = [it for it, t in zip(items, tags) if s in t]
        if not items:
            raise FileNotFoundError(f"no folder for split {split!r} under {root}.")

    if sequence is not None:
        seq = {"real": 1, "unreal": 2, "1": 1, "2": 2}.get(str(sequence).lower())
        if seq is None:
            raise ValueError(f"sequence must be 'real' or 'unreal', got {sequence!r}.")
        items = [it for it in items if it[1].sequence == seq]
    before = len(items)
    codes = None if challenges is None else {challenge_code(c) for c in challenges}
    lv = None if levels is None else {int(v) for v in levels}
    if lv is not None and not lv <= set(range(6)):
        raise ValueError(f"CURE-TSR levels are 0..5, got {sorted(lv)}.")

    def keep(n: CureTsrName) -> bool:
        if n.challenge == 0:  # clean images: wanted when level 0 or "none" is asked for
            return 0 in lv if lv is not None else (codes is None or 0 in codes)
        return (codes is None or n.challenge in codes) and (lv is None or n.level in lv)

    items = [it for it in items if keep(it[1])]
    if not items:
        found = sorted({(n.challenge, n.level) for _, n in parsed if n is not None})
        raise ValueError(f"the filters (challenges={sorted(codes) if codes is not None else 'all'}, "
                         f"levels={sorted(lv) if lv is not None else 'all'}, sequence={sequence}) select none "
                         f"of {before} CURE-TSR images under {root}; (challenge, level) pairs present: {found[:20]}.")
    x = read_images([f for f, _ in items], size=size, channels=channels)
    names = [n for _, n in items]
    meta = {k: torch.tensor([getattr(n, k) for n in names], dtype=torch.long)
            for k in ("sequence", "challenge", "level", "index")}
    return ImageDataset(x, torch.tensor([n.sign - 1 for n in names], dtype=torch.long),
                        name=name or f"cure-tsr:{root}", classes=list(CURE_TSR_SIGNS), meta=meta)
