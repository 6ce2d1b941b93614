"""Everything between a model's loss and its parameter update, owned by the trainer for every model.

Backward (through a grad scaler under fp16), the average of gradients across processes,
clipping, the optimizer's step, the learning-rate schedule and the EMA of the weights. A model
only states losses (:meth:`GenerativeModel.training_step`), so each of these is set once, as a
run setting, for every model alike.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from audiozoo.errors import AudiozooError
from audiozoo.model import Batch, GenerativeModel
from audiozoo.runs.checkpoint import Named, Stateful
from audiozoo.settings import TrainConfig
from audiozoo.speed import fused_optimizer
from audiozoo.train import distributed
from audiozoo.train.ema import EMA

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def lr_factor(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """The learning rate of update ``step + 1`` as a fraction of the optimizer's own: a linear
    warm-up over ``warmup_steps``, then constant or a cosine decay to 0 at ``total_steps``."""
    warmup, schedule = config.warmup_steps, config.schedule
    span = max(1, (config.schedule_steps or total_steps) - warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / span)))

    return factor


class Updater:
    """Steps a model: its losses under autocast, then backward, all-reduce, clipping and each optimizer's step.

    ``optimizers``, ``schedulers``, ``scaler`` and ``ema`` (None unless ``config.ema``) are what a
    checkpoint must hold to continue exactly.
    """

    def __init__(self, model: GenerativeModel, config: TrainConfig, total_steps: int) -> None:
        self.model, self.config = model, config
        self.device_type = next(model.parameters()).device.type
        self.optimizers = {name: fused_optimizer(opt) for name, opt in model.configure_optimizers().items()}
        if not self.optimizers:
            raise AudiozooError(f"model {model.name!r} configured no optimizer")
        factor = lr_factor(config, total_steps)
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in self.optimizers.items()}
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=config.precision == "fp16")
        self.ema = EMA(model, config.ema) if config.ema else None

    def state_entries(self) -> dict[str, Stateful]:
        """What a checkpoint needs of the updater to continue exactly: optimizers, schedulers, grad scaler."""
        return {"optimizers": Named(self.optimizers), "schedulers": Named(self.schedulers), "scaler": self.scaler}

    def autocast(self) -> AbstractContextManager[Any]:
        """Mixed precision of the forward pass (``precision=bf16|fp16``), on CPU and CUDA alike."""
        if self.config.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.config.precision])

    def update(self, loss: torch.Tensor, optimizer: str) -> None:
        """Backward of ``loss``, gradients averaged over processes, clipped, and a step of ``optimizer``."""
        try:
            opt = self.optimizers[optimizer]
        except KeyError:
            raise AudiozooError(f"model {self.model.name!r} asked to step optimizer {optimizer!r}; "
                                f"it has: {', '.join(self.optimizers)}") from None
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)

    # The phases of an update, methods of their own so that benchmarks/ can time each.

    def backward(self, loss: torch.Tensor) -> None:
        """Gradients of ``loss`` (scaled under fp16), in the parameters' precision."""
        with torch.autocast(self.device_type, enabled=False):
            self.scaler.scale(loss).backward()

    def optimizer_step(self, opt: torch.optim.Optimizer) -> None:
        """``opt``'s gradients averaged over processes, clipped, and its step."""
        params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
        distributed.average_gradients(params)
        if self.config.grad_clip:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        self.scaler.step(opt)

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One training step on ``batch``; returns the model's losses, detached."""
        with self.autocast():
            losses = self.model.training_step(batch, self.update)
        if not self.model.manual_optimization:
            if len(self.optimizers) != 1:
                raise AudiozooError(f"model {self.model.name!r} has {len(self.optimizers)} optimizers: it must set "
                                    "manual_optimization = True and call update(loss, name) for each")
            self.update(losses["loss"], next(iter(self.optimizers)))
        self.scaler.update()
        with warnings.catch_warnings():  # the rate follows the training step, whether an optimizer stepped or
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)  # fp16 skipped it
            for scheduler in self.schedulers.values():
                scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return {k: v.detach().float() for k, v in losses.items()}

    def averaged(self) -> AbstractContextManager[Any]:
        """The weights sampling and evaluation use inside the block: the EMA's when there is one."""
        return self.ema.applied(self.model) if self.ema is not None else nullcontext()

    @property
    def lr(self) -> float:
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]
