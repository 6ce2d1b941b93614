"""The Python API, mirroring the CLI: ``list_X`` and ``get_X`` for every plugin kind, ``prepare``, ``roundtrip``."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from audiozoo.catalog import NAMESPACE
from audiozoo.config import build_config
from audiozoo.data.audio import UnreadableAudio, load_clip
from audiozoo.data.prepare import PreparedData
from audiozoo.data.prepare import prepare as prepare_source
from audiozoo.data.source import AudioSource
from audiozoo.errors import AudiozooError
from audiozoo.metric import Metric
from audiozoo.model import GenerativeModel
from audiozoo.plugins import host
from audiozoo.representation import Representation

Patterns = str | Iterable[str] | None



def create(kind: str, name: str, *args: Any, **settings: Any) -> Any:
    """Build plugin ``name`` of ``kind`` with ``settings`` checked against its Config dataclass."""
    cls = host().registry(kind).get(name)
    return cls(*args, build_config(cls.Config, settings, where=NAMESPACE[kind]))


def list_representations(include: Patterns = None, exclude: Patterns = None, standalone: bool = False) -> list[str]:
    """Representation names; ``standalone``: only those built from defaults alone (not ``latent``, which needs a run)."""
    registry = host().registry("representations")
    return [name for name in registry.names(include, exclude) if not (standalone and registry.get(name).required)]


def representation_label(name: str, settings: dict[str, Any]) -> str:
    """How tables name a run's representation: ``name``, with the folder its required setting names
    where it has one (``latent:vae_convpool-waveform``), so two latent spaces are two columns."""
    registry = host().registry("representations")
    required = registry.get(name).required if name in registry.names() else ()
    return ":".join([name, *(Path(str(settings[key])).name for key in required if key in settings)])


def list_models(include: Patterns = None, exclude: Patterns = None) -> list[str]:
    return host().registry("models").names(include, exclude)


def list_datasets(include: Patterns = None, exclude: Patterns = None) -> list[str]:
    return host().registry("datasets").names(include, exclude)


def list_metrics(include: Patterns = None, exclude: Patterns = None) -> list[str]:
    return host().registry("metrics").names(include, exclude)


def get_representation(name: str, **settings: Any) -> Representation:
    """``get_representation("mel", n_mels=128)``; ``sample_rate`` defaults to the data's 3150 Hz."""
    return create("representations", name, **settings)


def get_model(name: str, shape: tuple[int, int], **settings: Any) -> GenerativeModel:
    return create("models", name, shape, **settings)


def get_dataset(name: str | None = None, **settings: Any) -> AudioSource:
    return create("datasets", name or host().defaults["data"], **settings)


def get_metric(name: str, **settings: Any) -> Metric:
    return create("metrics", name, **settings)


def prepare(data: str | None = None, progress: bool = True, **settings: Any) -> PreparedData:
    """Preprocess dataset ``data`` (default: the embedded one) and cache it: ``prepare("gtzan", root=...)``."""
    return prepare_source(get_dataset(data, **settings), progress=progress)


@dataclass
class RoundTrip:
    """One file through a representation and back, with the figures that say what it loses."""

    original: torch.Tensor  # [T] at the representation's sample rate
    decoded: torch.Tensor  # [T]
    shape: tuple[int, int]  # (C, F) the model would see
    figures: dict[str, float]  # metric name → value
    seconds: float  # encode + decode time


def roundtrip(path: str | Path, representation: Representation, max_seconds: float | None = None) -> RoundTrip:
    """Encode and decode one audio file: the ceiling ``representation`` sets before any training."""
    try:
        wave = load_clip(Path(path), representation.sample_rate, max_seconds)
    except UnreadableAudio as err:
        raise AudiozooError(f"cannot read {path}: {err}") from None
    batch = torch.from_numpy(wave).unsqueeze(0)
    representation.fit([batch])
    start = time.perf_counter()
    with torch.inference_mode():
        x = representation.encode(batch)
        decoded = representation.decode(x, length=batch.shape[1])
    seconds = time.perf_counter() - start
    figures = {}
    for name in list_metrics():
        metric_cls = host().registry("metrics").get(name)
        if metric_cls.task == "reconstruction":
            metric = get_metric(name, sample_rate=representation.sample_rate)
            figures[name] = float(metric(batch, decoded)[0])
    return RoundTrip(batch[0], decoded[0].cpu(), tuple(x.shape[1:]), figures, seconds)
