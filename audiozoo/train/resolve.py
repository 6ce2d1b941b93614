"""A run's settings: ``key=value`` overrides resolved into the tables of config.toml, and read back."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from audiozoo import api
from audiozoo.config import build_config, setting_names
from audiozoo.errors import AudiozooError
from audiozoo.model import GenerativeModel, SampleOptions
from audiozoo.overrides import apply_preset, split_namespaces
from audiozoo.plugins import host
from audiozoo.train.rundir import RunDir, read_config
from audiozoo.train.settings import TrainConfig

PLUGIN_KEYS = ("model", "repr", "data")
TABLES = (*PLUGIN_KEYS, "sample")
"""The namespaces of a run's keys besides its own: each plugin's settings and the model's sampling options."""


def resolve(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``key=value`` overrides → every setting of the run, resolved, as the tables of config.toml."""
    train_keys = setting_names(TrainConfig)
    groups = split_namespaces(apply_preset(overrides, host().presets, default="default"), (*TABLES, *train_keys))
    names = {key: groups.get(key, {}).pop("", None) for key in PLUGIN_KEYS}
    if names["model"] is None:
        raise AudiozooError(f"which model? add model=NAME; choose from: {', '.join(api.list_models())}")
    names["repr"] = names["repr"] or host().defaults["repr"]
    names["data"] = names["data"] or host().defaults["data"]
    data = api.get_dataset(names["data"], **groups.get("data", {})).config
    repr_settings = groups.get("repr", {})
    if repr_settings.get("sample_rate", data.sample_rate) != data.sample_rate:
        raise AudiozooError("set the sample rate with data.sample_rate, not repr.sample_rate")
    rep = api.get_representation(names["repr"], **{**repr_settings, "sample_rate": data.sample_rate})
    model_cls = host().registry("models").get(names["model"])
    model_config = build_config(model_cls.Config, groups.get("model", {}), "model")
    options = sample_options(model_cls, groups.get("sample", {}))
    train_config = build_config(TrainConfig, {k: groups[k][""] for k in train_keys if k in groups}, "")
    if train_config.crop_seconds and train_config.crop_seconds > data.segment_samples / data.sample_rate:
        raise AudiozooError(f"crop_seconds={train_config.crop_seconds:g} is longer than a segment "
                            f"({data.segment_samples / data.sample_rate:g} s); use a shorter crop or longer segments")
    return {"run": {**names, **asdict(train_config)}, "model": asdict(model_config),
            "repr": asdict(rep.config), "data": asdict(data), "sample": asdict(options)}


def sample_options(model_cls: type[GenerativeModel], values: dict[str, Any]) -> SampleOptions:
    """``sample.KEY=VALUE`` settings checked against the model's ``SampleOptions`` (one-line errors naming them)."""
    if values and not setting_names(model_cls.SampleOptions):
        raise AudiozooError(f"model {model_cls.name!r} takes no sampling options (got sample.{next(iter(values))})")
    return build_config(model_cls.SampleOptions, values, "sample")


def settings_as_overrides(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tables of config.toml back into ``key=value`` overrides (to start a run like another).

    ``runs_dir`` is left out: a shared file says what to train, not where this user's files go.
    """
    flat = {k: v for k, v in settings["run"].items() if k != "runs_dir"}
    for table in TABLES:
        flat.update({f"{table}.{k}": v for k, v in settings.get(table, {}).items()})
    return flat


def train_config_of(settings: dict[str, dict[str, Any]]) -> TrainConfig:
    """The run's own settings (the ``[run]`` table less the plugin names), checked again."""
    return build_config(TrainConfig, {k: v for k, v in settings["run"].items() if k not in PLUGIN_KEYS}, "")


def clip_samples(settings: dict[str, dict[str, Any]]) -> int:
    """Samples of the clips the model is built for: a crop's, or a whole segment's."""
    data = api.get_dataset(settings["run"]["data"], **settings["data"]).config
    crop = train_config_of(settings).crop_seconds
    return round(crop * data.sample_rate) if crop else data.segment_samples


def read_config_overrides(source: Path) -> dict[str, Any]:
    """``config=FILE``: the settings of a shared file, or of a run directory's own, as overrides."""
    return settings_as_overrides(read_config(RunDir(source).config if source.is_dir() else source))
