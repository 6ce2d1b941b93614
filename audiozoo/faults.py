"""Fault injection: ``AUDIOZOO_FAULT=POINT`` (or ``POINT@N``, the N-th time) kills the process at a named point.

The fault-injection tests and the soak script use it to stop a process exactly where a crash
would hurt most (mid-write, just after a checkpoint) instead of guessing with sleeps. Unset, it
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_seen: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Die as ``kill -9`` would if ``$AUDIOZOO_FAULT`` names this point (and this is its N-th pass)."""
    wanted = os.environ.get("AUDIOZOO_FAULT")
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _seen[name] += 1
    if _seen[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
