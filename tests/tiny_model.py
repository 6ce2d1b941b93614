"""A tiny autoencoder registered like a third-party plugin: exercises the trainer, not a model's quality."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from audiozoo import GenerativeModel, ModelConfig, hookimpl


@dataclass
class TinyConfig(ModelConfig):
    lr: float = 1e-2
    fail_at: int = 0  # raise KeyboardInterrupt (interrupt) or return NaN at this step; 0: never
    fail_with: str = "interrupt"  # or "nan", or "exit" (the process ends at once)
    fail_channels: int = 0  # raise ValueError in training on a representation with this many channels


class TinyAE(GenerativeModel):
    """Test double: a 1x1-convolution autoencoder with noise in its step."""

    name = "tiny"
    Config = TinyConfig
    can_reconstruct = True

    def __init__(self, shape, config=None):
        super().__init__(shape, config)
        self.encoder = torch.nn.Conv1d(self.shape[0], 4, 1)
        self.decoder = torch.nn.Conv1d(4, self.shape[0], 1)
        self.calls = 0

    def configure_optimizers(self):
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def training_step(self, batch, update):
        x = batch.x
        self.calls += 1
        if self.shape[0] == self.config.fail_channels:
            raise ValueError(f"tiny refuses {self.shape[0]} channels")
        if self.calls == self.config.fail_at and self.config.fail_with == "exit":
            os._exit(3)  # a process that dies without a word, as when the kernel kills it
        if self.calls == self.config.fail_at and self.config.fail_with == "interrupt":
            raise KeyboardInterrupt
        noisy = x + 0.1 * torch.randn_like(x)  # uses the global RNG, which resume must restore
        loss = torch.nn.functional.mse_loss(self.reconstruct(noisy), x)
        if self.calls >= self.config.fail_at > 0 and self.config.fail_with == "nan":
            loss = loss * float("nan")
        return {"loss": loss}

    def reconstruct(self, x):
        return self.decoder(torch.tanh(self.encoder(x)))

    def sample(self, n, generator=None, frames=None, options=None):
        z = torch.randn(n, 4, self.shape[1], generator=generator, device=self.decoder.weight.device)
        return self.decoder(z)

    def evaluation_losses(self, batch):
        return {"loss": torch.nn.functional.mse_loss(self.reconstruct(batch.x), batch.x)}


@hookimpl
def register_models(register):
    register(TinyAE)
