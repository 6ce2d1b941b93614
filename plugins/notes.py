"""Note evidence: the notes a pretrained polyphonic transcriber hears in a clip.

Spotify's basic-pitch (Apache-2.0; its ONNX note model ships inside its wheel) turns 2 s windows
of 22050 Hz audio into 86 frames a second of note, onset and pitch-contour activations over the
88 piano keys. Real music gives it confident notes that start, hold and stop; noise gives it a
haze of weak activations and few notes. This module runs the model through onnxruntime (no
TensorFlow, no download), decodes note events exactly as basic-pitch does, and summarises each
clip by what a listener would call its notes: how long they last, how many sound at once, which
pitch classes they use, how often new ones start, and how sure the model is.

The model and onnxruntime are optional (``pip install onnxruntime`` and
``pip install --no-deps basic-pitch==0.4.0``: its declared dependencies pull TensorFlow); without
them :func:`note_session` says why in one line and the metric is NaN.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr
import torch

from audiozoo import hookimpl
from audiozoo.distances import mmd2, standardise
from audiozoo.metric import FeatureSetMetric, MetricConfig
from audiozoo.spectra import per_clips

MODEL_RATE = 22050
"""basic-pitch's input sample rate; clips at 3150 Hz arrive with nothing above 1575 Hz."""

WINDOW = 43844
"""Samples per model call: 2 s less one FFT hop (basic-pitch's ``AUDIO_N_SAMPLES``)."""

FRAMES = 172
"""Output frames per window, 256-sample hops."""

OVERLAP = 30
"""Frames shared by consecutive windows; half of them are dropped at each seam (basic-pitch's stitching)."""

HOP = WINDOW - OVERLAP * 256
"""Samples between window starts: 1.64 s."""

FRAME_SECONDS = HOP / (FRAMES - OVERLAP) / MODEL_RATE
"""Spacing of the stitched frames (11.6 ms)."""

ONSET_THRESHOLD, FRAME_THRESHOLD = 0.5, 0.3
"""basic-pitch's defaults: an onset peak this strong starts a note; it lasts while the note activation holds above 0.3."""

MIN_NOTE_FRAMES = 11
"""A note must last longer than this (basic-pitch's 127.7 ms)."""

ENERGY_TOL = 11
"""A note ends after this many frames in a row below the frame threshold."""

LOWEST_MIDI = 21
"""Key 0 of the model's 88 is A0."""

CHUNK = 16
"""Windows per session call: batching amortises the call, more only raises peak memory."""

INPUT, OUTPUTS = "serving_default_input_2:0", ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2")
"""The ONNX graph's names of the audio and of the note and onset activations (contour is not needed)."""

LEVEL_RMS, QUIET_RMS = 0.1, 1e-5
"""Clips go to the model at this RMS (a typical recording level); near-silent ones are left alone."""


def model_file(weights: str | Path | None = None) -> Path | str:
    """The ONNX note model: ``weights`` if given, else the one inside an installed basic-pitch
    wheel, found without importing basic_pitch (its ``__init__`` probes TensorFlow and CoreML).
    A string is the one-line reason there is none."""
    if weights:
        path = Path(weights).expanduser()
        return path if path.is_file() else f"note model weights not found: {path}"
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        return "note model not installed: pip install --no-deps basic-pitch==0.4.0"
    path = Path(next(iter(spec.submodule_search_locations))) / "saved_models" / "icassp_2022" / "nmp.onnx"
    return path if path.is_file() else f"basic-pitch is installed without its ONNX model: {path}"


@lru_cache(maxsize=2)
def note_session(weights: str | None = None):
    """An onnxruntime session on the note model, or the one-line reason there is none (a string)."""
    path = model_file(weights)
    if isinstance(path, str):
        return path
    try:
        import onnxruntime
    except ImportError:
        return "onnxruntime not installed: pip install onnxruntime"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the process's CPU budget, as torch's
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 — onnxruntime raises bare Exception subclasses: a file that is no note model is a reason, not a failed bench
        return f"cannot load note model {path}: {str(err).splitlines()[0]}"


def activations(session, clips: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``[N, T]`` clips → note and onset activations ``[N, F, 88]`` each (0 to 1), every window of every clip
    in a few batched calls, stitched as basic-pitch does (half the overlap dropped at each seam)."""
    rms = np.sqrt(np.mean(np.square(clips, dtype=np.float64), -1, keepdims=True))
    level = np.where(rms > QUIET_RMS, LEVEL_RMS / np.maximum(rms, QUIET_RMS), 1.0)
    audio = soxr.resample(np.ascontiguousarray((clips * level).T, dtype=np.float32), sample_rate, MODEL_RATE).T
    length = audio.shape[1]
    padded = np.pad(audio, ((0, 0), (OVERLAP * 256 // 2, 0)))
    count = math.ceil(padded.shape[1] / HOP)
    padded = np.pad(padded, ((0, 0), (0, (count - 1) * HOP + WINDOW - padded.shape[1])))
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW, axis=1)[:, ::HOP]  # [N, count, WINDOW]
    flat = windows.reshape(-1, WINDOW)
    outputs = [session.run(OUTPUTS, {INPUT: np.ascontiguousarray(flat[i:i + CHUNK, :, None])})
               for i in range(0, len(flat), CHUNK)]
    frames = min(round(length / MODEL_RATE / FRAME_SECONDS), count * (FRAMES - OVERLAP))
    half = OVERLAP // 2

    def stitched(k: int) -> np.ndarray:
        out = np.concatenate([o[k] for o in outputs])[:, half:FRAMES - half]
        return out.reshape(len(clips), -1, out.shape[-1])[:, :frames]

    return stitched(0), stitched(1)


def _extent(energy: np.ndarray, t: int, key: int, step: int) -> tuple[int, int]:
    """Walk from frame ``t`` in direction ``step`` until ``ENERGY_TOL`` frames in a row are below
    the frame threshold (or the clip ends): the frame where the walk stopped, and that run's length."""
    i, below = t + step, 0
    while 0 < i < len(energy) - 1 and below < ENERGY_TOL:
        below = below + 1 if energy[i, key] < FRAME_THRESHOLD else 0
        i += step
    return i, below


def decode_notes(note: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """basic-pitch's note decoding (``output_to_notes_polyphonic`` with its defaults: inferred onsets
    and the melodia trick on): ``[F, keys]`` activations from A0 up → ``[K, 4]`` notes (start frame,
    end frame, MIDI pitch, mean note activation). tests/test_notes.py checks it against the original."""
    # onsets also where the note activation rises steeply over 1 and 2 frames
    rise = np.minimum(note - np.pad(note, ((1, 0), (0, 0)))[:-1], note - np.pad(note, ((2, 0), (0, 0)))[:-2])
    rise = np.clip(rise, 0, None)
    rise[:2] = 0
    if rise.max() > 0:
        onset = np.maximum(onset, onset.max() * rise / rise.max())
    peak = np.zeros_like(onset, dtype=bool)
    peak[1:-1] = (onset[1:-1] > onset[:-2]) & (onset[1:-1] > onset[2:])
    starts = np.argwhere(peak & (onset >= ONSET_THRESHOLD))[::-1]  # latest first, as basic-pitch
    energy = note.astype(np.float64).copy()
    notes = []

    def add(start: int, end: int, key: int) -> None:
        if end - start > MIN_NOTE_FRAMES:
            notes.append((start, end, key + LOWEST_MIDI, float(note[start:end, key].mean())))

    for t, key in starts:
        if t >= len(note) - 1:
            continue
        i, below = _extent(energy, t, key, 1)
        if i - below - t > MIN_NOTE_FRAMES:
            energy[t:i - below, max(key - 1, 0):key + 2] = 0
        add(t, i - below, key)
    # the melodia trick: notes without an onset, grown from the strongest remaining activation
    while energy.max() > FRAME_THRESHOLD:
        t, key = np.unravel_index(np.argmax(energy), energy.shape)
        energy[t, key] = 0
        end, below_end = _extent(energy, t, key, 1)
        energy[t + 1:end, max(key - 1, 0):key + 2] = 0
        start, below_start = _extent(energy, t, key, -1)
        energy[start + 1:t, max(key - 1, 0):key + 2] = 0
        add(start + 1 + below_start, end - 1 - below_end, key)
    return np.array(notes, dtype=np.float64).reshape(-1, 4)


def max_key(sample_rate: int) -> int:
    """The highest key (MIDI) kept: a note needs its octave inside the band to be told from the
    band's edge, which the model otherwise hears as a note (white noise at 3150 Hz lights up the
    keys just under 1575 Hz). 79 (G5, 784 Hz) at 3150 Hz; the piano's top (108) from 33 kHz."""
    return min(int(np.floor(69 + 12 * np.log2(sample_rate / 4 / 440))), LOWEST_MIDI + 87)


@dataclass(frozen=True)
class ClipNotes:
    """What the note model hears in one clip."""

    notes: np.ndarray  # [K, 4]: start and end (s), MIDI pitch, mean note activation
    confidence: np.ndarray  # [F]: the strongest note activation of each frame
    polyphony: np.ndarray  # [F]: decoded notes sounding in each frame
    pitch_classes: np.ndarray  # [12]: share of note-frames on each pitch class (0 = C), uniform without notes
    onset_rate: float  # notes started per second
    windows: np.ndarray  # [W, len(WINDOW_FEATURES)]: the same, per window (many observations per clip)


WINDOW_SECONDS = 2.0
"""Clips are summarised per 2 s window: a 14.5 s clip gives 7 observations, so a set of a dozen
clips gives a distribution, not a handful of points."""

WINDOW_FEATURES = ("confidence", "polyphony", "onset_rate", "log_duration", "pitch_class_entropy")
"""Per window: the mean over frames of the strongest note activation; the mean number of decoded
notes sounding; notes started per second; the mean log duration (s) of the notes sounding (a
window without notes counts as the shortest note kept: no note is held); the entropy (nats) of
the note activation above :data:`REST` folded onto the 12 pitch classes."""

MIN_SPREAD = torch.tensor([0.02, 0.1, 0.25, 0.05, 0.05], dtype=torch.float64)
"""Floor of each window feature's spread among reference windows when standardising (a tenth to a
quarter of what real music's windows show): a near-constant reference must not blow rounding up."""

KERNEL_WIDTH = 4.0
"""Kernel width in reference median distances, as ``structure_distance`` (docs/metrics.md)."""

REST = 0.1
"""The note model's resting activation (0.096-0.116 on digital silence, 0.10 on keys above the
band): subtracted before activations are folded onto pitch classes. Noise leaves a haze just
above it on every class, which is what ``pitch_class_entropy`` is for: a floor of 0.15 would cut
the haze and with it most of the feature's separation of noise from music."""


def _pitch_class_roll(notes: np.ndarray, frames: int) -> np.ndarray:
    """``[F, 12]``: decoded notes sounding in each frame on each pitch class."""
    roll = np.zeros((frames, 12))
    for start, end, pitch in notes[:, :3].astype(int):
        roll[start:end, pitch % 12] += 1
    return roll


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return math.log(12.0)  # no note: no pitch-class evidence at all
    share = counts[counts > 0] / total
    return float(-(share * np.log(share)).sum())


def clip_notes(note: np.ndarray, onset: np.ndarray) -> ClipNotes:
    """A clip's notes and their summaries, from its stitched activations ``[F, keys]``."""
    notes = decode_notes(note, onset)
    frames = len(note)
    roll = _pitch_class_roll(notes, frames)
    confidence, polyphony = note.max(-1), roll.sum(-1)
    # what the model hears on each pitch class, decoded into notes or not (noise: a haze on every class)
    fold = ((np.arange(note.shape[1])[:, None] + LOWEST_MIDI) % 12 == np.arange(12)).astype(np.float64)
    heard = np.clip(note - REST, 0, None) @ fold  # [F, 12]
    per_window = min(round(WINDOW_SECONDS / FRAME_SECONDS), frames)  # a shorter clip is one window
    rows = []
    for a in range(0, frames - per_window + 1, per_window):
        b = a + per_window
        sounding = notes[(notes[:, 0] < b) & (notes[:, 1] > a)]
        durations = (sounding[:, 1] - sounding[:, 0]) * FRAME_SECONDS
        rows.append((confidence[a:b].mean(), polyphony[a:b].mean(),
                     ((notes[:, 0] >= a) & (notes[:, 0] < b)).sum() / WINDOW_SECONDS,
                     np.log(durations).mean() if len(durations) else math.log((MIN_NOTE_FRAMES + 1) * FRAME_SECONDS),
                     _entropy(heard[a:b].sum(0))))
    seconds = np.c_[notes[:, :2] * FRAME_SECONDS, notes[:, 2:]]
    classes = roll.sum(0)
    return ClipNotes(seconds, confidence, polyphony,
                     classes / classes.sum() if classes.sum() > 0 else np.full(12, 1 / 12),
                     len(notes) / (frames * FRAME_SECONDS), np.array(rows).reshape(-1, len(WINDOW_FEATURES)))


@lru_cache(maxsize=2)
def _listener(weights: str | None):
    """:func:`note_features` for one model file, remembered per clip set (a bench scores the same
    reference clips against a dozen sets)."""

    @per_clips
    def listen(sample_rate: int, clips: torch.Tensor) -> list[ClipNotes] | str:
        session = note_session(weights)
        if isinstance(session, str):
            return session
        note, onset = activations(session, clips.detach().cpu().numpy(), sample_rate)
        keys = max_key(sample_rate) - LOWEST_MIDI + 1
        return [clip_notes(n[:, :keys], o[:, :keys]) for n, o in zip(note, onset)]

    return listen


def note_features(sample_rate: int, clips: torch.Tensor, weights: str | None = None) -> list[ClipNotes] | str:
    """What the note model hears in each clip of ``[N, T]`` at ``sample_rate``, or the one-line
    reason it cannot listen (no onnxruntime, no model file)."""
    return _listener(weights or None)(sample_rate, clips)


@dataclass
class NoteConfig(MetricConfig):
    weights: str = ""  # a local basic-pitch ONNX note model (nmp.onnx); empty: the one inside the installed basic-pitch


class NoteDistance(FeatureSetMetric):
    """Kernel distance (unbiased MMD²) between the sets' 2 s windows of note evidence: the note model's confidence, polyphony, onset rate, note durations, pitch-class focus."""

    name = "note_distance"
    Config = NoteConfig
    higher_is_better = False
    roles = frozenset({"distance"})
    analysis_rate = MODEL_RATE

    def unavailable_reason(self) -> str | None:
        session = note_session(self.config.weights or None)
        return session if isinstance(session, str) else None

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` → ``[windows, len(WINDOW_FEATURES)]`` float64; NaN (and a one-line warning) without the note model."""
        heard = note_features(self.config.sample_rate, clips, self.config.weights)
        if isinstance(heard, str):
            warnings.warn(f"{self.name} is n/a: {heard}", stacklevel=2)
            return torch.full((len(clips), len(WINDOW_FEATURES)), math.nan, dtype=torch.float64, device=clips.device)
        return torch.as_tensor(np.concatenate([c.windows for c in heard]), device=clips.device)

    def between(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        return mmd2(*standardise(ref, est, min_spread=MIN_SPREAD.to(ref.device)), KERNEL_WIDTH)


@hookimpl
def register_metrics(register):
    register(NoteDistance)
