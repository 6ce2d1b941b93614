"""The note-evidence table of docs/metrics.md: what the note model hears in real music, the bench's
sentinels and note-level degradations, on the bench's split of a data set.

    python tools/note_table.py [data=classical] [data.KEY=VALUE ...]

Prints, per row, ``note_distance`` and ``structure_distance`` to the reference half and the mean
window features; then real against real over many file-disjoint draws of the whole data set (the
estimator's spread), and the note model's cost per clip at the process's torch thread count.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import soxr
import torch
from audiozoo_plugins.notes import FRAME_SECONDS, WINDOW_FEATURES, note_features

from audiozoo import api
from audiozoo.bench.evaluate import split_by_file
from audiozoo.overrides import parse_overrides
from audiozoo.report.tables import fmt
from audiozoo.sentinels import REAL, make_sentinels

DRAWS = 40
OVERSAMPLE = 4


def wobble(clips: torch.Tensor, sample_rate: int, cents: float, hz: float = 5.0) -> torch.Tensor:
    """Pitch wobble: each clip read at a speed swinging ±``cents`` at ``hz`` (a vibrato no player would keep)."""
    rate = OVERSAMPLE * sample_rate
    up = soxr.resample(clips.numpy().T, sample_rate, rate).T
    speed = 2 ** (cents / 1200 * np.sin(2 * np.pi * hz * np.arange(up.shape[1]) / rate))
    position = np.cumsum(speed) - speed[0]
    read = np.stack([np.interp(position, np.arange(up.shape[1]), clip) for clip in up])
    return torch.as_tensor(soxr.resample(read.T, rate, sample_rate).T.copy(), dtype=clips.dtype)


def chopped(clips: torch.Tensor, sample_rate: int, hz: float) -> torch.Tensor:
    """Chopped notes: the clip gated on and off ``hz`` times a second (5 ms ramps), every note cut into pieces."""
    t = torch.arange(clips.shape[1], dtype=torch.float64) / sample_rate
    ramp = max(1, round(0.005 * sample_rate))
    gate = (torch.sin(2 * torch.pi * hz * t) > 0).double()
    gate = torch.nn.functional.avg_pool1d(gate[None, None], ramp, 1, ramp // 2, count_include_pad=False)[0, 0]
    return (clips * gate[: clips.shape[1]]).to(clips.dtype)


def blurred(clips: torch.Tensor, sample_rate: int, rt60: float) -> torch.Tensor:
    """Time blur: each clip through a diffuse reverberation tail (decaying noise, ``rt60`` s to -60 dB), wet only."""
    generator = torch.Generator().manual_seed(7)
    t = torch.arange(round(rt60 * sample_rate), dtype=torch.float64) / sample_rate
    tail = torch.randn(len(t), generator=generator, dtype=torch.float64) * torch.exp(-6.91 * t / rt60)
    n = clips.shape[1] + len(t)
    wet = torch.fft.irfft(torch.fft.rfft(clips.double(), n) * torch.fft.rfft(tail, n), n)[:, : clips.shape[1]]
    return (wet * clips.std(-1, keepdim=True) / wet.std(-1, keepdim=True)).to(clips.dtype)


def summary(heard: list) -> list[str]:
    windows = np.concatenate([c.windows for c in heard])
    durations = np.concatenate([c.notes[:, 1] - c.notes[:, 0] for c in heard])
    means = dict(zip(WINDOW_FEATURES, windows.mean(0)))
    return [fmt(means["confidence"]), fmt(means["polyphony"]), fmt(means["onset_rate"]),
            fmt(float(np.median(durations)) if len(durations) else float("nan")), fmt(means["pitch_class_entropy"])]


def main(args: list[str]) -> None:
    overrides = parse_overrides(args)
    name = overrides.pop("data", None)
    data = api.prepare(name, progress=False, **{k.removeprefix("data."): v for k, v in overrides.items()})
    rate = data.sample_rate
    train_idx, test_idx = data.split_indices()
    reference_idx, stand_in_idx = split_by_file(data, test_idx)
    reference, stand_in, train = (torch.as_tensor(np.asarray(data.segments[i]))
                                  for i in (reference_idx, stand_in_idx, train_idx))
    rows = {REAL: stand_in, **make_sentinels(rate, stand_in, train),
            "pitch wobble ±25 cents, 5 Hz": wobble(stand_in, rate, 25.0),
            "pitch wobble ±100 cents, 5 Hz": wobble(stand_in, rate, 100.0),
            "chopped notes, 4 Hz gate": chopped(stand_in, rate, 4.0),
            "chopped notes, 10 Hz gate": chopped(stand_in, rate, 10.0),
            "time blur, reverb 0.5 s": blurred(stand_in, rate, 0.5),
            "time blur, reverb 2 s": blurred(stand_in, rate, 2.0)}
    notes, structure = (api.get_metric(n, sample_rate=rate) for n in ("note_distance", "structure_distance"))
    fresh = torch.as_tensor(np.asarray(data.segments[train_idx[-12:]])).flip(-1)  # never seen: no cache
    started = time.perf_counter()
    note_features(rate, fresh)
    per_clip = (time.perf_counter() - started) / len(fresh)
    print(f"{len(reference)} reference clips, {len(stand_in)} per row, {data.segments.shape[1] / rate:g} s at {rate} Hz; "
          f"note model {per_clip:.2f} s per clip on {torch.get_num_threads()} threads\n")
    print("| row | note_distance | structure_distance | confidence | polyphony | onsets/s | median note (s) "
          "| pitch-class entropy |")
    print("| --- |" + " ---: |" * 7)
    print("| reference half | 0 | 0 | " + " | ".join(summary(note_features(rate, reference))) + " |")
    for label, clips in rows.items():
        print(f"| {label} | {fmt(float(notes(reference, clips)))} | {fmt(float(structure(reference, clips)))} | "
              + " | ".join(summary(note_features(rate, clips))) + " |")

    # real against real: file-disjoint draws from every segment, sets as large as the bench's
    everything = torch.as_tensor(np.asarray(data.segments))
    windows = [torch.as_tensor(c.windows) for c in note_features(rate, everything)]
    files = np.unique(data.segment_file)
    generator = np.random.default_rng(0)
    figures = []
    for _ in range(DRAWS):
        order = generator.permutation(files)
        clips = np.concatenate([np.flatnonzero(data.segment_file == f) for f in order])
        first = set(order[: len(order) // 2])
        a = [i for i in clips if data.segment_file[i] in first][: len(reference)]
        b = [i for i in clips if data.segment_file[i] not in first][: len(stand_in)]
        figures.append(float(notes.between(torch.cat([windows[i] for i in a]), torch.cat([windows[i] for i in b]))))
    print(f"\nreal vs real over {DRAWS} file-disjoint draws ({len(reference)} vs {len(stand_in)} clips): "
          f"mean {fmt(np.mean(figures))}, sd {fmt(np.std(figures))}, 95th percentile {fmt(np.quantile(figures, 0.95))}, "
          f"max {fmt(max(figures))} (frames of {FRAME_SECONDS * 1000:.1f} ms)")


if __name__ == "__main__":
    main(sys.argv[1:])
