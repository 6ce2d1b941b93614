"""Note evidence (plugins/notes.py): basic-pitch's note model, run through onnxruntime, recovers
known notes from a clip at 3150 Hz, hears none in noise, decodes exactly as basic-pitch does, and
without the model the metric is NaN with a one-line reason."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from audiozoo_plugins import notes
from conftest import SAMPLE_RATE

from audiozoo import get_metric

ABSENT = notes.model_file() if isinstance(notes.model_file(), str) else (
    None if importlib.util.find_spec("onnxruntime") else "onnxruntime not installed: pip install onnxruntime")
needs_model = pytest.mark.skipif(ABSENT is not None, reason=str(ABSENT))

KNOWN = [(60, 0.5, 1.3), (64, 1.5, 2.3), (67, 2.5, 3.3), (72, 3.5, 4.1), (52, 4.5, 5.7), (57, 4.5, 5.7), (61, 4.5, 5.7)]
"""(MIDI pitch, start s, end s): a rising line, then a three-note chord."""


def render(known: list[tuple[int, float, float]], seconds: float = 6.5) -> torch.Tensor:
    """Harmonic tones (harmonics below 90 % of Nyquist, 1/h amplitudes), 10 ms attacks, 30 ms releases, decaying."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    for midi, start, end in known:
        f0 = 440 * 2 ** ((midi - 69) / 12)
        envelope = np.clip((t - start) / 0.01, 0, 1) * np.clip((end - t) / 0.03, 0, 1) * np.exp(-1.5 * np.clip(t - start, 0, None))
        out += envelope * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6) if h * f0 < 0.45 * SAMPLE_RATE)
    return torch.tensor(out[None], dtype=torch.float32)


@pytest.fixture(scope="module")
def melody() -> notes.ClipNotes:
    return notes.note_features(SAMPLE_RATE, render(KNOWN))[0]


@pytest.fixture(scope="module")
def noise() -> notes.ClipNotes:
    clip = render(KNOWN)
    return notes.note_features(SAMPLE_RATE, torch.randn(clip.shape, generator=torch.Generator().manual_seed(0)) * clip.std())[0]


@needs_model
def test_known_notes_are_recovered_with_their_pitch_and_duration(melody):
    for midi, start, end in KNOWN:
        found = melody.notes[melody.notes[:, 2] == midi]
        assert len(found) == 1, (midi, melody.notes)
        assert abs(found[0, 0] - start) < 0.06 and abs(found[0, 1] - end) < 0.1, (midi, found)
    expected_classes = sorted({midi % 12 for midi, _, _ in KNOWN})
    assert melody.pitch_classes[expected_classes].sum() > 0.85, melody.pitch_classes
    chord = melody.polyphony[round(4.8 / notes.FRAME_SECONDS):round(5.5 / notes.FRAME_SECONDS)]
    assert np.median(chord) >= 3 and melody.onset_rate == pytest.approx(len(melody.notes) / 6.5, rel=0.01)
    assert melody.windows.shape == (3, len(notes.WINDOW_FEATURES))  # three whole 2 s windows in 6.5 s


@needs_model
def test_noise_has_few_confident_frames_and_few_notes(melody, noise):
    assert (melody.confidence > 0.5).mean() > 0.5
    assert (noise.confidence > 0.5).mean() < 0.05
    assert noise.onset_rate < 2.0 and (noise.notes[:, 3] < 0.5).all(), noise.notes
    confidence, entropy = (notes.WINDOW_FEATURES.index(f) for f in ("confidence", "pitch_class_entropy"))
    assert noise.windows[:, confidence].max() < melody.windows[:, confidence].min()
    assert noise.windows[:, entropy].min() > melody.windows[:, entropy].max()  # a haze on every pitch class


@needs_model
def test_a_clip_shorter_than_a_window_is_one_window():
    short = notes.note_features(SAMPLE_RATE, render([(60, 0.1, 0.8)], seconds=1.0))[0]
    assert short.windows.shape == (1, len(notes.WINDOW_FEATURES))


@needs_model
def test_decoding_is_basic_pitchs_own(melody, noise, monkeypatch):
    """The port gives the notes basic-pitch's ``output_to_notes_polyphonic`` gives, on the same activations."""
    for name in ("mir_eval", "pretty_midi", "resampy"):  # imported by note_creation for what we do not call
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(PrettyMIDI=object))
    try:
        original = importlib.import_module("basic_pitch.note_creation")
    except ImportError as err:
        pytest.skip(f"basic_pitch.note_creation does not import here: {err}")
    for clip in (render(KNOWN), torch.randn(1, 20000, generator=torch.Generator().manual_seed(1))):
        note, onset = notes.activations(notes.note_session(), clip.numpy(), SAMPLE_RATE)
        keys = notes.max_key(SAMPLE_RATE) - notes.LOWEST_MIDI + 1
        full = [np.where(np.arange(88) < keys, a[0], 0.0) for a in (note, onset)]  # as its max_freq does
        theirs = original.output_to_notes_polyphonic(*full, onset_thresh=0.5, frame_thresh=0.3, min_note_len=11,
                                                     infer_onsets=True, max_freq=None, min_freq=None)
        ours = notes.decode_notes(note[0, :, :keys], onset[0, :, :keys])
        np.testing.assert_allclose(ours, np.array(theirs, dtype=np.float64).reshape(-1, 4), rtol=1e-6)


def test_model_is_found_without_importing_basic_pitch():
    """basic_pitch's ``__init__`` probes TensorFlow, CoreML and TFLite: finding the file must not run it."""
    code = "import sys; from audiozoo_plugins.notes import model_file; model_file(); assert 'basic_pitch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_model_is_nan_with_a_one_line_reason(tmp_path):
    metric = get_metric("note_distance", weights=str(tmp_path / "missing.onnx"))
    clips = torch.randn(2, 2 * SAMPLE_RATE, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="note_distance is n/a: note model weights not found") as caught:
        value = metric(clips, clips)
    assert value.ndim == 0 and torch.isnan(value)
    assert "\n" not in str(caught[0].message)


def test_without_onnxruntime_the_reason_says_how_to_install(tmp_path, monkeypatch):
    weights = tmp_path / "nmp.onnx"
    weights.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    notes.note_session.cache_clear()
    try:
        assert notes.note_session(str(weights)) == "onnxruntime not installed: pip install onnxruntime"
    finally:
        notes.note_session.cache_clear()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_a_file_that_is_no_onnx_model_is_a_reason_not_a_crash(tmp_path):
    weights = tmp_path / "nmp.onnx"
    weights.write_bytes(b"not an onnx model")
    reason = notes.note_session(str(weights))
    assert isinstance(reason, str) and reason.startswith("cannot load note model") and "\n" not in reason
