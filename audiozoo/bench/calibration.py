"""The rows every bench table is read against: real held-out music, the sentinels and each representation's ceiling.

They are scored with the same generation metrics, on the same held-out clips and with the same
counts as a model cell's samples, so a cell's figure is read between them. Everything but the
ceiling depends only on the data set and its split, so it is computed once per bench folder and
data set and cached there (``sentinels/DATA_KEY.json``): a bench of 100 cells scores the
sentinels once, and each new representation adds one ceiling row. A figure is cached under its
metric's :attr:`~audiozoo.metric.Metric.cache_key` (name, version and settings), so a metric
whose settings or code changed is scored afresh, never read from an old figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from audiozoo.atomic import atomic_file
from audiozoo.metric import Metric
from audiozoo.runs.evaluation import Row
from audiozoo.sentinels import REAL, ceiling_label, make_sentinel, sentinels

CACHE_VERSION = 1


def _read(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    """The cache, ``{(kind, label): {cache_key: value}}``, or nothing where it is missing, unreadable or
    of another version (it is rebuilt, never trusted half-written)."""
    try:
        cached = json.loads(path.read_text())
        if cached.get("version") != CACHE_VERSION:
            return {}
        return {(row["kind"], row["label"]): dict(row["figures"]) for row in cached["rows"]}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def calibration_rows(cache: Path, metrics: list[Metric], representation: str, reference: torch.Tensor,
                     stand_in: torch.Tensor, train: torch.Tensor, roundtrip: torch.Tensor) -> list[Row]:
    """The real row, every sentinel's and ``representation``'s ceiling, each with every generation metric.

    ``stand_in`` (held-out clips, as many as a cell's samples) is what the sentinels are made
    from; ``roundtrip`` is ``stand_in`` through the representation and back. Figures missing from
    ``cache`` are computed and the cache rewritten atomically.
    """
    generation = [m for m in metrics if m.task == "generation"]
    if not generation:
        return []
    sets: dict[tuple[str, str], Callable[[], torch.Tensor]] = {("real", REAL): lambda: stand_in}
    for s in sentinels(generation[0].config.sample_rate):
        sets[(s.kind, s.label)] = lambda s=s: make_sentinel(s, stand_in, train)
    sets[("ceiling", ceiling_label(representation))] = lambda: roundtrip
    cached = _read(cache)
    changed = False
    for key, make in sets.items():
        figures = cached.setdefault(key, {})
        todo = [m for m in generation if m.cache_key not in figures]
        if todo:
            estimate = make()
            figures.update({m.cache_key: float(m(reference, estimate, train=train)) for m in todo})
            changed = True
    if changed:
        rows = [{"kind": kind, "label": label, "figures": figures} for (kind, label), figures in cached.items()]
        with atomic_file(cache) as tmp:
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "rows": rows}, indent=1))
    return [Row(kind, label, {m.name: cached[(kind, label)][m.cache_key] for m in generation},
                representation if kind == "ceiling" else None) for kind, label in sets]
