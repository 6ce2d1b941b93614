"""The report's preprocessing over a whole dataset: decode in parallel, cut, check, split, cache as ``.npy``.

Files are decoded a few at a time and their segments written as they come into the cache's
``segments.npy`` (:mod:`audiozoo.data.store`), inside a temporary folder renamed into place when
complete: memory holds a few files' audio whatever the dataset's size, and a ``kill -9`` leaves
only a temporary the next run removes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.contrib.logging import logging_redirect_tqdm

from audiozoo.atomic import atomic_dir, ensure_writable, remove_stale_temporaries
from audiozoo.data.audio import NOT_FINITE, AudioStream, UnreadableAudio
from audiozoo.data.cache import cache_key, cache_root
from audiozoo.data.source import AudioItem, AudioSource, DataConfig
from audiozoo.data.store import RowFile, Rows, RowWriter
from audiozoo.data.windows import Cut, covered, cut
from audiozoo.errors import AudiozooError
from audiozoo.faults import fault_point
from audiozoo.progress_bar import progress_bar

log = logging.getLogger("audiozoo.data")

SEGMENTS_FILE = "segments.npy"
META_FILE = "meta.json"

MAX_PEAK = 16.0
"""Above this peak (+24 dBFS) samples are absurd: a corrupt float file or one scaled as integers."""

SILENCE_PEAK = 2.0**-15
"""At or below this peak a file is digital silence: under one step of 16-bit audio."""

QUIET_SEGMENT_PEAK = 1e-3
"""A segment peaking at or below -60 dBFS is silence for training: dropped (``data.silent=skip``);
a dataset mostly of those is an error."""

LISTED = 10
"""Names a summary lists under each heading before "… and N more" (meta.json keeps them all)."""

WRITE_ROWS = 64
"""Segments copied to the cache at a time (overlapping windows are views until then)."""


@dataclass
class FileUse:
    """How much of one kept item its segments hold, in seconds."""

    seconds: float  # audio in the item, by its file's header
    used: float  # of it, inside kept segments (overlapping ones count once)
    padding: float  # zeros that fill its kept segments past its end
    rate: int  # the file's own sample rate


@dataclass
class PreparedData:
    """Every segment of a dataset as one ``[N, T]`` float32 array (memory-mapped from the cache)."""

    segments: np.ndarray
    segment_file: np.ndarray  # [N]: index into ``files`` of the item each segment came from
    files: list[str]  # items that made it: file names relative to the dataset root (with the part, for a part)
    skipped: dict[str, str]  # item → why it was skipped
    config: DataConfig
    path: Path
    from_cache: bool
    warnings: dict[str, str] = field(default_factory=dict)  # item → what was odd about it, though kept
    use: list[FileUse] = field(default_factory=list)  # per item of ``files``
    sources: list[str] = field(default_factory=list)  # per item: the file it is cut from, which the split goes by
    dropped: dict[str, list[float]] = field(default_factory=dict)  # item → start (s) of each silent segment left out
    metadata: list[dict[str, Any]] = field(default_factory=list)  # per item: what its source said of it (a manifest)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def test_files(self) -> set[str]:
        held_out = set(held_out_files(list(dict.fromkeys(self.sources)), self.config.test_fraction,
                                      self.config.split_seed))
        return {name for name, source in zip(self.files, self.sources) if source in held_out}

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Segment indices of the train and test splits; one file's segments never straddle them."""
        held_out = self.test_files
        is_test = np.array([name in held_out for name in self.files], dtype=bool)[self.segment_file]
        return np.flatnonzero(~is_test), np.flatnonzero(is_test)

    def select(self, indices: np.ndarray) -> Rows:
        """Segments ``indices``, read from the cache when used (``segments[indices]`` copies them all now)."""
        return Rows(RowFile(self.path / SEGMENTS_FILE), indices)

    @property
    def train(self) -> np.ndarray:
        return self.select(self.split_indices()[0]).read()

    @property
    def test(self) -> np.ndarray:
        return self.select(self.split_indices()[1]).read()

    def summary(self) -> str:
        train, test = self.split_indices()
        rate, width = self.sample_rate, self.segments.shape[1]
        padding = sum(u.padding for u in self.use)
        in_segments = self.segments.shape[0] * width / rate - padding
        seconds, used = sum(u.seconds for u in self.use), sum(u.used for u in self.use)
        left_out = sorted(((name, u) for name, u in zip(self.files, self.use) if round(u.seconds - u.used, 1) > 0),
                          key=lambda item: item[1].used - item[1].seconds)
        where = " past data.clip_seconds (data.windows=all uses it all)" if self.config.windows == "first" else ""
        silent = sum(len(starts) for starts in self.dropped.values())
        low = [u.rate for u in self.use if u.rate < rate]
        lines = [
            f"files read:   {len(self.files)}" + (" (from cache, nothing decoded)" if self.from_cache else ""),
            f"skipped:      {len(self.skipped)}",
            *self._listed(f"{name}: {reason}" for name, reason in sorted(self.skipped.items())),
            *([f"kept, with a warning: {len(self.warnings)}"] if self.warnings else []),
            *self._listed(f"{name}: {reason}" for name, reason in sorted(self.warnings.items())),
            *([f"silent segments left out: {silent}, of {_count(len(self.dropped), 'file')} "
               "(peak at or below -60 dBFS; data.silent=keep keeps them)"] if silent else []),
            *self._listed(f"{name}: {_count(len(starts), 'segment')} at {_seconds(starts)} s"
                          for name, starts in sorted(self.dropped.items())),
            f"segments:     {self.segments.shape[0]} × {width} samples ({width / rate:.2f} s at {rate} Hz)",
            f"audio:        {in_segments:.1f} s" + (f" (and {padding:.1f} s of zero padding)" if padding else ""),
            f"used:         {used:.1f} of {seconds:.1f} s of the files' audio"
            + (f"; {seconds - used:.1f} s left out{where}" if left_out else ""),
            *self._listed(f"{name}: {u.seconds - u.used:.1f} of {u.seconds:.1f} s left out" for name, u in left_out),
            *([f"upsampled:    {_count(len(low), 'file')} below data.sample_rate={rate} Hz (from {min(low)} Hz up): "
               f"nothing in them above {min(low) / 2:g} Hz"] if low else []),
            f"split:        {len(train)} train / {len(test)} test segments "
            f"({len(self.files) - len(self.test_files)} / {len(self.test_files)} files)",
            f"cache:        {self.path}",
        ]
        return "\n".join(lines)

    def _listed(self, lines: Iterable[str]) -> list[str]:
        lines = list(lines)
        more = [f"  … and {len(lines) - LISTED} more ({self.path / META_FILE} lists them all)"] if len(lines) > LISTED else []
        return [f"  {line}" for line in lines[:LISTED]] + more

    def warn(self) -> None:
        """Log what a run should hear of, as ``prepare``'s summary says it: upsampled files, mostly padding."""
        low = [u.rate for u in self.use if u.rate < self.sample_rate]
        if low:
            log.warning("%s below data.sample_rate=%d Hz (from %d Hz up): nothing in them above %g Hz, so a "
                        "representation's bands there model silence; data.sample_rate=%d keeps what they hold",
                        _count(len(low), "file"), self.sample_rate, min(low), min(low) / 2, min(low))
        padding = sum(u.padding for u in self.use)
        if padding > self.segments.shape[0] * self.segments.shape[1] / self.sample_rate / 2:
            log.warning("most of the segments' samples are zero padding (%.1f s): the files are shorter than the "
                        "segments; a shorter data.clip_seconds, or data.short=skip, fits them", padding)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _seconds(starts: list[float], shown: int = 4) -> str:
    return ", ".join(f"{s:g}" for s in starts[:shown]) + (", …" if len(starts) > shown else "")


def held_out_files(files: list[str], fraction: float, seed: int) -> list[str]:
    """The test files: the ``round(n·fraction)`` files of lowest seeded hash of their name.

    Depends only on the names, not on their order or on which other files failed to decode.
    """
    if fraction <= 0 or len(files) < 2:
        return []
    count = min(len(files) - 1, max(1, round(len(files) * fraction)))
    return sorted(files, key=lambda name: hashlib.sha256(f"{seed}:{name}".encode()).hexdigest())[:count]


def prepare(source: AudioSource, progress: bool = True) -> PreparedData:
    """Decode, cut and split every file of ``source``, or read the cache of an earlier identical run.

    A damaged cache entry (an interrupted copy, a truncated array) is reported and rebuilt.
    """
    config = source.config
    items = source.items()
    if not items:
        raise AudiozooError(f"dataset {source.name!r} has no audio files under {source.root}")
    root = cache_root(config.cache_dir)
    entry = root / f"{source.name}-{cache_key(items, config)}"
    data = _read_entry(entry, config)
    if data is None:
        ensure_writable(root, "the data cache", "set data.cache_dir=PATH or AUDIOZOO_CACHE")
        remove_stale_temporaries(root)
        _decode_into_cache(source, items, entry, progress)
        data = _read_entry(entry, config)
        data.from_cache = False
    by_name = {item.name(source.root): item.metadata for item in items}
    data.metadata = [by_name.get(name, {}) for name in data.files]
    data.warn()
    return data


def _read_entry(entry: Path, config: DataConfig) -> PreparedData | None:
    """The cached arrays of ``entry``; None when absent, or damaged (then it is removed, to be rebuilt)."""
    if not entry.exists():
        return None
    try:
        meta = json.loads((entry / META_FILE).read_text())
        segments = np.load(entry / SEGMENTS_FILE, mmap_mode="r")
        data = PreparedData(segments, np.asarray(meta["segment_file"], dtype=np.int64), meta["files"],
                            meta["skipped"], config, entry, from_cache=True, warnings=meta["warnings"],
                            use=[FileUse(*u) for u in meta["use"]], sources=meta["sources"], dropped=meta["dropped"])
        if segments.shape != (len(data.segment_file), config.segment_samples) or segments.dtype != np.float32:
            raise ValueError(f"{SEGMENTS_FILE} holds {segments.shape} {segments.dtype}, not what {META_FILE} says")
    except (OSError, ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        log.warning("the cache entry %s is incomplete or damaged (%s); rebuilding it", entry, _one_line(err))
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return data


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _problem(found: Cut, config: DataConfig) -> tuple[str, str] | None:
    """Which setting decides about a decoded item (``loud``, ``silent`` or ``short``), and why; None if fine."""
    if not math.isfinite(found.peak):
        return "", NOT_FINITE
    if found.peak > MAX_PEAK:
        return "loud", f"absurd amplitude (peak {found.peak:.3g}, over {MAX_PEAK:g})"
    if found.peak <= SILENCE_PEAK:
        return "silent", "digital silence"
    seconds = found.samples / config.sample_rate
    if config.windows == "first" and found.samples < config.clip_samples:
        return "short", f"shorter than the clip ({seconds:.1f} s < {config.clip_seconds:g} s)"
    if config.windows == "all" and found.samples < config.segment_samples:
        return "short", f"shorter than a segment ({seconds:.1f} s < {config.segment_samples / config.sample_rate:g} s)"
    return None


T = TypeVar("T")
R = TypeVar("R")


def in_order(pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """``fn`` of each item, in order, computed in ``pool`` at most ``ahead`` at a time beyond the one
    being taken: what waits in memory stays bounded however many items there are (``pool.map``
    submits them all at once and keeps every result until it is taken)."""
    pending: deque = deque()
    todo = iter(items)
    for item in todo:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            break
    while pending:
        result = pending.popleft().result()
        for item in todo:
            pending.append(pool.submit(fn, item))
            break
        yield result


@dataclass
class _Book:
    """What ``prepare`` learns item by item, written to meta.json at the end."""

    config: DataConfig
    files: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    use: list[list[float]] = field(default_factory=list)
    segment_file: list[int] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, list[float]] = field(default_factory=dict)
    segments: int = 0  # cut from usable items
    silent: int = 0  # of them, at or below QUIET_SEGMENT_PEAK

    def skip(self, name: str, reason: str) -> None:
        if self.config.strict:
            raise AudiozooError(f"cannot use {name}: {reason} (strict=true; set data.strict=false to skip it)")
        log.warning("skipped %s: %s", name, reason)
        self.skipped[name] = reason

    def take(self, name: str, source: str, result: tuple[int, float, Cut] | str, writer: RowWriter) -> None:
        """Decide about one item and write the segments it keeps."""
        config = self.config
        problem = _problem(result[2], config) if isinstance(result, tuple) else ("", result)
        if problem is not None:
            setting, reason = problem
            if not setting or getattr(config, setting) == "skip":
                return self.skip(name, reason)
            self.warnings[name] = f"{reason}; kept (data.{setting}={getattr(config, setting)})"
            log.warning("%s: %s", name, self.warnings[name])
        rate, seconds, found = result
        keep = np.ones(len(found.starts), dtype=bool)
        if config.short == "skip":  # a last partial segment (windows=all); a short file was skipped above
            keep &= found.real == config.segment_samples
        quiet = found.peaks <= QUIET_SEGMENT_PEAK
        self.segments += int(keep.sum())
        self.silent += int((quiet & keep).sum())
        if config.silent == "skip":
            if (quiet & keep).any():
                self.dropped[name] = (found.starts[quiet & keep] / config.sample_rate).round(3).tolist()
            keep &= ~quiet
        if not keep.any():
            self.dropped.pop(name, None)
            return self.skip(name, "every segment peaks at or below -60 dBFS")
        rows = np.flatnonzero(keep)
        for start in range(0, len(rows), WRITE_ROWS):
            writer.append(found.segments[rows[start : start + WRITE_ROWS]])
        real = found.real[rows]
        self.segment_file += [len(self.files)] * len(rows)
        self.files.append(name)
        self.sources.append(source)
        self.use.append([seconds, covered(found.starts[rows], real) / config.sample_rate,
                         float(len(rows) * config.segment_samples - real.sum()) / config.sample_rate, rate])

    def check(self, dataset: str, count: int) -> None:
        """A dataset with nothing usable, or mostly silence, is an error: nothing is cached."""
        if self.silent > self.segments / 2:
            raise AudiozooError(f"dataset {dataset!r} is mostly silence: {self.silent} of {self.segments} segments "
                                f"peak below {QUIET_SEGMENT_PEAK:g} (check the files, data.clip_seconds and data.short)")
        if not self.files:
            first = min(self.skipped)
            raise AudiozooError(f"no usable audio in dataset {dataset!r}: all {count} files were skipped "
                                f"({first}: {self.skipped[first]})")
        if self.dropped:
            log.warning("left out %d silent segments (peak at or below -60 dBFS) of %s; prepare's summary names them",
                        sum(map(len, self.dropped.values())), _count(len(self.dropped), "file"))

    def meta(self) -> dict[str, Any]:
        return {"files": self.files, "sources": self.sources, "use": self.use, "segment_file": self.segment_file,
                "skipped": self.skipped, "warnings": self.warnings, "dropped": self.dropped,
                "silent_segments": self.silent}


def _decode_into_cache(source: AudioSource, items: list[AudioItem], entry: Path, progress: bool) -> None:
    config = source.config
    workers = config.workers or os.cpu_count() or 1
    clip = config.clip_seconds if config.windows == "first" else None

    def read(item: AudioItem) -> tuple[int, float, Cut] | str:
        try:
            stream = AudioStream(item.path, config.sample_rate, clip, item.start, item.end)
            return stream.rate, stream.seconds, cut(stream, config)
        except UnreadableAudio as err:
            return str(err)

    def fill(folder: Path) -> None:
        book = _Book(config)
        with RowWriter(folder / SEGMENTS_FILE, (config.segment_samples,)) as writer, \
                ThreadPoolExecutor(max_workers=workers) as pool, logging_redirect_tqdm():
            results = in_order(pool, read, items, 2 * workers)
            for item, result in progress_bar(iterable=zip(items, results), total=len(items), desc="decoding",
                                             unit="file", disable=not progress):
                book.take(item.name(source.root), AudioItem(item.path).name(source.root), result, writer)
                fault_point("during-cache-write")
        book.check(source.name, len(items))
        (folder / META_FILE).write_text(json.dumps(book.meta(), indent=1))

    atomic_dir(entry, fill)
