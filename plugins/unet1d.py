"""A 1-D U-Net over frames, conditioned on a time in [0, 1]: the network of the ``flow`` model.

Not a plugin (it registers nothing). Every layer is a convolution over frames, a GroupNorm or a
self-attention over all frames, so the network takes any number of frames that is a multiple of
``2 ** (len(widths) - 1)`` (the caller pads).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def groups(channels: int) -> int:
    """GroupNorm groups: 32 where the channels allow it (the usual choice), else the largest divisor that fits."""
    return math.gcd(32, channels)


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features ``[B, dim]`` of times ``t [B]`` in [0, 1] (scaled by 1000, as diffusion models' step index)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = 1000.0 * t.float().unsqueeze(1) * frequencies
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def zeroed(layer: nn.Module) -> nn.Module:
    """``layer`` with its weights and bias at zero: a residual branch that starts as the identity."""
    for parameter in layer.parameters():
        nn.init.zeros_(parameter)
    return layer


class ResBlock(nn.Module):
    """GroupNorm → SiLU → Conv, the time as a scale and shift of the second GroupNorm, → SiLU → Conv, plus the input."""

    def __init__(self, channels_in: int, channels: int, embedding: int, kernel_size: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups(channels_in), channels_in)
        self.conv1 = nn.Conv1d(channels_in, channels, kernel_size, padding=kernel_size // 2)
        self.time = nn.Linear(embedding, 2 * channels)
        self.norm2 = nn.GroupNorm(groups(channels), channels)
        self.conv2 = zeroed(nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2))
        self.skip = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.time(embedding).unsqueeze(-1).chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Attention(nn.Module):
    """Multi-head self-attention over every frame, residual (its output projection starts at zero)."""

    def __init__(self, channels: int, head_channels: int = 64) -> None:
        super().__init__()
        self.heads = max(1, channels // head_channels)
        self.norm = nn.GroupNorm(groups(channels), channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = zeroed(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, frames = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, 3, self.heads, c // self.heads, frames).transpose(-1, -2).unbind(1)
        h = F.scaled_dot_product_attention(q, k, v)  # [B, heads, frames, c / heads]
        return x + self.out(h.transpose(-1, -2).reshape(b, c, frames))


class UNet1d(nn.Module):
    """``[B, C, L]`` and times ``[B]`` → ``[B, C, L]``.

    Level ``i`` holds ``blocks`` residual blocks of ``widths[i]`` channels at ``L / 2**i`` frames
    (a strided convolution halves the frames between levels, nearest-neighbour upsampling and a
    convolution double them back); the decoder's first block of each level also reads the
    encoder's output of that level (a skip connection). The lowest level has self-attention between
    its blocks when ``attention``. Each residual branch starts at zero (the blocks start as the
    identity); the output convolution does not, so even an untrained model's samples follow its noise.
    """

    def __init__(self, channels: int, widths: list[int], blocks: int, kernel_size: int, attention: bool) -> None:
        super().__init__()
        embedding = 4 * widths[0]
        self.time_dim = widths[0]
        self.time = nn.Sequential(nn.Linear(widths[0], embedding), nn.SiLU(), nn.Linear(embedding, embedding))
        self.inp = nn.Conv1d(channels, widths[0], kernel_size, padding=kernel_size // 2)
        self.down, self.downsample, self.up, self.upsample = (nn.ModuleList() for _ in range(4))
        width = widths[0]
        for level, out in enumerate(widths):
            self.down.append(nn.ModuleList(ResBlock(width if i == 0 else out, out, embedding, kernel_size)
                                           for i in range(blocks)))
            width = out
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv1d(out, out, 4, stride=2, padding=1))
        self.middle = Attention(width) if attention else nn.Identity()
        for level in reversed(range(len(widths))):
            out = widths[level]
            self.up.append(nn.ModuleList(ResBlock(width + out if i == 0 else out, out, embedding, kernel_size)
                                         for i in range(blocks)))
            width = out
            if level > 0:
                self.upsample.append(nn.Conv1d(out, widths[level - 1], kernel_size, padding=kernel_size // 2))
                width = widths[level - 1]
        self.out = nn.Sequential(nn.GroupNorm(groups(width), width), nn.SiLU(),
                                 nn.Conv1d(width, channels, kernel_size, padding=kernel_size // 2))
        self.multiple = 2 ** (len(widths) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        embedding = self.time(time_features(t, self.time_dim))
        h, skips = self.inp(x), []
        for level, stage in enumerate(self.down):
            for block in stage:
                h = block(h, embedding)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        h = self.middle(h)
        for level, stage in enumerate(self.up):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in stage:
                h = block(h, embedding)
            if level < len(self.upsample):
                h = self.upsample[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)
