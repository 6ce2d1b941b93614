"""Reading one audio file the report's way: mono, resampled (soxr), cut to the clip length."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audiozoo.atomic import atomic_file

RESAMPLE_MARGIN_SECONDS = 0.1
"""Decoded past the clip end so the resampler's filter has real signal at the cut."""

INTEGER_SUBTYPES = {"PCM_16": ("int16", 2.0**-15), "PCM_24": ("int32", 2.0**-31), "PCM_32": ("int32", 2.0**-31)}
"""Integer PCM read as integers and scaled here: the same float32 samples as libsndfile's own
conversion (int → float32 is exact or correctly rounded, the scale a power of two), 5× faster."""


class UnreadableAudio(Exception):
    """A file that cannot be used as audio; the message says why, for the skip summary."""


def load_clip(path: Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``: at most ``max_seconds`` (None: the whole file).

    Reads only what it needs (the first ``max_seconds`` plus a margin), like
    ``librosa.load(path, sr=sample_rate, duration=max_seconds)``, with soxr's HQ resampler.
    """
    try:
        with sf.SoundFile(path) as f:
            source_rate = f.samplerate
            frames = -1 if max_seconds is None else math.ceil((max_seconds + RESAMPLE_MARGIN_SECONDS) * source_rate)
            data = _read_float32(f, frames)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as err:
        raise UnreadableAudio(_reason(err)) from None
    if data.shape[0] == 0:
        raise UnreadableAudio("no audio frames")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if source_rate != sample_rate:
        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ")
    if max_seconds is not None:
        mono = mono[: round(max_seconds * sample_rate)]
    # Checked after the mix-down and the resampler: huge finite samples overflow in either.
    if not np.isfinite(mono).all():
        raise UnreadableAudio("contains NaN or infinite samples (after mixing to mono and resampling)")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _read_float32(f: sf.SoundFile, frames: int) -> np.ndarray:
    """``f.read(frames, dtype="float32")`` as ``[frames, channels]``, integer PCM through :data:`INTEGER_SUBTYPES`."""
    if f.subtype not in INTEGER_SUBTYPES:
        return f.read(frames=frames, dtype="float32", always_2d=True)
    dtype, scale = INTEGER_SUBTYPES[f.subtype]
    return np.multiply(f.read(frames=frames, dtype=dtype, always_2d=True), scale, dtype=np.float32)


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    # libsndfile prefixes its messages with the path; the summary names the file already.
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def write_audio(path: Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono float waveform (format from the suffix; 16-bit PCM for WAV), atomically."""
    with atomic_file(path) as tmp:
        subtype = "PCM_16" if path.suffix.lower() == ".wav" else None
        sf.write(tmp, np.clip(wave, -1.0, 1.0), sample_rate, subtype=subtype)
