"""audiozoo: a plugin-based model zoo for generative audio.

Importing this package discovers no plugins; that happens on the first call that needs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from audiozoo.allocator import tune_allocator
from audiozoo.data.source import AudioSource, DataConfig
from audiozoo.errors import AudiozooError
from audiozoo.hookspecs import hookimpl
from audiozoo.metric import GenerationMetric, Metric, MetricConfig
from audiozoo.model import GenerativeModel, ModelConfig
from audiozoo.representation import Representation, RepresentationConfig

from audiozoo.api import (  # noqa: E402  (plugin modules import the interfaces above first)
    create,
    get_dataset,
    get_metric,
    get_model,
    get_representation,
    list_datasets,
    list_metrics,
    list_models,
    list_representations,
    prepare,
    roundtrip,
)
from audiozoo.train.run import load_run, run  # noqa: E402

try:
    __version__ = version("audiozoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AudioSource",
    "AudiozooError",
    "DataConfig",
    "GenerativeModel",
    "GenerationMetric",
    "Metric",
    "MetricConfig",
    "ModelConfig",
    "Representation",
    "RepresentationConfig",
    "__version__",
    "create",
    "get_dataset",
    "get_metric",
    "get_model",
    "get_representation",
    "hookimpl",
    "list_datasets",
    "list_metrics",
    "list_models",
    "list_representations",
    "load_run",
    "prepare",
    "roundtrip",
    "run",
    "tune_allocator",
]
