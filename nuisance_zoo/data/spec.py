"""`load_dataset(spec)`: one string names a data set and the domain carved out of it.

Grammar::

    SPEC    := SOURCE [ "?" OPTION ( "&" OPTION )* ]
    OPTION  := KEY "=" VALUE

Sources:

=============================  ==========================================================
``gtsrb[:train|test]``         a named set (:mod:`.named`): ``<root>/<name>/<split>.npz``
``mnist[:train|test]``         or ``<split>_part*.npz`` under the data root, else in the
``fashion-mnist[:train|test]`` dataset cache, else from ``torchvision.datasets`` (files
``kmnist[:train|test]``        downloaded only with ``?download=1``), converted once into
``emnist[:train|test]``        ``<cache>/<name>/<split>.npz`` so later loads skip
``qmnist[:train|test]``        torchvision. EMNIST's variant is part of its folder name
``usps[:train|test]``          (``emnist-letters``); SVHN also has ``extra``. GTSRB is
``svhn[:train|test|extra]``    resized to 32×32 RGB, like ``../shared/data/gtsrb``
``NAME[:SPLIT]``               any other folder of ``.npz`` files under the data root
``mnist-sample[:train|test]``  the MNIST sample bundled with the package (no data root needed)
``npz:PATH[,PATH2,...]``       ``.npz`` files (x uint8 N×H×W×C, y), concatenated; relative
                               paths are tried in the current directory, then the data root
``folder:PATH``                ``PATH/<class>/<images>`` like torchvision's ImageFolder
                               (``PATH/train``, ``PATH/test`` split folders are honoured)
``PATH.npz`` / ``DIR/``        bare paths: a source with no known ``kind:`` prefix that ends
                               in ``.npz`` is ``npz:``; an existing directory is ``folder:``
``cure-tsr:PATH``              the CURE-TSR release (see :mod:`.cure_tsr`)
``tv:NAME[:train|test]``       a torchvision set read from torchvision's files on every load:
                               MNIST, FashionMNIST, KMNIST, QMNIST, EMNIST, USPS, SVHN, GTSRB,
                               CIFAR10, CIFAR100 (prefer the named forms above, which cache)
=============================  ==========================================================

The data root is ``root=`` / ``$NUISANCE_ZOO_DATA`` / ``../shared/data``, and named sets are
looked for there first, then in the dataset cache ``$NUISANCE_ZOO_CACHE`` /
``$XDG_CACHE_HOME/nuisance_zoo/datasets`` (see :mod:`.paths`). Nothing is downloaded unless
asked for: ``?download=1``, ``load_dataset(..., download=True)`` or ``--download`` on the
command line. ``tv:`` sets read torchvision's layout under ``root=`` / ``$NUISANCE_ZOO_DATA``
if given, else ``<cache>/torchvision``. The split in the spec wins over ``split=`` arguments.

Options, applied in this order whatever their order in the spec:

====================================  ==================================================
``split=train|test``                  the split (for any source)
``variant=letters``                   EMNIST's split (default letters), QMNIST's what
``download=0|1``                      named sets and ``tv:``: allow torchvision to download
                                      missing files (default 0)
``sequence=real|unreal``              ``cure-tsr:`` only
``challenge=snow&level=0,1``          ``cure-tsr:``: keep the labelled challenge/levels (level 0
                                      = the challenge-free images); other sources: synthesise
                                      (below)
``channels=1|3``                      gray ↔ RGB
``size=32`` / ``size=32x48``          resize (needed for folders of mixed image sizes)
``classes=largest10`` / ``=2,1,13``   keep these classes and relabel them 0..k-1 in this order
                                      (GTSRB's k largest use the training-set ranking)
``labels=0-4,7``                      keep these labels, values unchanged
``preset=gtsrb-brightness-low``       Table 11 thresholds (``{svhn,gtsrb}-{brightness,
                                      contrast}-{low,medium,high}``)
``brightness=<40`` / ``>170`` /       B(x) = mean pixel value (0..255, all channels); bounds
``85-125`` / ``<=40``                 are strict unless written ``<=``/``>=``
``contrast=<70`` ...                  C(x) = max − min pixel value
``limit=N`` / ``sample=N``            the first N images / N images drawn at random (seeded),
                                      kept in their original order
``colorize=MODE``                     gray → RGB background colours: ``gray``, ``gray-rgb``
                                      (random), ``blue``, ``red``, ``#rrggbb``,
                                      ``blue0-4-red5-9``, ``red0-blue1-9`` (:mod:`.colorize`)
``bg_threshold=12``                   background = pixels ``<= bg_threshold`` (Algorithm 4)
``challenge=NAME&level=L``            synthesise a CURE-TSR-style challenge at level 0..5 with
``synth=NAME:L``                      the zoo's known models (any source, also cure-tsr)
``seed=0``                            seeds ``sample``, ``gray-rgb`` colours and synthesis
====================================  ==================================================

Examples::

    gtsrb:train?classes=largest10&brightness=<40        # the paper's GTSRB night domain
    gtsrb:test?classes=largest10&preset=gtsrb-brightness-high
    mnist:test?colorize=red                              # MNIST-red
    mnist:train?colorize=blue0-4-red5-9                  # Appendix A.1.3's training domain
    mnist-sample:train?colorize=gray-rgb&seed=1
    fashion-mnist:test?download=1&colorize=blue        # fetched once, then read from the cache
    svhn:test?preset=svhn-brightness-low
    my_digits.npz?limit=100                              # a bare path
    cure-tsr:/data/CURE-TSR?split=train&challenge=snow&level=0,1&size=32
    gtsrb:test?classes=largest10&challenge=haze&level=3&limit=1000
    folder:/data/signs?size=32&labels=0-4

Every error names the bad part and the fix (see :func:`load_dataset`).
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .classes import largest_classes, parse_label_list, select_classes, select_labels
from .colorize import DEFAULT_THRESHOLD, colorize
from .cure_tsr import load_cure_tsr
from .curation import Range, curate, preset
from .dataset import ImageDataset
from .folder import load_image_folder
from .named import NAMED_SETS, canonical_name, load_named_set
from .npz import KNOWN_CLASS_NAMES, list_named_sets, load_npz, named_set_files
from .paths import DATA_ENV, HOW_TO_POINT, resolve_root
from .sample import sample_mnist
from .transforms import parse_size, resize, to_channels
from .tv import load_torchvision

__all__ = ["DatasetSpec", "parse_spec", "load_dataset", "SPEC_FORMS", "OPTION_KEYS", "synthesize",
           "set_challenge_synthesizer", "Synthesizer", "with_download"]

#: ``(images, challenge, level, generator=None) -> images``: renders a challenge on a batch.
Synthesizer = Callable[..., torch.Tensor]

# The data layer knows no models, so the function that renders a challenge is installed from
# above: importing nuisance_zoo installs nuisance_zoo.known.synthesize_challenge.
_synthesizer: Synthesizer | None = None


def set_challenge_synthesizer(fn: Synthesizer | None) -> Synthesizer | None:
    """Install the function that renders synthetic challenges for specs; return the previous one.

    ``import nuisance_zoo`` installs :func:`nuisance_zoo.known.synthesize_challenge`; tests and
    plugins may install another (and restore the returned one afterwards).

    Args:
        fn: called as ``fn(x_uint8, challenge, level, generator=generator)``; None uninstalls.
    """
    global _synthesizer
    previous, _synthesizer = _synthesizer, fn
    return previous

#: One line per source form, for error messages and the CLI's help.
SPEC_FORMS = ("gtsrb|mnist|fashion-mnist|kmnist|emnist|qmnist|usps|svhn[:train|test] (data root, cache, "
              "else torchvision with ?download=1)", "NAME[:SPLIT] (a folder of .npz files under the data root)",
              "mnist-sample[:train|test]", "npz:PATH[,PATH2]", "folder:PATH", "PATH.npz or DIR/ (bare paths)",
              "cure-tsr:PATH", "tv:NAME[:train|test]")

#: Every option key, with the sources it applies to (``None`` = all).
OPTION_KEYS: dict[str, tuple[str, ...] | None] = {
    "split": None, "variant": ("tv", "named"), "download": ("tv", "named"), "sequence": ("cure-tsr",),
    "challenge": None, "level": None, "synth": None, "channels": None, "size": None,
    "classes": None, "labels": None, "preset": None, "brightness": None, "contrast": None,
    "limit": None, "sample": None, "colorize": None, "bg_threshold": None, "seed": None,
}

_PATH_KINDS = ("npz", "folder", "cure-tsr")
_KNOWN_NAMED = tuple(NAMED_SETS)
#: Prefixes that make ``KIND:REST`` something other than a bare path.
_KINDS = _PATH_KINDS + ("tv", "mnist-sample")
_SPLITS = ("train", "test", "val", "valid", "extra")


@dataclass
class DatasetSpec:
    """A parsed spec: source ``kind`` (``named``, ``npz``, ``folder``, ``cure-tsr``, ``tv``,
    ``mnist-sample``), its argument (a name or path), the split if given, and the options."""

    kind: str
    arg: str
    split: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def canonical(self, split: str) -> str:
        """The spec as a string with the split made explicit (used as the dataset name)."""
        if self.kind == "named":
            head = f"{self.arg}:{split}"
        elif self.kind in ("tv", "mnist-sample"):
            head = f"{self.kind}:{self.arg}:{split}" if self.kind == "tv" else f"mnist-sample:{split}"
        else:
            head = f"{self.kind}:{self.arg}"
        # path sources keep split= as an option; the others carry the split in the head
        # download= changes where bytes come from, not which images: left out of the name
        opts = [f"{k}={_fmt(v)}" for k, v in self.options.items()
                if (k != "split" or self.kind in _PATH_KINDS) and k != "download"]
        return head + ("?" + "&".join(opts) if opts else "")


def _fmt(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join("" if e is None else str(e) for e in v)
    return str(v)


def _unknown_spec(spec: str, why: str, root: str | os.PathLike | None = None, word: str | None = None) -> ValueError:
    """The one "cannot parse" error: the bad part, every form, the option keys, the named sets
    under the data root and, for a mistyped ``word``, the closest known names."""
    named, sets = "", []
    try:
        sets = list_named_sets(resolve_root(root))
        if sets:
            named = f" Named sets under the data root: {', '.join(sets)}."
    except FileNotFoundError:
        pass
    close = ""
    if word:
        pool = list(OPTION_KEYS) if why.startswith("unknown option") else [*_KNOWN_NAMED, *_KINDS, *sets]
        matches = difflib.get_close_matches(word.lower(), pool, n=3, cutoff=0.6)
        if matches:
            close = f" Did you mean {' or '.join(repr(m) for m in matches)}?"
    return ValueError(f"cannot parse data spec {spec!r}: {why}.{close} Forms: {'; '.join(SPEC_FORMS)}, each "
                      f"optionally followed by ?key=value&... (keys: {', '.join(OPTION_KEYS)}).{named}")


def parse_spec(spec: str, root: str | os.PathLike | None = None) -> DatasetSpec:
    """Split a spec string into source, split and options (no file is touched).

    Example:
        >>> s = parse_spec("gtsrb:test?classes=largest10&brightness=<40")
        >>> s.kind, s.arg, s.split, s.options
        ('named', 'gtsrb', 'test', {'classes': 'largest10', 'brightness': '<40'})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _unknown_spec(str(spec), "empty spec", root)
    text = spec.strip()
    source, _, query = text.partition("?")
    options: dict[str, Any] = {}
    if query:
        for part in query.split("&"):
            if not part:
                continue
            key, eq, value = part.partition("=")
            key = key.strip().lower().replace("-", "_")
            if not eq:
                raise _unknown_spec(text, f"option {part!r} has no '=' (write key=value)", root)
            if key not in OPTION_KEYS:
                raise _unknown_spec(text, f"unknown option {key!r}", root, word=key)
            if key in options:
                raise _unknown_spec(text, f"option {key!r} given twice", root)
            options[key] = value.strip()
    kind, colon, rest = source.partition(":")
    kind = kind.strip().lower()
    if kind not in _KINDS and _looks_like_path(source):
        return _bare_path(source.strip(), options, text, root)
    if kind in _PATH_KINDS:
        if not rest.strip():
            raise _unknown_spec(text, f"{kind}: needs a path, e.g. {kind}:/data/x", root)
        return DatasetSpec(kind, rest.strip(), None, options, text)
    if kind == "tv":
        name, _, split = rest.partition(":")
        if not name.strip():
            raise _unknown_spec(text, "tv: needs a torchvision data set name, e.g. tv:FashionMNIST", root)
        return DatasetSpec("tv", name.strip(), split.strip() or None, options, text)
    if colon and rest.strip() and rest.strip().lower() not in _SPLITS:
        raise _unknown_spec(text, f"unknown split {rest!r} (splits: {', '.join(_SPLITS)})", root)
    split = rest.strip().lower() or None
    if kind == "mnist-sample":
        return DatasetSpec("mnist-sample", "mnist-sample", split, options, text)
    if not kind or not kind.replace("-", "").replace("_", "").isalnum():
        raise _unknown_spec(text, f"unknown source {source!r}", root, word=kind)
    return DatasetSpec("named", canonical_name(kind), split, options, text)


def _sources(kinds: tuple[str, ...]) -> str:
    """Kinds as a user reads them: ``tv:`` sources, the named sets by name."""
    return " and ".join(f"the named sets {', '.join(_KNOWN_NAMED)}" if k == "named" else f"{k}: sources"
                        for k in kinds)


def _looks_like_path(source: str) -> bool:
    # a plain token ("mnist", "toy") stays a named set even if a folder of that name exists in
    # the current directory; a separator, a leading "."/"~" or ".npz" makes it a path
    s = source.strip()
    return ("/" in s or "\\" in s or s.startswith(("~", ".")) or s.lower().endswith(".npz"))


def _bare_path(source: str, options: dict[str, Any], text: str, root: str | os.PathLike | None) -> DatasetSpec:
    """``a.npz`` → ``npz:a.npz``; an existing directory → ``folder:DIR``; else the parse error."""
    if source.lower().endswith(".npz"):
        return DatasetSpec("npz", source, None, options, text)
    if _resolve_file(source, root).is_dir():
        return DatasetSpec("folder", source.rstrip("/\\") or source, None, options, text)
    raise _unknown_spec(text, f"{source!r} is neither a .npz file nor an existing directory "
                              f"(bare paths: PATH.npz or DIR/)", root, word=Path(source).name)


# -- option helpers -------------------------------------------------------------------------

def _as_int(key: str, v: Any, lo: int | None = None) -> int:
    try:
        out = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"option {key}={v!r} must be an integer.") from None
    if lo is not None and out < lo:
        raise ValueError(f"option {key}={out} must be at least {lo}.")
    return out


def _as_bool(key: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"option {key}={v!r} must be 0 or 1.")


def _as_int_list(key: str, v: Any) -> list[int]:
    if isinstance(v, int):
        return [v]
    if isinstance(v, (list, tuple)):
        return [int(e) for e in v]
    try:
        return parse_label_list(str(v))
    except ValueError as err:
        raise ValueError(f"option {key}: {err}") from None


def _generator(seed: int, stream: int) -> torch.Generator:
    # One independent stream per random step, so e.g. adding sample= does not change colours.
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)


# -- loading --------------------------------------------------------------------------------

def _resolve_file(p: str, root: str | os.PathLike | None) -> Path:
    path = Path(p).expanduser()
    if path.is_absolute() or path.exists():
        return path
    try:
        candidate = resolve_root(root) / path
    except FileNotFoundError:
        return path
    return candidate if candidate.exists() else path


def _load_source(s: DatasetSpec, root: str | os.PathLike | None, split: str) -> ImageDataset:
    o = s.options
    size = parse_size(o["size"]) if "size" in o else None
    channels = _as_int("channels", o["channels"]) if "channels" in o else None
    if s.kind == "mnist-sample":
        return sample_mnist(split)
    if s.kind == "npz":
        paths = [_resolve_file(p.strip(), root) for p in s.arg.split(",") if p.strip()]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            try:
                where = f"the current directory ({Path.cwd()}) and the data root ({resolve_root(root)})"
            except FileNotFoundError:
                where = f"the current directory ({Path.cwd()}); no data root was found"
            raise FileNotFoundError(f"npz file(s) not found: {', '.join(missing)} (relative paths are tried in "
                                    f"{where}). " + HOW_TO_POINT)
        return load_npz(paths)
    if s.kind == "folder":
        return load_image_folder(_resolve_file(s.arg, root), split=split, size=size, channels=channels)
    if s.kind == "cure-tsr":
        challenges = levels = None
        if "challenge" in o:
            challenges = [c for c in str(o["challenge"]).split(",") if c.strip()]
        if "level" in o:
            levels = _as_int_list("level", o["level"])
        split_given = "split" in o
        return load_cure_tsr(_resolve_file(s.arg, root), split=split if split_given else None,
                             challenges=challenges, levels=levels, sequence=o.get("sequence"),
                             size=size, channels=channels or 3)
    if s.kind == "tv":
        tv_root = root if root is not None else os.environ.get(DATA_ENV) or None
        dl = _as_bool("download", o["download"]) if "download" in o else None
        return load_torchvision(s.arg, root=tv_root, split=split, variant=o.get("variant"),
                                download=dl, size=size, channels=channels)
    if s.arg in _KNOWN_NAMED:  # data root, then the cache, then torchvision (see .named)
        dl = _as_bool("download", o["download"]) if "download" in o else False
        return load_named_set(s.arg, split, root=root, variant=o.get("variant"), download=dl)
    # any other folder of .npz files under the data root
    # a folder in the current directory typed without a separator is still a name; say how to mean it
    hint = f"; for the folder ./{s.arg} write {s.arg}/ or folder:{s.arg}" if Path(s.arg).is_dir() else ""
    try:
        data_root = resolve_root(root)
    except FileNotFoundError:
        raise _unknown_spec(s.text, f"unknown source {s.arg!r} (no data root found{hint})", root,
                            word=s.arg) from None
    if not (data_root / s.arg).is_dir():
        raise _unknown_spec(s.text, f"unknown source {s.arg!r} (no folder {data_root / s.arg}{hint})", root,
                            word=s.arg)
    # checked after the name, so that a mistyped name is reported as such, not as a bad option
    for key in ("download", "variant"):
        if key in o:
            raise ValueError(f"option {key}= applies only to {_sources(OPTION_KEYS[key] or ())}, not to "
                             f"{s.text!r}.")
    files = named_set_files(data_root, s.arg, split)
    return load_npz(files, classes=KNOWN_CLASS_NAMES.get(s.arg))


def synthesize(ds: ImageDataset, challenge: str, level: int, generator: torch.Generator | None = None,
               chunk: int = 512) -> ImageDataset:
    """Apply a synthetic CURE-TSR-style ``challenge`` at ``level`` (0..5) to every image.

    Uses the installed synthesizer (:func:`set_challenge_synthesizer`; by default
    :func:`nuisance_zoo.known.synthesize_challenge`), so that ``nuisance_zoo.data`` imports no
    model code. Images stay uint8; ``meta["level"]`` records the level.
    """
    synthesize_challenge = _synthesizer
    if synthesize_challenge is None:
        raise RuntimeError("no challenge synthesizer is installed: import nuisance_zoo (it installs "
                           "nuisance_zoo.known.synthesize_challenge) or call "
                           "nuisance_zoo.data.set_challenge_synthesizer(fn).")
    if not 0 <= level <= 5:
        raise ValueError(f"challenge level must be 0..5, got {level}.")
    # the known models name challenges in lower case with hyphens ("dirty-lens")
    challenge = re.sub(r"[\s_]+", "-", challenge.strip().lower())
    parts = []
    for i in range(0, len(ds), chunk):
        x = ds.x[i:i + chunk]
        try:
            out = synthesize_challenge(x, challenge, level, generator=generator)
        except KeyError as err:  # unknown challenge: KeyError's repr-quoting hides the message
            raise ValueError(str(err.args[0]) if err.args else f"unknown challenge {challenge!r}") from None
        if out.dtype != torch.uint8:
            out = out.detach().clamp(0, 1).mul(255).round().to(torch.uint8)
        parts.append(out.cpu())
    x = torch.cat(parts) if parts else ds.x
    meta = dict(ds.meta)
    meta["level"] = torch.full((len(ds),), level, dtype=torch.long)
    return ds.replace(x=x, meta=meta)


def with_download(spec: str) -> str:
    """``spec`` with ``download=1`` added when its source can be downloaded (a named set that
    falls back to torchvision, or ``tv:``) and it does not say ``download=`` itself; any other
    spec, or one that does not parse, comes back unchanged (its loader reports the problem).
    The CLI's ``--download`` uses it, so the flag means exactly ``?download=1``.

    Example:
        >>> with_download("fashion-mnist:test?limit=10"), with_download("a.npz")
        ('fashion-mnist:test?limit=10&download=1', 'a.npz')
    """
    try:
        s = parse_spec(spec)
    except ValueError:
        return spec
    if "download" in s.options or not (s.kind == "tv" or (s.kind == "named" and s.arg in _KNOWN_NAMED)):
        return spec
    return spec + ("&" if "?" in spec else "?") + "download=1"


def load_dataset(spec: str, root: str | os.PathLike | None = None, split: str = "train",
                 download: bool | None = None, **options: Any) -> ImageDataset:
    """Load the data set a spec string names (grammar in this module's docstring).

    Args:
        spec: e.g. ``"gtsrb:train?classes=largest10&brightness=<40"``.
        root: the data root (default: ``$NUISANCE_ZOO_DATA``, else ``../shared/data``); the
            named sets are then looked for in the dataset cache.
        split: used when the spec names no split.
        download: let torchvision download a named or ``tv:`` set that is nowhere on disk (into
            the dataset cache, converted once to ``.npz``); overrides the spec's ``download=``.
            Sources that never download (files, folders, the bundled sample) ignore it, so a
            caller can pass the user's ``--download`` with any spec.
        **options: the same options as the spec's ``?key=value`` part, as Python values
            (``brightness=(None, 40)``, ``labels=[0, 1]``, ``size=32``); they override the spec's.

    Returns:
        An :class:`ImageDataset` named by the canonical spec.

    Raises:
        ValueError: unknown spec or option (lists the forms), labels absent from the data,
            thresholds that select nothing (with counts each side), mixed image sizes without
            ``size=``, unparseable CURE-TSR file names.
        FileNotFoundError: missing files (says where it looked and how to point at the data).

    Example:
        >>> ds = load_dataset("mnist-sample:test?labels=0,1&colorize=red")
        >>> ds.x.shape[1], sorted(ds.label_counts())
        (3, [0, 1])
    """
    s = parse_spec(spec, root)
    if download is not None and (s.kind == "tv" or (s.kind == "named" and s.arg in _KNOWN_NAMED)):
        s.options["download"] = bool(download)
    for key, value in options.items():
        key = key.lower()
        if key not in OPTION_KEYS:
            raise _unknown_spec(spec, f"unknown option {key!r}", root)
        s.options[key] = value
    o = s.options
    for key, kinds in OPTION_KEYS.items():
        if key in o and kinds is not None and s.kind not in kinds:
            raise ValueError(f"option {key}= applies only to {_sources(kinds)}, not to {spec!r}.")
    eff_split = str(o.get("split") or s.split or split).lower()
    seed = _as_int("seed", o.get("seed", 0))

    ds = _load_source(s, root, eff_split)
    ds = ds.replace(name=s.canonical(eff_split))

    if "classes" in o:
        value = o["classes"]
        text = str(value).strip().lower() if not isinstance(value, (list, tuple)) else ""
        if text.startswith("largest"):
            k = _as_int("classes", text[len("largest"):] or "10", lo=1)
            ds = select_classes(ds, largest_classes(ds, k, gtsrb="gtsrb" in (s.arg.lower() + ds.name.lower())))
        else:
            ds = select_classes(ds, _as_int_list("classes", value))
    if "labels" in o:
        ds = select_labels(ds, _as_int_list("labels", o["labels"]))
    if "channels" in o and s.kind not in ("folder", "cure-tsr"):
        ds = ds.replace(x=to_channels(ds.x, _as_int("channels", o["channels"])))
    if "size" in o:
        ds = resize(ds, o["size"])

    ranges: dict[str, Range] = {}
    if "preset" in o:
        ranges.update(preset(str(o["preset"])))
    for stat in ("brightness", "contrast"):
        if stat in o:
            if stat in ranges:
                raise ValueError(f"{stat}= and preset={o['preset']} both set a {stat} range; give one.")
            ranges[stat] = Range.coerce(o[stat])
    if ranges:
        ds = curate(ds, **ranges)

    if "limit" in o and "sample" in o:
        raise ValueError("give limit= (first N) or sample= (N at random), not both.")
    if "limit" in o:
        ds = ds.subset(torch.arange(min(_as_int("limit", o["limit"], lo=1), len(ds))))
    if "sample" in o:
        n = min(_as_int("sample", o["sample"], lo=1), len(ds))
        ds = ds.subset(torch.randperm(len(ds), generator=_generator(seed, 1))[:n].sort().values)

    if "colorize" in o:
        thr = _as_int("bg_threshold", o.get("bg_threshold", DEFAULT_THRESHOLD), lo=0)
        ds = colorize(ds, str(o["colorize"]), generator=_generator(seed, 2), threshold=thr)
    elif "bg_threshold" in o:
        raise ValueError("bg_threshold= only applies together with colorize=.")

    synth: tuple[str, int] | None = None
    if "synth" in o:
        name, _, lv = str(o["synth"]).partition(":")
        synth = (name.strip(), _as_int("synth level", lv or "nan"))
    if s.kind != "cure-tsr" and ("challenge" in o or "level" in o):
        if synth is not None:
            raise ValueError("give challenge=&level= or synth=NAME:LEVEL, not both.")
        if "challenge" not in o or "level" not in o:
            raise ValueError("synthesising a challenge needs both challenge=NAME and level=0..5 "
                             "(e.g. ?challenge=snow&level=3).")
        synth = (str(o["challenge"]).strip(), _as_int("level", o["level"]))
    if synth is not None:
        ds = synthesize(ds, synth[0], synth[1], generator=_generator(seed, 3))
    return ds
