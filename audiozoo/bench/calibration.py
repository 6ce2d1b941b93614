"""The rows every bench table is read against: real held-out music, the sentinels and each representation's ceiling.

They are scored with the same generation metrics, on the same held-out clips and with the same
counts as a model cell's samples, so a cell's figure is read between them. Everything but the
ceiling depends only on the data set and its split, so it is computed once per bench folder and
data set and cached there (``sentinels/DATA_KEY.json``): a bench of 100 cells scores the
sentinels once, and each new representation adds one ceiling row.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from audiozoo.atomic import atomic_file
from audiozoo.metric import Metric
from audiozoo.sentinels import REAL, ceiling_label, make_sentinel, sentinels


def _read(path: Path) -> dict[str, dict[str, float]]:
    """The cache, or nothing where it is missing or unreadable (it is rebuilt, never trusted half-written)."""
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def calibration_rows(cache: Path, metrics: list[Metric], representation: str, reference: torch.Tensor,
                     stand_in: torch.Tensor, train: torch.Tensor, roundtrip: torch.Tensor,
                     ) -> dict[str, dict[str, float]]:
    """``{row: {metric: value}}`` for the real row, every sentinel and ``representation``'s ceiling.

    ``stand_in`` (held-out clips, as many as a cell's samples) is what the sentinels are made
    from; ``roundtrip`` is ``stand_in`` through the representation and back. Rows or metrics
    missing from ``cache`` are computed and the cache rewritten atomically.
    """
    generation = [m for m in metrics if m.task == "generation"]
    if not generation:
        return {}
    made = {s.label: (lambda s=s: make_sentinel(s, stand_in, train))
            for s in sentinels(generation[0].config.sample_rate)}
    clips = {REAL: lambda: stand_in, **made, ceiling_label(representation): lambda: roundtrip}
    rows = _read(cache)
    changed = False
    for row, make in clips.items():
        todo = [m for m in generation if m.name not in rows.get(row, {})]
        if todo:
            estimate = make()
            rows.setdefault(row, {}).update({m.name: float(m(reference, estimate, train=train)) for m in todo})
            changed = True
    if changed:
        with atomic_file(cache) as tmp:
            tmp.write_text(json.dumps(rows, indent=1))
    return {row: rows[row] for row in clips}
