"""The data pipeline: GTZAN and folder layouts, bad input, the cache, the split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import audiozoo.data.prepare as prepare_module
from audiozoo import api
from audiozoo.data.audio import load_clip
from audiozoo.data.store import RowWriter
from audiozoo.errors import AudiozooError
from conftest import write_music

SR_IN = 22050
FAST = {"clip_seconds": 2.0, "sample_rate": 3150}  # 2 s clips keep decoding quick


def gtzan_tree(root: Path, genres=("classical", "jazz"), per_genre=5, suffix=".wav") -> Path:
    """GTZAN's exact layout, jazz.00054.wav corrupt as in the widely used copy."""
    for genre in genres:
        for i in range(per_genre):
            write_music(root / genre / f"{genre}.{i:05d}{suffix}", 2.5, SR_IN, seed=i + 10 * len(genre))
    (root / "jazz").mkdir(parents=True, exist_ok=True)
    (root / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64))
    return root


def test_report_pipeline_shapes_on_gtzan_layout(tmp_path):
    root = gtzan_tree(tmp_path / "GTZAN")
    data = api.prepare("gtzan", root=str(root), progress=False, **FAST)
    assert data.files == [f"classical/classical.{i:05d}.wav" for i in range(5)]
    assert data.segments.shape == (10, 3150)  # 2 s at 3150 Hz, in halves
    assert data.segments.dtype == np.float32
    # Each segment is the matching half of the resampled clip, as librosa.load(sr=3150, duration=2) would cut it.
    clip = load_clip(root / "classical" / "classical.00003.wav", 3150, 2.0)
    np.testing.assert_array_equal(data.segments[6], clip[:3150])
    np.testing.assert_array_equal(data.segments[7], clip[3150:6300])


@pytest.mark.parametrize("wrapper", ["genres", "genres_original"])
def test_gtzan_accepts_wrapped_roots_and_survives_the_corrupt_file(tmp_path, wrapper, caplog):
    root = tmp_path / "GTZAN"
    gtzan_tree(root / wrapper, suffix=".au" if wrapper == "genres" else ".wav")
    with caplog.at_level(logging.WARNING):
        data = api.prepare("gtzan", root=str(root), genres=["classical", "jazz"], progress=False, **FAST)
    assert len(data.files) == 10
    assert list(data.skipped) == ["jazz/jazz.00054.wav"]
    assert "skipped jazz/jazz.00054.wav" in caplog.text
    with pytest.raises(AudiozooError, match="cannot use jazz/jazz.00054.wav: .*strict=true"):
        api.prepare("gtzan", root=str(root), genres=["jazz"], strict=True, progress=False, **FAST)


def test_gtzan_unknown_genre_and_missing_root(tmp_path):
    root = gtzan_tree(tmp_path / "GTZAN")
    with pytest.raises(AudiozooError, match=r"unknown genre .* 'jaz'; choose from: jazz, classical"):
        api.prepare("gtzan", root=str(root), genres=["jaz"], progress=False)
    with pytest.raises(AudiozooError, match="GTZAN folder not found"):
        api.prepare("gtzan", root=str(tmp_path / "nowhere"), progress=False)
    with pytest.raises(AudiozooError, match="data.root=PATH"):
        api.prepare("gtzan", progress=False)


def bad_folder(root: Path) -> Path:
    write_music(root / "good" / "mono.flac", 2.5, 44100)
    write_music(root / "good" / "stereo.wav", 2.5, 48000, channels=2)
    write_music(root / "good" / "deep" / "vorbis.ogg", 2.5, 16000)
    write_music(root / "short.wav", 1.0, SR_IN)
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.mp3").write_text("this is not audio")
    full = write_music(root / "truncated.wav", 2.5, SR_IN).read_bytes()
    (root / "truncated.wav").write_bytes(full[:30])  # header cut in half
    (root / "readme.txt").write_text("not listed: not an audio suffix")
    return root


def test_folder_skips_bad_files_with_reasons_and_mixes_and_resamples(tmp_path):
    data = api.prepare("folder", root=str(bad_folder(tmp_path / "music")), progress=False, **FAST)
    assert data.files == ["good/deep/vorbis.ogg", "good/mono.flac", "good/stereo.wav", "short.wav"]
    assert sorted(data.skipped) == ["empty.wav", "notes.mp3", "truncated.wav"]
    assert all(reason for reason in data.skipped.values())
    # short.wav (1 s) is zero-padded to the 2 s clip by default: its second half, all zeros, is left out.
    assert data.segments.shape == (7, 3150)
    assert np.abs(data.segments).max(axis=1).min() > 0.1
    summary = data.summary()
    assert "skipped:      3" in summary and "truncated.wav:" in summary
    assert "silent segments left out: 1 of 1 files" in summary and "  short.wav: 1 segment at 1 s" in summary


def test_short_files_can_be_skipped_instead(tmp_path):
    data = api.prepare("folder", root=str(bad_folder(tmp_path / "music")), short="skip", progress=False, **FAST)
    assert "short.wav" not in data.files
    assert data.skipped["short.wav"].startswith("shorter than the clip (1.0 s < 2 s)")


def test_stereo_is_mixed_down_before_resampling(tmp_path):
    path = write_music(tmp_path / "s.wav", 1.0, 3150, channels=2)
    stereo = sf.read(path, dtype="float32")[0]
    np.testing.assert_allclose(load_clip(path, 3150), stereo.mean(axis=1), atol=1e-6)


def test_empty_dataset_is_a_clear_error(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(AudiozooError, match="has no audio files under"):
        api.prepare("folder", root=str(tmp_path / "none"), progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.wav").write_bytes(b"")
    with pytest.raises(AudiozooError, match="all 1 files were skipped"):
        api.prepare("folder", root=str(tmp_path / "bad"), progress=False)


def test_second_run_reads_the_cache_without_decoding(tmp_path, monkeypatch):
    root = gtzan_tree(tmp_path / "GTZAN")
    first = api.prepare("gtzan", root=str(root), progress=False, **FAST)
    assert not first.from_cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded audio on a cached run")

    monkeypatch.setattr(prepare_module, "AudioStream", no_decoding)
    monkeypatch.setattr(sf, "read", no_decoding)
    second = api.prepare("gtzan", root=str(root), progress=False, **FAST)
    assert second.from_cache and second.path == first.path
    assert isinstance(second.segments, np.memmap)
    np.testing.assert_array_equal(second.segments, first.segments)
    assert second.skipped == first.skipped


def test_cache_is_keyed_by_files_and_settings(tmp_path):
    root = gtzan_tree(tmp_path / "GTZAN")
    base = api.prepare("gtzan", root=str(root), progress=False, **FAST).path
    assert api.prepare("gtzan", root=str(root), progress=False, **{**FAST, "segments": 4}).path != base
    assert api.prepare("gtzan", root=str(root), test_fraction=0.5, progress=False, **FAST).path == base  # split only
    write_music(root / "classical" / "classical.00099.wav", 2.5, SR_IN)
    assert api.prepare("gtzan", root=str(root), progress=False, **FAST).path != base


def test_a_failed_write_leaves_no_cache_entry(tmp_path, monkeypatch, private_cache):
    root = gtzan_tree(tmp_path / "GTZAN")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RowWriter, "append", disk_full)
    with pytest.raises(OSError):
        api.prepare("gtzan", root=str(root), progress=False, **FAST)
    assert list(private_cache.iterdir()) == []  # neither an entry nor a temporary folder
    monkeypatch.undo()
    monkeypatch.setenv("AUDIOZOO_CACHE", str(private_cache))
    assert not api.prepare("gtzan", root=str(root), progress=False, **FAST).from_cache


def test_cache_dir_setting_wins_over_environment(tmp_path):
    root = gtzan_tree(tmp_path / "GTZAN")
    data = api.prepare("gtzan", root=str(root), cache_dir=str(tmp_path / "mine"), progress=False, **FAST)
    assert data.path.parent == tmp_path / "mine"


def test_split_is_by_file_deterministic_and_stable(tmp_path):
    root = gtzan_tree(tmp_path / "GTZAN", genres=("classical",), per_genre=10)
    data = api.prepare("gtzan", root=str(root), progress=False, **FAST)
    train, test = data.split_indices()
    assert len(test) == 4 and len(train) == 16  # 2 of 10 files, two halves each
    assert not {data.segment_file[i] for i in train} & {data.segment_file[i] for i in test}
    again = api.prepare("gtzan", root=str(root), progress=False, **FAST)
    assert again.test_files == data.test_files
    other_seed = api.prepare("gtzan", root=str(root), split_seed=1, progress=False, **FAST)
    assert other_seed.test_files != data.test_files
    np.testing.assert_array_equal(data.test, data.segments[test])


def test_embedded_dataset_is_real_and_prepares(music):
    data = api.prepare(progress=False)
    assert len(data.files) >= 60 and not data.skipped
    assert data.segments.shape == (2 * len(data.files), 45675)
    rms = np.sqrt((np.asarray(data.segments) ** 2).mean(axis=1))
    assert (rms > 0.01).all()  # no silent segments


def float_wav(path: Path, wave: np.ndarray, sample_rate: int = SR_IN) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype(np.float32), sample_rate, subtype="FLOAT")
    return path


def test_clips_are_checked_after_resampling_and_each_setting_decides(tmp_path, caplog):
    root = tmp_path / "music"
    for i in range(3):
        write_music(root / f"good{i}.wav", 2.5, SR_IN, seed=i)
    tone = sf.read(root / "good0.wav", dtype="float32")[0]
    float_wav(root / "huge.wav", np.where(np.arange(len(tone)) == 999, 3e38, tone))
    float_wav(root / "nan.wav", np.where(np.arange(len(tone)) == 999, np.nan, tone))
    float_wav(root / "spike.wav", np.where(np.arange(len(tone)) == 999, 1e20, tone))
    float_wav(root / "zeros.wav", np.zeros_like(tone))
    with caplog.at_level(logging.WARNING):
        data = api.prepare("folder", root=str(root), progress=False, **FAST)
    assert sorted(data.skipped) == ["huge.wav", "nan.wav", "spike.wav", "zeros.wav"]
    assert data.skipped["nan.wav"].startswith("contains NaN or infinite samples")
    assert "absurd amplitude" in data.skipped["spike.wav"] and data.skipped["zeros.wav"] == "digital silence"
    assert "skipped zeros.wav: digital silence" in caplog.text
    assert np.isfinite(data.segments).all() and np.abs(data.segments).max() <= 1
    kept = api.prepare("folder", root=str(root), silent="keep", loud="keep", progress=False, **FAST)
    assert sorted(kept.skipped) == ["nan.wav"]  # non-finite: never usable
    assert "kept (data.silent=keep)" in kept.warnings["zeros.wav"] and "zeros.wav" in kept.summary()


def test_short_files_are_padded_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        data = api.prepare("folder", root=str(bad_folder(tmp_path / "music")), progress=False, **FAST)
    assert "short.wav: shorter than the clip (1.0 s < 2 s); kept (data.short=pad)" in caplog.text
    assert "kept, with a warning: 1" in data.summary()


def test_strict_is_honoured_on_a_cache_hit(tmp_path):
    root = bad_folder(tmp_path / "music")
    assert api.prepare("folder", root=str(root), progress=False, **FAST).skipped  # cached, bad files skipped
    with pytest.raises(AudiozooError, match="strict=true"):
        api.prepare("folder", root=str(root), strict=True, progress=False, **FAST)


def test_a_mostly_silent_dataset_is_an_error(tmp_path):
    root = tmp_path / "music"
    write_music(root / "a.wav", 0.4, SR_IN)
    write_music(root / "b.wav", 0.4, SR_IN, seed=1)
    with pytest.raises(AudiozooError, match="mostly silence: 6 of 8 segments"):
        api.prepare("folder", root=str(root), segments=4, progress=False, **FAST)
