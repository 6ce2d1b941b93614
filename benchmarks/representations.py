"""Representation forward (encode) and inversion (Griffin-Lim) against librosa, clip by clip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import librosa
import numpy as np
import torch

from audiozoo.api import get_metric, get_representation
from benchmarks.corpus import SAMPLE_RATE, music_clips
from benchmarks.harness import Section, Size, ratio_cells, side_by_side

FORWARD_BAR = 3.0
INVERSION_BAR = 2.5
TOLERANCE = 1e-5
"""Relative error (Frobenius) allowed between our output and librosa's: tests/test_representations.py's bound."""


@dataclass(frozen=True)
class Case:
    """One representation setting, and what librosa computes for one clip to give the same output."""

    label: str
    name: str
    settings: dict[str, Any]
    librosa: Callable[[np.ndarray], np.ndarray]
    compared: Callable[[np.ndarray], np.ndarray] = lambda x: x  # the domain both outputs are compared in


STFT = {"n_fft": 512, "hop_length": 128}
MEL = {**STFT, "n_mels": 64}


def _stft(y: np.ndarray) -> np.ndarray:
    return librosa.stft(y, **STFT)


def _mel_power(y: np.ndarray) -> np.ndarray:
    return librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, **MEL)


FORWARD = [
    Case("stft complex", "stft", STFT, lambda y: (lambda s: np.concatenate([s.real, s.imag]))(_stft(y))),
    # log(|S| + floor) is compared after exp, as the tests do: near-silent bins' rounding would dominate the log
    Case("stft magnitude", "stft", {**STFT, "form": "magnitude"}, lambda y: np.log(np.abs(_stft(y)) + 1e-5), np.exp),
    Case("mel", "mel", MEL, lambda y: librosa.power_to_db(_mel_power(y), top_db=80.0)),
    Case("mfcc", "mfcc", {**MEL, "n_mfcc": 20},
         lambda y: librosa.feature.mfcc(y=y, sr=SAMPLE_RATE, n_mfcc=20, **MEL)),
]

GRIFFIN_LIM = {"n_iter": 32, "momentum": 0.99}


def forward(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    clips = music_clips(size.forward_clips, size.clip_samples)
    section = Section(
        f"Representation forward: {len(clips)} clips of {size.clip_samples} samples, audiozoo batched vs librosa clip by clip",
        ["representation", "audiozoo clips/s", "librosa clips/s", "ratio", "spread", "bar", "met", "rel. error"],
    )
    batch = clips.to(device)
    for case in FORWARD:
        rep = get_representation(case.name, standardize=False, **case.settings).to(device)
        audio = [clip.numpy() for clip in clips]

        def ours() -> torch.Tensor:
            with torch.inference_mode():
                return rep.encode(batch)

        def theirs() -> np.ndarray:
            return np.stack([case.librosa(y) for y in audio])

        error = _relative_error(case.compared(ours().cpu().numpy()), case.compared(theirs()))
        mine, reference = side_by_side(ours, theirs, size.repeats, sync, size.min_seconds)
        cells = ratio_cells(mine, reference, FORWARD_BAR)
        cells["met"] = cells["met"] and error < TOLERANCE
        section.rows.append({"representation": case.label, "audiozoo clips/s": len(clips) / mine.median,
                             "librosa clips/s": len(clips) / reference.median, **cells, "rel. error": error})
    section.notes.append(f"Same parameters and output (n_fft 512, hop 128, 64 mels, 20 MFCCs, top_db 80, no "
                         f"standardisation); rel. error is ‖ours − librosa‖ / ‖librosa‖, met needs it below {TOLERANCE:g}.")
    return section


def inversion(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    clips = music_clips(size.inversion_clips, size.clip_samples)
    length = clips.shape[1]
    section = Section(
        f"Inversion: {len(clips)} clips, Griffin-Lim 32 iterations, momentum 0.99, audiozoo batched vs librosa clip by clip",
        ["inverse", "audiozoo clips/s", "librosa clips/s", "ratio", "spread", "bar", "met",
         "SC audiozoo", "SC librosa"],
    )
    audio = [clip.numpy() for clip in clips]
    cases = [
        ("stft magnitude (librosa.griffinlim)", get_representation("stft", form="magnitude", standardize=False,
                                                                   **STFT, **GRIFFIN_LIM),
         lambda y: librosa.griffinlim(np.abs(_stft(y)), hop_length=128, n_fft=512, length=length, random_state=0,
                                      **GRIFFIN_LIM)),
        ("mel (librosa.feature.inverse.mel_to_audio)", get_representation("mel", standardize=False, **MEL, **GRIFFIN_LIM),
         lambda y: librosa.feature.inverse.mel_to_audio(_mel_power(y), sr=SAMPLE_RATE, length=length, **STFT,
                                                        n_iter=GRIFFIN_LIM["n_iter"])),
    ]
    convergence = get_metric("spectral_convergence", sample_rate=SAMPLE_RATE)
    for label, rep, reference_fn in cases:
        rep = rep.to(device)
        with torch.inference_mode():
            features = rep.encode(clips.to(device))

        def ours() -> torch.Tensor:
            with torch.inference_mode():
                return rep.decode(features, length=length)

        def theirs() -> np.ndarray:
            np.random.seed(0)  # mel_to_audio draws its initial phases from numpy's global generator
            return np.stack([reference_fn(y) for y in audio])

        ours_sc = float(convergence(clips, ours().cpu()).mean())
        theirs_sc = float(convergence(clips, torch.from_numpy(theirs())).mean())
        mine, reference = side_by_side(ours, theirs, size.repeats, sync, size.min_seconds)
        cells = ratio_cells(mine, reference, INVERSION_BAR)
        cells["met"] = cells["met"] and ours_sc <= theirs_sc
        section.rows.append({"inverse": label, "audiozoo clips/s": len(clips) / mine.median,
                             "librosa clips/s": len(clips) / reference.median, **cells,
                             "SC audiozoo": ours_sc, "SC librosa": theirs_sc})
    section.notes.append("SC: spectral convergence of the decoded audio against the original (lower is better); "
                         "met needs the ratio and SC no worse than librosa's.")
    return section


def _relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))
