"""Atomic writes: a file or folder appears whole under its final name, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
"""The process's umask: temporary files are created owner-only, final ones get the usual mode."""


@contextmanager
def atomic_file(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it replaces ``final`` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".tmp-{final.stem}-", suffix=final.suffix, dir=final.parent)
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
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
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
