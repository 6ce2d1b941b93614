"""The Representation interface: waveforms ``[B, T]`` to model tensors ``[B, C, F]`` and back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import torch

from audiozoo.errors import AudiozooError
from audiozoo.speed import each_block, in_blocks


@dataclass
class RepresentationConfig:
    """Settings every representation has; plugins subclass this dataclass to add their own."""

    sample_rate: int = 3150
    standardize: bool = True  # per-channel mean/std fitted on the training split, undone by decode

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")


class Representation(torch.nn.Module, ABC):
    """Batched, device-agnostic transform between audio and the tensor a model sees.

    Contract: ``encode(wave[B, T]) -> x[B, C, F]`` (float32, channels × frames) and
    ``decode(x) -> wave[B, T]``, all in torch with no per-clip loop. Subclasses implement
    :meth:`analyze` / :meth:`synthesize` (the raw transform, log compression included);
    standardisation is shared here so every representation stores and inverts it alike.
    It is a ``Module`` so its buffers (windows, filterbanks, statistics) follow ``.to(device)``
    and are saved in ``state_dict`` with the model that uses it. On CPU, ``encode``, ``decode``
    and ``fit`` hand ``analyze``/``synthesize`` the batch in cache-sized blocks of clips
    (:func:`audiozoo.speed.in_blocks`): the same result, faster.
    """

    name: ClassVar[str]
    Config: ClassVar[type[RepresentationConfig]] = RepresentationConfig
    exact: ClassVar[bool]
    """True when ``decode(encode(x))`` recovers ``x`` up to float error; False for magnitude-only forms."""
    required: ClassVar[tuple[str, ...]] = ()
    """Settings without which no instance exists (``latent``: ``run``): lists of every representation
    (a bench's ``reprs=*``, the contract tests) leave such a representation out unless it is named."""

    def __init__(self, config: RepresentationConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.register_buffer("mean", torch.zeros(self.channels, 1))
        self.register_buffer("std", torch.ones(self.channels, 1))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def is_exact(self) -> bool:
        """Whether this instance inverts exactly; ``exact`` unless its settings decide (stft's ``form``)."""
        return self.exact

    @property
    @abstractmethod
    def channels(self) -> int:
        """C in ``[B, C, F]``."""

    @abstractmethod
    def frames(self, num_samples: int) -> int:
        """F in ``[B, C, F]`` for an input of ``num_samples`` samples, without computing anything."""

    @abstractmethod
    def num_samples(self, frames: int) -> int:
        """The length ``decode`` gives for ``frames`` frames when no length is asked for."""

    @abstractmethod
    def analyze(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → unstandardised features ``[B, C, F]``."""

    @abstractmethod
    def synthesize(self, features: torch.Tensor, length: int) -> torch.Tensor:
        """Unstandardised features ``[B, C, F]`` → ``[B, length]``."""

    def shape(self, num_samples: int) -> tuple[int, int]:
        """``(C, F)`` for an input of ``num_samples`` samples: what a model is built from."""
        return self.channels, self.frames(num_samples)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → standardised features ``[B, C, F]``."""
        if wave.ndim != 2:
            raise AudiozooError(f"{self.name}.encode expects a [batch, samples] tensor, got shape {list(wave.shape)}")
        wave = wave.to(self.mean.device, torch.float32)
        shape = (wave.shape[0], *self.shape(wave.shape[1]))
        return in_blocks(lambda clips: self._standardize(self.analyze(clips)), wave, shape, wave.shape[1])

    def decode(self, x: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Standardised features ``[B, C, F]`` → ``[B, length]`` (``num_samples(F)`` when not given)."""
        if x.ndim != 3 or x.shape[1] != self.channels:
            raise AudiozooError(
                f"{self.name}.decode expects [batch, {self.channels}, frames], got shape {list(x.shape)}"
            )
        x = x.to(self.mean.device, torch.float32)
        length = self.num_samples(x.shape[-1]) if length is None else length
        return in_blocks(lambda rows: self.synthesize(self._unstandardize(rows), length), x,
                         (x.shape[0], length), length)

    @torch.no_grad()
    def fit(self, batches: Iterable[torch.Tensor]) -> Representation:
        """Fit the per-channel statistics on training audio (an iterable of ``[B, T]`` batches)."""
        count, total, squares = 0, 0.0, 0.0
        for wave in batches:
            wave = wave.to(self.mean.device, torch.float32)
            for features in each_block(self.analyze, wave, wave.shape[1]):
                x = features.double()
                count += x.shape[0] * x.shape[2]
                total = total + x.sum(dim=(0, 2))
                squares = squares + (x * x).sum(dim=(0, 2))
        if count == 0:
            raise AudiozooError(f"cannot fit {self.name}: no training audio")
        mean = total / count
        std = (squares / count - mean * mean).clamp_min(0).sqrt()
        self.mean.copy_(mean.float().unsqueeze(1))
        self.std.copy_(std.float().clamp_min(1e-5).unsqueeze(1))
        return self

    def _standardize(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean).div_(self.std) if self.config.standardize else features

    def _unstandardize(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.mean, x, self.std) if self.config.standardize else x

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in vars(self.config).items())
