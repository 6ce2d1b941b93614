"""The report's preprocessing over a whole dataset: decode in parallel, cut, split, cache as ``.npy``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from audiozoo.atomic import atomic_dir, ensure_writable, remove_stale_temporaries
from audiozoo.data.audio import UnreadableAudio, load_clip
from audiozoo.data.cache import cache_key, cache_root
from audiozoo.data.source import AudioSource, DataConfig
from audiozoo.errors import AudiozooError
from audiozoo.faults import fault_point

log = logging.getLogger("audiozoo.data")

SEGMENTS_FILE = "segments.npy"
META_FILE = "meta.json"

MAX_PEAK = 16.0
"""Above this peak (+24 dBFS) samples are absurd: a corrupt float file or one scaled as integers."""

SILENCE_PEAK = 2.0**-15
"""At or below this peak a file is digital silence: under one step of 16-bit audio."""

QUIET_SEGMENT_PEAK = 1e-3
"""A segment peaking below -60 dBFS is silence for training; a dataset mostly of those is an error."""


@dataclass
class PreparedData:
    """Every segment of a dataset as one ``[N, T]`` float32 array (memory-mapped from the cache)."""

    segments: np.ndarray
    segment_file: np.ndarray  # [N]: index into ``files`` of the file each segment came from
    files: list[str]  # files that made it, relative to the dataset root
    skipped: dict[str, str]  # file → why it was skipped
    config: DataConfig
    path: Path
    from_cache: bool
    warnings: dict[str, str] = field(default_factory=dict)  # file → what was odd about it, though kept

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def test_files(self) -> set[str]:
        return set(held_out_files(self.files, self.config.test_fraction, self.config.split_seed))

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Segment indices of the train and test splits; one file's segments never straddle them."""
        held_out = self.test_files
        is_test = np.array([self.files[i] in held_out for i in self.segment_file], dtype=bool)
        return np.flatnonzero(~is_test), np.flatnonzero(is_test)

    @property
    def train(self) -> np.ndarray:
        return self.segments[self.split_indices()[0]]

    @property
    def test(self) -> np.ndarray:
        return self.segments[self.split_indices()[1]]

    def summary(self) -> str:
        train, test = self.split_indices()
        seconds = self.segments.shape[0] * self.segments.shape[1] / self.sample_rate
        lines = [
            f"files read:   {len(self.files)}" + (" (from cache, nothing decoded)" if self.from_cache else ""),
            f"skipped:      {len(self.skipped)}",
            *(f"  {name}: {reason}" for name, reason in sorted(self.skipped.items())),
            *([f"kept, with a warning: {len(self.warnings)}"] if self.warnings else []),
            *(f"  {name}: {reason}" for name, reason in sorted(self.warnings.items())),
            f"segments:     {self.segments.shape[0]} × {self.segments.shape[1]} samples "
            f"({self.segments.shape[1] / self.sample_rate:.2f} s at {self.sample_rate} Hz)",
            f"audio:        {seconds:.1f} s",
            f"split:        {len(train)} train / {len(test)} test segments "
            f"({len(self.files) - len(self.test_files)} / {len(self.test_files)} files)",
            f"cache:        {self.path}",
        ]
        return "\n".join(lines)


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
    files = source.files()
    if not files:
        raise AudiozooError(f"dataset {source.name!r} has no audio files under {source.root}")
    root = cache_root(config.cache_dir)
    entry = root / f"{source.name}-{cache_key(files, config)}"
    data = _read_entry(entry, config)
    if data is None:
        ensure_writable(root, "the data cache", "set data.cache_dir=PATH or AUDIOZOO_CACHE")
        remove_stale_temporaries(root)
        _decode_into_cache(source, files, entry, progress)
        data = _read_entry(entry, config)
        data.from_cache = False
    return data


def _read_entry(entry: Path, config: DataConfig) -> PreparedData | None:
    """The cached arrays of ``entry``; None when absent, or damaged (then it is removed, to be rebuilt)."""
    if not entry.exists():
        return None
    try:
        meta = json.loads((entry / META_FILE).read_text())
        segments = np.load(entry / SEGMENTS_FILE, mmap_mode="r")
        data = PreparedData(segments, np.asarray(meta["segment_file"], dtype=np.int64), meta["files"],
                            meta["skipped"], config, entry, from_cache=True, warnings=meta["warnings"])
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


def _problem(wave: np.ndarray, config: DataConfig) -> tuple[str, str] | None:
    """Which setting decides about a decoded clip (``loud``, ``silent`` or ``short``), and why; None if fine."""
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    if peak > MAX_PEAK:
        return "loud", f"absurd amplitude (peak {peak:.3g}, over {MAX_PEAK:g})"
    if peak <= SILENCE_PEAK:
        return "silent", "digital silence"
    if len(wave) < config.clip_samples:
        return "short", f"shorter than the clip ({len(wave) / config.sample_rate:.1f} s < {config.clip_seconds:g} s)"
    return None


def _decode_into_cache(source: AudioSource, files: list[Path], entry: Path, progress: bool) -> None:
    config = source.config
    names = [_relative(p, source.root) for p in files]
    seg = config.segment_samples
    workers = config.workers or os.cpu_count() or 1

    def read(path: Path) -> np.ndarray | str:
        try:
            return load_clip(path, config.sample_rate, config.clip_seconds)
        except UnreadableAudio as err:
            return str(err)

    segments = np.zeros((len(files) * config.segments, seg), dtype=np.float32)
    kept: list[str] = []
    skipped: dict[str, str] = {}
    warnings: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, logging_redirect_tqdm():
        results = pool.map(read, files)
        for name, result in tqdm(zip(names, results), total=len(files), desc="decoding", unit="file", disable=not progress):
            problem = _problem(result, config) if isinstance(result, np.ndarray) else ("", result)
            if problem is not None:
                setting, reason = problem
                if setting and getattr(config, setting) != "skip":
                    warnings[name] = f"{reason}; kept (data.{setting}={getattr(config, setting)})"
                    log.warning("%s: %s", name, warnings[name])
                else:
                    if config.strict:
                        raise AudiozooError(f"cannot use {name}: {reason} (strict=true; set data.strict=false to skip it)")
                    log.warning("skipped %s: %s", name, reason)
                    skipped[name] = reason
                    continue
            usable = result[: seg * config.segments]  # short clips stay zero-padded
            row = len(kept) * config.segments
            segments[row : row + config.segments].reshape(-1)[: len(usable)] = usable
            kept.append(name)
    if not kept:
        raise AudiozooError(f"no usable audio in dataset {source.name!r}: all {len(files)} files were skipped")
    segments = segments[: len(kept) * config.segments]
    silent = int((np.abs(segments).max(axis=1) <= QUIET_SEGMENT_PEAK).sum())
    if silent > len(segments) / 2:
        raise AudiozooError(f"dataset {source.name!r} is mostly silence: {silent} of {len(segments)} segments peak "
                            f"below {QUIET_SEGMENT_PEAK:g} (check the files, data.clip_seconds and data.short)")
    meta = {
        "files": kept,
        "segment_file": [i for i in range(len(kept)) for _ in range(config.segments)],
        "skipped": skipped,
        "warnings": warnings,
        "silent_segments": silent,
    }

    def fill(folder: Path) -> None:
        np.save(folder / SEGMENTS_FILE, segments)
        fault_point("during-cache-write")
        (folder / META_FILE).write_text(json.dumps(meta, indent=1))

    atomic_dir(entry, fill)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
