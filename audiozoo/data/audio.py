"""Reading one audio file the report's way: mono, resampled (soxr), cut to the clip length."""

from __future__ import annotations

import math
from collections.abc import Iterator
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


DECODE_BLOCK_SECONDS = 10.0
"""Seconds of the source read at a time: a long or many-channel file is never held whole at its own rate."""


class UnreadableAudio(Exception):
    """A file that cannot be used as audio; the message says why, for the skip summary."""


class AudioStream:
    """One file, or its part ``[start, end)`` (seconds), read in blocks: mono, resampled (soxr HQ) to
    ``sample_rate``, float32; at most ``max_seconds`` of it (None: all).

    Block by block gives the very samples of decoding and resampling the whole at once (soxr's
    stream is exact), so ``prepare`` holds one file's output, never its source.
    """

    def __init__(self, path: Path, sample_rate: int, max_seconds: float | None = None, start: float = 0.0,
                 end: float | None = None) -> None:
        self.sample_rate, self.max_seconds = sample_rate, max_seconds
        try:
            self._file = sf.SoundFile(path)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as err:
            raise UnreadableAudio(_reason(err)) from None
        self.rate = self._file.samplerate
        first = round(start * self.rate)
        last = self._file.frames if end is None else min(self._file.frames, round(end * self.rate))
        if first >= self._file.frames > 0:
            self._file.close()
            raise UnreadableAudio(f"starts at {start:g} s, past its end ({self._file.frames / self.rate:.1f} s)")
        self.seconds = max(0, last - first) / self.rate  # by the header: what the part holds
        self._first, self._frames = first, last - first
        if max_seconds is not None:  # a margin past the cut, so the resampler's filter has real signal there
            self._frames = min(self._frames, math.ceil((max_seconds + RESAMPLE_MARGIN_SECONDS) * self.rate))

    def __iter__(self) -> Iterator[np.ndarray]:
        limit = None if self.max_seconds is None else round(self.max_seconds * self.sample_rate)
        resampler = (None if self.rate == self.sample_rate else
                     soxr.ResampleStream(self.rate, self.sample_rate, 1, dtype="float32", quality="HQ"))
        block, left, given, read = max(1, round(DECODE_BLOCK_SECONDS * self.rate)), self._frames, 0, 0
        try:
            with self._file as f:
                if self._first:
                    f.seek(self._first)
                while True:
                    data = _read_float32(f, min(block, left)) if left > 0 else np.zeros((0, 1), np.float32)
                    left = left - len(data) if len(data) else 0  # nothing read: the file ended (its header said more)
                    read += len(data)
                    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
                    if resampler is not None:
                        mono = resampler.resample_chunk(mono, last=left == 0)
                    out = mono if limit is None else mono[: max(0, limit - given)]
                    given += len(out)
                    if len(out):
                        yield np.ascontiguousarray(out, dtype=np.float32)
                    if left == 0:
                        break
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as err:
            raise UnreadableAudio(_reason(err)) from None
        if read == 0:
            raise UnreadableAudio("no audio frames")


def load_clip(path: Path, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``: at most ``max_seconds`` (None: the whole file).

    Reads only what it needs (the first ``max_seconds`` plus a margin), like
    ``librosa.load(path, sr=sample_rate, duration=max_seconds)``, with soxr's HQ resampler.
    """
    chunks = list(AudioStream(path, sample_rate, max_seconds))
    mono = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # Checked after the mix-down and the resampler: huge finite samples overflow in either.
    if not np.isfinite(mono).all():
        raise UnreadableAudio(NOT_FINITE)
    return mono


NOT_FINITE = "contains NaN or infinite samples (after mixing to mono and resampling)"


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
