"""One process trains in a run directory at a time: an advisory lock the kernel drops when its holder dies."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audiozoo.errors import AudiozooError
from audiozoo.runs.rundir import RunDir


@contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock file while training; a second process exits with the holder's name.

    ``flock`` ends with its process, so a lock left by a ``kill -9`` is no lock: the next run takes it.
    """
    with open(RunDir(run_dir).lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AudiozooError(f"{run_dir} is in use by {holder}; wait for it to end or stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
