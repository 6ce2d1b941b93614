"""The rows every bench table is read against: real held-out music, the sentinels, the fidelity
ladders' rungs and each representation's ceiling.

They are scored with the same generation metrics, on the same held-out clips and with the same
counts as a model cell's samples, so a cell's figure is read between them. Everything but the
ceiling depends only on the data set and its split, so it is computed once per data set and split
and cached beside the prepared data (``CACHE/calibration/DATA_KEY-SPLIT.json``, with the reference
clips' features in ``CACHE/features/``): a bench of 100 cells, and every later bench on the same
data, scores the sentinels once, and each new round trip (a representation, or one with other
settings or weights) adds one ceiling row, filed by the round trip's contents. A figure is cached under its
metric's :attr:`~audiozoo.metric.Metric.cache_key` (name, version and settings), so a metric
whose settings or code changed is scored afresh, never read from an old figure; each figure keeps
its bootstrap interval and the number of draws it was made with (other draws: scored afresh).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from audiozoo.atomic import atomic_file
from audiozoo.data.cache import cache_root
from audiozoo.data.prepare import PreparedData
from audiozoo.feature_store import FeatureStore, clips_digest
from audiozoo.intervals import DRAWS, Figure
from audiozoo.ladders import ladders, make_rung
from audiozoo.metric import Metric
from audiozoo.runs.evaluation import Row
from audiozoo.sentinels import REAL, ceiling_label, make_sentinel, sentinels

CACHE_VERSION = 3
"""2: figures with their intervals, ladder rows. 3: a ceiling filed by its round trip's contents."""


def split_name(data: PreparedData) -> str:
    """The data set and split a calibration belongs to: ``DATA_KEY-test0.2-seed0``."""
    return f"{data.path.name}-test{data.config.test_fraction:g}-seed{data.config.split_seed}"


def shared_caches(data: PreparedData) -> tuple[Path, FeatureStore]:
    """Where the calibration figures of ``data`` and its reference features are kept, beside the prepared data."""
    root = cache_root(data.config.cache_dir)
    return root / "calibration" / f"{split_name(data)}.json", FeatureStore(root / "features")


def _read(path: Path) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """The cache, ``{(kind, label): {cache_key: {value, low, high, draws}}}``, or nothing where it is
    missing, unreadable or of another version (it is rebuilt, never trusted half-written)."""
    try:
        cached = json.loads(path.read_text())
        if cached.get("version") != CACHE_VERSION:
            return {}
        return {(row["kind"], row["label"]): dict(row["figures"]) for row in cached["rows"]}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


@dataclass(frozen=True)
class _Set:
    """A set of clips of known answer: how to make it and what its row says of itself."""

    kind: str
    label: str
    make: Callable[[], torch.Tensor]
    details: dict[str, str]
    key: str = ""  # what the cache files it under, where its label alone does not say what it holds

    @property
    def filed(self) -> str:
        return self.key or self.label


def _sets(representation: str, sample_rate: int, stand_in: torch.Tensor, train: torch.Tensor,
          roundtrip: torch.Tensor) -> list[_Set]:
    """Real music, every sentinel, every ladder rung and the representation's ceiling, in table order."""
    return [
        _Set("real", REAL, lambda: stand_in, {}),
        *(_Set(s.kind, s.label, lambda s=s: make_sentinel(s, stand_in, train), {}) for s in sentinels(sample_rate)),
        *(_Set(r.kind, r.label, lambda r=r: make_rung(r, stand_in, sample_rate), {"ladder": r.ladder, "rung": r.rung})
          for r in ladders(sample_rate)),
        # one label, many round trips (n_mels=128, a retrained autoencoder): filed by what came back
        _Set("ceiling", ceiling_label(representation), lambda: roundtrip, {"repr": representation},
             key=f"{ceiling_label(representation)} {clips_digest(roundtrip)}"),
    ]


def calibration_rows(cache: Path, metrics: list[Metric], representation: str, reference: torch.Tensor,
                     stand_in: torch.Tensor, train: torch.Tensor, roundtrip: torch.Tensor,
                     store: FeatureStore | None = None, draws: int = DRAWS) -> list[Row]:
    """The real row, every sentinel's and ladder rung's, and ``representation``'s ceiling, each with
    every generation metric and its bootstrap interval (``draws`` resamplings).

    ``stand_in`` (held-out clips, as many as a cell's samples) is what the sentinels and rungs are
    made from; ``roundtrip`` is ``stand_in`` through the representation and back. Figures missing
    from ``cache`` are computed (the reference's features from ``store``, where given) and the cache
    rewritten atomically.
    """
    store = store or FeatureStore(cache.parent / "features")
    generation = [m for m in metrics if m.task == "generation"]
    if not generation:
        return []
    sets = _sets(representation, generation[0].config.sample_rate, stand_in, train, roundtrip)
    cached = _read(cache)
    changed = False
    for one in sets:
        figures = cached.setdefault((one.kind, one.filed), {})
        todo = [m for m in generation if figures.get(m.cache_key, {}).get("draws") != draws]
        if todo:
            estimate = one.make()
            figures.update({m.cache_key: {**asdict(store.measure(m, reference, estimate, train, draws)),
                                          "draws": draws} for m in todo})
            changed = True
    if changed:
        rows = [{"kind": kind, "label": label, "figures": figures} for (kind, label), figures in cached.items()]
        with atomic_file(cache) as tmp:
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "rows": rows}, indent=1))
    return [_row(one, {m.name: cached[(one.kind, one.filed)][m.cache_key] for m in generation}) for one in sets]


def _row(one: _Set, figures: dict[str, dict[str, float]]) -> Row:
    measured = {name: Figure(f["value"], f["low"], f["high"]) for name, f in figures.items()}
    return Row(one.kind, one.label, {name: f.value for name, f in measured.items()},
               intervals={name: (f.low, f.high) for name, f in measured.items() if f.has_interval}, **one.details)
