"""One bench cell's figures, all measured on decoded audio so every representation is judged alike.

Generation metrics compare the model's samples with one half of the held-out files (split by
file); the other half, scored the same way, gives the *reference*: what a perfect generator
(new real music) would reach with the same number of clips. Sentinels made from that other
half (noise, degraded music, copies, the representation's own round trip) are scored the same
way, so the tables say what a figure means. Every set figure carries a bootstrap interval
(:mod:`audiozoo.intervals`). Reconstruction metrics run on every held-out clip, beside the
*ceiling*: the representation's own round trip with no model.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiozoo.bench.calibration import calibration_rows, shared_caches
from audiozoo.data.audio import write_audio
from audiozoo.data.prepare import PreparedData
from audiozoo.ladders import ladders, make_rung
from audiozoo.metric import Metric
from audiozoo.plots import save_spectrogram_grid, save_spectrograms
from audiozoo.runs.evaluation import Evaluation, MetricInfo
from audiozoo.runs.outputs import PANELS
from audiozoo.runs.rundir import RunDir, losses
from audiozoo.runs.trained import Run
from audiozoo.sentinels import REAL, make_sentinel, sentinels

BATCH = 8
"""Clips per forward pass when reconstructing and scoring: bounds memory on long clips."""

TRAINING_AUDIO_S = 3600.0
"""At most this much training audio (a seeded draw of whole segments) is what samples are checked
against for copies and what the copies sentinel copies: checking against hours would hold them all
in memory and cost the square of their length, and a model that copies, copies what it saw often."""


def split_by_file(data: PreparedData, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment indices in two parts with no file in both (halves of one piece are alike)."""
    files = sorted(set(data.segment_file[indices].tolist()))
    second = set(files[1::2])
    in_second = np.array([f in second for f in data.segment_file[indices]], dtype=bool)
    return indices[~in_second], indices[in_second]


def final_losses(run_dir: Path) -> dict[str, float]:
    """Each training loss averaged over the last epoch logged (one step's value is too noisy to compare),
    and the last held-out losses (``valid_*``) where the run validated."""
    records = RunDir(run_dir).read_metrics()
    training = [r for r in records if "loss" in r]
    if not training:
        return {}
    last = [r for r in training if r["epoch"] == training[-1]["epoch"]]
    keys = list(losses(last[0]))
    valid = [r for r in records if "loss" not in r]
    return {**{k: float(np.mean([r[k] for r in last])) for k in keys},
            **{k: float(v) for k, v in (valid[-1] if valid else {}).items() if k.startswith("valid_")}}


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process (the cell runs in its own), and CUDA's peak when used."""
    figures = {"peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        figures["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return figures


def training_clips(data: PreparedData, indices: np.ndarray, sample_rate: int) -> tuple[torch.Tensor, int]:
    """The training segments the copies checks read (all, or a seeded draw of :data:`TRAINING_AUDIO_S`
    of them, read in file order from the memory-mapped cache), and how many the split holds."""
    total, limit = len(indices), max(1, int(TRAINING_AUDIO_S * sample_rate // data.segments.shape[1]))
    if total > limit:
        indices = np.sort(np.random.default_rng(0).choice(indices, limit, replace=False))
    return torch.as_tensor(np.asarray(data.segments[indices])), total


def _batched(fn, *clips: torch.Tensor) -> torch.Tensor:
    return torch.cat([fn(*(c[i : i + BATCH] for c in clips)) for i in range(0, len(clips[0]), BATCH)])


def _mean_of_measured(name: str, per_clip: torch.Tensor, notes: list[str]) -> float:
    """The mean over clips whose figure could be computed (a metric gives NaN where it cannot);
    how many could not is noted, not averaged in."""
    measured = per_clip[torch.isfinite(per_clip)]
    if len(measured) < len(per_clip):
        notes.append(f"{name}: {len(per_clip) - len(measured)} of {len(per_clip)} clips not computable")
    return float(measured.mean()) if len(measured) else math.nan


def _write_clips(folder: Path, stem: str, waves: np.ndarray, sample_rate: int, label: str) -> dict[str, Any]:
    wavs = []
    for i, wave in enumerate(waves):
        wavs.append(folder / f"{stem}_{i:02d}.wav")
        write_audio(wavs[-1], wave, sample_rate)
    png = folder / f"{stem}.png"
    save_spectrograms(png, {f"{label} {i}": w for i, w in enumerate(waves[:PANELS])}, sample_rate)
    return {"png": png, "wav": wavs}


@torch.inference_mode()
def evaluate(run: Run, data: PreparedData, metrics: list[Metric], sentinel_media: Path) -> Evaluation:
    """Every figure of one trained cell (its ``evaluation.json``); clips it plays are written beside.

    The real-music and sentinel rows come from the data's calibration cache (computed there by the
    first cell that needs them: see :mod:`audiozoo.bench.calibration`); the sentinels' clips and
    picture go to ``sentinel_media``, once for every cell of a bench."""
    model, rep = run.model, run.representation
    device = next(model.parameters()).device
    train_idx, test_idx = data.split_indices()
    reference_idx, stand_in_idx = split_by_file(data, test_idx)
    if not len(reference_idx) or not len(stand_in_idx):
        raise ValueError("bench needs at least two held-out files (use more files or a larger data.test_fraction)")
    reference, stand_in = (torch.as_tensor(np.asarray(data.segments[idx])) for idx in (reference_idx, stand_in_idx))
    train, train_total = training_clips(data, train_idx, rep.sample_rate)
    test = torch.cat((reference, stand_in))

    # A model that makes any length is judged on clips as long as the real ones (a crop-trained one
    # would otherwise be compared at its crop's length); a fixed-size model makes its own size.
    seconds = stand_in.shape[1] / rep.sample_rate if model.any_length else None
    run.sample(1, seconds=seconds)  # warm-up: first calls pay for allocation and kernel selection
    started = time.perf_counter()
    samples = run.sample(len(stand_in), seed=run.progress.step, seconds=seconds)
    seconds = time.perf_counter() - started
    audio_seconds = samples.numel() / rep.sample_rate

    scores: dict[str, float] = {}
    intervals: dict[str, tuple[float, float]] = {}
    ceiling: dict[str, float] = {}
    notes: list[str] = []
    if len(train) < train_total:
        notes.append(f"copies: checked against {len(train)} of {train_total} training segments (a seeded draw)")
    cache, store = shared_caches(data)
    unavailable = {m.name: why for m in metrics if (why := m.unavailable_reason())}
    scores.update(dict.fromkeys(unavailable, math.nan))
    info = {m.name: MetricInfo.of(m) for m in metrics}
    metrics = [m for m in metrics if not m.unavailable_reason()]
    roundtrip = _batched(lambda w: rep.decode(rep.encode(w.to(device)), length=w.shape[1]).cpu(), test)
    rebuilt = _batched(run.reconstruct, test) if model.can_reconstruct else None
    # set figures on the bench's device: the held-out, training and sampled clips go there once
    judged = {name: clips.to(device) for name, clips in
              (("reference", reference), ("stand_in", stand_in), ("train", train), ("samples", samples))}
    for metric in metrics:
        if metric.task == "generation":
            figure = store.measure(metric, judged["reference"], judged["samples"], judged["train"])
            scores[metric.name] = figure.value
            if figure.has_interval:
                intervals[metric.name] = (figure.low, figure.high)
            if not math.isfinite(figure.value):
                notes.append(f"{metric.name}: not computable on these samples")
        elif rebuilt is not None:
            scores[metric.name] = _mean_of_measured(metric.name, _batched(metric, test, rebuilt), notes)
        if metric.task == "reconstruction":
            ceiling[metric.name] = _mean_of_measured(f"{metric.name} ceiling", _batched(metric, test, roundtrip), notes)
    settings = run.settings
    label = settings.repr_label
    rows = calibration_rows(cache, metrics, label, judged["reference"], judged["stand_in"], judged["train"],
                            roundtrip[len(reference):].to(device), store)

    examples = run.progress.epoch * len(train_idx) + min(run.progress.batch * settings.run.batch_size, len(train_idx))
    folder = run.dir.evaluation_media
    folder.mkdir(exist_ok=True)
    shown = reference[:PANELS].numpy()  # test starts with these, so the round trips below are theirs
    return Evaluation(
        settings.model_name, label, settings.data_name,
        parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        train_seconds=run.progress.seconds,
        examples_per_second=examples / run.progress.seconds if run.progress.seconds else math.nan,
        epochs=run.progress.epoch, steps=run.progress.step,
        generation_x_realtime=audio_seconds / seconds, **peak_memory(),
        losses=final_losses(run.path), sample=asdict(settings.sample),
        metrics=scores, intervals=intervals, ceiling=ceiling, rows=rows, notes=notes, unavailable=unavailable,
        metric_info=info,
        media={**run.dir.media(),
               "real": _write_clips(folder, "real", shown, rep.sample_rate, "real (held out)"),
               "sentinels": _write_sentinels(sentinel_media, stand_in[:1], train, rep.sample_rate),
               "ladders": _write_ladders(sentinel_media, stand_in[:1], rep.sample_rate),
               "roundtrip": _write_clips(folder, "roundtrip", roundtrip[: len(shown)].numpy(), rep.sample_rate,
                                         f"{label} round trip")})


def _write_ladders(folder: Path, clip: torch.Tensor, sample_rate: int) -> dict[str, Any]:
    """Every ladder's rungs beside the held-out clip they were made from (one row a ladder: the clip,
    mild, medium, severe), and the rungs' clips: what each grade of each failure looks and sounds
    like. Written once into ``folder`` for every cell."""
    rungs = ladders(sample_rate)
    media = {"png": folder / "ladders.png", "wav": [folder / f"ladder_{i:02d}.wav" for i in range(len(rungs))]}
    if not all(path.is_file() for path in (media["png"], *media["wav"])):
        made = {rung.label: make_rung(rung, clip, sample_rate)[0].numpy() for rung in rungs}
        for path, wave in zip(media["wav"], made.values()):
            write_audio(path, wave, sample_rate)
        grid = {name: {REAL: clip[0].numpy(), **{r.rung: made[r.label] for r in rungs if r.ladder == name}}
                for name in dict.fromkeys(r.ladder for r in rungs)}
        save_spectrogram_grid(media["png"], grid, sample_rate)
    return media


def _write_sentinels(folder: Path, clip: torch.Tensor, train: torch.Tensor, sample_rate: int) -> dict[str, Any]:
    """One held-out clip beside each sentinel made from it: what noise-like and degraded look and
    sound like. Written once into ``folder`` (beside the sentinel rows' cache) for every cell."""
    rows = [REAL, *(s.label for s in sentinels(sample_rate))]
    media = {"png": folder / "sentinels.png", "wav": [folder / f"sentinel_{i:02d}.wav" for i in range(len(rows))]}
    if not all(path.is_file() for path in (media["png"], *media["wav"])):
        waves = [clip[0].numpy(), *(make_sentinel(s, clip, train)[0].numpy() for s in sentinels(sample_rate))]
        for path, wave in zip(media["wav"], waves):
            write_audio(path, wave, sample_rate)
        save_spectrograms(media["png"], dict(zip(rows, waves)), sample_rate)
    return media


