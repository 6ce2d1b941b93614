"""Rectified flow (flow matching) with a 1-D U-Net over frames, on any representation.

A clip ``x1`` and noise ``x0`` are joined by the straight line ``x_t = (1 - t)·x0 + t·x1``; the
model learns the velocity ``x1 - x0`` along it and samples by integrating that velocity from noise
(t = 0) to data (t = 1). The network predicts the clean clip ``x̂1`` (x-prediction) and the loss
is on the velocity it implies, ``(x̂1 - x_t) / (1 - t)``: a network that outputs a clip is
easier to fit than one that outputs noise-like velocities (docs/models.md has the measurements).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from audiozoo import GenerativeModel, ModelConfig, hookimpl
from audiozoo.model import Batch, SampleOptions, Update, noise
from audiozoo_plugins.unet1d import UNet1d

FOLD_CHANNELS = 64
"""``fold=0`` folds frames into channels until a U-Net frame holds at least this many values."""
MIN_REMAINING = 0.05
"""The loss divides by ``1 - t`` at least this large: near t = 1 the implied velocity's error would
otherwise weigh without bound (x-prediction's usual clamp)."""


@dataclass
class FlowConfig(ModelConfig):
    widths: list[int] = field(default_factory=lambda: [64, 128, 256])  # U-Net channels per level; each level halves the frames
    blocks: int = 2  # residual blocks per level, in the encoder and in the decoder
    kernel_size: int = 3  # odd; of every convolution over frames
    attention: bool = True  # self-attention over all frames at the lowest level
    fold: int = 0  # frames folded into channels before the U-Net (a waveform's samples); 0: auto, enough for 64 channels
    prediction: Literal["x", "velocity"] = "x"  # what the network outputs; the loss is on the velocity either way
    t_mean: float = 0.0  # training times t = sigmoid(N(t_mean, t_std)): logit-normal
    t_std: float = 1.0
    lr: float = 1e-3  # AdamW
    weight_decay: float = 0.01  # AdamW

    def __post_init__(self) -> None:
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive channel counts, got {self.widths}")
        if self.blocks < 1:
            raise ValueError(f"blocks must be at least 1, got {self.blocks}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.fold < 0:
            raise ValueError(f"fold must be 0 (auto) or positive, got {self.fold}")
        if self.t_std <= 0 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("t_std and lr must be positive and weight_decay non-negative")


@dataclass
class FlowSampleOptions(SampleOptions):
    steps: int = 25  # integration steps from noise (t = 0) to data (t = 1)
    solver: Literal["euler", "heun"] = "euler"  # heun: second order, two network calls a step (one on the last)
    precision: Literal["fp32", "bf16"] = "bf16"  # of the network's calls (autocast); the integration stays fp32

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")


def auto_fold(channels: int) -> int:
    """The smallest power of two that gives a U-Net frame at least :data:`FOLD_CHANNELS` values."""
    return 1 << max(0, math.ceil(math.log2(FOLD_CHANNELS / channels)))


def logit_normal_times(n: int, mean: float, std: float, device: torch.device,
                       generator: torch.Generator | None) -> torch.Tensor:
    """``n`` times ``sigmoid(N(mean, std))``, stratified: one from each of ``n`` equal-probability bins
    (a batch always spans the whole range, so its loss varies far less from step to step)."""
    offset = torch.rand((), generator=generator, device=generator.device if generator else device).to(device)
    u = (torch.arange(n, device=device) + offset) / n
    return torch.sigmoid(mean + std * math.sqrt(2) * torch.erfinv(2 * u - 1))


class Flow(GenerativeModel):
    """Rectified flow: a 1-D U-Net over frames predicts the clean clip; Euler or Heun sampling; any length.

    ``fold`` frames are folded into channels first (space-to-depth: ``[C, F]`` → ``[C·fold,
    F / fold]``), which turns a waveform's samples into frames of 64 samples; spectrograms are not
    folded. Frames are padded with zeros (the standardised mean) to a multiple of
    ``fold · 2**(levels - 1)`` and the output cropped back.
    """

    name = "flow"
    Config = FlowConfig
    SampleOptions = FlowSampleOptions
    any_length = True
    config: FlowConfig

    def __init__(self, shape: tuple[int, int], config: FlowConfig | None = None) -> None:
        super().__init__(shape, config)
        c = self.config
        self.fold = c.fold or auto_fold(self.shape[0])
        self.network = UNet1d(self.shape[0] * self.fold, c.widths, c.blocks, c.kernel_size, c.attention)

    def predict(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network's output for ``x_t [B, C, frames]`` at times ``t [B]``: folded, padded, and back."""
        b, channels, frames = x.shape
        multiple = self.fold * self.network.multiple
        padded = math.ceil(frames / multiple) * multiple
        h = F.pad(x, (0, padded - frames)).view(b, channels, padded // self.fold, self.fold)
        h = h.transpose(2, 3).reshape(b, channels * self.fold, padded // self.fold)
        out = self.network(h, t).float().view(b, channels, self.fold, padded // self.fold)
        return out.transpose(2, 3).reshape(b, channels, padded)[..., :frames]

    def velocity(self, x: torch.Tensor, t: float, precision: str = "fp32") -> torch.Tensor:
        """The velocity at ``x`` and time ``t`` (< 1), as sampling integrates it."""
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = self.predict(x, x.new_full(x.shape[:1], t))  # the batch read from x, so a traced file takes any
        return out if self.config.prediction == "velocity" else (out - x) / (1 - t)

    def loss(self, x1: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean squared error of the velocity at a logit-normal time on the line from noise to ``x1``."""
        c = self.config
        x0 = noise(x1.shape, x1.device, generator)
        t = logit_normal_times(len(x1), c.t_mean, c.t_std, x1.device, generator)
        s = t.view(-1, 1, 1)
        out = self.predict((1 - s) * x0 + s * x1, t)
        error = out - (x1 - x0) if c.prediction == "velocity" else (out - x1) / (1 - s).clamp_min(MIN_REMAINING)
        return error.square().mean()

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": torch.optim.AdamW(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)}

    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        return {"loss": self.loss(batch.x)}

    @torch.no_grad()
    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The training loss with noise and times from a fixed seed: comparable from one validation to the next."""
        return {"loss": self.loss(batch.x, torch.Generator(device=batch.x.device).manual_seed(0))}

    def noise_shapes(self, n: int, frames: int) -> dict[str, tuple[int, ...]]:
        return {"noise": (n, self.shape[0], frames)}

    def generate_from_noise(self, noise: dict[str, torch.Tensor], frames: int,
                            options: FlowSampleOptions) -> torch.Tensor:
        """The noise (t = 0) integrated to data (t = 1) in ``options.steps`` Euler or Heun steps."""
        o, x = options, noise["noise"]
        dt = 1.0 / o.steps
        for i in range(o.steps):
            v = self.velocity(x, i * dt, o.precision)
            if o.solver == "heun" and i + 1 < o.steps:  # the last step ends at t = 1, where x-prediction's velocity has no value
                v = 0.5 * (v + self.velocity(x + dt * v, (i + 1) * dt, o.precision))
            x = x + dt * v
        return x

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, fold={self.fold}"


@hookimpl
def register_models(register):
    register(Flow)


@hookimpl
def register_presets(register):
    """Its tiny size for tests, and the recipe its default budget was tuned with (docs/models.md)."""
    register("debug", {"model.widths": [16, 32], "model.blocks": 1, "model.lr": 1e-2}, model=Flow.name)
    recipe = {"batch_size": 16, "crop_seconds": 5.2, "precision": "bf16", "grad_clip": 1.0, "ema": 0.999,
              "schedule": "cosine", "warmup_steps": 50}
    # The cosine spans about the steps each budget reaches on 2 CPU cores (10 steps/s on mel).
    register("default", {**recipe, "schedule_steps": 2500}, model=Flow.name)
    register("quality", {**recipe, "schedule_steps": 18000}, model=Flow.name)
