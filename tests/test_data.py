"""The data pipeline: GTZAN and folder layouts, bad input, the cache, the split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import audiozoo.data.audio as audio_module
import audiozoo.data.prepare as prepare_module
from audiozoo import api
from audiozoo.data.audio import load_clip
from audiozoo.data.prepare import QUIET_SEGMENT_PEAK
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
    assert "silent segments left out: 1, of 1 file" in summary and "  short.wav: 1 segment at 1 s" in summary


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


# -- whole files, silence, padding, sample rates ------------------------------------------------------------


def test_windows_all_cuts_every_file_with_hops_and_a_last_partial_segment(tmp_path):
    root = tmp_path / "music"
    write_music(root / "long.wav", 4.5, SR_IN)  # 4.5 s: four whole 1 s segments and a half one
    write_music(root / "tiny.wav", 0.5, SR_IN, seed=1)  # shorter than a segment
    every = {"clip_seconds": 2.0, "segments": 2, "windows": "all", "sample_rate": 3150}
    data = api.prepare("folder", root=str(root), progress=False, **every)
    assert list(np.bincount(data.segment_file)) == [5, 1]  # long.wav: 4 + the padded half; tiny.wav: padded
    whole = load_clip(root / "long.wav", 3150)
    np.testing.assert_array_equal(data.segments[:4].reshape(-1), whole[: 4 * 3150])
    np.testing.assert_array_equal(data.segments[4, :1575], whole[4 * 3150 :])
    assert not data.segments[4, 1575:].any() and data.use[0].padding == 0.5 and data.use[0].used == 4.5
    assert "tiny.wav: shorter than a segment (0.5 s < 1 s); kept (data.short=pad)" in data.summary()
    # Overlapping: a segment every 0.5 s; the last whole one ends at 4.5 s, so no partial one is needed.
    hops = api.prepare("folder", root=str(root), hop_seconds=0.5, progress=False, **every)
    assert np.bincount(hops.segment_file)[0] == 8 and hops.use[0].used == 4.5
    np.testing.assert_array_equal(hops.segments[1], whole[1575 : 1575 + 3150])
    # short=skip drops the last partial segment and the file shorter than one.
    dropped = api.prepare("folder", root=str(root), short="skip", progress=False, **every)
    assert dropped.files == ["long.wav"] and len(dropped.segments) == 4 and "tiny.wav" in dropped.skipped
    assert "used:         4.0 of 4.5 s of the files' audio; 0.5 s left out" in dropped.summary()


def test_hop_seconds_is_for_windows_all():
    with pytest.raises(AudiozooError, match="hop_seconds .* is for windows=all"):
        api.get_dataset("folder", root=".", hop_seconds=0.5)


def test_first_mode_says_how_much_of_each_file_was_left_out(tmp_path):
    root = tmp_path / "music"
    write_music(root / "long.wav", 12.0, 3150)
    write_music(root / "fits.wav", 2.0, 3150, seed=1)
    summary = api.prepare("folder", root=str(root), progress=False, **FAST).summary()
    assert "used:         4.0 of 14.0 s of the files' audio; 10.0 s left out past data.clip_seconds" in summary
    assert "  long.wav: 10.0 of 12.0 s left out" in summary and "fits.wav:" not in summary


def test_padding_never_leaves_a_silent_segment_and_the_summary_counts_real_audio(tmp_path, caplog):
    """Many files much shorter than the clip: each one's second half is all zeros."""
    root = tmp_path / "music"
    for i in range(12):
        write_music(root / f"{i:02d}.wav", 0.5, SR_IN, seed=i)
    with caplog.at_level(logging.WARNING):
        data = api.prepare("folder", root=str(root), progress=False, **FAST)
    assert len(data.segments) == 12 and np.abs(data.segments).max(axis=1).min() > QUIET_SEGMENT_PEAK
    summary = data.summary()
    assert "audio:        6.0 s (and 6.0 s of zero padding)" in summary  # not 24 s
    assert "silent segments left out: 12, of 12 files" in summary and "  00.wav: 1 segment at 1 s" in summary
    assert f"  … and 2 more ({data.path / 'meta.json'} lists them all)" in summary
    assert "left out 12 silent segments" in caplog.text
    assert sorted(json.loads((data.path / "meta.json").read_text())["dropped"]) == sorted(data.files)
    kept = api.prepare("folder", root=str(root), silent="keep", progress=False, **FAST)
    assert len(kept.segments) == 24 and not kept.dropped


def test_a_file_of_only_quiet_segments_is_skipped(tmp_path):
    root = tmp_path / "music"
    write_music(root / "music.wav", 2.5, SR_IN)
    quiet = 5e-4 * sf.read(root / "music.wav", dtype="float32")[0] / 0.5  # peak -66 dBFS: quiet, not digital silence
    float_wav(root / "quiet.wav", quiet)
    data = api.prepare("folder", root=str(root), progress=False, **FAST)
    assert data.files == ["music.wav"] and data.skipped == {"quiet.wav": "every segment peaks at or below -60 dBFS"}


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_every_common_sample_rate_prepares_whole_files(tmp_path, rate):
    root = tmp_path / "music"
    write_music(root / "a.flac", 2.25, rate)
    data = api.prepare("folder", root=str(root), sample_rate=rate, clip_seconds=1.0, segments=2, windows="all",
                       progress=False)
    assert data.segments.shape == (5, rate // 2)  # four half-second segments and a quarter one, padded
    np.testing.assert_array_equal(data.segments[:4].reshape(-1), sf.read(root / "a.flac", dtype="float32")[0][: 2 * rate])
    assert data.use[0].rate == rate and "upsampled" not in data.summary()


def test_a_rate_above_the_files_own_is_warned_of(tmp_path, caplog):
    root = tmp_path / "music"
    write_music(root / "a.wav", 1.5, 22050)
    write_music(root / "b.wav", 1.5, 44100, seed=1)
    with caplog.at_level(logging.WARNING):
        data = api.prepare("folder", root=str(root), sample_rate=44100, clip_seconds=1.0, progress=False)
    assert "upsampled:    1 file below data.sample_rate=44100 Hz (from 22050 Hz up): nothing in them above 11025 Hz" \
        in data.summary()
    assert "bands there model silence; data.sample_rate=22050" in caplog.text


# -- streaming into the cache -------------------------------------------------------------------------------


def test_decoding_in_small_blocks_gives_the_same_cache(tmp_path, monkeypatch):
    root = bad_folder(tmp_path / "music")
    whole = api.prepare("folder", root=str(root), cache_dir=str(tmp_path / "a"), progress=False, **FAST)
    monkeypatch.setattr(audio_module, "DECODE_BLOCK_SECONDS", 0.013)  # a block is a few hundred frames
    blocks = api.prepare("folder", root=str(root), cache_dir=str(tmp_path / "b"), progress=False, **FAST)
    np.testing.assert_array_equal(blocks.segments, whole.segments)
    assert blocks.skipped == whole.skipped


def test_prepare_writes_each_file_as_it_comes_and_keeps_few_in_memory(tmp_path, monkeypatch):
    """Structural flat memory: segments go to the cache file by plain appends of one file's rows at most,
    and at most ``ahead`` decoded files wait to be written, however many there are."""
    root = tmp_path / "music"
    for i in range(10):
        write_music(root / f"{i}.wav", 2.5, SR_IN, seed=i)
    appended, waiting, taken = [], [], []
    real_append = RowWriter.append

    def append(self, rows):
        appended.append(len(rows))
        real_append(self, rows)

    real_in_order = prepare_module.in_order

    def counting(pool, fn, items, ahead):
        done = []

        def wrapped(item):
            result = fn(item)
            done.append(item)
            return result

        for result in real_in_order(pool, wrapped, items, ahead):
            taken.append(result)
            waiting.append(len(done) - len(taken))
            yield result

    monkeypatch.setattr(RowWriter, "append", append)
    monkeypatch.setattr(prepare_module, "in_order", counting)
    data = api.prepare("folder", root=str(root), workers=2, progress=False, **FAST)
    assert appended == [2] * 10 and len(data.segments) == 20  # one file's two halves per write
    assert max(waiting) <= 4  # 2 × workers decoded ahead at most


def test_in_order_submits_at_most_ahead():
    from concurrent.futures import ThreadPoolExecutor

    class Counting(ThreadPoolExecutor):
        submitted = 0

        def submit(self, *args, **kwargs):
            Counting.submitted += 1
            return super().submit(*args, **kwargs)

    with Counting(2) as pool:
        for taken, value in enumerate(prepare_module.in_order(pool, lambda x: x * x, range(100), 3), 1):
            assert value == (taken - 1) ** 2 and Counting.submitted - taken <= 3
    assert Counting.submitted == 100


def test_no_usable_audio_stops_run_and_bench_in_one_line_before_any_cell(tmp_path):
    from click.testing import CliRunner

    from audiozoo.cli import cli

    root = tmp_path / "silence"
    float_wav(root / "a.wav", np.zeros(SR_IN))
    data = [f"data.root={root}", "data=folder", f"runs_dir={tmp_path / 'runs'}"]
    for command, times in ((["run", "model=vae_1dconv"], 1), (["bench", "models=vae_1dconv", "reprs=mel", "name=b"], 2)):
        for _ in range(times):  # a bench again: nothing was left half-done to retry
            result = CliRunner().invoke(cli, [*command, "preset=debug", *data])
            assert result.exit_code == 2, result.output
            assert result.output.strip().splitlines()[-1] == \
                "Error: no usable audio in dataset 'folder': all 1 files were skipped (a.wav: digital silence)"
            assert "Traceback" not in result.output and "[1/1]" not in result.output  # no cell started, none retried
            assert "run directory" not in result.output  # refused before a run was announced
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing left behind
