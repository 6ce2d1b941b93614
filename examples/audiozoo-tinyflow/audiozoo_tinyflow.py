"""An audiozoo model in one file: flow matching (rectified flow) on any representation.

The reference for writing a model plugin, kept small; the built-in ``flow`` model is the full one.

Training draws noise ``x0`` and a time ``t`` per clip, and regresses the straight-line velocity
``x1 - x0`` at ``x_t = (1 - t)·x0 + t·x1``; sampling integrates that velocity from noise
(t = 0) to data (t = 1). The network is fully convolutional over frames, so it samples any length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from audiozoo import GenerativeModel, ModelConfig, hookimpl
from audiozoo.model import Batch, SampleOptions, Update


@dataclass
class TinyFlowConfig(ModelConfig):
    width: int = 128  # channels of the velocity network
    depth: int = 4  # residual blocks
    kernel_size: int = 5  # odd; of every convolution over frames
    lr: float = 1e-3  # AdamW

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ValueError(f"width and depth must be at least 1, got {self.width} and {self.depth}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")


@dataclass
class TinyFlowSampleOptions(SampleOptions):
    steps: int = 16  # integration steps from noise to data
    solver: Literal["euler", "midpoint"] = "euler"  # midpoint: two network calls a step, far smaller error

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")


class Block(torch.nn.Module):
    """Conv → GELU → Conv, added to its input, with the time added to the hidden channels."""

    def __init__(self, width: int, kernel_size: int) -> None:
        super().__init__()
        self.first = torch.nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2)
        self.second = torch.nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2)
        self.time = torch.nn.Linear(16, width)

    def forward(self, h: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        return h + self.second(F.gelu(self.first(h) + self.time(time).unsqueeze(-1)))


class TinyFlow(GenerativeModel):
    """Flow matching with a small residual 1-D convolutional velocity net; any length (example third-party model)."""

    name = "tinyflow"
    Config = TinyFlowConfig
    SampleOptions = TinyFlowSampleOptions
    any_length = True
    config: TinyFlowConfig

    def __init__(self, shape: tuple[int, int], config: TinyFlowConfig | None = None) -> None:
        super().__init__(shape, config)
        c, channels = self.config, self.shape[0]
        self.inp = torch.nn.Conv1d(channels, c.width, 1)
        self.blocks = torch.nn.ModuleList(Block(c.width, c.kernel_size) for _ in range(c.depth))
        self.out = torch.nn.Conv1d(c.width, channels, 1)
        self.register_buffer("frequencies", torch.exp(torch.linspace(0, math.log(100), 8)))

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network: ``x_t [B, C, F]`` at times ``t [B]`` → the velocity ``[B, C, F]``."""
        angles = t.unsqueeze(1) * self.frequencies
        time = torch.cat([angles.sin(), angles.cos()], dim=1)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, time)
        return self.out(F.gelu(h))

    def loss(self, x1: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device)
        t = torch.rand(x1.shape[0], generator=generator, device=x1.device)
        xt = x0 + t.view(-1, 1, 1) * (x1 - x0)
        return F.mse_loss(self.velocity(xt, t), x1 - x0)

    # --- what audiozoo's trainer asks of a model ------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adamw": torch.optim.AdamW(self.parameters(), lr=self.config.lr)}

    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        return {"loss": self.loss(batch.x)}  # the trainer backpropagates "loss" and steps "adamw"

    @torch.no_grad()
    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {"loss": self.loss(batch.x)}  # the validation stage seeds the global generator

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, frames: int | None = None,
               options: TinyFlowSampleOptions | None = None) -> torch.Tensor:
        options = options or TinyFlowSampleOptions()
        device = self.out.weight.device
        shape = (n, self.shape[0], frames or self.shape[1])
        x = torch.randn(shape, generator=generator, device=generator.device if generator else device).to(device)
        dt = 1.0 / options.steps
        for i in range(options.steps):
            t = torch.full((n,), i * dt, device=device)
            v = self.velocity(x, t)
            if options.solver == "midpoint":
                v = self.velocity(x + 0.5 * dt * v, t + 0.5 * dt)
            x = x + dt * v
        return x


@hookimpl
def register_models(register):
    register(TinyFlow)


@hookimpl
def register_presets(register):
    """Its tiny size, for `preset=debug` and audiozoo's contract tests."""
    register("debug", {"model.width": 16, "model.depth": 2, "model.kernel_size": 3, "model.lr": 3e-3}, model=TinyFlow.name)
