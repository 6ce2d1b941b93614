"""The report's GAN: dense + ConvTranspose2d generator, dense discriminator, binary cross-entropy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from audiozoo import GenerativeModel, ModelConfig, hookimpl
from audiozoo.model import Batch, SampleOptions, Update, noise


@dataclass
class GANConfig(ModelConfig):
    noise_dim: int = 1024  # generator input, as the report
    dense_widths: list[int] = field(default_factory=lambda: [256])  # generator's hidden dense layers
    # image channels after the reshape, then after each ConvTranspose2d but the last (to 1): one upsampling stage each
    channels: list[int] = field(default_factory=lambda: [64, 32, 16])
    base_size: int = 8  # per axis, the stride is the smallest that reaches the size from about this many rows/columns
    max_stride: int = 8  # per axis and stage; an axis that needs more starts from a larger image
    disc_widths: list[int] = field(default_factory=lambda: [128, 64])  # discriminator's hidden layers, on [C·F]
    disc_dropout: float = 0.0  # dropout after each hidden discriminator layer
    lr_generator: float = 2e-4  # Adam
    lr_discriminator: float = 2e-4  # Adam
    beta1: float = 0.5  # Adam's first beta for both (DCGAN's; PyTorch's default is 0.9)
    weight_decay: float = 1e-5  # Adam weight decay for both, as the report
    real_label: float = 1.0  # target for real inputs in the discriminator loss; < 1 is one-sided label smoothing

    def __post_init__(self) -> None:
        if self.noise_dim < 1:
            raise ValueError(f"noise_dim must be at least 1, got {self.noise_dim}")
        for key in ("dense_widths", "channels", "disc_widths"):
            widths = getattr(self, key)
            if any(w < 1 for w in widths):
                raise ValueError(f"{key} must hold positive widths, got {widths}")
        if not self.channels:
            raise ValueError("channels must name at least one stage")
        if self.base_size < 1 or self.max_stride < 1:
            raise ValueError(f"base_size and max_stride must be at least 1, got {self.base_size} and {self.max_stride}")
        if not 0 <= self.disc_dropout < 1:
            raise ValueError(f"disc_dropout must be in [0, 1), got {self.disc_dropout}")
        if self.lr_generator <= 0 or self.lr_discriminator <= 0:
            raise ValueError("lr_generator and lr_discriminator must be positive")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}")
        if not 0.5 < self.real_label <= 1:
            raise ValueError(f"real_label must be in (0.5, 1], got {self.real_label}")


@dataclass
class GANSampleOptions(SampleOptions):
    temperature: float = 1.0  # scale of the generator's input noise; below 1 trades variety for typical samples

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


def plan_axis(size: int, stages: int, base_size: int, max_stride: int) -> tuple[int, int]:
    """``(base, stride)`` for one image axis: the smallest stride ≤ ``max_stride`` with
    ``base_size · stride^stages ≥ size``, and the base length that then covers ``size``.

    ``[1, 45675]`` (waveform), 3 stages: height stride 1 from 1 row, width stride 8 from 90.
    """
    stride = 1
    while stride < max_stride and base_size * stride**stages < size:
        stride += 1
    return math.ceil(size / stride**stages), stride


def transpose_settings(base: int, stride: int) -> tuple[int, int, int]:
    """``(kernel, padding, output_padding)`` of one axis so a ConvTranspose2d multiplies its length by ``stride``."""
    if stride == 1:
        kernel = 3 if base > 1 else 1
        return kernel, kernel // 2, 0
    return 2 * stride, (stride + 1) // 2, stride % 2  # kernel 2·stride: every output gets two taps


class Generator(torch.nn.Module):
    """Noise ``[B, noise_dim]`` → dense layers → ``[B, channels[0], H0, W0]`` → ConvTranspose2d stack → ``[B, C, F]``."""

    def __init__(self, shape: tuple[int, int], c: GANConfig) -> None:
        super().__init__()
        self.shape = shape
        (h0, sh), (w0, sw) = (plan_axis(size, len(c.channels), c.base_size, c.max_stride) for size in shape)
        self.base = (c.channels[0], h0, w0)
        self.strides = (sh, sw)
        dense, width = [], c.noise_dim
        for out in [*c.dense_widths, math.prod(self.base)]:
            dense += [torch.nn.Linear(width, out), torch.nn.LeakyReLU(0.2)]
            width = out
        self.dense = torch.nn.Sequential(*dense)
        convs, h, w = [], h0, w0
        outs = [*c.channels[1:], 1]
        for i, (cin, cout) in enumerate(zip(c.channels, outs)):
            (kh, ph, oh), (kw, pw, ow) = transpose_settings(h, sh), transpose_settings(w, sw)
            convs.append(torch.nn.ConvTranspose2d(cin, cout, (kh, kw), (sh, sw), (ph, pw), (oh, ow)))
            if i < len(outs) - 1:
                convs.append(torch.nn.LeakyReLU(0.2))
            h, w = h * sh, w * sw
        self.convs = torch.nn.Sequential(*convs)  # linear output: the data are standardised

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        image = self.convs(self.dense(z).view(-1, *self.base))
        return image[:, 0, : self.shape[0], : self.shape[1]]


class Discriminator(torch.nn.Module):
    """``[B, C, F]`` flattened → dense layers (LeakyReLU 0.2) → one logit per input."""

    def __init__(self, shape: tuple[int, int], c: GANConfig) -> None:
        super().__init__()
        layers, width = [torch.nn.Flatten()], math.prod(shape)
        for out in c.disc_widths:
            layers += [torch.nn.Linear(width, out), torch.nn.LeakyReLU(0.2)]
            if c.disc_dropout:
                layers.append(torch.nn.Dropout(c.disc_dropout))
            width = out
        layers.append(torch.nn.Linear(width, 1))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(1)


class GAN(GenerativeModel):
    """GAN: dense+ConvTranspose2d generator, dense discriminator, BCE; the report's spectrogram GAN.

    ``training_step`` updates the discriminator on a real batch and as many fakes (loss: the
    mean of the two BCE terms), then the generator once (non-saturating BCE: fakes labelled
    real), each with its own Adam, through the trainer's ``update``; ``"loss"`` is the discriminator's.
    """

    name = "gan"
    Config = GANConfig
    SampleOptions = GANSampleOptions
    manual_optimization = True
    config: GANConfig

    def __init__(self, shape: tuple[int, int], config: GANConfig | None = None) -> None:
        super().__init__(shape, config)
        self.generator = Generator(self.shape, self.config)
        self.discriminator = Discriminator(self.shape, self.config)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c, betas = self.config, (self.config.beta1, 0.999)
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), c.lr_generator, betas, weight_decay=c.weight_decay),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), c.lr_discriminator, betas, weight_decay=c.weight_decay
            ),
        }

    def fake(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        device = self.generator.dense[0].weight.device
        return self.generator(noise((n, self.config.noise_dim), device, generator) * temperature)

    def discriminator_loss(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Mean of the BCE on real inputs (target ``real_label``) and on fakes (target 0)."""
        real_logits, fake_logits = self.discriminator(x), self.discriminator(fake)
        real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.config.real_label))
        return 0.5 * (real + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        logits = self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        fake = self.fake(len(batch))
        d_loss = self.discriminator_loss(batch.x, fake.detach())
        update(d_loss, "discriminator")
        self.discriminator.requires_grad_(False)  # the generator's update needs no gradients for these weights
        try:
            g_loss = self.generator_loss(fake)
            update(g_loss, "generator")
        finally:
            self.discriminator.requires_grad_(True)
        return {"loss": d_loss.detach(), "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    @torch.no_grad()
    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Both losses on held-out real data against fresh fakes, nothing updated."""
        fake = self.fake(len(batch))
        d_loss = self.discriminator_loss(batch.x, fake)
        return {"loss": d_loss, "d_loss": d_loss, "g_loss": self.generator_loss(fake)}

    def noise_shapes(self, n: int, frames: int) -> dict[str, tuple[int, ...]]:
        """Dense layers fix the size: ``frames`` is ``F`` (the core refuses other lengths)."""
        return {"noise": (n, self.config.noise_dim)}

    def generate_from_noise(self, noise: dict[str, torch.Tensor], frames: int,
                            options: GANSampleOptions) -> torch.Tensor:
        return self.generator(noise["noise"] * options.temperature)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}, base={list(self.generator.base)}, strides={list(self.generator.strides)}"


@hookimpl
def register_models(register):
    register(GAN)


@hookimpl
def register_presets(register):
    """The GAN's part of the shared presets: its tiny size, its budget's batch, the report's settings."""
    register("debug", {"model.noise_dim": 16, "model.dense_widths": [32], "model.channels": [8, 4],
                       "model.base_size": 4, "model.disc_widths": [32]}, model=GAN.name)
    register("default", {"batch_size": 10}, model=GAN.name)
    register("seed", {"repr": "stft", "repr.form": "magnitude", "repr.n_fft": 2048, "repr.hop_length": 512,
                      "data.sample_rate": 3150, "data.clip_seconds": 29.0, "data.segments": 1,
                      "model.noise_dim": 1024, "model.weight_decay": 1e-5, "batch_size": 10, "epochs": 100},
             model=GAN.name)
