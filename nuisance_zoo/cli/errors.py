"""One line per user error: what the CLI prints instead of a traceback.

Every exception a user can cause (a bad file, a bad argument, an unreadable checkpoint, a Hub
that cannot be reached) maps to one line that says what was wrong and what to do. Anything
else is a bug in nuisance-zoo: it is reported as such, still on one line, with the hint to rerun
with ``--debug`` for the traceback.
"""
from __future__ import annotations

import zipfile

__all__ = ["describe", "INTERNAL_ERROR_EXIT", "USER_ERROR_EXIT"]

#: Exit status of a user error (bad input, missing file): argparse uses 2 for the same.
USER_ERROR_EXIT = 2
#: Exit status of an unexpected internal error.
INTERNAL_ERROR_EXIT = 1


def _os_error(e: OSError) -> str:
    """An OSError as 'what: path. Fix.' without the errno noise."""
    path = f" {e.filename!s}" if e.filename is not None else ""
    what = e.strerror or str(e)
    fixes = {
        FileExistsError: "choose another path, or remove that file",
        NotADirectoryError: "a folder is needed there, not a file; choose another path",
        IsADirectoryError: "a file is needed there, not a folder",
        PermissionError: "check the permissions, or choose a path you can write to",
        FileNotFoundError: "check the path",
    }
    fix = next((f for cls, f in fixes.items() if isinstance(e, cls)), None)
    return f"{what}:{path}" + (f" ({fix})." if fix else ".")


def describe(e: BaseException) -> tuple[str, int]:
    """The one-line message and exit status for an exception raised by a CLI command."""
    try:  # optional imports: each names an error type users can cause
        from PIL import UnidentifiedImageError
    except ImportError:  # pragma: no cover
        UnidentifiedImageError = ()  # type: ignore[assignment]
    try:
        from safetensors import SafetensorError
    except ImportError:  # pragma: no cover
        SafetensorError = ()  # type: ignore[assignment]
    try:
        from yaml import YAMLError
    except ImportError:  # pragma: no cover
        YAMLError = ()  # type: ignore[assignment]

    if isinstance(e, KeyboardInterrupt):
        return "interrupted; a run with a checkpoint continues with --resume.", 130
    if isinstance(e, UnidentifiedImageError):
        # PIL's message is "cannot identify image file 'x'": say what files work.
        return f"{e}: not an image PIL can read (use PNG, JPEG, BMP or TIFF).", USER_ERROR_EXIT
    if isinstance(e, SafetensorError):
        return (f"a .safetensors file could not be read ({e}); it is truncated or corrupted. "
                f"Restore or delete it (a checkpoint: start the run again without --resume)."), USER_ERROR_EXIT
    if isinstance(e, zipfile.BadZipFile):
        return f"not a valid .npz/.zip file ({e}); check the path or re-create the file.", USER_ERROR_EXIT
    if isinstance(e, YAMLError):
        # str(e) would quote the file; name the problem and the place only.
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"invalid YAML ({getattr(e, 'problem', None) or type(e).__name__}{where}).", USER_ERROR_EXIT
    if isinstance(e, KeyError) and len(e.args) == 1 and isinstance(e.args[0], str):
        return e.args[0], USER_ERROR_EXIT  # str(KeyError) adds quotes around the message
    if isinstance(e, OSError) and not isinstance(e, (ConnectionError, TimeoutError)):
        return _os_error(e), USER_ERROR_EXIT
    if isinstance(e, (ValueError, TypeError, RuntimeError, ConnectionError, TimeoutError, NotImplementedError)):
        return str(e) or type(e).__name__, USER_ERROR_EXIT
    return (f"internal error, {type(e).__name__}: {e}. This is a bug in nuisance-zoo; rerun with --debug "
            f"for the traceback and report it."), INTERNAL_ERROR_EXIT
