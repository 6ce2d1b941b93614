"""What the two 1-D VAEs share: the stage plan, the Gaussian latent, the loss, training and sampling.

Not a plugin (it registers nothing): ``vae_1dconv`` and ``vae_convpool`` subclass :class:`VAE`
and only say how their encoder and decoder are built.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from audiozoo import GenerativeModel, ModelConfig
from audiozoo.model import Batch, SampleOptions, Update
from audiozoo_plugins.spectral_loss import SIZES, MultiResolutionStftLoss

Activation = Literal["relu", "leaky_relu", "elu", "gelu"]
ReconLoss = Literal["mse", "stft", "mse+stft"]
MONOTONIC: frozenset[Activation] = frozenset({"relu", "leaky_relu", "elu"})
"""Activations that never decrease, so they commute with max pooling (GELU dips below zero)."""


def activation(name: Activation) -> torch.nn.Module:
    """A fresh activation module by name (``leaky_relu`` has slope 0.2)."""
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(0.2)
    return {"relu": torch.nn.ReLU, "elu": torch.nn.ELU, "gelu": torch.nn.GELU}[name]()


@dataclass
class VAEConfig(ModelConfig):
    """Settings both VAEs have."""

    widths: list[int] = field(default_factory=lambda: [32, 64, 128, 128])  # encoder stages' channels; decoder mirrors
    factor: int = 4  # time downsampling of each stage (stride or pool size)
    min_latent_frames: int = 256  # a stage downsamples only while the latent keeps at least this many frames
    kernel_size: int = 9  # odd; kernel of the convolutions that do not change the rate
    latent_channels: int = 16  # latent: a sequence of latent_channels × (frames / total downsampling)
    activation: Activation = "elu"  # after every convolution but the last of the decoder
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 0.0  # Adam weight decay (the report gives it for its GAN only)
    kl_weight: float = 0.01  # beta: weight of the KL term, both terms per input element
    kl_warmup_steps: int = 300  # beta rises linearly from 0 over this many updates (0: no warm-up)
    recon_loss: ReconLoss = "mse+stft"  # mse: on the features; stft: multi-resolution STFT of the decoded audio
    stft_weight: float = 1.0  # weight of the stft term (the mse term's is 1)
    stft_sizes: list[int] = field(default_factory=lambda: list(SIZES))  # the stft term's window sizes (hop: a quarter)

    def __post_init__(self) -> None:
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive channel counts, got {self.widths}")
        if self.factor < 2:
            raise ValueError(f"factor must be at least 2, got {self.factor}")
        if self.min_latent_frames < 1:
            raise ValueError(f"min_latent_frames must be at least 1, got {self.min_latent_frames}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if self.latent_channels < 1:
            raise ValueError(f"latent_channels must be at least 1, got {self.latent_channels}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.kl_weight < 0 or self.kl_warmup_steps < 0:
            raise ValueError("weight_decay, kl_weight and kl_warmup_steps must be non-negative")
        if self.stft_weight <= 0:
            raise ValueError(f"stft_weight must be positive, got {self.stft_weight}")
        if not self.stft_sizes or any(n < 4 for n in self.stft_sizes):
            raise ValueError(f"stft_sizes must be a non-empty list of window sizes of at least 4, got {self.stft_sizes}")


@dataclass
class VAESampleOptions(SampleOptions):
    temperature: float = 1.0  # standard deviation of the prior's draws; below 1: quieter, more typical textures

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


def plan_factors(frames: int, stages: int, factor: int, min_latent_frames: int) -> list[int]:
    """Per-stage downsampling: ``factor`` while ``ceil(frames / total)`` stays ≥ ``min_latent_frames``, then 1.

    With 4 stages of 4 and ``min_latent_frames`` 256, a waveform ``[1, 45675]`` downsamples in
    the first three (64×, latent 714 frames) and a spectrogram of 357 frames in none.
    """
    factors, total = [], 1
    for _ in range(stages):
        if math.ceil(frames / (total * factor)) >= min_latent_frames:
            factors.append(factor)
            total *= factor
        else:
            factors.append(1)
    return factors


def register_vae_presets(register: Callable[..., None], model: str, seed_epochs: int) -> None:
    """A VAE's part of the shared presets: its tiny size (``debug``), its budgets' batch
    (``default``, ``quality``) and the report's settings (``seed``: waveform halves, ``seed_epochs`` epochs, MSE)."""
    presets: dict[str, dict[str, Any]] = {
        "debug": {"model.widths": [16, 32], "model.latent_channels": 8, "model.kernel_size": 3,
                  "model.min_latent_frames": 4, "model.lr": 3e-3},
        "default": {"batch_size": 4},
        "quality": {"batch_size": 4},
        "seed": {"repr": "waveform", "data.sample_rate": 3150, "data.clip_seconds": 29.0, "data.segments": 2,
                 "epochs": seed_epochs, "model.recon_loss": "mse"},
    }
    for name, overrides in presets.items():
        register(name, overrides, model=model)


class VAE(GenerativeModel):
    """A Gaussian VAE over ``[B, C, F]`` with a latent sequence ``[B, latent_channels, F / hop]``.

    Subclasses build ``encoder`` (``[B, C, P] → [B, widths[-1], P / hop]``) and ``decoder``
    (``[B, widths[-1], P / hop] → [B, C, P]``) from the per-stage ``factors``; ``P`` is ``F``
    padded with zeros (the standardised mean) up to a multiple of ``hop``, and the output is
    cropped back to ``F``. Loss: reconstruction + beta·KL, both per input element; the
    reconstruction is the MSE on the features, a multi-resolution STFT loss on the decoded audio
    (:mod:`audiozoo_plugins.spectral_loss`), or their sum (``recon_loss``).

    The STFT term needs a decoder with gradients: it applies on exact representations (waveform,
    complex stft), whose decode is differentiable. Elsewhere (stft magnitude, mel, mfcc, latent) it
    is left out and the MSE stands alone: their decode is Griffin-Lim or a frozen model, and their
    features already are log spectra, on which the MSE is a log-spectral distance.
    """

    can_reconstruct = True
    any_length = True  # fully convolutional: a latent of any length decodes
    SampleOptions = VAESampleOptions
    config: VAEConfig

    def __init__(self, shape: tuple[int, int], config: VAEConfig | None = None) -> None:
        super().__init__(shape, config)
        c = self.config
        channels, frames = self.shape
        self.factors = plan_factors(frames, len(c.widths), c.factor, c.min_latent_frames)
        self.hop = math.prod(self.factors)
        self.padded = math.ceil(frames / self.hop) * self.hop
        self.latent_shape = (c.latent_channels, self.padded // self.hop)
        self.latent_channels, self.latent_hop = c.latent_channels, self.hop
        self.encoder = self.build_encoder(channels)
        self.to_latent = torch.nn.Conv1d(c.widths[-1], 2 * c.latent_channels, 1)  # mean and log-variance
        with torch.no_grad():  # start with a nearly deterministic latent (std e^-3), or its noise drowns the signal
            self.to_latent.bias[c.latent_channels :].fill_(-6.0)
        self.from_latent = torch.nn.Sequential(torch.nn.Conv1d(c.latent_channels, c.widths[-1], 1), activation(c.activation))
        self.decoder = self.build_decoder(channels)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))  # drives the KL warm-up; saved with the model
        self.spectral = MultiResolutionStftLoss(c.stft_sizes) if "stft" in c.recon_loss else None

    @abstractmethod
    def build_encoder(self, channels: int) -> torch.nn.Module:
        """``[B, channels, P] → [B, widths[-1], P / hop]`` following ``self.factors``."""

    @abstractmethod
    def build_decoder(self, channels: int) -> torch.nn.Module:
        """``[B, widths[-1], P / hop] → [B, channels, P]``, the encoder's stages in reverse, linear output."""

    # --- the pieces ----------------------------------------------------------------------------

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, C, frames]`` → mean and log-variance, each ``[B, latent_channels, ceil(frames / hop)]``
        (``frames`` padded with zeros, the standardised mean, to a multiple of ``hop``)."""
        x = F.pad(x, (0, -x.shape[-1] % self.hop))
        mean, logvar = self.to_latent(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode_latent(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Latent ``[B, latent_channels, L]`` → ``[B, C, frames]`` (``F`` when not given; at most ``L · hop``)."""
        return self.decoder(self.from_latent(z))[..., : frames or self.shape[1]]

    def losses(self, batch: Batch, sample_latent: bool = True) -> dict[str, torch.Tensor]:
        x = batch.x
        mean, logvar = self.posterior(x)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample_latent else mean
        terms = self.reconstruction_terms(self.decode_latent(z, x.shape[-1]), batch)
        recon = terms.get("mse", 0.0) + self.config.stft_weight * terms.get("stft", 0.0)
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum() / x.numel()
        beta = self.beta()
        return {"loss": recon + beta * kl, "recon": recon, **terms, "kl": kl,
                "beta": torch.tensor(beta, device=x.device)}

    def reconstruction_terms(self, y: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """``mse`` (features) and ``stft`` (decoded audio against the batch's) as ``recon_loss`` asks;
        the mse alone where the representation has no differentiable decode (or the batch names none)."""
        rep, terms = batch.representation, {}
        spectral = self.spectral is not None and rep is not None and rep.is_exact
        if spectral:
            with torch.autocast(y.device.type, enabled=False):  # decode and STFT in float32
                terms["stft"] = self.spectral(rep.decode(y.float(), batch.audio.shape[-1]), batch.audio)
        if "mse" in self.config.recon_loss or not spectral:
            terms["mse"] = F.mse_loss(y, batch.x)
        return terms

    def beta(self) -> float:
        """The KL weight now: ``kl_weight`` after a linear warm-up over ``kl_warmup_steps`` updates."""
        c = self.config
        if c.kl_warmup_steps == 0:
            return c.kl_weight
        return c.kl_weight * min(1.0, int(self.updates) / c.kl_warmup_steps)

    # --- the GenerativeModel interface ---------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)}

    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        losses = self.losses(batch)
        self.updates += 1  # the KL warm-up counts updates
        return losses

    @torch.no_grad()
    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The training losses with the latent mean instead of a draw, so they are deterministic."""
        return self.losses(batch, sample_latent=False)

    def noise_shapes(self, n: int, frames: int) -> dict[str, tuple[int, ...]]:
        return {"noise": (n, self.config.latent_channels, math.ceil(frames / self.hop))}

    def generate_from_noise(self, noise: dict[str, torch.Tensor], frames: int,
                            options: VAESampleOptions) -> torch.Tensor:
        """The prior's draw, scaled by the temperature, through the decoder."""
        return self.decode_latent(noise["noise"] * options.temperature, frames)

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior's mean: what ``repr=latent`` trains a second model on."""
        return self.posterior(x)[0]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Through the latent mean and back: ``[B, C, frames]`` → ``[B, C, frames]``."""
        return self.decode_latent(self.encode_latent(x), x.shape[-1])

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, factors={self.factors}, latent={list(self.latent_shape)}"
