"""Atomic writes: a file or folder appears whole under its final name, or not at all.

Temporaries are named ``.tmp-NAME~HOST~PID~RANDOM`` so that :func:`remove_stale_temporaries`
can tell the leftovers of a killed process from the work of a live one.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from audiozoo.errors import AudiozooError

_UMASK = os.umask(0)
os.umask(_UMASK)
"""The process's umask: temporary files are created owner-only, final ones get the usual mode."""

_HOST = socket.gethostname().replace("~", "-")


def _prefix(name: str) -> str:
    return f".tmp-{name}~{_HOST}~{os.getpid()}~"


@contextmanager
def atomic_file(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it replaces ``final`` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_prefix(final.stem), suffix=final.suffix, dir=final.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_UMASK)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` write into a fresh folder beside ``final``, then rename it into place.

    A crash or Ctrl-C leaves at most a ``.tmp-*`` folder, never a half-written ``final``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(final.name), dir=final.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        fill(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # anything but "another process finished first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries in ``folder`` left by processes of this machine that no longer run
    (a ``kill -9`` during a write); returns what was removed."""
    removed = []
    for path in folder.glob(".tmp-*~*~*~*") if folder.is_dir() else ():
        _, host, pid, _ = path.name.rsplit("~", 3)
        if host == _HOST and pid.isdigit() and not process_alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): os.kill's answer stands


def ensure_writable(folder: Path, what: str, hint: str) -> None:
    """Fail in one line now, before any long work, when ``folder`` cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise AudiozooError(f"cannot write {what} {folder}: {err.strerror or err}; {hint}") from None
