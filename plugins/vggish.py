"""VGGish (Hershey et al., ICASSP 2017) in plain PyTorch, as fadtk runs it: frame embeddings for FAD and KAD.

The layers and their names are those of torchvggish's ``VGG`` (``features.0`` … ``features.13``,
``embeddings.0/2/4``), so the published ``vggish-10086976.pth`` loads strictly. As fadtk (and
kadtk) use it: no PCA postprocessing and no ReLU after the last layer, 128 raw values per
0.96 s patch. The frontend is torchvggish's ``vggish_input.waveform_to_examples`` (itself the
TensorFlow release's ``mel_features``), written in torch.
"""

from __future__ import annotations

import torch
from torch import nn

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512  # the next power of two above the window
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 0.01  # log(mel + 0.01): the magnitude mel spectrum, stabilised
PATCH = 96  # frames per example: 0.96 s, patches do not overlap
MIN_SAMPLES = SAMPLE_RATE  # fadtk pads shorter audio with zeros to 1 s (one patch)


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK's mel scale, as ``mel_features.hertz_to_mel`` (float64 in, float64 out)."""
    return 1127.0 * torch.log1p(hz / 700.0)


def mel_matrix(device: torch.device | None = None) -> torch.Tensor:
    """``mel_features.spectrogram_to_mel_matrix`` for VGGish ``[N_FFT // 2 + 1, N_MELS]``, float64.

    Triangles spaced evenly on the HTK mel scale and drawn on it (not in Hz, as librosa's), no
    area normalisation, the DC bin zeroed.
    """
    bins = _hz_to_mel(torch.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1, dtype=torch.float64, device=device))
    low, high = _hz_to_mel(torch.tensor([FMIN, FMAX], dtype=torch.float64)).tolist()
    edges = torch.linspace(low, high, N_MELS + 2, dtype=torch.float64, device=device)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    weights = torch.minimum(rising, falling).clamp_min(0.0)
    weights[0] = 0.0
    return weights


def log_mel_patches(wave: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` at 16 kHz → ``[B, P, 96, 64]`` log-mel patches (float64), the incomplete last patch dropped."""
    wave = wave.double()
    if wave.shape[-1] < MIN_SAMPLES:
        wave = nn.functional.pad(wave, (0, MIN_SAMPLES - wave.shape[-1]))
    window = torch.hann_window(WINDOW, periodic=True, dtype=torch.float64, device=wave.device)
    frames = wave.unfold(-1, WINDOW, HOP) * window  # no centring: frames start at sample 0
    magnitude = torch.fft.rfft(frames, n=N_FFT).abs()  # [B, F, 257]
    log_mel = torch.log(magnitude @ mel_matrix(wave.device) + LOG_OFFSET)  # [B, F, 64]
    return log_mel.unfold(1, PATCH, PATCH).transpose(-1, -2)  # [B, P, 96, 64]


class VGGish(nn.Module):
    """Waveforms ``[B, T]`` at 16 kHz → frame embeddings ``[B, P, 128]``, one per 0.96 s patch."""

    sample_rate = SAMPLE_RATE
    checkpoint = "vggish-10086976.pth"
    chunk = 64
    """Patches through the network at once: about 100 MB of activations on the first layer."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if width == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        # torchvggish's last ReLU (embeddings.5) is what fadtk removes: it holds no weights
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                        nn.ReLU(True), nn.Linear(4096, 128))

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """``[N, 96, 64]`` log-mel patches → ``[N, 128]``."""
        x = self.features(patches[:, None].to(self.embeddings[0].weight.dtype))  # [N, 512, 6, 4]
        # channels last before flattening, as TensorFlow's layout (and torchvggish) has it
        return self.embeddings(x.permute(0, 2, 3, 1).flatten(1))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        patches = log_mel_patches(wave)
        batch, count = patches.shape[:2]
        out = torch.cat([self.embed(part) for part in patches.flatten(0, 1).split(self.chunk)])
        return out.reshape(batch, count, -1)

