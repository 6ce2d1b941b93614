"""A run's TensorBoard event files: its curves, and its samples to look at and hear, beside metrics.jsonl.

The run logs through :class:`TensorBoard`'s plain calls and never meets the ``tensorboard`` package.
Watching a run must never stop it: a failure to write (a full disk, a broken install) is reported
once and switches the writer off, and training goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

log = logging.getLogger("audiozoo.train")

FLUSH_SECONDS = 10
"""How stale the files may be while a run trains (TensorBoard reloads them about as often)."""


class TensorBoard:
    """One session's event files in ``folder``; ``None`` writes nothing (a torchrun rank other than 0).

    ``purge_step`` is the first step this session can log: TensorBoard drops whatever an earlier
    session logged from that step on (the steps a resumed run replays after its checkpoint), so a
    continued curve has no step twice.
    """

    def __init__(self, folder: Path | None, purge_step: int | None = None) -> None:
        self.folder, self.writer = folder, None
        if folder is not None:
            self.writer = self._guarded(_open, folder, purge_step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One point of each named curve."""
        self._write(lambda w: [w.add_scalar(tag, value, step) for tag, value in values.items()])

    def images(self, step: int, pictures: dict[str, np.ndarray]) -> None:
        """RGB pictures ``[height, width, 3]`` with values in [0, 1], by tag."""
        self._write(lambda w: [w.add_image(tag, picture, step, dataformats="HWC") for tag, picture in pictures.items()])

    def audio(self, step: int, clips: dict[str, np.ndarray], sample_rate: int) -> None:
        """Mono clips by tag, clipped to [-1, 1] as a player needs."""
        self._write(lambda w: [w.add_audio(tag, np.clip(clip, -1.0, 1.0), step, sample_rate=sample_rate)
                               for tag, clip in clips.items()])

    def close(self) -> None:
        """Everything written to disk, the files closed."""
        self._write(lambda w: w.close())
        self.writer = None

    def __enter__(self) -> TensorBoard:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def _write(self, action: Callable[[Any], object]) -> None:
        if self.writer is not None:
            self._guarded(action, self.writer)

    def _guarded(self, action: Callable[..., Any], *args: Any) -> Any:
        """``action(*args)``; when it fails, one warning and no more writing."""
        try:
            return action(*args)
        except Exception as err:  # noqa: BLE001 — any failure of a viewer's files, never the run's
            log.warning("TensorBoard: cannot write events in %s (%s: %s); the run goes on without them",
                        self.folder, type(err).__name__, err)
            self.writer = None
            return None


def _open(folder: Path, purge_step: int | None) -> Any:
    from torch.utils.tensorboard import SummaryWriter  # imported by a run that writes (it takes a second)

    return SummaryWriter(str(folder), purge_step=purge_step, flush_secs=FLUSH_SECONDS)
