import pytest

from audiozoo.errors import AudiozooError
from audiozoo.registry import Registry


def make() -> Registry:
    registry = Registry("representation")
    for name in ("mel", "mfcc", "stft", "waveform"):
        registry.register(name, object(), provider=f"plugin {name}")
    return registry


def test_duplicate_names_both_providers():
    registry = make()
    with pytest.raises(AudiozooError, match="'mel' is registered twice: by plugin mel and by plugin other"):
        registry.register("mel", object(), provider="plugin other")


def test_unknown_name_lists_closest_first():
    with pytest.raises(AudiozooError) as err:
        make().get("mell")
    assert str(err.value) == "unknown representation 'mell'; choose from: mel, mfcc, stft, waveform"
    with pytest.raises(AudiozooError, match="choose from: stft, "):
        make().get("sftf")


def test_list_with_include_and_exclude_patterns():
    registry = make()
    assert registry.names() == ["mel", "mfcc", "stft", "waveform"]
    assert registry.names(include="m*") == ["mel", "mfcc"]
    assert registry.names(include=["m*", "s*"], exclude="mf*") == ["mel", "stft"]
    assert registry.names(exclude="*") == []


def test_names_must_be_identifiers():
    with pytest.raises(AudiozooError, match="not a valid identifier"):
        Registry("model").register("my model", object(), provider="x")
