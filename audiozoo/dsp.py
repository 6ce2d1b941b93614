"""Batched torch DSP shared by representations and metrics, on librosa's conventions.

STFTs are centred with zero padding and a periodic Hann window (librosa ≥ 0.10 defaults);
dB conversion is ``librosa.power_to_db`` with ``ref=1`` and ``top_db`` applied per clip;
Griffin-Lim is ``librosa.griffinlim``'s fast (momentum) algorithm. Every function takes
``[B, ...]`` tensors and works on whatever device they are on; constants (windows,
filterbanks, their inverses) are built once by the caller, never per call.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import soxr
import torch

from audiozoo import speed

AMIN = 1e-10
"""``librosa.power_to_db``'s floor on power before the log."""

PHASE_SEED = 0
"""Seed of Griffin-Lim's random initial phases: the same input always gives the same output."""


def hann_window(n_fft: int) -> torch.Tensor:
    """Periodic Hann window, as ``scipy.signal.get_window("hann", n_fft)`` (what librosa uses)."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32)


REFERENCE_RATE = 3150
"""The rate at which audiozoo's default window sizes are given in samples (the report's rate).
At another rate a window keeps its duration (:func:`window_at`): 512 samples are 162.5 ms."""

N_FFT = 512
"""Default window of the STFT-based representations and of the metrics' analysis, in samples at
:data:`REFERENCE_RATE` (162.5 ms); their hop is a quarter of it (40.6 ms, 75 % overlap)."""


def window_at(samples: int, sample_rate: int) -> int:
    """A window of ``samples`` at :data:`REFERENCE_RATE`, as long in time at ``sample_rate``: a
    multiple of 4, so that its quarter (the hop) is exact. The same ``samples`` at 3150 Hz."""
    return 4 * round(samples * sample_rate / (4 * REFERENCE_RATE))


N_MELS = 64
"""Mel bands at :data:`REFERENCE_RATE` (over 0 – 1575 Hz) that representations scale their
defaults from; at another rate, bands as wide on the mel scale up to its Nyquist (:func:`mel_bands_at`)."""


def mel_bands_at(n_mels: int, sample_rate: int) -> int:
    """``n_mels`` bands over 0 Hz to :data:`REFERENCE_RATE`'s Nyquist, as many bands of that mel
    width up to ``sample_rate``'s Nyquist (Slaney's scale): 64 at 3150 Hz, 148 at 22 050 Hz. Fewer
    would widen the bands where the partials lie, and the round trip would lose them."""
    return round(n_mels * float(librosa.hz_to_mel(sample_rate / 2)) / float(librosa.hz_to_mel(REFERENCE_RATE / 2)))


def resample(clips: torch.Tensor, sample_rate: int, to_rate: int) -> torch.Tensor:
    """``[B, T]`` at ``sample_rate`` → at ``to_rate`` (soxr HQ, the resampler that decodes audio
    files), on the clips' device; the clips themselves when the rates are equal."""
    if sample_rate == to_rate:
        return clips
    wave = soxr.resample(clips.detach().float().cpu().numpy().T, sample_rate, to_rate, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(wave.T)).to(clips.device).reshape(*clips.shape[:-1], -1)


def stft_sizes(sample_rate: int, n_fft: int | None, hop_length: int | None) -> tuple[int, int]:
    """``(n_fft, hop_length)`` in samples: those given, the defaults (:data:`N_FFT` and a quarter of
    it, :func:`window_at` the rate) for those left ``None``; ValueError unless they make an
    invertible STFT (overlapping frames)."""
    window = window_at(N_FFT, sample_rate)
    n_fft = window if n_fft is None else n_fft
    hop_length = window // 4 if hop_length is None else hop_length
    if n_fft < 2:
        raise ValueError(f"n_fft must be at least 2, got {n_fft}")
    if not 0 < hop_length < n_fft:
        raise ValueError(
            f"hop_length must be between 1 and n_fft - 1 = {n_fft - 1} "
            f"(frames must overlap for the inverse STFT), got {hop_length}"
            + (f" (the default, {1000 * hop_length / sample_rate:.1f} ms at {sample_rate} Hz)" if 4 * hop_length == window else "")
        )
    return n_fft, hop_length


def frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT of ``num_samples`` samples."""
    return 1 + num_samples // hop_length


def stft(wave: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` → complex ``[B, n_fft // 2 + 1, 1 + T // hop_length]``, as ``librosa.stft``."""
    return torch.stft(
        wave, n_fft, hop_length, window=window, center=True, pad_mode="constant", return_complex=True
    )


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor, length: int) -> torch.Tensor:
    """Complex ``[B, n_fft // 2 + 1, F]`` → ``[B, length]``, as ``librosa.istft`` (zero-padded past the frames)."""
    covered = hop_length * (spec.shape[-1] - 1) + n_fft // 2
    wave = torch.istft(spec, n_fft, hop_length, window=window, center=True, length=min(length, covered))
    return torch.nn.functional.pad(wave, (0, length - wave.shape[-1])) if length > covered else wave


def power(spec: torch.Tensor) -> torch.Tensor:
    """``|spec|²`` of a complex tensor, as the sum of the squared parts (``abs`` is several times slower on CPU)."""
    squares = torch.view_as_real(spec).square()
    return torch.add(squares[..., 0], squares[..., 1])


def magnitude(spec: torch.Tensor) -> torch.Tensor:
    """``|spec|`` of a complex tensor."""
    return power(spec).sqrt_()


def power_to_db(power: torch.Tensor, top_db: float | None = 80.0) -> torch.Tensor:
    """``librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=top_db)`` for each clip of ``[B, C, F]``."""
    db = power.clamp_min(AMIN).log10_().mul_(10.0)
    if top_db is None:
        return db
    return db.clamp_min_(db.amax(dim=(-2, -1), keepdim=True) - top_db)


def db_to_power(db: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`power_to_db` (``librosa.db_to_power`` with ``ref=1``)."""
    return torch.exp(db * (math.log(10.0) / 10.0))


@lru_cache(maxsize=8)
def random_phasor(shape: tuple[int, ...], device: torch.device, seed: int = PHASE_SEED) -> torch.Tensor:
    """Unit complex numbers with seeded uniform random phases, of ``shape`` (no batch dimension).

    One pattern broadcast over the batch, so a clip gets the same phases alone or in any batch.
    Cached (``polar`` is slow and decode calls this once per block of clips): read it, never write it.
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    phase = torch.rand(shape, generator=generator, device=device) * (2.0 * math.pi)
    return torch.polar(torch.ones_like(phase), phase)


def griffinlim(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    length: int,
    n_iter: int = 32,
    momentum: float = 0.99,
) -> torch.Tensor:
    """Magnitudes ``[B, n_fft // 2 + 1, F]`` → ``[B, length]`` by fast Griffin-Lim (``librosa.griffinlim``).

    Same algorithm as librosa (random initial phases, ``momentum``, ``n_iter`` iterations),
    batched, with the phases of :func:`random_phasor`, so the result is deterministic. The
    loop runs frames-major (``[B, F, bins]``, each frame's FFT contiguous) on the zero-padded
    signal directly (see :class:`_FrameTransform`), rather than through ``torch.stft``/``istft``.
    """
    num_frames = magnitude.shape[-1]
    # Inside the loop the signal must give back num_frames frames; `length` is applied at the end.
    inner = length if frames(length, hop_length) == num_frames else hop_length * (num_frames - 1)
    frame = _FrameTransform(n_fft, hop_length, window, num_frames, inner)
    target = magnitude.transpose(-2, -1).contiguous()
    # int(): under tracing sizes are tensors, which would miss the cache and put a random draw in the file
    angles = target * random_phasor(tuple(int(s) for s in magnitude.shape[-2:]), magnitude.device).T
    eps = torch.finfo(target.dtype).tiny
    accel = momentum / (1.0 + momentum)
    previous = None
    for _ in range(n_iter):
        rebuilt = frame.project(angles)
        angles = rebuilt if previous is None else torch.add(rebuilt, previous, alpha=-accel)
        # angles *= target / (|angles| + eps); |angles| from the squared parts (complex abs is slow on CPU)
        squares = torch.view_as_real(angles).square()
        scale = torch.add(squares[..., 0], squares[..., 1]).sqrt_().add_(eps)
        angles.mul_(torch.div(target, scale, out=scale))
        previous = rebuilt
    return istft(angles.transpose(-2, -1), n_fft, hop_length, window, length)


class _FrameTransform:
    """``stft(istft(spec))`` for centred frames, frames-major ``[B, F, bins]``, for one signal length.

    The inverse STFT's overlap-add gives exactly the zero-padded signal the next analysis frames
    once it is multiplied by the inverse window envelope, itself zero on the padding: so one
    product replaces crop, normalise and pad. The envelope is built once per call of
    :func:`griffinlim`.
    """

    def __init__(self, n_fft: int, hop_length: int, window: torch.Tensor, num_frames: int, length: int) -> None:
        self.n_fft, self.hop_length, self.window = n_fft, hop_length, window
        envelope = self._overlap_add(window.square().expand(1, num_frames, n_fft))[0]
        inside = torch.zeros_like(envelope, dtype=torch.bool)
        inside[n_fft // 2 : n_fft // 2 + length] = True
        self.inverse_envelope = torch.where(inside & (envelope > 1e-11), envelope.reciprocal(), 0.0)

    def project(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, F, bins]`` → the spectrum of the signal it synthesises."""
        padded = self._overlap_add(torch.fft.irfft(spec, n=self.n_fft).mul_(self.window)).mul_(self.inverse_envelope)
        return torch.fft.rfft(padded.unfold(-1, self.n_fft, self.hop_length) * self.window)

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, F, n_fft]`` → ``[B, (F - 1) * hop + n_fft]``."""
        batch, num_frames, n_fft = frames.shape
        hop = self.hop_length
        if n_fft % hop:
            size = (1, (num_frames - 1) * hop + n_fft)
            added = torch.nn.functional.fold(frames.transpose(1, 2), size, kernel_size=(1, n_fft), stride=(1, hop))
            return added.view(batch, -1)
        # hop divides n_fft (the usual case): n_fft / hop shifted, contiguous adds.
        overlap = n_fft // hop
        out = frames.new_zeros(batch, num_frames + overlap - 1, hop)
        parts = frames.view(batch, num_frames, overlap, hop)
        for r in range(overlap):
            out[:, r : r + num_frames] += parts[:, :, r]
        return out.view(batch, -1)


@lru_cache(maxsize=32)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """``librosa.filters.mel`` (Slaney scale and norm) as a read-only float32 ``[n_mels, n_fft // 2 + 1]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # empty filters: the caller checks and says what to change
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    basis.setflags(write=False)
    return basis


def empty_mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> int:
    """How many mel filters no FFT bin falls into (they would be all-zero channels)."""
    return int((mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).max(axis=1) <= 0).sum())


def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``[n_mfcc, n_mels]``: ``mfcc = D @ log_mel`` as ``librosa.feature.mfcc``."""
    return scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc].astype(np.float32)


class MelInverse(torch.nn.Module):
    """Mel power ``[B, n_mels, F]`` → linear power ``[B, n_fft // 2 + 1, F]`` by non-negative least squares.

    Starts from the pseudo-inverse (clipped at zero), as ``librosa.util.nnls`` does, and takes
    ``steps`` accelerated projected-gradient (FISTA) steps on ``½‖W P − M‖²``, ``P ≥ 0``, batched.
    The basis ``W``, its pseudo-inverse and the step size ``1 / ‖W‖₂²`` are computed once.
    """

    def __init__(self, basis: np.ndarray, steps: int) -> None:
        super().__init__()
        w = torch.from_numpy(np.asarray(basis, dtype=np.float64))
        self.steps = steps
        self.register_buffer("basis", w.float(), persistent=False)
        self.register_buffer("pinv", speed.one_thread(torch.linalg.pinv, w).float(), persistent=False)
        self.step = float(1.0 / torch.linalg.matrix_norm(w, ord=2) ** 2)

    def forward(self, mel_power: torch.Tensor) -> torch.Tensor:
        """Frames-major inside: ``[B·F, n_mels]`` rows against the basis make each product one large matmul
        (a batched one per clip is several times slower on CPU) and each step two ``addmm`` and two
        elementwise passes; the result is a ``[B, bins, F]`` view of ``[B, F, bins]`` memory, the
        layout Griffin-Lim reads."""
        batch, n_mels, num_frames = mel_power.shape
        mel = mel_power.transpose(1, 2).reshape(-1, n_mels)
        power = (mel @ self.pinv.T).clamp_min_(0.0)
        point, t = power, 1.0  # FISTA's extrapolated point and momentum schedule
        for _ in range(self.steps):
            # Gradient (P Wᵀ − M) W through W rather than WᵀW: n_mels < n_fft / 4, so two thin products are cheaper.
            residual = torch.addmm(mel, point, self.basis.T, beta=-1.0)
            following = torch.addmm(point, residual, self.basis, alpha=-self.step).clamp_min_(0.0)
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            point = torch.lerp(power, following, 1.0 + (t - 1.0) / t_next)  # following + ((t - 1) / t_next)·(following − power)
            power, t = following, t_next
        return power.view(batch, num_frames, -1).transpose(1, 2)
