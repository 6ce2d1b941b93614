"""glibc malloc settings for tensor-heavy loops on CPU.

By default glibc serves every block above a few MB with a fresh ``mmap`` and returns it on
free, so a loop that allocates and frees multi-megabyte tensors (STFTs of a block of clips,
Griffin-Lim iterations, training steps) page-faults its memory in again on every pass. Keeping
such blocks in the heap made the batched STFT 2× faster on this project's machine
(docs/performance.md). The settings cap what is kept: at most 256 MB of free heap is held.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
SETTINGS = {M_MMAP_THRESHOLD: 64 << 20, M_TRIM_THRESHOLD: 256 << 20, M_TOP_PAD: 64 << 20}
USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def tune_allocator() -> bool:
    """Apply :data:`SETTINGS` with ``mallopt``; True when done. Nothing happens off glibc or
    when the user set glibc's own ``MALLOC_*_`` variables (theirs win)."""
    if not sys.platform.startswith("linux") or any(v in os.environ for v in USER_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return all(mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
