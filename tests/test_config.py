"""Nested settings: a dataclass field of a Config is reachable by dotted keys, tables and presets."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Literal

import pytest

from audiozoo.config import as_dict, build_config, setting_keys
from audiozoo.errors import AudiozooError
from audiozoo.overrides import apply_preset, parse_overrides, split_namespaces


@dataclass
class Solver:
    order: int = 1


@dataclass
class Schedule:
    steps: int = 10
    kind: Literal["cosine", "linear"] = "cosine"
    solver: Solver = field(default_factory=Solver)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")


@dataclass
class ModelSettings:
    lr: float = 1e-3
    schedule: Schedule = field(default_factory=lambda: Schedule(steps=50))  # the model's own default differs
    ema: Schedule | None = None


def model_settings(*args: str) -> ModelSettings:
    """``model.*`` command-line arguments through the CLI's own parsing, built as the model's config."""
    return build_config(ModelSettings, split_namespaces(parse_overrides(args), ("model",))["model"], "model")


def test_dotted_keys_reach_nested_settings_and_the_rest_keep_the_enclosing_default():
    config = model_settings("model.schedule.kind=linear", "model.lr=0.01")
    assert config == ModelSettings(lr=0.01, schedule=Schedule(steps=50, kind="linear"))
    assert model_settings("model.schedule.solver.order=2").schedule == Schedule(steps=50, solver=Solver(2))
    assert model_settings("model.schedule.steps=10").schedule.steps == 10


def test_config_toml_tables_round_trip():
    config = model_settings("model.schedule.steps=8", "model.schedule.solver.order=3")
    text = """
    [model]
    lr = 0.001
    ema = "none"
    [model.schedule]
    steps = 8
    kind = "cosine"
    [model.schedule.solver]
    order = 3
    """
    table = tomllib.loads(text)["model"]
    assert table == {**as_dict(config), "ema": "none"}
    assert build_config(ModelSettings, table, "model") == config


def test_config_toml_as_audiozoo_writes_it_reads_back_nested_settings(tmp_path):
    from audiozoo.runs.tomlfile import write_toml

    config = model_settings("model.schedule.steps=8", "model.schedule.solver.order=3")
    write_toml(tmp_path / "config.toml", {"model": as_dict(config)})
    table = tomllib.loads((tmp_path / "config.toml").read_text())["model"]
    assert build_config(ModelSettings, table, "model") == config


def test_presets_set_nested_keys_and_the_user_still_wins():
    presets = {"fast": {"model.schedule.steps": 4, "model.schedule.kind": "linear"}}
    overrides = apply_preset(parse_overrides(["preset=fast", "model.schedule.steps=6"]), presets)
    config = build_config(ModelSettings, split_namespaces(overrides, ("model",))["model"], "model")
    assert config.schedule == Schedule(steps=6, kind="linear")


def test_an_optional_nested_setting_is_built_from_its_own_defaults():
    assert model_settings("model.ema.steps=3").ema == Schedule(steps=3)
    assert model_settings("model.ema=none").ema is None


def test_unknown_nested_key_names_the_valid_ones_closest_first():
    with pytest.raises(AudiozooError) as err:
        model_settings("model.schedule.stepz=3")
    assert str(err.value) == ("unknown key 'model.schedule.stepz'; choose from: model.schedule.steps, "
                              "model.schedule.kind, model.schedule.solver.order")
    with pytest.raises(AudiozooError, match=r"^unknown key 'model.schedul.steps'; choose from: model.schedule.steps, "):
        model_settings("model.schedul.steps=3")
    with pytest.raises(AudiozooError, match=r"^unknown key 'model.lr.x'; choose from: model.lr, "):
        model_settings("model.lr.x=3")


def test_nested_values_are_checked_like_any_other():
    with pytest.raises(AudiozooError, match=r"bad value 'many' for model.schedule.steps: expected an integer"):
        model_settings("model.schedule.steps=many")
    with pytest.raises(AudiozooError, match=r"bad value 'cosin' for model.schedule.kind; choose from: cosine, "):
        model_settings("model.schedule.kind=cosin")
    with pytest.raises(AudiozooError, match=r"^bad settings for model.schedule: steps must be at least 1, got 0$"):
        model_settings("model.schedule.steps=0")
    with pytest.raises(AudiozooError, match=r"bad value 3 for model.schedule: expected settings \(model.schedule.steps, "):
        model_settings("model.schedule=3")


def test_setting_keys_spell_out_every_leaf():
    assert setting_keys(ModelSettings, "model.") == [
        "model.lr", "model.schedule.steps", "model.schedule.kind", "model.schedule.solver.order",
        "model.ema.steps", "model.ema.kind", "model.ema.solver.order"]


def test_cli_reports_an_unknown_nested_key_in_one_line_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from audiozoo.cli import cli

    result = CliRunner().invoke(cli, ["run", "model=vae_convpool", "model.widths.first=3",
                                      f"runs_dir={tmp_path}"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("Error: unknown key 'model.widths.first'; choose from: ")
