"""Training throughput (examples/s, achieved GFLOP/s against the matmul rate) and generation speed, every cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from audiozoo.api import get_model, get_representation, list_models, list_representations
from audiozoo.model import GenerativeModel
from audiozoo.representation import Representation
from audiozoo.train.batches import TrainingSet
from audiozoo.resolve import resolve
from audiozoo.settings import RunSettings, TrainConfig
from audiozoo.train.update import Updater
from benchmarks.harness import Section, Size, repeated

MATMUL_FRACTION_BAR = 0.5  # of the fp32 matmul rate, for the VAEs on waveform
REAL_TIME_BAR = 50.0


@dataclass
class Cell:
    """One model × representation at its preset: what ``audiozoo run model=M repr=R`` would build."""

    model_name: str
    repr_name: str
    representation: Representation
    model: GenerativeModel
    batch_size: int
    samples: int  # of a clip
    settings: RunSettings

    @property
    def label(self) -> dict[str, Any]:
        return {"model": self.model_name, "repr": self.repr_name, "shape": list(self.model.shape),
                "batch": self.batch_size}


def cells(size: Size, device: torch.device) -> Iterator[Cell]:
    """Every registered model on every registered representation, built from ``audiozoo run``'s settings."""
    for model_name in list_models():
        for repr_name in list_representations(standalone=True):
            overrides = {"model": model_name, "repr": repr_name} | ({"preset": size.preset} if size.preset else {})
            settings = resolve(overrides)
            rep = get_representation(repr_name, **vars(settings.repr)).to(device)
            torch.manual_seed(0)
            model = get_model(model_name, rep.shape(size.clip_samples), **vars(settings.model)).to(device)
            yield Cell(model_name, repr_name, rep, model, settings.run.batch_size, size.clip_samples, settings)


def matmul_rate(device: torch.device, sync: Callable[[], None], n: int = 1024, repeats: int = 5) -> float:
    """The fp32 GFLOP/s of an ``n × n`` matmul here and now, with the current thread setting."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / repeated(lambda: a @ b, repeats, sync).median / 1e9


def training(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    section = Section(
        "Training throughput: one training step of the trainer (batch, losses, update) at each cell's preset "
        "(audiozoo run's defaults), random data",
        ["model", "repr", "shape", "batch", "precision", "examples/s", "GFLOP/step", "GFLOP/s", "matmul GFLOP/s",
         "of matmul", "bar", "met"],
    )
    for cell in cells(size, device):
        preset = cell.settings.run
        # A cell whose preset autocasts is timed at fp32 too: what the lower precision buys here.
        for precision in dict.fromkeys([preset.precision, "fp32"]):
            section.rows.append({**cell.label, "precision": precision,
                                 **_training_row(cell, replace(preset, precision=precision), size, device, sync)})
    section.notes.append("FLOPs: torch.utils.flop_counter over one training step (matmuls and convolutions, "
                         "forward and backward). matmul GFLOP/s: a 1024 × 1024 fp32 matmul measured just before "
                         "each cell, same threads. Median of the timed steps. A cell whose preset autocasts (flow: bf16) has an fp32 "
                         "row too; its GFLOP/s can exceed the fp32 matmul rate where the CPU has bf16 units "
                         "(AVX512-BF16, AMX).")
    return section


def _training_row(cell: Cell, config: TrainConfig, size: Size, device: torch.device,
                  sync: Callable[[], None]) -> dict[str, Any]:
    """One cell's training figures at ``config`` (a fresh optimizer each time; the weights carry on)."""
    updater = Updater(cell.model, config, total_steps=size.train_steps + 2)
    clips = 0.1 * torch.randn(cell.batch_size, cell.samples, generator=torch.Generator().manual_seed(0))
    cell.representation.fit([clips.to(device)])
    data = TrainingSet(cell.representation, clips.numpy(), device, seed=config.seed)
    index = torch.arange(cell.batch_size)
    cell.model.train()
    updater.step(data.batch(index, 0))
    with FlopCounterMode(display=False) as counter:
        updater.step(data.batch(index, 1))
    flops = counter.get_total_flops()
    peak = matmul_rate(device, sync, 1024 if size.name != "tiny" else 256)
    step = repeated(lambda: updater.step(data.batch(index, 2)), size.train_steps, sync).median
    achieved = flops / step / 1e9
    barred = cell.model_name.startswith("vae") and cell.repr_name == "waveform" and config.precision == "fp32"
    return {"examples/s": cell.batch_size / step, "GFLOP/step": flops / 1e9, "GFLOP/s": achieved,
            "matmul GFLOP/s": peak, "of matmul": f"{achieved / peak:.1%}",
            "bar": f"≥ {MATMUL_FRACTION_BAR:.0%}" if barred else None,
            "met": achieved / peak >= MATMUL_FRACTION_BAR if barred else None}


def generation(size: Size, device: torch.device, sync: Callable[[], None]) -> Section:
    section = Section(
        f"Generation: {size.generate_clips} clips sampled and decoded to audio under torch.inference_mode",
        ["model", "repr", "shape", "seconds of audio/s", "× real time", "bar", "met"],
    )
    for cell in cells(size, device):
        cell.model.eval()
        generator = torch.Generator(device=device)

        def generate() -> torch.Tensor:
            with torch.inference_mode():
                x = cell.model.sample(size.generate_clips, generator.manual_seed(0))
                return cell.representation.decode(x, length=cell.samples)

        seconds = repeated(generate, size.repeats, sync).median
        audio = size.generate_clips * cell.samples / cell.representation.sample_rate
        section.rows.append({**{k: v for k, v in cell.label.items() if k != "batch"},
                             "seconds of audio/s": audio / seconds, "× real time": f"{audio / seconds:.0f}×",
                             "bar": f"≥ {REAL_TIME_BAR:g}×", "met": audio / seconds >= REAL_TIME_BAR})
    section.notes.append("Untrained models at each cell's preset: the cost of sampling does not depend on the "
                         "weights; decoding includes Griffin-Lim (32 iterations) for mel and mfcc.")
    return section
