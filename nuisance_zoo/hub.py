"""Hub names → verified local folders; model-card validation and publishing.

This module knows *files*, not models (DESIGN §3). It turns

* ``"hf-hub:ORG/REPO[@REVISION]"`` (:func:`resolve_folder`),
* ``"local-dir:PATH"`` (:func:`resolve_folder`), and
* a zoo entry, :class:`~nuisance_zoo.catalogue.PretrainedEntry` (:func:`resolve_entry`)

into a local folder holding ``config.json`` and ``model.safetensors`` (and ``README.md``) whose
weights hash to the expected sha256. Building a model from the folder is the registry's job
(:func:`nuisance_zoo.registry.build_from_folder`); writing a folder is the model's
(:meth:`nuisance_zoo.learned.pretrained.PretrainedMixin.save_pretrained`).

Downloads go through one :func:`huggingface_hub.snapshot_download` per load, with
``allow_patterns`` limited to the model folder's files (the revision is resolved to one commit
once, so config and weights always come from the same commit) and ``nuisance-zoo`` and its
version in the user agent, into the normal Hugging Face cache. ``HF_ENDPOINT``,
``HF_HUB_CACHE``/``HF_HOME`` and ``HF_HUB_OFFLINE`` are read at every call (huggingface_hub reads
them once, at import), so changing them at run time works. A full 40-hex commit revision makes
cached loads network-free.

Integrity: every folder is checked by :func:`nuisance_zoo.model_folder.verify_folder` (layout,
``config.json`` schema, safetensors header) and the sha256 of ``model.safetensors`` compared,
once per load, with ``config.json``'s ``"sha256"`` and, for zoo names, with the registry entry.
A problem is a :class:`ModelFolderError` (a mismatch a :class:`ChecksumMismatchError`), never a
silent load. Nothing here unpickles. The threat model is in ``SECURITY.md``.

Network faults: every request and every transfer is bounded by ``$NUISANCE_ZOO_HUB_TIMEOUT``
seconds (default 10) without progress: the connect/metadata timeout passed to huggingface_hub,
and a watchdog on the transfer's progress (huggingface_hub reads its own
``HF_HUB_DOWNLOAD_TIMEOUT``/``HF_HUB_ETAG_TIMEOUT`` once, at import, and retries a stalled or
truncated body five times). A stalled or truncated transfer is treated as an unreachable Hub.

Fallback: when the Hub cannot be reached (or ``HF_HUB_OFFLINE=1``) and the files are not
cached, a zoo model is loaded from its bundled copy ``hub_cards/<name>/`` (found beside the
package, or under ``$NUISANCE_ZOO_HUB_CARDS``), with one warning per name.

Example:
    >>> import nuisance_zoo as nz
    >>> from nuisance_zoo import hub
    >>> hub.parse_hub_name("hf-hub:my-org/gtsrb-brightness@v1")
    ('my-org/gtsrb-brightness', 'v1')
    >>> hub.validate_card("hub_cards/gtsrb-brightness")        # doctest: +SKIP
    []
"""
from __future__ import annotations

import os
import re
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Protocol

from .model_folder import (
    CARD_FILES, CARD_NAME, CONFIG_NAME, GRID_NAME, LIBRARY_NAME, METRICS_NAME, WEIGHTS_NAME, ChecksumMismatchError,
    HubError, ModelFolderError, check_folder, check_safetensors, load_config, sha256_file, verify_folder,
)
from .version import __version__

__all__ = [
    "CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "GRID_NAME", "METRICS_NAME", "CARD_FILES", "LIBRARY_NAME",
    "HubError", "ChecksumMismatchError", "ModelFolderError", "BundledCopyWarning", "hub_timeout",
    "resolve_folder", "resolve_entry", "download", "verify_folder", "load_config", "sha256_file",
    "parse_hub_name", "hub_cards_root", "bundled_dir", "card_folder", "validate_card", "publish", "RepoSpec",
]

#: Front-matter keys every model card must have: key -> (test, what the value must be).
CARD_KEYS = {
    "library_name": (lambda v: v == LIBRARY_NAME, f"'{LIBRARY_NAME}'"),
    "license": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "tags": (lambda v: isinstance(v, list), "a YAML list"),
    "datasets": (lambda v: isinstance(v, list), "a YAML list"),
    "pipeline_tag": (lambda v: v == "image-to-image", "'image-to-image'"),
}
_REPO_RE = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")

# Names whose bundled-copy fallback was already announced in this process.
_ANNOUNCED: set[str] = set()


class BundledCopyWarning(UserWarning):
    """The bundled copy in ``hub_cards/`` was used because the Hub was unreachable."""


# ---------------------------------------------------------------------------------- settings
#: How nuisance-zoo names itself to huggingface_hub (the user agent of every request).
_AGENT = {"library_name": LIBRARY_NAME, "library_version": __version__}


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or any(os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
                                                 for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _endpoint() -> str | None:
    # Passed explicitly: huggingface_hub froze HF_ENDPOINT into constants.ENDPOINT at import.
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or None


def _cache_dir() -> str:
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return constants.HF_HUB_CACHE


def hub_timeout() -> float:
    """Seconds a request or transfer may go without progress: ``$NUISANCE_ZOO_HUB_TIMEOUT`` (default 10)."""
    raw = os.environ.get("NUISANCE_ZOO_HUB_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else 10.0
    except ValueError:
        raise ValueError(f"NUISANCE_ZOO_HUB_TIMEOUT must be a number of seconds, got {raw!r}.") from None
    if not value > 0:
        raise ValueError(f"NUISANCE_ZOO_HUB_TIMEOUT must be > 0 seconds, got {raw!r}.")
    return value


class TransferStalledError(HubError):
    """A download made no progress for :func:`hub_timeout` seconds."""


def _watched(fetch, timeout: float, what: str):
    """Run ``fetch(progress_class)`` in a thread; give up when it makes no progress for ``timeout`` s.

    ``progress_class`` is a silent tqdm subclass handed to huggingface_hub (its ``tqdm_class``
    argument): every chunk it reports resets the clock. The abandoned thread is a daemon; it ends
    with huggingface_hub's own timeouts, and its half file never becomes a cached file.
    """
    from huggingface_hub.utils import tqdm as hf_tqdm

    last = [time.monotonic()]

    class Progress(hf_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            last[0] = time.monotonic()

        def update(self, n=1):
            last[0] = time.monotonic()
            return super().update(n)

    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fetch(Progress)
        except BaseException as e:  # noqa: BLE001 -- handed to the caller's thread below
            out["error"] = e

    worker = threading.Thread(target=run, name=f"nuisance-zoo download {what}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if worker.is_alive() and time.monotonic() - last[0] > timeout:
            raise TransferStalledError(f"the transfer of {what} stalled (no data for {timeout:g} s; "
                                       f"NUISANCE_ZOO_HUB_TIMEOUT)")
    if "error" in out:
        raise out["error"]
    return out["value"]


def hub_cards_root() -> Path:
    """Folder of bundled model folders: ``$NUISANCE_ZOO_HUB_CARDS`` or ``hub_cards/`` beside the package."""
    env = os.environ.get("NUISANCE_ZOO_HUB_CARDS")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "hub_cards"


def bundled_dir(name: str) -> Path | None:
    """The bundled copy ``hub_cards/<name>/`` if it holds a ``config.json``, else None."""
    folder = hub_cards_root() / name
    return folder if (folder / CONFIG_NAME).is_file() else None


# ---------------------------------------------------------------------------------- names
def parse_hub_name(spec: str) -> tuple[str, str | None]:
    """Split ``"[hf-hub:]ORG/REPO[@REVISION]"`` into ``(repo_id, revision or None)``.

    Example:
        >>> parse_hub_name("hf-hub:org/repo")
        ('org/repo', None)
    """
    body = spec[len("hf-hub:"):] if spec.startswith("hf-hub:") else spec
    repo_id, at, revision = body.partition("@")
    if not _REPO_RE.match(repo_id):
        raise ValueError(f"bad hub name {spec!r}: expected 'hf-hub:ORG/REPO' or 'hf-hub:ORG/REPO@REVISION', "
                         f"e.g. 'hf-hub:my-org/gtsrb-brightness@main'.")
    if at and not revision:
        raise ValueError(f"bad hub name {spec!r}: empty revision after '@'; drop the '@' or name a "
                         f"branch, tag or commit.")
    return repo_id, (revision or None)


class RepoSpec(Protocol):
    """What the hub needs to know of a zoo entry (e.g. :class:`nuisance_zoo.catalogue.PretrainedEntry`).

    The hub is handed these by the registry; it never looks names up itself.
    """

    name: str
    hub_id: str
    revision: str
    sha256: str


def resolve_folder(name: str, entries: Iterable[RepoSpec] = ()) -> Path:
    """Turn ``"hf-hub:ORG/REPO[@REV]"`` or ``"local-dir:PATH"`` into a verified local folder.

    Args:
        name: the prefixed name, as passed to :func:`nuisance_zoo.load`.
        entries: zoo entries; when an ``hf-hub:`` name is one of theirs (same repo and revision)
            and the Hub cannot be reached, their bundled copy is used. ``nuisance_zoo.load``
            passes the registered ones.

    Returns:
        A folder holding ``config.json`` and ``model.safetensors`` with matching sha256.

    Example:
        >>> from nuisance_zoo import hub
        >>> folder = hub.resolve_folder("local-dir:hub_cards/gtsrb-brightness")   # doctest: +SKIP
    """
    if name.startswith("local-dir:"):
        raw = name[len("local-dir:"):]
        if not raw:
            raise ValueError("'local-dir:' needs a path, e.g. 'local-dir:hub_cards/gtsrb-brightness'.")
        folder = Path(raw).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{name!r}: {folder} is not a folder. Give the folder that holds "
                                    f"{CONFIG_NAME} and {WEIGHTS_NAME}.")
        return verify_folder(folder, fix=f"re-save {folder} with save_pretrained or copy the original files again.")
    if name.startswith("hf-hub:"):
        repo_id, revision = parse_hub_name(name)
        return download(repo_id, revision, name=name, bundled=_bundled_for_repo(repo_id, revision, entries))
    raise ValueError(f"{name!r} is not a hub name; use 'hf-hub:ORG/REPO[@REVISION]' or 'local-dir:PATH'.")


def resolve_entry(entry: RepoSpec) -> Path:
    """Turn a zoo entry (``PretrainedEntry``) into a verified local folder.

    The download is checked against both ``entry.sha256`` and ``config.json``'s hash. If the
    Hub cannot be reached (or the repo does not exist there) and nothing is cached, the bundled
    copy ``hub_cards/<entry.name>/`` is used, with one :class:`BundledCopyWarning`.
    """
    revision = entry.revision or None
    return download(entry.hub_id, revision, name=entry.name, expected_sha256=entry.sha256 or None,
                    bundled=_bundled_for_repo(entry.hub_id, revision, [entry]))


def _bundled_for_repo(repo_id: str, revision: str | None, entries: Iterable[RepoSpec]) -> tuple[str, Path] | None:
    """``(zoo name, bundled copy)`` of the first entry published at ``repo_id`` (same revision) that has one."""
    found = ((e.name, bundled_dir(e.name)) for e in entries if e.hub_id == repo_id and revision in (None, e.revision))
    return next(((name, folder) for name, folder in found if folder is not None), None)


# ---------------------------------------------------------------------------------- download
def _probe(repo_id: str, revision: str | None) -> Exception | None:
    """One HEAD request without retries: the error if the Hub cannot be reached, else None.

    huggingface_hub retries unreachable hosts with back-off (~23 s) before giving up; a failed
    probe lets an uncached load fall back, or fail, at once.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError

    try:
        url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision, endpoint=_endpoint())
        timeout = hub_timeout()
        _watched(lambda _: get_hf_file_metadata(url, timeout=timeout, endpoint=_endpoint(), **_AGENT),
                 timeout, f"{repo_id}/{CONFIG_NAME} (metadata)")
    except (HfHubHTTPError, HFValidationError):
        return None  # it answered (even 404), or the input is bad: the download gives the precise error
    except Exception as e:  # DNS failure, refused connection, timeout, offline mode
        return e
    return None


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    name: str | None = None,
    expected_sha256: str | None = None,
    bundled: tuple[str, Path] | None = None,
) -> Path:
    """Download (or find in the cache) a model repo's files and verify them.

    One :func:`huggingface_hub.snapshot_download` with ``allow_patterns`` limited to the model
    folder's files: it resolves the revision to a commit once, so the config and the weights
    come from the same commit, and a cached full-commit revision needs no network.

    Args:
        repo_id: ``"ORG/REPO"`` on the Hub (or ``$HF_ENDPOINT``).
        revision: branch, tag or 40-hex commit; None means ``"main"``.
        name: how the user named the model (for messages).
        expected_sha256: the registry's hash of ``model.safetensors``, checked as well.
        bundled: ``(zoo name, folder)`` of a bundled copy to use when the Hub is unreachable (or
            the transfer stalls or breaks) and nothing is cached.

    Returns:
        The snapshot folder in the Hugging Face cache (or the bundled folder).

    Raises:
        HubError: unknown repo, revision or file; offline, unreachable, stalled or broken
            transfer with nothing cached and no bundled copy.
        ModelFolderError: the folder is malformed or hostile.
        ChecksumMismatchError: a downloaded, cached or bundled file has the wrong hash.
    """
    from huggingface_hub import snapshot_download, try_to_load_from_cache
    from huggingface_hub.errors import (
        HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
    )

    parse_hub_name(repo_id)  # a malformed id is the caller's error, not an unreachable Hub
    label = name or f"hf-hub:{repo_id}" + (f"@{revision}" if revision else "")
    where = f"{repo_id}@{revision or 'main'}"
    offline = _offline()
    was_cached = all(isinstance(try_to_load_from_cache(repo_id, f, cache_dir=_cache_dir(), revision=revision), str)
                     for f in (CONFIG_NAME, WEIGHTS_NAME))  # no network

    def unavailable(reason: str, error: Exception | None = None, cause: BaseException | None = None) -> Path:
        """The verified bundled copy (warning once per name), else ``error``: by default, nothing cached."""
        if bundled is None:
            raise error or HubError(
                f"{label}: {reason}, and {where} is not in the cache ({_cache_dir()}) and no bundled copy "
                f"exists under {hub_cards_root()}. Fix: connect to the Hub (unset HF_HUB_OFFLINE, check "
                f"HF_ENDPOINT={_endpoint() or 'https://huggingface.co'}) once to cache it, or copy the model "
                f"folder to this machine and load it with 'local-dir:PATH'.") from cause
        zoo_name, folder = bundled
        if zoo_name not in _ANNOUNCED:
            _ANNOUNCED.add(zoo_name)
            hint = "" if offline else " Set HF_HUB_OFFLINE=1 to skip the Hub."
            warnings.warn(f"{label}: {reason}; using the bundled copy {folder} (verified by sha256).{hint}",
                          BundledCopyWarning, stacklevel=4)
        return verify_folder(folder, expected_sha256,
                             fix=f"restore {folder} from the nuisance-zoo repository (git checkout -- {folder}).")

    if not was_cached:
        if offline:
            return unavailable("offline mode is on (HF_HUB_OFFLINE=1)")
        err = _probe(repo_id, revision)
        if err is not None:
            return unavailable(f"the Hub is unreachable ({type(err).__name__}: {err})", cause=err)

    timeout = hub_timeout()
    try:
        folder = Path(_watched(lambda progress: snapshot_download(
            repo_id, revision=revision, cache_dir=_cache_dir(), endpoint=_endpoint(), etag_timeout=timeout,
            local_files_only=offline, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME], tqdm_class=progress,
            max_workers=1, **_AGENT), timeout, where))
    except RevisionNotFoundError as e:
        raise HubError(f"{label}: revision {revision!r} does not exist in {repo_id}. Fix: name an existing "
                       f"branch, tag or commit (see the repo's 'Files and versions' page), or drop "
                       f"'@{revision}' for main.") from e
    except RepositoryNotFoundError as e:
        return unavailable(f"the Hub has no repo {repo_id} (or it is private)", HubError(
            f"{label}: repository {repo_id} was not found on {_endpoint() or 'the Hub'} (or it is private/gated). "
            f"Fix: check the spelling; for a private repo log in (`hf auth login`) or set HF_TOKEN."), e)
    except LocalEntryNotFoundError as e:
        return unavailable("the Hub is unreachable and the files could not be downloaded", cause=e)
    except HFValidationError as e:
        raise ValueError(f"{label}: invalid repo id or revision: {e}") from e
    except HfHubHTTPError as e:  # e.g. 401/403: a token problem, not a missing file
        status = getattr(getattr(e, "response", None), "status_code", "?")
        raise HubError(f"{label}: the Hub refused the download (HTTP {status}): {str(e).splitlines()[0]}. "
                       f"Fix: check access to {repo_id} and your token (HF_TOKEN / `hf auth login`).") from e
    except Exception as e:  # noqa: BLE001 -- a stalled, reset or truncated transfer (httpx, OSError)
        if isinstance(e, (HubError, ValueError, TypeError)) and not isinstance(e, TransferStalledError):
            raise
        reason = str(e) if isinstance(e, TransferStalledError) else f"the transfer failed ({type(e).__name__})"
        return unavailable(reason, HubError(
            f"{label}: {reason}. Nothing was cached from this transfer. Fix: retry; on a slow link raise "
            f"NUISANCE_ZOO_HUB_TIMEOUT (seconds without data, now {timeout:g})."), e)
    missing = [f for f in (CONFIG_NAME, WEIGHTS_NAME) if not (folder / f).is_file()]
    if missing:
        raise HubError(f"{label}: {where} has no {', '.join(missing)}; it is not a nuisance-zoo model repo "
                       f"(a model folder holds {CONFIG_NAME} and {WEIGHTS_NAME}).")
    return verify_folder(folder, expected_sha256, fix=(
        f"delete the cached copy ({Path(_cache_dir()) / ('models--' + repo_id.replace('/', '--'))}) and load again to "
        f"re-download; if the mismatch persists, the file on the Hub is not the one this nuisance-zoo expects."))


# ---------------------------------------------------------------------------------- cards
def _front_matter(path: Path) -> tuple[dict | None, str | None]:
    """The card's YAML front matter (``huggingface_hub.metadata_load``): ``(mapping, None)`` or ``(None, problem)``.

    A YAML error is reported by its kind and place only: its text would quote the card.
    """
    import yaml
    from huggingface_hub import metadata_load

    head = path.read_text(encoding="utf-8-sig", errors="replace").lstrip("\ufeff")
    if not head.startswith("---"):
        return None, f"{CARD_NAME}: no YAML front matter (the file must start with a '---' line)"
    try:
        meta = metadata_load(path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return None, f"{CARD_NAME}: the front matter is not valid YAML ({getattr(e, 'problem', None) or type(e).__name__}{where})"
    except (ValueError, UnicodeDecodeError):
        return None, f"{CARD_NAME}: the front matter must be a YAML mapping"
    if meta is None:
        return None, f"{CARD_NAME}: the YAML front matter is not closed by a '---' line"
    return meta, None


def validate_card(folder: str | Path) -> list[str]:
    """Check a model folder before upload; returns the problems found (empty list: OK).

    Checks: ``README.md`` starts with valid YAML front matter holding ``library_name``
    (``nuisance-zoo``), ``license``, ``tags``, ``datasets`` and ``pipeline_tag``
    (``image-to-image``); ``config.json`` parses and has ``architecture`` and ``sha256``;
    ``model.safetensors`` is a safetensors file whose sha256 matches; images the card links
    exist; no unexpected files (only ``CARD_FILES`` are uploaded).

    Example:
        >>> from nuisance_zoo import hub
        >>> hub.validate_card("/nonexistent")
        ['/nonexistent: not a folder']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    present = tuple(n for n in CARD_FILES if (folder / n).exists() or (folder / n).is_symlink())
    try:
        check_folder(folder, present)  # nothing below reads a file through a link out of the folder
    except ModelFolderError as e:
        return [str(e)]
    problems = [f"{name}: missing (a model folder needs {CARD_NAME}, {CONFIG_NAME}, {WEIGHTS_NAME})"
                for name in (CARD_NAME, CONFIG_NAME, WEIGHTS_NAME) if not (folder / name).is_file()]
    problems += [f"{p.name}: unexpected {'folder' if p.is_dir() else 'file'}; only {', '.join(CARD_FILES)} are "
                 f"uploaded. Remove it." for p in sorted(folder.iterdir()) if not (p.name in CARD_FILES and p.is_file())]
    card = folder / CARD_NAME
    if card.is_file():
        meta, problem = _front_matter(card)
        for key, (ok, what) in CARD_KEYS.items() if meta is not None else ():
            if key not in meta:
                problems.append(f"{CARD_NAME}: front matter lacks '{key}'")
            elif not ok(meta[key]):
                problems.append(f"{CARD_NAME}: {key} must be {what}, got {meta[key]!r:.60}")
        problems += [problem] if problem else []
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", card.read_text(encoding="utf-8", errors="replace")):
            inside = (folder / link).resolve().parent == folder.resolve()
            if "://" not in link and not (inside and (folder / link).is_file()):
                problems.append(f"{CARD_NAME}: links image {link!r}, which is not in the folder")
    declared = None
    if (folder / CONFIG_NAME).is_file():
        try:
            declared = load_config(folder, CONFIG_NAME)["sha256"]
        except ModelFolderError as e:
            problems.append(str(e))
    weights = folder / WEIGHTS_NAME
    if weights.is_file():
        try:
            check_safetensors(weights)
        except ModelFolderError as e:
            problems.append(f"{WEIGHTS_NAME}: {e}")
        if declared and (actual := sha256_file(weights)) != declared:
            problems.append(f"{WEIGHTS_NAME}: sha256 mismatch: {CONFIG_NAME} says {declared}, the file "
                            f"hashes to {actual}. Re-save with save_pretrained.")
    return problems


def card_folder(folder_or_name: str | Path) -> Path:
    """A model folder given as a path, or as a name under :func:`hub_cards_root`."""
    path = Path(folder_or_name).expanduser()
    if path.is_dir():
        return path
    bundled = hub_cards_root() / str(folder_or_name)
    if bundled.is_dir():
        return bundled
    raise FileNotFoundError(f"{folder_or_name!r} is neither a folder nor a model under {hub_cards_root()}; "
                            f"give a path or a name from hub_cards/.")


def publish(
    folder_or_name: str | Path,
    repo_id: str,
    dry_run: bool = False,
    token: str | None = None,
    revision: str | None = None,
) -> dict:
    """Validate a model folder and upload it to the Hub (``create_repo(exist_ok=True)`` + ``upload_folder``).

    Args:
        folder_or_name: a model folder, or a name under ``hub_cards/``.
        repo_id: ``"ORG/REPO"`` to upload to.
        dry_run: validate and list what would be uploaded; upload nothing.
        token: a Hub token (default: the logged-in user's / ``HF_TOKEN``).
        revision: a branch to upload to (created if missing); None means main.

    Returns:
        ``{"folder", "repo_id", "revision", "dry_run", "files": [{"file", "size", "sha256"}], "commit_url"}``.

    Raises:
        ValueError: the folder fails :func:`validate_card` (the message lists every problem).

    Example:
        >>> from nuisance_zoo import hub
        >>> plan = hub.publish("gtsrb-brightness", "my-org/gtsrb-brightness", dry_run=True)  # doctest: +SKIP
        >>> [f["file"] for f in plan["files"]]                                                   # doctest: +SKIP
        ['README.md', 'config.json', 'model.safetensors']
    """
    folder = card_folder(folder_or_name)
    parse_hub_name(repo_id)  # a clear error for a malformed repo id, before any network
    problems = validate_card(folder)
    if problems:
        raise ValueError(f"{folder} is not ready to publish:\n  - " + "\n  - ".join(problems))
    files = [{"file": p.name, "size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in sorted(folder.iterdir()) if p.name in CARD_FILES]
    result: dict[str, Any] = {"folder": str(folder), "repo_id": repo_id, "revision": revision or "main",
                              "dry_run": dry_run, "files": files, "commit_url": None}
    if dry_run:
        return result
    from huggingface_hub import HfApi

    api = HfApi(endpoint=_endpoint(), token=token, **_AGENT)
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), repo_type="model", revision=revision,
        allow_patterns=[f["file"] for f in files],
        commit_message=f"Upload {folder.name} (nuisance-zoo {__version__})",
    )
    result["commit_url"] = str(getattr(info, "commit_url", info))
    return result
