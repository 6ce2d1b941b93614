"""The GAN: dense + ConvTranspose2d generator; SpecGAN's convolutional critic trained with WGAN-GP (the
default), or the report's dense discriminator with binary cross-entropy (preset=seed)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

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
    discriminator: Literal["conv", "dense"] = "conv"  # conv: SpecGAN's critic (WaveGAN's on [1, N]); dense: the report's
    # conv: output channels of each 5×5 stride-2 Conv2d (on [1, N]: 25-tap stride-4 Conv1d), then a Linear to 1
    critic_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256])
    disc_widths: list[int] = field(default_factory=lambda: [128, 64])  # dense: hidden layers, on [C·F]
    disc_dropout: float = 0.0  # dense: dropout after each hidden discriminator layer
    loss: Literal["bce", "wgan_gp"] = "wgan_gp"  # wgan_gp: Wasserstein critic + gradient penalty; bce: the report's
    gp_weight: float = 10.0  # wgan_gp: weight of the gradient penalty (WGAN-GP's and SpecGAN's λ)
    # none: the loss's own recipe (RECIPES): the report's DCGAN Adam for bce, SpecGAN's for wgan_gp
    critic_steps: int | None = None  # discriminator updates per generator update (one per training step)
    lr_generator: float | None = None  # Adam
    lr_discriminator: float | None = None  # Adam
    beta1: float = 0.5  # Adam's first beta for both (DCGAN's and SpecGAN's; PyTorch's default is 0.9)
    beta2: float | None = None  # Adam's second beta for both
    weight_decay: float = 1e-5  # Adam weight decay for both, as the report
    real_label: float = 1.0  # bce: target for real inputs in the discriminator loss; < 1 is one-sided label smoothing

    def __post_init__(self) -> None:
        if self.noise_dim < 1:
            raise ValueError(f"noise_dim must be at least 1, got {self.noise_dim}")
        if self.discriminator == "conv" and not self.critic_channels:
            raise ValueError("critic_channels must name at least one convolution")
        for key in ("dense_widths", "channels", "critic_channels", "disc_widths"):
            widths = getattr(self, key)
            if any(w < 1 for w in widths):
                raise ValueError(f"{key} must hold positive widths, got {widths}")
        if not self.channels:
            raise ValueError("channels must name at least one stage")
        if self.base_size < 1 or self.max_stride < 1:
            raise ValueError(f"base_size and max_stride must be at least 1, got {self.base_size} and {self.max_stride}")
        if not 0 <= self.disc_dropout < 1:
            raise ValueError(f"disc_dropout must be in [0, 1), got {self.disc_dropout}")
        if self.loss not in RECIPES:
            raise ValueError(f"loss must be one of {', '.join(RECIPES)}, got {self.loss!r}")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight must be non-negative, got {self.gp_weight}")
        if self.setting("critic_steps") < 1:
            raise ValueError(f"critic_steps must be at least 1, got {self.critic_steps}")
        if self.setting("lr_generator") <= 0 or self.setting("lr_discriminator") <= 0:
            raise ValueError("lr_generator and lr_discriminator must be positive")
        for key in ("beta1", "beta2"):
            if not 0 <= self.setting(key) < 1:
                raise ValueError(f"{key} must be in [0, 1), got {self.setting(key)}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {self.weight_decay}")
        if not 0.5 < self.real_label <= 1:
            raise ValueError(f"real_label must be in (0.5, 1], got {self.real_label}")

    def setting(self, key: str) -> float:
        """Setting ``key``, or the loss's recipe where it is left at none."""
        value = getattr(self, key)
        return RECIPES[self.loss][key] if value is None else value


RECIPES: dict[str, dict[str, float]] = {
    # the report's: DCGAN's Adam, one discriminator step per generator step
    "bce": {"critic_steps": 1, "lr_generator": 2e-4, "lr_discriminator": 2e-4, "beta2": 0.999},
    # WGAN-GP's (Gulrajani et al. 2017) as SpecGAN trains it (Donahue et al. 2019)
    "wgan_gp": {"critic_steps": 5, "lr_generator": 1e-4, "lr_discriminator": 1e-4, "beta2": 0.9},
}
"""What a setting left at none takes, per loss."""


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


class ConvCritic(torch.nn.Module):
    """SpecGAN's critic (Donahue et al. 2019): ``[B, C, F]`` as a one-channel image → 5×5 Conv2d of
    stride 2 and LeakyReLU 0.2 per entry of ``critic_channels`` → flatten → Linear → one score. On a
    waveform ``[B, 1, N]``, WaveGAN's: 25-tap Conv1d of stride 4 instead. No batch norm (WGAN-GP)."""

    def __init__(self, shape: tuple[int, int], c: GANConfig) -> None:
        super().__init__()
        self.one_d = shape[0] == 1
        conv, kernel, stride = (torch.nn.Conv1d, 25, 4) if self.one_d else (torch.nn.Conv2d, 5, 2)
        sizes = list(shape[1:] if self.one_d else shape)
        layers, width = [], 1
        for out in c.critic_channels:
            layers += [conv(width, out, kernel, stride, kernel // 2), torch.nn.LeakyReLU(0.2)]
            sizes = [(size - 1) // stride + 1 for size in sizes]  # padding kernel // 2: ceil(size / stride)
            width = out
        self.convs = torch.nn.Sequential(*layers)
        self.out = torch.nn.Linear(width * math.prod(sizes), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x if self.one_d else x.unsqueeze(1)
        return self.out(self.convs(image).flatten(1)).squeeze(1)


class DenseDiscriminator(torch.nn.Module):
    """The report's: ``[B, C, F]`` flattened → dense layers (LeakyReLU 0.2) → one logit (bce) or score (the critic of
    wgan_gp) per input. No batch norm: it would couple a batch's inputs, which the gradient penalty forbids."""

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


DISCRIMINATORS: dict[str, type[torch.nn.Module]] = {"conv": ConvCritic, "dense": DenseDiscriminator}


class GAN(GenerativeModel):
    """GAN: dense+ConvTranspose2d generator; conv critic or dense discriminator; WGAN-GP or BCE.

    Each ``training_step`` updates the discriminator on a real batch and as many fakes, and every
    ``critic_steps``-th also the generator, each with its own Adam, through the trainer's ``update``;
    ``"loss"`` is the discriminator's. bce: the mean of the two BCE terms, then non-saturating BCE
    (fakes labelled real) for the generator. wgan_gp: the critic's ``D(fake) − D(real)`` plus
    ``gp_weight`` · the gradient penalty, then ``−D(fake)`` for the generator.
    """

    name = "gan"
    Config = GANConfig
    SampleOptions = GANSampleOptions
    manual_optimization = True
    config: GANConfig

    def __init__(self, shape: tuple[int, int], config: GANConfig | None = None) -> None:
        super().__init__(shape, config)
        self.generator = Generator(self.shape, self.config)
        self.discriminator = DISCRIMINATORS[self.config.discriminator](self.shape, self.config)
        self.critic_steps = int(self.config.setting("critic_steps"))
        if self.critic_steps > 1:  # where in its cycle training is, checkpointed so a resumed run continues exactly
            self.register_buffer("discriminator_updates", torch.zeros((), dtype=torch.long))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.setting("beta2"))
        return {name: torch.optim.Adam(getattr(self, name).parameters(), c.setting(f"lr_{name}"), betas,
                                       weight_decay=c.weight_decay)
                for name in ("generator", "discriminator")}

    def fake(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        device = self.generator.dense[0].weight.device
        return self.generator(noise((n, self.config.noise_dim), device, generator) * temperature)

    def discriminator_losses(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``"d_loss"`` (what the discriminator minimises) and its parts; ``"g_loss"``, the generator's
        loss on these fakes before the update (free: the same scores)."""
        real_scores, fake_scores = self.discriminator(x), self.discriminator(fake)
        if self.config.loss == "bce":
            real = F.binary_cross_entropy_with_logits(real_scores, torch.full_like(real_scores, self.config.real_label))
            fake_term = F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
            return {"d_loss": 0.5 * (real + fake_term), "g_loss": self.generator_loss_of(fake_scores)}
        wasserstein = real_scores.mean() - fake_scores.mean()  # the critic's estimate of the distance
        penalty = self.gradient_penalty(x, fake) if self.config.gp_weight else torch.zeros_like(wasserstein)
        return {"d_loss": self.config.gp_weight * penalty - wasserstein, "g_loss": self.generator_loss_of(fake_scores),
                "wasserstein": wasserstein, "gradient_penalty": penalty}

    def gradient_penalty(self, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``mean((‖∇D(x̂)‖ − 1)²)`` at ``x̂`` uniformly between each real input and a fake: WGAN-GP's
        soft 1-Lipschitz constraint. In fp32 whatever the autocast (a double backward in bf16 is too
        coarse), and with gradients on even where the caller has them off (held-out losses)."""
        x, fake = x.detach().float(), fake.detach().float()
        mix = torch.rand(len(x), *([1] * (x.dim() - 1)), device=x.device)
        with torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
            between = (mix * x + (1 - mix) * fake).requires_grad_(True)
            # the critic sees a view, not the leaf: module hooks (FlopCounterMode's) cannot watch a leaf in autograd.grad
            scores = self.discriminator(between.view_as(between))
            (grad,) = torch.autograd.grad(scores.sum(), between, create_graph=True)
            return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def generator_loss_of(self, fake_scores: torch.Tensor) -> torch.Tensor:
        """The generator's loss from the discriminator's scores of its fakes."""
        if self.config.loss == "bce":
            return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))
        return -fake_scores.mean()

    def generators_turn(self) -> bool:
        """Counts a discriminator update; True when the generator updates after it (every ``critic_steps``-th)."""
        if self.critic_steps == 1:
            return True
        self.discriminator_updates += 1
        return int(self.discriminator_updates) % self.critic_steps == 0

    def training_step(self, batch: Batch, update: Update) -> dict[str, torch.Tensor]:
        fake = self.fake(len(batch))
        losses = self.discriminator_losses(batch.x, fake.detach())
        update(losses["d_loss"], "discriminator")
        if self.generators_turn():
            self.discriminator.requires_grad_(False)  # the generator's update needs no gradients for these weights
            try:
                losses["g_loss"] = self.generator_loss_of(self.discriminator(fake))
                update(losses["g_loss"], "generator")
            finally:
                self.discriminator.requires_grad_(True)
        return {"loss": losses["d_loss"].detach(), **{k: v.detach() for k, v in losses.items()}}

    @torch.no_grad()
    def evaluation_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The same losses on held-out real data against fresh fakes, nothing updated."""
        losses = {k: v.detach() for k, v in self.discriminator_losses(batch.x, self.fake(len(batch))).items()}
        return {"loss": losses["d_loss"], **losses}

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
                       "model.base_size": 4, "model.critic_channels": [4, 8], "model.disc_widths": [32],
                       "model.lr_discriminator": 1e-3},  # a tiny critic learns within the contract tests' steps
             model=GAN.name)
    for budget in ("default", "quality"):
        register(budget, {"batch_size": 10}, model=GAN.name)
    register("seed", {"model.discriminator": "dense", "model.loss": "bce", "repr": "stft", "repr.form": "magnitude", "repr.n_fft": 2048, "repr.hop_length": 512,
                      "data.sample_rate": 3150, "data.clip_seconds": 29.0, "data.segments": 1,
                      "model.noise_dim": 1024, "model.weight_decay": 1e-5, "batch_size": 10, "epochs": 100},
             model=GAN.name)
