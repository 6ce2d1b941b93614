"""Training throughput against a matmul of the same precision, where a step's time goes, and generation speed.

Every cell is built as ``audiozoo run model=M repr=R`` builds it at its preset: the model for the
clips it trains on (a crop where the preset crops), the batch, the precision, the EMA, clipping,
and a training set that crops and encodes each batch as the trainer's does.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from audiozoo.api import get_model, get_representation, list_models, list_representations
from audiozoo.model import GenerativeModel
from audiozoo.representation import Representation
from audiozoo.resolve import resolve
from audiozoo.settings import RunSettings, TrainConfig
from audiozoo.train.batches import TrainingSet
from audiozoo.train.update import DTYPES, Updater
from benchmarks.harness import Section, Size, repeated, side_by_side

MATMUL_FRACTION_BAR = 0.5  # of the same-precision matmul rate, every cell at its preset's precision
REAL_TIME_BAR = 50.0
REAL_TIME_BARS = {("flow", "mel"): 200.0}  # cells with a bar of their own
PHASES = ("data", "encode", "forward", "backward", "optimizer", "EMA")


@dataclass
class Cell:
    """One model × representation at its preset: what ``audiozoo run model=M repr=R`` would build."""

    model_name: str
    repr_name: str
    representation: Representation
    model: GenerativeModel
    settings: RunSettings
    segment: int  # samples of a training clip
    crop: int  # samples of the window each step draws from it (0: the whole clip)

    @property
    def label(self) -> dict[str, Any]:
        return {"model": self.model_name, "repr": self.repr_name, "shape": list(self.model.shape),
                "batch": self.settings.run.batch_size}


def cells(size: Size, device: torch.device) -> Iterator[Cell]:
    """Every registered model on every registered representation, built from ``audiozoo run``'s settings."""
    for model_name in list_models():
        for repr_name in list_representations(standalone=True):
            overrides = {"model": model_name, "repr": repr_name} | ({"preset": size.preset} if size.preset else {})
            settings = resolve(overrides)
            segment = size.clip_samples
            crop = min(segment, settings.clip_samples) if settings.run.crop_seconds else 0
            rep = get_representation(repr_name, **vars(settings.repr)).to(device)
            torch.manual_seed(0)
            model = get_model(model_name, rep.shape(crop or segment), **vars(settings.model)).to(device)
            yield Cell(model_name, repr_name, rep, model, settings, segment, crop)


def matmul(precision: str, device: torch.device, n: int) -> tuple[Callable[[], torch.Tensor], float]:
    """An ``n × n`` matmul in ``precision`` (the reference of a step in that precision) and its FLOPs."""
    dtype = DTYPES.get(precision, torch.float32)
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    return (lambda: a @ b), 2.0 * n**3


def training(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    section = Section(
        "Training throughput: one training step as the trainer runs it (batch, crop and encoding, losses, "
        "backward, optimizer, EMA) at each cell's preset (audiozoo run's defaults), random data, against a "
        "matmul of the step's precision",
        ["model", "repr", "shape", "batch", "precision", "examples/s", "GFLOP/step", "GFLOP/s", "matmul GFLOP/s",
         "of matmul", "spread", *PHASES, "bar", "met", "load"],
    )
    for cell in cells(size, device):
        preset = cell.settings.run
        # A cell whose preset autocasts is timed at fp32 too: what the lower precision buys here.
        for precision in dict.fromkeys([preset.precision, "fp32"]):
            row = _training_row(cell, replace(preset, precision=precision), size, device, sync)
            barred = precision == preset.precision
            section.rows.append({**cell.label, "precision": precision, **row,
                                 "bar": f"≥ {MATMUL_FRACTION_BAR:.0%}" if barred else None,
                                 "met": row["of matmul value"] >= MATMUL_FRACTION_BAR if barred else None})
    section.notes.append(
        "FLOPs: torch.utils.flop_counter over one training step (matmuls and convolutions, forward and backward; "
        "FFTs, normalisation, activations and the optimizer count none). matmul: a square matmul of the step's "
        "precision (bf16 for a bf16 autocast, fp32 otherwise), timed alternately with the step in the same "
        "process; of matmul: the median over the repetitions of (step GFLOP/s) / (matmul GFLOP/s), spread its "
        "minimum and maximum. data … EMA: the step's time by phase (data: the batch's gather and crop; encode: "
        "the representation's encoding of a cropped batch; forward: the losses). load: the 1-minute load average "
        "after the row. A cell whose preset autocasts has an fp32 row too, against the fp32 matmul.")
    return section


def _training_row(cell: Cell, config: TrainConfig, size: Size, device: torch.device,
                  sync: Callable[[], None]) -> dict[str, Any]:
    """One cell's training figures at ``config`` (a fresh optimizer each time; the weights carry on)."""
    updater = Updater(cell.model, config, total_steps=1_000_000)
    clips = 0.1 * torch.randn(cell.settings.run.batch_size, cell.segment, generator=torch.Generator().manual_seed(0))
    cell.representation.fit([clips.to(device)])
    data = TrainingSet(cell.representation, clips.numpy(), device, cell.crop, seed=config.seed)
    index, steps = torch.arange(len(clips)), itertools.count()
    cell.model.train()

    def step() -> None:
        updater.step(data.batch(index, next(steps)))

    step()  # the first step allocates the optimizer's state
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    reference, reference_flops = matmul(config.precision, device, 2048 if size.name != "tiny" else 256)
    ours, theirs = side_by_side(step, reference, size.train_repeats, sync, size.min_seconds)
    fractions = [flops * t / (reference_flops * o) for o, t in zip(ours.seconds, theirs.seconds)]
    shares = phase_shares(updater, data, index, steps, size.train_steps, sync)
    return {"examples/s": len(clips) / ours.median, "GFLOP/step": flops / 1e9, "GFLOP/s": flops / ours.median / 1e9,
            "matmul GFLOP/s": reference_flops / theirs.median / 1e9,
            "of matmul": f"{statistics.median(fractions):.1%}", "of matmul value": statistics.median(fractions),
            "spread": f"{min(fractions):.0%}–{max(fractions):.0%}",
            **{phase: f"{share:.0%}" for phase, share in shares.items()}, "load": round(os.getloadavg()[0], 1)}


def phase_shares(updater: Updater, data: TrainingSet, index: torch.Tensor, steps: Iterator[int], count: int,
                 sync: Callable[[], None]) -> dict[str, float]:
    """The share of each of :data:`PHASES` in ``count`` steps' time (the forward pass: what the others leave)."""
    spent = dict.fromkeys(PHASES, 0.0)
    with _timed(updater, "backward", spent, "backward", sync), \
            _timed(updater, "optimizer_step", spent, "optimizer", sync), \
            _timed(updater.ema, "update", spent, "EMA", sync), \
            _timed(data.rep, "encode", spent, "encode", sync):
        total = 0.0
        for _ in range(count):
            sync()
            start = time.perf_counter()
            batch = data.batch(index, next(steps))
            sync()
            loaded = time.perf_counter()
            updater.step(batch)
            sync()
            total += time.perf_counter() - start
            spent["data"] += loaded - start
    spent["data"] -= spent["encode"]
    spent["forward"] = total - sum(spent.values())
    return {phase: seconds / total for phase, seconds in spent.items()}


@contextmanager
def _timed(owner: Any, method: str, spent: dict[str, float], phase: str, sync: Callable[[], None]) -> Iterator[None]:
    """``owner.method`` adds the seconds of each call to ``spent[phase]`` inside the block (None: nothing to time)."""
    if owner is None:
        yield
        return
    plain = getattr(owner, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        sync()
        start = time.perf_counter()
        result = plain(*args, **kwargs)
        sync()
        spent[phase] += time.perf_counter() - start
        return result

    setattr(owner, method, timed)
    try:
        yield
    finally:
        delattr(owner, method)  # the class's method again


def generation(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    section = Section(
        f"Generation: {size.generate_clips} clips sampled (each cell's sampling defaults) and decoded to audio "
        "under torch.inference_mode",
        ["model", "repr", "shape", "seconds", "× real time", "sampling", "decoding", "bar", "met", "load"],
    )
    for cell in cells(size, device):
        cell.model.eval()
        rep, generator, options = cell.representation, torch.Generator(device=device), cell.settings.sample
        # As the bench judges it: a model that makes any length makes whole clips, a fixed-size one its own size.
        frames = rep.frames(cell.segment) if cell.model.any_length else cell.model.shape[1]
        length = cell.segment if cell.model.any_length else cell.crop or cell.segment
        parts: dict[str, list[float]] = {"sampling": [], "decoding": []}

        def generate() -> torch.Tensor:
            with torch.inference_mode():
                start = time.perf_counter()
                x = cell.model.sample(size.generate_clips, generator.manual_seed(0), frames, options)
                sync()
                sampled = time.perf_counter()
                audio = rep.decode(x, length=length)
                sync()
                parts["sampling"].append(sampled - start)
                parts["decoding"].append(time.perf_counter() - sampled)
                return audio

        seconds = repeated(generate, size.repeats, sync).median
        shares = {part: statistics.median(times[1:]) / seconds for part, times in parts.items()}
        audio = size.generate_clips * length / rep.sample_rate
        bar = REAL_TIME_BARS.get((cell.model_name, cell.repr_name), REAL_TIME_BAR)
        section.rows.append({**{k: v for k, v in cell.label.items() if k != "batch"}, "seconds": length / rep.sample_rate,
                             "× real time": f"{audio / seconds:.0f}×", "real time value": audio / seconds,
                             **{part: f"{share:.0%}" for part, share in shares.items()},
                             "bar": f"≥ {bar:g}×", "met": audio / seconds >= bar, "load": round(os.getloadavg()[0], 1)})
    section.notes.append("Untrained models at each cell's preset: the cost of sampling does not depend on the "
                         "weights (flow: 25 Euler steps under bf16 autocast). seconds: of each clip (a model that "
                         "makes any length makes whole training clips, as the bench judges it). Decoding includes "
                         "the mel pseudo-inverse (NNLS, 50 steps) and Griffin-Lim (32 iterations) for mel and mfcc.")
    return section
