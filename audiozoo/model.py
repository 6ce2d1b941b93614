"""The GenerativeModel interface: a network built from a representation's ``(C, F)`` shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch


@dataclass
class ModelConfig:
    """Settings every model has; plugins subclass this dataclass to add their own."""


class GenerativeModel(torch.nn.Module, ABC):
    """A model over tensors ``[B, C, F]`` in a representation's space.

    It never sees audio: the representation encodes before and decodes after, which is what
    lets every model train on every representation. Nothing about ``C`` or ``F`` is fixed in
    advance; a model that needs a fixed size derives it from ``shape``.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    can_reconstruct: ClassVar[bool] = False
    """True for autoencoders: ``reconstruct`` maps inputs back through the latent space."""

    def __init__(self, shape: tuple[int, int], config: ModelConfig | None = None) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new tensors ``[n, C, F]``."""

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} is not an autoencoder and cannot reconstruct")
