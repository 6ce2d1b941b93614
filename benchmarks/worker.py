"""One scaling measurement in a fresh process, so its peak memory is its own: ``python -m benchmarks.worker JSON``.

Prepares a GTZAN folder (cold) and times training steps of one cell on it, as ``audiozoo run``
builds it; prints ``{"prepare s": ..., "step s": ...}``. The parent reads the peak memory.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from audiozoo.resolve import resolve
from audiozoo.train.batches import TrainingSet
from audiozoo.train.run import build
from audiozoo.train.update import Updater
from benchmarks.harness import repeated


def measure(root: str, cache: str, clip_seconds: float, model: str, repr_name: str, steps: int) -> dict[str, float]:
    settings = resolve({"model": model, "repr": repr_name, "data": "gtzan", "data.root": root,
                        "data.cache_dir": cache, "data.clip_seconds": clip_seconds})
    start = time.perf_counter()
    rep, net, data = build(settings, progress=False)
    train_config = settings.run
    prepared = time.perf_counter() - start
    train_idx, _ = data.split_indices()
    rep.fit([torch.from_numpy(np.asarray(data.segments[train_idx]))])
    training = TrainingSet(rep, data.segments[train_idx], torch.device("cpu"), seed=train_config.seed)
    updater = Updater(net, train_config, total_steps=steps)
    index = torch.arange(min(train_config.batch_size, len(training)))
    step = repeated(lambda: updater.step(training.batch(index, 0)), steps, lambda: None).median
    return {"prepare s": prepared, "step s": step}


if __name__ == "__main__":
    print(json.dumps(measure(**json.loads(sys.argv[1]))))
