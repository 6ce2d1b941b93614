"""audiozoo: a plugin-based model zoo for generative audio.

Importing this package discovers no plugins; that happens on the first call that needs them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from audiozoo.kinds import KINDS

try:
    __version__ = version("audiozoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_EXPORTS = {
    "tune_allocator": "audiozoo.allocator",
    "AudioSource": "audiozoo.data.source",
    "DataConfig": "audiozoo.data.source",
    "AudiozooError": "audiozoo.errors",
    "hookimpl": "audiozoo.hookspecs",
    "GenerationMetric": "audiozoo.metric",
    "ReconstructionMetric": "audiozoo.metric",
    "Metric": "audiozoo.metric",
    "MetricConfig": "audiozoo.metric",
    "GenerativeModel": "audiozoo.model",
    "ModelConfig": "audiozoo.model",
    "Representation": "audiozoo.representation",
    "RepresentationConfig": "audiozoo.representation",
    **dict.fromkeys(["create", "prepare", "roundtrip", *(f"list_{k.name}" for k in KINDS),
                     *(f"get_{k.singular}" for k in KINDS)], "audiozoo.api"),
    "load_run": "audiozoo.runs.trained",
    "run": "audiozoo.train.run",
}
"""Public names and the module each lives in, imported on first use (PEP 562): ``audiozoo --help``
and ``audiozoo list`` must not wait a second for torch."""


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'audiozoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(["__version__", *_EXPORTS])
