"""What a request for clips will cost, asked before it starts: memory and time, from a probe.

A short probe samples one clip, of the length asked for or of a few seconds where that is longer,
counting its memory (:class:`~audiozoo.memory.Footprint`) and timing it, with a model's ``steps``
(a sampling option of that name: the network's passes) cut to one or two. Scaled to the length
asked for, the tensors a network of convolutions holds grow with the length; attention over every
frame (the flow's U-Net at its lowest level) holds scores that grow with its square. Scaling the
probe's peak in proportion bounds it from above (what is fixed is scaled too). From that:
whether one clip fits in the memory free here (else one line saying the longest that does), how
many clips a batch holds, and about how long the whole request takes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from audiozoo.errors import AudiozooError
from audiozoo.memory import Footprint, free_bytes, human
from audiozoo.model import SampleOptions
from audiozoo.runs.trained import Run

PROBE_SECONDS = 4.0
"""The probe's clip is at most about this long (a power of two of frames, at least 64)."""
BATCH_BYTES = 1 << 30
"""Memory one batch of clips may take at most (less where less is free)."""
BATCH_SECONDS = 10.0
"""A batch takes about this long at most, so the bar moves (and Ctrl-C's loss stays small)."""
MAX_BATCH = 64
FREE_SHARE = 0.8
"""Of the memory free at the start, what sampling may take: the rest is the system's and the files'."""
SAFETY = 1.25
"""What sampling needs beyond the tensors the probe counts (kernels' own buffers, the allocator's slack)."""


@dataclass(frozen=True)
class Growth:
    """``linear·r + square·r²`` at ``r`` times the probe's length: a cost measured once, scaled."""

    linear: float
    square: float

    def __call__(self, ratio: float) -> float:
        return self.linear * ratio + self.square * ratio * ratio

    def longest(self, budget: float) -> float:
        """The largest ratio whose cost stays within ``budget``."""
        if self.square == 0:
            return budget / self.linear if self.linear else math.inf
        return (-self.linear + math.sqrt(self.linear ** 2 + 4 * self.square * budget)) / (2 * self.square)

    def square_leads(self, ratio: float) -> bool:
        return self.square * ratio > self.linear


@dataclass(frozen=True)
class Plan:
    """How ``n`` clips are made: ``batch`` at a time, about ``seconds`` in all, ``clip_bytes`` each."""

    n: int
    batch: int
    seconds: float
    clip_bytes: float

    def describe(self) -> str:
        at_a_time = "one at a time" if self.batch == 1 else f"{self.batch} at a time" if self.batch < self.n else "in one batch"
        return f"{at_a_time}: about {_duration(self.seconds)} (from a probe), {human(self.clip_bytes)} a clip"


def plan(run: Run, n: int, seconds: float | None, **options: Any) -> Plan:
    """The batches and time ``n`` clips of ``seconds`` take; one clip that cannot fit in the memory
    free here is refused in one line naming the longest that can."""
    chosen = run.sample_options(**options)
    frames = run.length(seconds)[0] or run.model.shape[1]
    probed = _probe_frames(run, frames)
    ratio = frames / probed
    memory, model_work, decode_work = _measure(run, probed, _fewer_steps(chosen, 2))
    clip_bytes = SAFETY * memory(ratio)
    free = free_bytes(next(run.model.parameters()).device)
    usable = None if free is None else FREE_SHARE * free
    if usable is not None and clip_bytes > usable:
        raise AudiozooError(_too_long(run, seconds, probed, memory, clip_bytes, usable))
    model_seconds, decode_seconds = _time(run, probed, chosen)
    clip_seconds = (model_seconds * model_work(ratio) / max(model_work(1), 1.0)
                    + decode_seconds * decode_work(ratio) / max(decode_work(1), 1.0))
    batch = min(n, MAX_BATCH, max(1, int(min(BATCH_BYTES, usable or BATCH_BYTES) // clip_bytes)))
    if clip_seconds > 0:
        batch = min(batch, max(1, int(BATCH_SECONDS // clip_seconds)))
    return Plan(n, batch, n * clip_seconds, clip_bytes)


def _probe_frames(run: Run, frames: int) -> int:
    """The frames of the probe's clip: the length asked for where that is short (or the model makes
    one length only), else a power of two of about :data:`PROBE_SECONDS` (no padding to scale)."""
    rep = run.representation
    unit = 1 << max(6, math.ceil(math.log2(max(1, rep.frames(round(PROBE_SECONDS * rep.sample_rate))))))
    return frames if not run.model.any_length or frames <= unit else unit


@torch.inference_mode()
def _measure(run: Run, frames: int, options: SampleOptions) -> tuple[Growth, Growth, Growth]:
    """Memory, the model's work and the decoding's work of one clip of ``frames``, as they scale."""
    generator = torch.Generator(device=next(run.model.parameters()).device).manual_seed(0)
    with Footprint() as model:
        x = run.draw(1, generator, frames, options)
    with Footprint() as decode:
        run.representation.decode(x, length=run.representation.num_samples(frames))
    held = max(model.peak, x.untyped_storage().nbytes() + decode.peak)
    return Growth(held, model.scores), Growth(model.work, model.score_work), Growth(decode.work, decode.score_work)


@torch.inference_mode()
def _time(run: Run, frames: int, options: SampleOptions) -> tuple[float, float]:
    """Seconds of the model and of the decoding for one clip of ``frames`` (the model timed with one
    step and with two where it takes ``steps``, and the rest in proportion)."""
    generator = torch.Generator(device=next(run.model.parameters()).device).manual_seed(0)

    def timed(fn: Any) -> tuple[float, Any]:
        """The faster of two calls (a shared machine's noise), and the result."""
        best = math.inf
        for _ in range(2):
            started = time.perf_counter()
            out = fn()
            float(out.flatten()[0])  # the device's work done
            best = min(best, time.perf_counter() - started)
        return best, out

    model, x = timed(lambda: run.draw(1, generator, frames, _fewer_steps(options, 1)))
    steps = getattr(options, "steps", None)
    if isinstance(steps, int) and steps > 1:
        two, _ = timed(lambda: run.draw(1, generator, frames, _fewer_steps(options, 2)))
        model += (steps - 1) * max(two - model, model / 2)  # a step at least half a one-step call
    decode, _ = timed(lambda: run.representation.decode(x, length=run.representation.num_samples(frames)))
    return model, decode


def _fewer_steps(options: SampleOptions, steps: int) -> SampleOptions:
    """``options`` with its ``steps`` (where it has that option) at most ``steps``: memory does not grow
    with them, and time does so in proportion."""
    if "steps" not in {f.name for f in fields(options)} or not isinstance(options.steps, int):
        return options
    return replace(options, steps=min(steps, options.steps))


def _too_long(run: Run, seconds: float | None, probed: int, memory: Growth, needed: float, usable: float) -> str:
    rep = run.representation
    what = f"{run.model.name} on {rep.name}"
    if seconds is None or not run.model.any_length:
        return (f"one clip of {what} needs about {human(needed)} to sample and {human(usable)} of memory is free "
                f"for it here; "
                "free memory (close other programs) or sample on a machine with more")
    longest = rep.num_samples(max(1, int(probed * memory.longest(usable / SAFETY)))) / rep.sample_rate
    ratio = (run.length(seconds)[0] or probed) / probed
    grows = "the square of the length, for attention over every frame" if memory.square_leads(ratio) else "the length"
    return (f"seconds={seconds:g} needs about {human(needed)} to sample one clip of {what} (memory grows "
            f"with {grows}) and {human(usable)} of memory is free for it here: the longest clip that fits is about {longest:.0f} s; "
            f"ask for shorter clips (seconds={max(run.shortest_seconds, math.floor(longest * 0.9)):g}) and join them, "
            "or free memory")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
