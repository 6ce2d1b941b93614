"""Building plugins by name from settings: the core's one factory (the Python API re-exports it).

Settings are checked against the plugin's ``Config`` dataclass here, once, so every caller —
training, the bench, a trained run's loader, the API — gets the same one-line errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from audiozoo.config import build_config
from audiozoo.kinds import BY_NAME
from audiozoo.plugins import host

Patterns = str | Iterable[str] | None


def plugin_class(kind: str, name: str) -> type:
    """The class registered as ``name`` of ``kind`` (an unknown name is an error listing the closest)."""
    return host().registry(kind).get(name)


def plugin_config(kind: str, name: str, settings: Mapping[str, Any]) -> Any:
    """The ``Config`` of plugin ``name`` filled from ``settings`` (keys prefixed ``repr.``… in messages)."""
    return build_config(plugin_class(kind, name).Config, settings, where=BY_NAME[kind].namespace)


def create(kind: str, name: str, *args: Any, **settings: Any) -> Any:
    """Build plugin ``name`` of ``kind`` with ``settings`` checked against its Config dataclass."""
    return plugin_class(kind, name)(*args, plugin_config(kind, name, settings))


def plugin_names(kind: str, include: Patterns = None, exclude: Patterns = None, standalone: bool = False) -> list[str]:
    """Registered names of ``kind`` matching ``include`` and not ``exclude`` (wildcards); ``standalone``:
    only plugins built from defaults alone (not ``latent``, which needs ``repr.run``)."""
    registry = host().registry(kind)
    names = registry.names(include, exclude)
    return [n for n in names if not (standalone and getattr(registry.get(n), "required", ()))]


def representation_label(name: str, settings: Mapping[str, Any]) -> str:
    """How tables name a run's representation: ``name``, with the folder its required setting names
    where it has one (``latent:vae_convpool-waveform``), so two latent spaces are two columns."""
    registry = host().registry("representations")
    required = registry.get(name).required if name in registry else ()
    return ":".join([name, *(Path(str(settings[key])).name for key in required if key in settings)])


def metrics_at(sample_rate: int, task: str | None = None) -> list[Any]:
    """Every registered metric (of ``task``, when given) at ``sample_rate``: a metric plugin joins every table."""
    chosen = [n for n in plugin_names("metrics") if task is None or plugin_class("metrics", n).task == task]
    return [create("metrics", n, sample_rate=sample_rate) for n in chosen]
