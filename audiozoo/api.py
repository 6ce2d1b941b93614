"""The Python API, mirroring the CLI: ``list_X`` and ``get_X`` for every plugin kind, ``prepare``, ``roundtrip``.

``list_models``, ``get_model`` and their siblings are made from the one table of plugin kinds
(:data:`audiozoo.kinds.KINDS`), so a new kind has them the moment it is declared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from audiozoo.data.audio import UnreadableAudio, load_clip
from audiozoo.data.prepare import PreparedData
from audiozoo.data.prepare import prepare as prepare_source
from audiozoo.errors import AudiozooError
from audiozoo.factory import Patterns, create, metrics_at, plugin_names, representation_label  # noqa: F401
from audiozoo.kinds import KINDS, Kind
from audiozoo.plugins import host
from audiozoo.representation import Representation


def _lister(kind: Kind) -> Any:
    def list_plugins(include: Patterns = None, exclude: Patterns = None, standalone: bool = False) -> list[str]:
        return plugin_names(kind.name, include, exclude, standalone)

    list_plugins.__name__ = list_plugins.__qualname__ = f"list_{kind.name}"
    list_plugins.__doc__ = (f"Names of the registered {kind.name} (wildcards in ``include``/``exclude``); "
                            "``standalone``: only those built from defaults alone.")
    return list_plugins


def _getter(kind: Kind) -> Any:
    def get_plugin(name: str | None = None, *args: Any, **settings: Any) -> Any:
        if name is None and kind.namespace not in host().defaults:
            raise AudiozooError(f"which {kind.singular}? choose from: {', '.join(plugin_names(kind.name))}")
        return create(kind.name, name or host().defaults[kind.namespace], *args, **settings)

    get_plugin.__name__ = get_plugin.__qualname__ = f"get_{kind.singular}"
    get_plugin.__doc__ = (f"Build {kind.singular} ``name`` with ``{kind.namespace}.KEY`` settings as keywords "
                          f"(checked against its Config); without a name, registry.toml's default {kind.singular}, if any.")
    return get_plugin


for _kind in KINDS:
    globals()[f"list_{_kind.name}"] = _lister(_kind)
    globals()[f"get_{_kind.singular}"] = _getter(_kind)
del _kind


def prepare(data: str | None = None, progress: bool = True, **settings: Any) -> PreparedData:
    """Preprocess dataset ``data`` (default: the embedded one) and cache it: ``prepare("gtzan", root=...)``."""
    return prepare_source(create("datasets", data or host().defaults["data"], **settings), progress=progress)


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
    figures = {metric.name: float(metric(batch, decoded)[0])
               for metric in metrics_at(representation.sample_rate, task="reconstruction")}
    return RoundTrip(batch[0], decoded[0].cpu(), tuple(x.shape[1:]), figures, seconds)
