"""The training loop: seeded batch order, logging, checkpoints, stopping on NaN or Ctrl-C."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from audiozoo.errors import AudiozooError
from audiozoo.faults import fault_point
from audiozoo.progress_bar import progress_bar
from audiozoo.runs.progress import Progress
from audiozoo.settings import TrainConfig
from audiozoo.train import distributed
from audiozoo.train.batches import TrainingSet
from audiozoo.train.update import Updater


class TrainingDiverged(AudiozooError):
    """A loss became NaN or infinite; the last good checkpoint is kept (the run adds which, and where)."""


class TrainingInterrupted(Exception):
    """Ctrl-C during training, after a checkpoint was written; ``path`` is the run directory to resume."""

    def __init__(self, path: object = None) -> None:
        super().__init__(path)
        self.path = path


class CheckpointClock:
    """When a checkpoint is due: at a session's first step, every ``every`` steps, and ``seconds`` after
    the last one, so a ``kill -9`` loses at most that much training however slow a step is."""

    def __init__(self, every: int, seconds: float) -> None:
        self.every, self.seconds, self.last = every, seconds, None

    def due(self, step: int) -> bool:
        now = time.monotonic()
        if self.last is None or step % self.every == 0 or (self.seconds and now - self.last >= self.seconds):
            self.last = now
            return True
        return False


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """Index batches of one epoch: a function of (seed, epoch) only, so resuming mid-epoch replays it."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return list(torch.randperm(n, generator=generator).split(batch_size))


def steps_per_epoch(clips: int, config: TrainConfig) -> int:
    return math.ceil(clips / config.batch_size)


def train(
    updater: Updater,
    data: TrainingSet,
    config: TrainConfig,
    progress: Progress,
    log: Callable[[dict[str, Any]], None],
    checkpoint: Callable[[Progress], None],
    validate: Callable[[Progress], None],
    show_progress: bool = True,
) -> Progress:
    """Train until ``config.epochs`` (or ``config.max_seconds``) on ``data``, on the model's device;
    ``validate`` every ``config.valid_every`` steps (before that step's checkpoint, so a resume replays it).

    ``config.batch_size`` is the global batch: under torchrun each rank takes its shard of it.
    """
    model = updater.model
    per_epoch = steps_per_epoch(len(data), config)
    # Under a time budget the epoch count is only a cap, so the bar counts steps against the clock.
    timed = bool(config.max_seconds)
    bar = progress_bar(total=None if timed else config.epochs * per_epoch, initial=progress.step, unit="step",
               desc=f"{model.name} ({config.max_seconds:g} s budget)" if timed else model.name,
               disable=not show_progress or distributed.rank() > 0, dynamic_ncols=True)
    started, offset = time.perf_counter(), progress.seconds
    clock = CheckpointClock(config.checkpoint_every, config.checkpoint_seconds)
    model.train()
    try:
        while progress.epoch < config.epochs:
            order = batch_order(len(data), config.batch_size, config.seed, progress.epoch)
            for index in order[progress.batch :]:
                # The budget counts every session of the run; rank 0's clock decides, so all ranks stop together.
                elapsed = offset + time.perf_counter() - started
                if config.max_seconds and distributed.broadcast(elapsed >= config.max_seconds):
                    progress.seconds = elapsed  # the time up to this check is the budget's too
                    return progress
                lr = updater.lr  # the rate of this step (the schedule moves on after it)
                step_losses = updater.step(data.batch(distributed.shard(index), progress.step))
                losses = distributed.mean_across_ranks({k: float(v) for k, v in step_losses.items()})
                bad = [k for k, v in losses.items() if not math.isfinite(v)]
                if bad:
                    raise TrainingDiverged(f"{bad[0]} became {losses[bad[0]]} at step {progress.step + 1}; training stopped")
                progress.step += 1
                progress.batch += 1
                progress.seconds = offset + time.perf_counter() - started
                if progress.step % config.log_every == 0:
                    log({"step": progress.step, "epoch": progress.epoch, **losses, "lr": lr,
                         "seconds": round(progress.seconds, 3)})
                bar.set_postfix(epoch=progress.epoch + 1, **{k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
                bar.update()  # redraws at most every mininterval (a refreshing postfix would at every step)
                fault_point("after-step")
                if config.valid_every and progress.step % config.valid_every == 0:
                    validate(progress)
                if clock.due(progress.step):
                    checkpoint(progress)
            progress.epoch += 1
            progress.batch = 0
        return progress
    except KeyboardInterrupt:
        bar.close()  # the bar's line ends before anything else is said
        checkpoint(progress)
        raise TrainingInterrupted() from None
    finally:
        bar.close()
