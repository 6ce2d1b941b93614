"""Resolving a run's settings, once: ``key=value`` overrides (and presets) or a config.toml's tables
→ one checked :class:`~audiozoo.settings.RunSettings`.

Every setting is checked here, before any data is prepared, so a typo never waits for decoding.
"""

from __future__ import annotations

from typing import Any

from audiozoo.config import build_config, setting_names
from audiozoo.errors import AudiozooError
from audiozoo.factory import create, plugin_class, plugin_config, plugin_names
from audiozoo.overrides import apply_preset, split_namespaces
from audiozoo.plugins import host
from audiozoo.settings import PLUGIN_KEYS, TABLES, RunSettings, TrainConfig


def resolve(overrides: dict[str, Any]) -> RunSettings:
    """``key=value`` overrides (``preset=`` expanded, registry.toml's default preset without one) → the run's settings."""
    train_keys = setting_names(TrainConfig)
    groups = split_namespaces(apply_preset(overrides, host().presets, default="default"), (*TABLES, *train_keys))
    names = {key: groups.get(key, {}).pop("", None) for key in PLUGIN_KEYS}
    if names["model"] is None:
        raise AudiozooError(f"which model? add model=NAME; choose from: {', '.join(plugin_names('models'))}")
    names["repr"] = names["repr"] or host().defaults["repr"]
    names["data"] = names["data"] or host().defaults["data"]
    data = plugin_config("datasets", names["data"], groups.get("data", {}))
    repr_settings = groups.get("repr", {})
    if repr_settings.get("sample_rate", data.sample_rate) != data.sample_rate:
        raise AudiozooError("set the sample rate with data.sample_rate, not repr.sample_rate")
    # Built, not only configured: a representation checks what it needs on construction (latent: its run).
    rep = create("representations", names["repr"], **{**repr_settings, "sample_rate": data.sample_rate})
    train = build_config(TrainConfig, {k: groups[k][""] for k in train_keys if k in groups}, "")
    if train.crop_seconds and train.crop_seconds > data.segment_samples / data.sample_rate:
        raise AudiozooError(f"crop_seconds={train.crop_seconds:g} is longer than a segment "
                            f"({data.segment_samples / data.sample_rate:g} s); use a shorter crop or longer segments")
    return RunSettings(names["model"], names["repr"], names["data"], train,
                       plugin_config("models", names["model"], groups.get("model", {})), rep.config, data,
                       sample_options(names["model"], groups.get("sample", {})))


def settings_from_tables(tables: dict[str, dict[str, Any]]) -> RunSettings:
    """A run's config.toml tables (see :meth:`RunSettings.tables`) checked again: the file may be hand-edited."""
    run = tables["run"]
    return RunSettings(run["model"], run["repr"], run["data"],
                       build_config(TrainConfig, {k: v for k, v in run.items() if k not in PLUGIN_KEYS}, ""),
                       plugin_config("models", run["model"], tables["model"]),
                       plugin_config("representations", run["repr"], tables["repr"]),
                       plugin_config("datasets", run["data"], tables["data"]),
                       sample_options(run["model"], tables.get("sample", {})))


def sample_options(model: str, values: dict[str, Any]) -> Any:
    """``sample.KEY=VALUE`` settings checked against the model's ``SampleOptions`` (one-line errors naming them)."""
    model_cls = plugin_class("models", model)
    if values and not setting_names(model_cls.SampleOptions):
        raise AudiozooError(f"model {model!r} takes no sampling options (got sample.{next(iter(values))})")
    return build_config(model_cls.SampleOptions, values, "sample")
