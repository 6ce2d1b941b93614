"""data=manifest: a JSONL manifest (audiocraft's convention) names files, parts of files and metadata."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from audiozoo import api
from audiozoo.data.audio import load_clip
from audiozoo.errors import AudiozooError
from conftest import write_music

RATE = 3150
FAST = {"clip_seconds": 1.0, "segments": 1, "sample_rate": RATE, "test_fraction": 0.5}


def manifest(folder: Path, lines: list[object], name: str = "data.jsonl") -> Path:
    path = folder / name
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def songs(tmp_path) -> Path:
    for i in range(3):
        write_music(tmp_path / "audio" / f"s{i}.wav", 3.0, RATE, seed=i)
    return tmp_path


def test_relative_paths_parts_and_metadata(songs):
    path = manifest(songs, [
        {"path": "audio/s0.wav", "duration": 3.0, "sample_rate": RATE, "genre": "baroque"},
        "",  # blank lines are allowed
        {"path": str(songs / "audio" / "s1.wav"), "start": 1.0, "end": 2.5, "artist": "x"},
        {"path": "audio/s1.wav", "start": 0.0, "end": 1.0},
        {"path": "audio/s2.wav"},
    ])
    data = api.prepare("manifest", manifest=str(path), windows="all", progress=False, **FAST)
    assert data.files == ["audio/s0.wav", "audio/s1.wav [1-2.5 s]", "audio/s1.wav [0-1 s]", "audio/s2.wav"]
    assert data.sources == ["audio/s0.wav", "audio/s1.wav", "audio/s1.wav", "audio/s2.wav"]
    assert data.metadata[0] == {"duration": 3.0, "sample_rate": RATE, "genre": "baroque"}
    assert data.metadata[1] == {"artist": "x"}
    # s1 from 1.0 to 2.5 s: one whole 1 s segment, then a half one, zero-padded.
    part = np.asarray(data.segments[data.segment_file == 1])
    whole = load_clip(songs / "audio" / "s1.wav", RATE)
    np.testing.assert_array_equal(part[0], whole[RATE : 2 * RATE])
    np.testing.assert_array_equal(part[1, : RATE // 2], whole[2 * RATE : 2 * RATE + RATE // 2])
    assert not part[1, RATE // 2 :].any() and data.use[1].seconds == 1.5
    # Parts of one file go to the same side of the split, whichever files it holds out.
    for seed in range(8):
        held_out = api.prepare("manifest", manifest=str(path), windows="all", split_seed=seed, progress=False,
                               **FAST).test_files
        assert len(held_out) in (1, 2, 3) and ("audio/s1.wav [1-2.5 s]" in held_out) == ("audio/s1.wav [0-1 s]" in held_out)


def test_a_gzipped_manifest_reads_the_same(songs):
    lines = [{"path": "audio/s0.wav"}, {"path": "audio/s2.wav"}]
    plain = api.prepare("manifest", manifest=str(manifest(songs, lines)), progress=False, **FAST)
    zipped = api.prepare("manifest", manifest=str(manifest(songs, lines, "data.jsonl.gz")), progress=False, **FAST)
    assert zipped.files == plain.files
    np.testing.assert_array_equal(zipped.segments, plain.segments)


@pytest.mark.parametrize(("line", "message"), [
    ('{"path": "audio/s0.wav",}', r"line 2: not JSON \(.*column"),
    ('["audio/s0.wav"]', "line 2: not a JSON object but list"),
    ('{"file": "audio/s0.wav"}', 'line 2: no "path"'),
    ('{"path": 3}', 'line 2: "path" is 3, not a file name'),
    ('{"path": "audio/nope.wav"}', "line 2: no file at .*nope.wav"),
    ('{"path": "audio/s0.wav", "start": "1"}', "line 2: start must be a number of seconds at least 0, got '1'"),
    ('{"path": "audio/s0.wav", "sample_rate": -1}', "line 2: sample_rate must be a number of Hz"),
    ('{"path": "audio/s1.wav", "start": 2, "end": 1}', r"line 2: end \(1 s\) is not after start \(2 s\)"),
    ('{"path": "audio/s2.wav"}', "line 2: the same as line 1"),
])
def test_a_bad_line_is_one_error_naming_its_number(songs, line, message):
    path = manifest(songs, [{"path": "audio/s2.wav"}, line])
    with pytest.raises(AudiozooError, match=message) as caught:
        api.prepare("manifest", manifest=str(path), progress=False, **FAST)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_or_empty_manifest(songs):
    with pytest.raises(AudiozooError, match="data.manifest=PATH"):
        api.prepare("manifest", progress=False)
    with pytest.raises(AudiozooError, match="manifest not found"):
        api.prepare("manifest", manifest=str(songs / "none.jsonl"), progress=False)
    with pytest.raises(AudiozooError, match="lists no audio"):
        api.prepare("manifest", manifest=str(manifest(songs, ["", "  "])), progress=False)


def test_a_part_past_the_end_is_skipped_with_its_reason(songs):
    path = manifest(songs, [{"path": "audio/s0.wav"}, {"path": "audio/s1.wav", "start": 10}])
    data = api.prepare("manifest", manifest=str(path), progress=False, **FAST)
    assert data.skipped == {"audio/s1.wav [10-end s]": "starts at 10 s, past its end (3.0 s)"}
