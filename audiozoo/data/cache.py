"""Where prepared arrays live, what they are keyed by, and writing them so nothing is left half-done."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from audiozoo.data.source import AudioItem, DataConfig

CACHE_VERSION = 3
"""Bump when the preprocessing changes what it writes, so old caches are not reused."""

NOT_SHAPING = ("test_fraction", "split_seed", "cache_dir", "workers")
"""Data settings that leave the cached arrays alone; every other one (``strict``, ``silent``, …)
changes what is kept, so it is part of the key."""


def cache_root(setting: str = "") -> Path:
    """``data.cache_dir`` if set, else ``$AUDIOZOO_CACHE``, else ``$XDG_CACHE_HOME/audiozoo`` (~/.cache)."""
    if setting:
        return Path(setting).expanduser()
    if os.environ.get("AUDIOZOO_CACHE"):
        return Path(os.environ["AUDIOZOO_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audiozoo"


def cache_key(items: list[AudioItem], config: DataConfig) -> str:
    """A hash of the items (path, size, modification time, part) and the settings that shape the arrays."""
    listing = [(str(i.path.resolve()), st.st_size, st.st_mtime_ns, i.start, i.end) for i in items for st in [i.path.stat()]]
    settings = {k: v for k, v in asdict(config).items() if k not in NOT_SHAPING}
    blob = json.dumps({"version": CACHE_VERSION, "files": listing, "settings": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
