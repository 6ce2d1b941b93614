"""Hours of audio in flat memory: ``prepare`` and training on 1, 10 and 50 hours of 22 050 Hz audio.

Each measurement runs in its own process (its peak resident memory is its own): ``audiozoo
prepare`` cold, then a training worker, ``python -m benchmarks.hours JSON``, that builds the run as
``audiozoo run`` does (fit of the statistics over the whole training split, the training set,
the trainer's loop for a time budget, a pass over held-out batches) and prints its figures. The
audio is the embedded pieces as GTZAN-layout WAV files (hard links past the 64th: another path,
decoded again), prepared at their own rate, 22 050 Hz.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from benchmarks.corpus import GTZAN_RATE, write_gtzan
from benchmarks.harness import Section, Size
from benchmarks.memory import peak_mib

FILE_SECONDS = 30.0
CELLS = (("vae_1dconv", "waveform", 1.0), ("vae_1dconv", "waveform", 0.0))
"""(model, representation, crop seconds) at the model's debug size, so that a step costs little and
waiting for data shows: 1 s crops of each segment encoded per step, and whole segments encoded
once (streamed: through the encoded cache). waveform's statistics are cheap to fit, so the fit
over the whole split is the cost of reading it."""
HELD_OUT_BATCHES = 50
"""Held-out batches read and encoded in the worker (all of 10 hours would take minutes of a model's losses)."""


def hours(size: Size, device: torch.device, tmp: Path) -> Section:
    section = Section(
        f"Data at scale: GTZAN-layout WAV files of {FILE_SECONDS:g} s at 22 050 Hz, prepared at 22 050 Hz "
        f"(29 s clips in halves); each cell trains {size.train_seconds:g} s at its debug size, batch 16, on {device}",
        ["hours", "files", "prepare files/s", "prepare peak MiB", "cache GiB", "cell", "split held", "fit s",
         "steps/s", "data wait %", "train peak MiB"],
    )
    for hours_ in size.hours:
        root, cache = tmp / f"hours-{hours_:g}", tmp / f"hours-cache-{hours_:g}"
        files = max(4, round(hours_ * 3600 / FILE_SECONDS))
        write_gtzan(root, files, FILE_SECONDS)
        job = {"root": str(root), "cache": str(cache)}
        prepare_peak, out = peak_mib([sys.executable, "-m", "benchmarks.hours", json.dumps(job)])
        prepare_seconds = json.loads(out.strip().splitlines()[-1])["prepare s"]
        cache_gib = sum(p.stat().st_size for p in cache.rglob("segments.npy")) / 2**30
        first = {"hours": hours_, "files": files, "prepare files/s": files / prepare_seconds,
                 "prepare peak MiB": prepare_peak, "cache GiB": cache_gib}
        # None: the default policy; 0: always streamed (a tiny size checks that the table works, with one cell)
        modes = [None, 0] if hours_ == size.hours[0] and size.name != "tiny" else [None]
        for model, repr_name, crop in CELLS[:1] if size.name == "tiny" else CELLS:
            for resident_bytes in modes:
                job = {"model": model, "repr_name": repr_name, "crop_seconds": crop, "root": str(root),
                       "cache": str(cache), "seconds": size.train_seconds, "resident_bytes": resident_bytes,
                       "device": str(device)}
                peak, out = peak_mib([sys.executable, "-m", "benchmarks.hours", json.dumps(job)])
                figures = json.loads(out.strip().splitlines()[-1])
                cell = f"{model} × {repr_name}, " + (f"{crop:g} s crops" if crop else "whole segments")
                section.rows.append({**first, "cell": cell,
                                     "split held": "streamed" if figures["streamed"] else "whole (resident)",
                                     "fit s": figures["fit s"], "steps/s": figures["steps/s"],
                                     "data wait %": 100 * figures["wait share"], "train peak MiB": peak})
                first = {}
        shutil.rmtree(cache, ignore_errors=True)  # 16 GB at 50 hours: free it before the next size
        shutil.rmtree(root, ignore_errors=True)
    section.notes.append(
        "prepare: `api.prepare` of data=gtzan at 22 050 Hz, cold, in its own process (files/s without the "
        "process's start-up; its peak includes the imports). train: one "
        "process per cell that prepares (from the cache), fits the representation's statistics over the whole "
        f"training split, trains for the budget through the trainer's loop, then reads and encodes "
        f"{HELD_OUT_BATCHES} held-out batches. split held: whole (on the device) at most "
        "audiozoo.train.batches.RESIDENT_BYTES of training audio, else streamed from the cache; the first size "
        "also runs every cell streamed. data wait: the share of the training time a step spent waiting for "
        "its rows to be read (on CUDA, streamed rows are read into pinned memory and copied without blocking).")
    return section


def prepare(root: str, cache: str) -> dict[str, float]:
    """``audiozoo prepare data=gtzan`` at 22 050 Hz, cold, timed without the process's start-up."""
    from audiozoo import api

    started = time.perf_counter()
    api.prepare("gtzan", root=root, cache_dir=cache, sample_rate=GTZAN_RATE, progress=False)
    return {"prepare s": time.perf_counter() - started}


def measure(model: str, repr_name: str, crop_seconds: float, root: str, cache: str, seconds: float,
            resident_bytes: int | None, device: str) -> dict[str, Any]:
    """One cell trained as ``audiozoo run`` builds it, in this process, on ``device``; the figures the table shows."""
    from audiozoo.resolve import resolve
    from audiozoo.runs.progress import Progress
    from audiozoo.settings import pick_device
    from audiozoo.train.batches import ENCODE_BATCH, TrainingSet, held_out_batches
    from audiozoo.train.run import build
    from audiozoo.train.trainer import train
    from audiozoo.train.update import Updater

    overrides = {"model": model, "repr": repr_name, "data": "gtzan", "data.root": root, "data.cache_dir": cache,
                 "data.sample_rate": GTZAN_RATE, "max_seconds": seconds, "epochs": 10_000, "device": device,
                 "preset": "debug", "batch_size": 16, "crop_seconds": crop_seconds}
    settings = resolve(overrides)
    rep, net, data = build(settings, progress=False)
    on = pick_device(settings.run.device)
    rep.to(on)
    net.to(on)
    config = settings.run
    train_idx, test_idx = data.split_indices()
    started = time.perf_counter()
    rep.fit(torch.from_numpy(block) for block in data.select(train_idx).blocks(ENCODE_BATCH))
    fitted = time.perf_counter() - started
    crop = round(config.crop_seconds * data.sample_rate) if config.crop_seconds else 0
    training = TrainingSet(rep, data.select(train_idx), on, crop, config.seed, config.batch_size, resident_bytes)
    updater = Updater(net, config, total_steps=10_000)
    progress = Progress()
    train(updater, training, config, progress, log=lambda record: None, checkpoint=lambda at: None,
          validate=lambda at: None, show_progress=False)
    held_out = held_out_batches(rep, data.select(test_idx), on, config.batch_size, crop, resident_bytes)
    for _ in islice(held_out, HELD_OUT_BATCHES):
        pass
    return {"streamed": training.streamed, "fit s": fitted, "steps/s": progress.step / progress.seconds,
            "wait share": training.waited / progress.seconds}


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    print(json.dumps(measure(**job) if "model" in job else prepare(**job)))
