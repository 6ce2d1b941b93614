"""The Metric interface: a figure computed on decoded audio, so every representation is judged alike."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch


@dataclass
class MetricConfig:
    sample_rate: int = 3150


class Metric(ABC):
    """``metric(reference[B, T], estimate[B, T]) -> Tensor[B]`` for reconstruction metrics
    (one figure per clip pair); generation metrics compare two sets and return a scalar."""

    name: ClassVar[str]
    Config: ClassVar[type[MetricConfig]] = MetricConfig
    task: ClassVar[Literal["reconstruction", "generation"]]
    higher_is_better: ClassVar[bool]
    unit: ClassVar[str] = ""

    def __init__(self, config: MetricConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Both ``[B, T]`` waveforms at ``config.sample_rate``."""
