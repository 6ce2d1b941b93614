"""Progress bars that suit where the output goes: a live bar on a terminal, plain lines in a log.

On a terminal tqdm redraws one line with carriage returns. Written to a file (a SLURM log, a
``2> log``) the same bar is kilobytes a second joined by carriage returns; there a bar prints a
plain line at its start, at most every :data:`LOG_SECONDS`, and at its end.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm

LOG_SECONDS = 30.0
"""Shortest time between two lines of a bar written to a file."""


class Lines:
    """A file for tqdm that turns each redraw into one plain line, and drops a line it just wrote
    (tqdm draws the bar again after every message printed above it)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream, self.last = stream, ""

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line and line != self.last:
            self.stream.write(line + "\n")
            self.last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(stream: IO[str] | None = None, **options: Any) -> tqdm:
    """A tqdm bar on ``stream`` (stderr), with ``options`` as tqdm takes them; plain lines at most
    every :data:`LOG_SECONDS` when ``stream`` is no terminal."""
    stream = stream or sys.stderr
    if _is_terminal(stream):
        return tqdm(file=stream, **options)
    return tqdm(file=Lines(stream), mininterval=LOG_SECONDS, maxinterval=LOG_SECONDS, ncols=100,
                **{k: v for k, v in options.items() if k != "dynamic_ncols"})


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False
