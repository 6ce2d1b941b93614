"""Building plugins by name from settings: the core's one factory (the Python API re-exports it).

Settings are checked against the plugin's ``Config`` dataclass here, once, so every caller —
training, the bench, a trained run's loader, the API — gets the same one-line errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from audiozoo.config import build_config, setting_keys
from audiozoo.errors import AudiozooError, unknown
from audiozoo.kinds import BY_NAME
from audiozoo.plugins import host

Patterns = str | Iterable[str] | None


def plugin_class(kind: str, name: str) -> type:
    """The class registered as ``name`` of ``kind`` (an unknown name is an error listing the closest)."""
    return host().registry(kind).get(name)


def plugin_config(kind: str, name: str, settings: Mapping[str, Any]) -> Any:
    """The ``Config`` of plugin ``name`` filled from ``settings`` (keys prefixed ``repr.``… in messages)."""
    return build_config(plugin_class(kind, name).Config, settings, where=BY_NAME[kind].prefix(name))


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


def metrics_at(sample_rate: int, task: str | None = None, settings: Mapping[str, Any] | None = None) -> list[Any]:
    """Every registered metric (of ``task``, when given) at ``sample_rate``: a metric plugin joins every table.

    ``settings`` are ``metric.NAME.KEY`` overrides (``{"metric.fad_vggish.weights": PATH}``); see
    :func:`metric_settings`."""
    chosen = [n for n in plugin_names("metrics") if task is None or plugin_class("metrics", n).task == task]
    per_metric = metric_settings(settings or {})
    return [create("metrics", n, **{**per_metric.get(n, {}), "sample_rate": sample_rate}) for n in chosen]


def split_metric_settings(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``metric.NAME.KEY`` overrides (how cells are judged) apart from the rest (how they are trained)."""
    metric = {k: v for k, v in overrides.items() if k.partition(".")[0] == "metric"}
    return metric, {k: v for k, v in overrides.items() if k not in metric}


def metric_settings(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``metric.NAME.KEY=VALUE`` overrides → ``{NAME: {KEY: VALUE}}``, every name and key checked now
    (a one-line error listing the metrics, or the metric's settings). The sample rate is the data's."""
    kind, out = BY_NAME["metrics"], {}
    for key, value in overrides.items():
        _, name, setting = (key.split(".", 2) + ["", ""])[:3]
        if name not in host().registry("metrics"):
            raise unknown("metric", name, plugin_names("metrics"))
        keys = [k for k in setting_keys(plugin_class("metrics", name).Config, f"metric.{name}.")
                if k.split(".")[2] not in kind.internal]
        if not any(key == k or key.startswith(f"{k}.") for k in keys):
            if not keys:
                raise AudiozooError(f"{key}: metric {name!r} has no settings")
            raise unknown("key", key, keys)
        out.setdefault(name, {})[setting] = value
    for name, values in out.items():
        plugin_config("metrics", name, values)  # a wrong key or value stops here, before any work
    return out
