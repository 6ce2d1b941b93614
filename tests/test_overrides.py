from dataclasses import dataclass, field
from typing import Literal

import pytest

from audiozoo.config import build_config
from audiozoo.errors import AudiozooError
from audiozoo.overrides import apply_preset, parse_overrides, parse_value, split_namespaces


@pytest.mark.parametrize(
    "text, value",
    [
        ("128", 128),
        ("1e-5", 1e-5),
        ("true", True),
        ("mel", "mel"),
        ('"quoted words"', "quoted words"),
        ("/data/GTZAN/genres", "/data/GTZAN/genres"),
        ("[classical,jazz]", ["classical", "jazz"]),
        ('["a b", 2]', ["a b", 2]),
        ("[1, 2, 3]", [1, 2, 3]),
        ("[]", []),
        ("", ""),
    ],
)
def test_values_parse_as_toml_with_bare_words_as_strings(text, value):
    assert parse_value(text) == value


def test_dotted_overrides_group_by_namespace():
    overrides = parse_overrides(["repr=mel", "repr.n_mels=128", "data=gtzan", "data.genres=[classical,jazz]"])
    groups = split_namespaces(overrides, ("repr", "data"))
    assert groups == {"repr": {"": "mel", "n_mels": 128}, "data": {"": "gtzan", "genres": ["classical", "jazz"]}}


def test_unknown_top_level_key_and_missing_equals_are_errors():
    with pytest.raises(AudiozooError, match="unknown key 'rep.n_mels'; choose from: repr, data"):
        split_namespaces({"rep.n_mels": 1}, ("repr", "data"))
    with pytest.raises(AudiozooError, match="expected key=value"):
        parse_overrides(["repr"])


def test_presets_expand_and_user_overrides_win():
    presets = {"small": {"description": "x", "repr": "stft", "repr.n_fft": 256}}
    assert apply_preset({"preset": "small", "repr.n_fft": 128}, presets) == {"repr": "stft", "repr.n_fft": 128}
    with pytest.raises(AudiozooError, match="unknown preset 'smal'; choose from: small"):
        apply_preset({"preset": "smal"}, presets)


def test_a_default_preset_applies_only_where_asked_and_per_model():
    presets = {"default": {"epochs": 1000, "models": {"gan": {"batch_size": 10}}}}
    assert apply_preset({"model": "gan"}, presets) == {"model": "gan"}
    assert apply_preset({"model": "gan"}, presets, default="default") == {"epochs": 1000, "batch_size": 10,
                                                                          "model": "gan"}
    assert apply_preset({"model": "vae", "epochs": 2}, presets, default="default") == {"epochs": 2, "model": "vae"}


@dataclass
class Settings:
    n_fft: int = 512
    scale: float = 1.0
    form: Literal["complex", "magnitude"] = "complex"
    floor: float | None = None
    genres: list[str] = field(default_factory=lambda: ["classical"])


def test_build_config_checks_types_and_choices():
    config = build_config(Settings, {"n_fft": 256, "scale": 2, "form": "magnitude", "floor": "none", "genres": "jazz"}, "repr")
    assert config == Settings(256, 2.0, "magnitude", None, ["jazz"])
    assert isinstance(config.scale, float)
    with pytest.raises(AudiozooError, match=r"bad value 'loud' for repr.n_fft: expected an integer, got a string"):
        build_config(Settings, {"n_fft": "loud"}, "repr")
    with pytest.raises(AudiozooError, match=r"bad value 'magnitud' for repr.form; choose from: magnitude, complex"):
        build_config(Settings, {"form": "magnitud"}, "repr")
    with pytest.raises(AudiozooError, match=r"expected an integer, got true or false"):
        build_config(Settings, {"n_fft": True}, "repr")


def test_unknown_setting_lists_valid_keys_closest_first():
    with pytest.raises(AudiozooError) as err:
        build_config(Settings, {"nfft": 3}, "repr")
    assert str(err.value).startswith("unknown key 'repr.nfft'; choose from: repr.n_fft, ")
    assert "repr.genres" in str(err.value)


def test_none_values_keep_defaults():
    assert build_config(Settings, {"n_fft": None}, "repr") == Settings()


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_float_settings_must_be_finite(text):
    @dataclass
    class Config:
        lr: float = 1e-3

    with pytest.raises(AudiozooError, match=f"bad value {text} for model.lr: expected a finite number"):
        build_config(Config, {"lr": parse_value(text)}, "model")
