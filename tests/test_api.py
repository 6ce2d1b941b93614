"""The Python API mirrors the CLI: same names, same settings, same errors."""

import pytest

import audiozoo
from audiozoo.errors import AudiozooError


def test_list_functions_take_patterns():
    assert "waveform" in audiozoo.list_representations()
    assert audiozoo.list_datasets(include="g*") == ["gtzan"]
    assert "gtzan" not in audiozoo.list_datasets(exclude=["g*"])
    assert audiozoo.list_models() == [] or all(isinstance(n, str) for n in audiozoo.list_models())


def test_get_functions_check_settings_like_the_cli():
    rep = audiozoo.get_representation("waveform", standardize=False, sample_rate=8000)
    assert rep.sample_rate == 8000 and rep.config.standardize is False
    assert rep.shape(16000) == (1, 16000)
    with pytest.raises(AudiozooError, match="unknown key 'repr.standardise'; choose from: repr.standardize"):
        audiozoo.get_representation("waveform", standardise=False)
    with pytest.raises(AudiozooError, match="unknown representation 'wave'"):
        audiozoo.get_representation("wave")
    source = audiozoo.get_dataset("gtzan", root="/data", genres=["jazz"])
    assert source.config.genres == ["jazz"] and source.config.sample_rate == 3150


def test_default_dataset_is_the_embedded_one():
    assert audiozoo.get_dataset().name == "classical"
