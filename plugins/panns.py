"""PANNs Cnn14 (Kong et al., 2020) in plain PyTorch, as kadtk runs it: one 2048-d embedding per clip.

Module names are those of PANNs' ``Cnn14`` (audioset_tagging_cnn, panns_inference, kadtk), its
frontend included (torchlibrosa's STFT as two Conv1d, ``spectrogram_extractor.stft.conv_real``
and ``conv_imag``, and its mel matrix ``logmel_extractor.melW``), so the published
``Cnn14_mAP=0.431.pth`` loads strictly and its stored DFT and mel weights are the ones used.
The embedding is kadtk's ``"2048"`` output: ReLU(fc1(max + mean over time of the last block,
averaged over frequency)), for the whole clip.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from audiozoo import dsp

SAMPLE_RATE = 32000
N_FFT = 1024  # 32 ms, Hann, centred with reflection
HOP = 320  # 10 ms
N_MELS = 64
FMIN, FMAX = 50.0, 14000.0
AMIN = 1e-10  # 10·log10(max(mel power, 1e-10)), ref 1, no top_db
MIN_SAMPLES = SAMPLE_RATE  # shorter audio is padded with zeros to 1 s, as fadtk does for VGGish
CLASSES = 527


class _STFT(nn.Module):
    """torchlibrosa's ``STFT``: the periodic-Hann-windowed DFT's real and imaginary rows as Conv1d filters."""

    def __init__(self) -> None:
        super().__init__()
        bins = N_FFT // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, N_FFT, stride=HOP, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, N_FFT, stride=HOP, bias=False)
        # on the CPU whatever the default device (a network built on "meta" to be loaded skips it cheaply)
        cpu = {"dtype": torch.float64, "device": "cpu"}
        angle = 2 * math.pi * torch.outer(torch.arange(bins, **cpu), torch.arange(N_FFT, **cpu)) / N_FFT
        window = torch.hann_window(N_FFT, periodic=True, **cpu)
        with torch.no_grad():
            self.conv_real.weight.copy_((angle.cos() * window)[:, None])
            self.conv_imag.weight.copy_((-angle.sin() * window)[:, None])


class _Spectrogram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stft = _STFT()

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → power ``[B, 1, frames, N_FFT // 2 + 1]``."""
        x = F.pad(wave[:, None], (N_FFT // 2, N_FFT // 2), mode="reflect")
        return (self.stft.conv_real(x).square() + self.stft.conv_imag(x).square()).transpose(1, 2)[:, None]


class _LogMel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # librosa.filters.mel (Slaney), as torchlibrosa's LogmelFilterBank
        self.melW = nn.Parameter(torch.tensor(dsp.mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, FMIN, FMAX).T.copy()),
                                 requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10((power @ self.melW).clamp_min(AMIN))


class _ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool)


class Cnn14(nn.Module):
    """Waveforms ``[B, T]`` at 32 kHz → clip embeddings ``[B, 1, 2048]`` (one frame per clip, kadtk's)."""

    sample_rate = SAMPLE_RATE
    checkpoint = "Cnn14_mAP=0.431.pth"
    chunk = 8
    """Clips through the network at once (14.5 s clips: a few hundred MB of activations)."""

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram_extractor = _Spectrogram()
        self.logmel_extractor = _LogMel()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        widths = (1, 64, 128, 256, 512, 1024, 2048)
        for i in range(6):
            self.add_module(f"conv_block{i + 1}", _ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(2048, 2048)
        self.fc_audioset = nn.Linear(2048, CLASSES)  # the tagger's head: loaded, never used

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.logmel_extractor(self.spectrogram_extractor(wave))  # [B, 1, frames, mels]
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalised per mel band
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, pool=2 if i < 5 else 1)
        x = x.mean(3)  # over frequency → [B, 2048, frames]
        return F.relu(self.fc1(x.amax(2) + x.mean(2)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.shape[-1] < MIN_SAMPLES:
            wave = F.pad(wave, (0, MIN_SAMPLES - wave.shape[-1]))
        wave = wave.to(self.fc1.weight.dtype)
        return torch.cat([self.embed(part) for part in wave.split(self.chunk)])[:, None]
