"""An exponential moving average of a model's weights: what sampling and evaluation use when ``ema=`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

WARMUP = 10
"""The decay after ``n`` updates is ``min(decay, (1 + n) / (WARMUP + n))``: early averages follow the
weights closely, so a short run is not dominated by its initial weights (TensorFlow's ``num_updates``)."""


class EMA:
    """An average of every floating-point parameter (buffers are the live model's); checkpointed by name."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay, self.updates = decay, 0
        self.weights = {name: p.detach().clone() for name, p in model.named_parameters() if p.is_floating_point()}

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (WARMUP + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Every average moved towards its weights, in one fused pass (bit for bit a ``lerp_`` each)."""
        self.updates += 1
        params = dict(model.named_parameters())
        torch._foreach_lerp_(list(self.weights.values()), [params[name].detach() for name in self.weights],
                             1.0 - self.current_decay())

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Put the averaged weights into ``model`` (for a model that only samples from now on)."""
        params = dict(model.named_parameters())
        for name, average in self.weights.items():
            params[name].copy_(average)

    @contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The averaged weights in ``model`` inside the block, its own weights back after it, bit for bit."""
        params = dict(model.named_parameters())
        kept = {name: params[name].detach().clone() for name in self.weights}
        self.copy_to(model)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, weights in kept.items():
                    params[name].copy_(weights)

    def state_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "updates": self.updates}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, average in self.weights.items():
            average.copy_(state["weights"][name])
        self.updates = int(state["updates"])
