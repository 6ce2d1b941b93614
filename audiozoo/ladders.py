"""Ladders: held-out real clips degraded the way generators fail, each at three strengths.

The sentinels (:mod:`audiozoo.sentinels`) say whether a metric tells music from noise. A ruler
that ranks generators must also grade music that is *almost* right: partials that break off
after a fraction of a second, a smeared spectrogram, pitch that wobbles, grain between the
partials, the phase smear of a magnitude-only inversion, partials frozen into a drone. Each
ladder makes one of those failures from real clips, at three strengths (``mild``: just audible;
``medium``; ``severe``: obviously broken), so a metric can be checked to order them and to set
the medium rungs clearly apart from real music (``tools/ladder_table.py``). Every rung is seeded
and batched; docs/metrics.md gives each formula and its parameters.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from audiozoo import dsp
from audiozoo.sentinels import HOP, N_FFT, SEED, _at_rms_of, envelope

RUNGS = ("mild", "medium", "severe")

CHOP_N_FFT, CHOP_HOP = 256, 32
"""The chop ladder gates a finer-timed STFT (81 ms windows, 10 ms hops at 3150 Hz): a gate on
the 163 ms analysis would be smeared over a window longer than the shortest pieces."""
CHOP_BAND_BINS = 2
"""Bins gated together (25 Hz at n_fft 256, 3150 Hz): about one partial's main lobe."""
CHOP_PIECE_S = {"mild": 0.7, "medium": 0.4, "severe": 0.15}
"""Mean length of the pieces each band is cut into (each drawn uniformly in 0.5-1.5 × the mean)."""
CHOP_GAP_S = 0.1
"""Mean length of the silences between the pieces (drawn the same way)."""

BLUR_SIGMA = {"mild": (1.0, 1.0), "medium": (1.5, 1.5), "severe": (3.0, 3.0)}
"""Gaussian blur of |STFT| (n_fft 512, hop 128) as (σ in bins of 6.2 Hz, σ in frames of 41 ms)."""

WOBBLE_CENTS = {"mild": 10.0, "medium": 25.0, "severe": 60.0}
"""RMS pitch deviation of the wobble, in cents."""
WOBBLE_HZ = 6.0
"""Highest rate of the wobble: its deviation is white noise low-passed here, so it holds both
slow glides and vibrato-like wobble."""
WOBBLE_CONTROL_HZ = 100.0
"""Rate at which the deviation is drawn before being interpolated to the audio rate."""
SINC_TAPS = 16
"""Taps of the windowed-sinc (Lanczos) interpolator that reads the clip at the wobbling times."""

GRAIN_SNR_DB = {"mild": 20.0, "medium": 13.0, "severe": 6.0}
"""How far below each clip the grain (noise following its time-varying envelope) is added."""

SMEAR_MELS = {"mild": 64, "medium": 32, "severe": 16}
"""Mel bands of the magnitude-only inversion: |STFT| → mel power → NNLS → Griffin-Lim."""
SMEAR_NNLS_STEPS, SMEAR_ITERATIONS = 50, 32
"""As the mel representation's defaults."""

DRONE_DB = {"mild": -12.0, "medium": -3.0, "severe": None}
"""Level of the drone against the music (``None``: the music replaced by its drone)."""
DRONE_SWELL_S = (4.0, 8.0)
"""Period range of the drone's swell (a raised sine of ±6 dB, random period and phase)."""
DRONE_SWELL_DB = 6.0


@dataclass(frozen=True)
class Rung:
    """One rung of one ladder: ``make(clips, generator, sample_rate)`` degrades held-out clips ``[N, T]``."""

    ladder: str
    rung: str
    make: Callable[[torch.Tensor, torch.Generator, int], torch.Tensor]
    what: str

    kind = "ladder"

    @property
    def label(self) -> str:
        return f"ladder: {self.ladder} ({self.rung})"

    def describe(self) -> dict[str, str]:
        """What a table or evaluation.json stores about the row: stable across versions."""
        return {"kind": self.kind, "ladder": self.ladder, "rung": self.rung}


def _stft(clips: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    return dsp.stft(clips, n_fft, hop, dsp.hann_window(n_fft).to(clips.device))


def _istft(spec: torch.Tensor, like: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """The waveform of ``spec`` at the length and RMS of the clips ``like``."""
    wave = dsp.istft(spec, n_fft, hop, dsp.hann_window(n_fft).to(spec.device), like.shape[-1])
    return _at_rms_of(wave, like)


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(device)


def piece_gates(shape: tuple[int, int], frames: int, piece: float, gap: float,
                generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``[*shape, frames]`` of 0 and 1: alternating pieces (1) and gaps (0) of mean lengths ``piece``
    and ``gap`` frames, each drawn uniformly in 0.5-1.5 × its mean, starting at a random point."""
    count = 2 * math.ceil(frames / (0.5 * (piece + gap))) + 4
    means = torch.tensor([piece, gap], device=device).repeat(count // 2)
    lengths = means * (0.5 + _uniform((*shape, count), generator, device))
    edges = lengths.cumsum(-1) - _uniform((*shape, 1), generator, device) * (piece + gap)
    times = torch.arange(frames, dtype=edges.dtype, device=device).expand(*shape, frames).contiguous()
    return (torch.searchsorted(edges, times, right=True) % 2 == 0).to(torch.float32)


def _partials(db: torch.Tensor) -> torch.Tensor:
    """``[N, bins, frames]`` dB → for every bin, the bin of the spectral peak nearest to it in its frame."""
    bins = db.shape[-2]
    index = torch.arange(bins, device=db.device).view(1, -1, 1).expand_as(db)
    peak = torch.zeros_like(db, dtype=torch.bool)
    peak[:, 1:-1] = (db[:, 1:-1] > db[:, :-2]) & (db[:, 1:-1] >= db[:, 2:])
    below = torch.where(peak, index, -bins).cummax(1).values
    above = torch.where(peak, index, 2 * bins).flip(1).cummin(1).values.flip(1)
    nearest = torch.where(index - below <= above - index, below, above)
    return torch.where((nearest < 0) | (nearest >= bins), index, nearest)


def chop(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, piece_s: float) -> torch.Tensor:
    """Partials cut into pieces: every band of ``CHOP_BAND_BINS`` bins has its own gate, on and off in
    time, and every bin follows the gate of the band its partial (the nearest spectral peak) is in,
    so a partial's whole main lobe goes silent at once."""
    spec = _stft(clips, CHOP_N_FFT, CHOP_HOP)
    bins, frames = spec.shape[-2:]
    frame_s = CHOP_HOP / sample_rate
    bands = math.ceil(bins / CHOP_BAND_BINS)
    gates = piece_gates((len(clips), bands), frames, piece_s / frame_s, CHOP_GAP_S / frame_s, generator, clips.device)
    band = _partials(dsp.power(spec).clamp_min(1e-20).log10()) // CHOP_BAND_BINS
    return _istft(spec * gates.gather(1, band), clips, CHOP_N_FFT, CHOP_HOP)


def _gaussian(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32, device=device) / sigma) ** 2)
    return taps / taps.sum()


def blur(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, sigma: tuple[float, float]) -> torch.Tensor:
    """|STFT| blurred by a Gaussian in frequency and time; each bin keeps its own phase."""
    spec = _stft(clips)
    magnitude = dsp.magnitude(spec).unsqueeze(1)
    across, along = (_gaussian(s, clips.device) for s in sigma)
    magnitude = F.conv2d(magnitude, across.view(1, 1, -1, 1), padding=(len(across) // 2, 0))
    magnitude = F.conv2d(magnitude, along.view(1, 1, 1, -1), padding=(0, len(along) // 2)).squeeze(1)
    return _istft(torch.polar(magnitude, spec.angle()), clips)


def read_at(clips: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``clips[..., positions]`` at fractional positions ``[N, T]``, by Lanczos interpolation (zero outside)."""
    half = SINC_TAPS // 2
    start = positions.floor()
    offsets = torch.arange(1 - half, half + 1, device=clips.device, dtype=positions.dtype)
    distance = (positions - start).unsqueeze(-1) - offsets  # [N, T, taps]
    weights = torch.sinc(distance) * torch.sinc(distance / half)
    index = start.long().unsqueeze(-1) + offsets.long()
    inside = (index >= 0) & (index < clips.shape[-1])
    picked = clips.gather(-1, index.clamp(0, clips.shape[-1] - 1).flatten(1)).view_as(weights)
    return (picked * weights * inside).sum(-1)


def wobble(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, cents: float) -> torch.Tensor:
    """Pitch that wobbles and glides: each clip read at a slowly varying rate 2^(c(t)/1200), c(t)
    white noise low-passed at ``WOBBLE_HZ``, at ``cents`` RMS (a varying-rate resampler)."""
    count, samples = clips.shape
    controls = math.ceil(samples / sample_rate * WOBBLE_CONTROL_HZ) + 2
    noise = torch.fft.rfft(torch.randn((count, controls), generator=generator).to(clips.device))
    noise[:, torch.fft.rfftfreq(controls, 1 / WOBBLE_CONTROL_HZ).to(clips.device) > WOBBLE_HZ] = 0
    noise[:, 0] = 0
    deviation = torch.fft.irfft(noise, n=controls)
    deviation = cents * deviation / deviation.square().mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
    rate = F.interpolate(deviation.unsqueeze(1), size=samples, mode="linear", align_corners=True).squeeze(1)
    positions = torch.exp2(rate.double() / 1200).cumsum(-1)
    positions = positions - (positions - torch.arange(samples, device=clips.device)).mean(-1, keepdim=True)
    return read_at(clips, positions.float())


def grain(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, snr_db: float) -> torch.Tensor:
    """Noise following each clip's time-varying spectral envelope (the envelope sentinel) added
    ``snr_db`` below it: grain between the partials."""
    return clips + envelope(clips, clips, generator) * 10 ** (-snr_db / 20)


def smear(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, n_mels: int) -> torch.Tensor:
    """The phase smear of a magnitude-only inversion through a coarse filterbank: |STFT| → mel power
    (``n_mels`` bands) → NNLS → Griffin-Lim, as the mel representation decodes."""
    basis = dsp.mel_filterbank(sample_rate, N_FFT, n_mels, 0.0, None)
    inverse = dsp.MelInverse(basis, SMEAR_NNLS_STEPS).to(clips.device)
    power = dsp.power(_stft(clips))
    magnitude = inverse(inverse.basis @ power).sqrt_()
    window = dsp.hann_window(N_FFT).to(clips.device)
    return dsp.griffinlim(magnitude, N_FFT, HOP, window, clips.shape[-1], n_iter=SMEAR_ITERATIONS)


def frozen(clips: torch.Tensor, generator: torch.Generator, sample_rate: int, level_db: float | None) -> torch.Tensor:
    """Frozen partials: each clip's spectrum at one moment (a frame louder than its median, drawn)
    held for the whole clip, every bin turning at the frequency it had then, under a slow swell;
    mixed ``level_db`` against the music (``None``: in its place)."""
    spec = _stft(clips)
    count, bins, frames = spec.shape
    energy = dsp.power(spec).sum(1)[:, :-1]  # the moment needs a next frame for its phase advance
    loud = energy >= energy.median(-1, keepdim=True).values
    moment = torch.multinomial(loud.float().cpu(), 1, generator=generator).to(clips.device).view(-1, 1, 1)
    held = spec.gather(-1, moment.expand(-1, bins, 1))
    advance = (spec.gather(-1, (moment + 1).expand(-1, bins, 1)) * held.conj()).angle()
    steps = torch.arange(frames, device=clips.device) - moment
    period = DRONE_SWELL_S[0] + (DRONE_SWELL_S[1] - DRONE_SWELL_S[0]) * _uniform((count, 1, 1), generator, clips.device)
    phase = 2 * math.pi * _uniform((count, 1, 1), generator, clips.device)
    seconds = torch.arange(frames, device=clips.device) * HOP / sample_rate
    swell = 10 ** (DRONE_SWELL_DB / 20 * torch.sin(2 * math.pi * seconds / period + phase))
    drone = _istft(held * torch.polar(swell, advance * steps), clips)
    return drone if level_db is None else clips + drone * 10 ** (level_db / 20)


def _ladder(ladder: str, degrade: Callable, parameter: str, strengths: dict, what: Callable[[object], str]
            ) -> list[Rung]:
    return [Rung(ladder, rung, partial(degrade, **{parameter: strengths[rung]}), what(strengths[rung]))
            for rung in RUNGS]


def ladders(sample_rate: int) -> list[Rung]:
    """Every rung of every ladder, ladder by ladder, mild to severe, for clips at ``sample_rate``."""
    hz_per_bin = sample_rate / N_FFT
    return [
        *_ladder("chop", chop, "piece_s", CHOP_PIECE_S,
                 lambda s: f"every {CHOP_BAND_BINS * sample_rate / CHOP_N_FFT:.0f} Hz band cut into pieces "
                           f"of {s:g} s with {CHOP_GAP_S:g} s gaps"),
        *_ladder("blur", blur, "sigma", BLUR_SIGMA,
                 lambda s: f"|STFT| blurred by σ = {s[0] * hz_per_bin:.1f} Hz × {s[1] * HOP / sample_rate * 1000:.0f} ms"),
        *_ladder("wobble", wobble, "cents", WOBBLE_CENTS,
                 lambda c: f"pitch wobble and glide of {c:g} cents RMS, up to {WOBBLE_HZ:g} Hz"),
        *_ladder("grain", grain, "snr_db", GRAIN_SNR_DB,
                 lambda s: f"envelope-following noise {s:g} dB below the music"),
        *_ladder("smear", smear, "n_mels", SMEAR_MELS,
                 lambda m: f"|STFT| through {m} mel bands, NNLS and {SMEAR_ITERATIONS} Griffin-Lim iterations"),
        *_ladder("frozen", frozen, "level_db", DRONE_DB,
                 lambda d: "the music replaced by a swelling drone of one moment's spectrum" if d is None
                 else f"a swelling drone of one moment's spectrum {-d:g} dB below the music"),
    ]


def make_rung(rung: Rung, clips: torch.Tensor, sample_rate: int, seed: int = SEED) -> torch.Tensor:
    """One rung's clips ``[N, T]`` from held-out ``clips``; its own seed (from its label), so it is
    the same whichever other rungs are made beside it."""
    generator = torch.Generator().manual_seed(seed ^ zlib.crc32(rung.label.encode()))
    return rung.make(clips.to(torch.float32), generator, sample_rate)
