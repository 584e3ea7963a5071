"""One run per output folder: the lock that ``train`` and ``fit`` take on their ``--out``.

A run holds ``<out>/.lock`` for its whole life. The file says who holds it (pid, host, start
time, command) and the holder keeps an exclusive :func:`fcntl.flock` on it (``msvcrt.locking``
on Windows). A second run into the same folder fails to get the lock and is refused with
:class:`RunLockedError`, naming the holder's pid, host and start time.

Why a kernel lock and not only an ``O_CREAT | O_EXCL`` file: the kernel drops the lock when its
process dies, however it dies (``kill -9``, the OOM killer, a power cut of the process), so a
stale lock needs no guess from pids (which are reused) or ages (which say nothing about long
runs). A lock file that exists but can be locked was left by a dead run: it is taken over, with
a :class:`StaleLockWarning` naming that run; the resume then continues from its checkpoint.
A clean end (normal return or exception) removes the file; after taking the lock the holder
checks that the path still names the file it locked, so a run ending at the same moment
cannot hand one lock to two newcomers. flock works across processes of one machine and, on
Linux, over NFS (emulated with POSIX locks); on a file system without working locks two hosts
could both run, so keep one run's folder on one machine's disk or a lock-capable share.

Example:
    >>> import tempfile
    >>> from nuisance_zoo.run_lock import run_lock
    >>> folder = tempfile.mkdtemp()
    >>> with run_lock(folder, "train") as lock:
    ...     lock.path.name
    '.lock'
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import socket
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["LOCK_NAME", "RunLock", "RunLockedError", "StaleLockWarning", "acquire", "release", "run_lock",
           "held_lock", "exclusive_out"]

LOCK_NAME = ".lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RunLockedError(RuntimeError):
    """Another live run holds the output folder's lock."""


class StaleLockWarning(UserWarning):
    """The output folder's lock was left by a run that is no longer running; it was taken over."""


@dataclass
class RunLock:
    """A held lock on a run's output folder.

    Attributes:
        folder: the output folder.
        path: the lock file, ``folder/.lock``.
        record: what the lock file says about this run (pid, host, started, command).
        previous: the record of the dead run whose stale lock was taken over, or None when the
            folder was free (``{}`` when that run died before it could write its record).
        created_folder: whether taking the lock created ``folder`` (it is removed again on
            release if the run left nothing in it).
    """

    folder: Path
    path: Path
    fd: int
    record: dict
    previous: dict | None = None
    created_folder: bool = False


#: Locks this process holds, by resolved folder (so that the run's own code can ask).
_held: dict[Path, RunLock] = {}


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows

    # Lock one byte far past the record, so that a refused run can still read who holds it.
    os.lseek(fd, 1 << 30, os.SEEK_SET)  # pragma: no cover
    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    finally:
        os.lseek(fd, 0, os.SEEK_SET)
    return True  # pragma: no cover


def _read_record(fd: int) -> dict | None:
    """The lock file's record; None for an empty file, ``{}`` for one that is not a record."""
    if hasattr(os, "pread"):
        data = os.pread(fd, 65536, 0)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 65536)
    if not data:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _describe(record: dict | None) -> str:
    if not record:
        return "a run that left no record"
    started = record.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if isinstance(started, (int, float)) else "?"
    what = f" ({record['command']})" if record.get("command") else ""
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {when}{what}"


def acquire(folder: str | Path, command: str = "") -> RunLock:
    """Take ``folder``'s run lock (the folder is created if needed).

    Args:
        folder: the run's output folder.
        command: what the run is (``"train"``, ``"fit"``), shown to a refused second run.

    Returns:
        The held :class:`RunLock`; give it back with :func:`release`.

    Raises:
        RunLockedError: another live run holds it (the message names its pid and host).
        FileExistsError / NotADirectoryError: ``folder`` is a file.
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    while True:
        try:  # knowing whether the file was there tells a dead run's lock from a fresh one
            fd, existed = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), False
        except FileExistsError:
            try:
                fd, existed = os.open(path, os.O_RDWR), True
            except FileNotFoundError:  # released between the two opens: try again
                continue
        if not _try_lock(fd):
            holder = _read_record(fd)
            os.close(fd)
            raise RunLockedError(
                f"{folder} is in use by another run: {_describe(holder)}. Two runs writing one output "
                f"folder would overwrite each other's checkpoint and logs. Wait for that run to end (or stop "
                f"it, then resume), or choose another output folder (--out)."
            )
        try:  # a run releasing at this moment may have unlinked the file we locked: lock the new one
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = (_read_record(fd) or {}) if existed else None
    if previous is not None:
        # The file exists and nobody holds it: its run died without releasing it.
        warnings.warn(f"{folder}: taking over the lock of {_describe(previous)}, which is no longer running "
                      f"(killed or crashed); leftovers of its unfinished writes are cleaned up.",
                      StaleLockWarning, stacklevel=3)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
    lock = RunLock(folder=folder, path=path, fd=fd, record=record, previous=previous, created_folder=created)
    _held[folder.resolve()] = lock
    return lock


def release(lock: RunLock) -> None:
    """Give the lock back: remove the lock file (a clean end), then drop the kernel lock."""
    _held.pop(lock.folder.resolve(), None)
    try:
        lock.path.unlink(missing_ok=True)  # before closing: nobody can lock this file after us
    finally:
        os.close(lock.fd)
    if lock.created_folder:
        try:  # a run refused for a bad argument leaves no empty folder behind
            lock.folder.rmdir()
        except OSError:
            pass


def held_lock(folder: str | Path) -> RunLock | None:
    """The lock this process holds on ``folder``, or None."""
    return _held.get(Path(folder).resolve())


@contextmanager
def run_lock(folder: str | Path, command: str = "") -> Iterator[RunLock]:
    """Hold ``folder``'s run lock for the block (see :func:`acquire`)."""
    lock = acquire(folder, command)
    try:
        yield lock
    finally:
        release(lock)


F = TypeVar("F", bound=Callable[..., Any])


def exclusive_out(param: str, command: str) -> Callable[[F], F]:
    """Decorate a run function so that it holds the run lock on its output-folder argument.

    Args:
        param: the name of the function's output-folder parameter (``None`` there: no lock).
        command: what the run is, for the refusal message of a second run.
    """
    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            folder = bound.arguments.get(param)
            if folder is None:
                return fn(*args, **kwargs)
            with run_lock(folder, command):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
