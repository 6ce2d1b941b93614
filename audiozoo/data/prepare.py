"""The report's preprocessing over a whole dataset: decode in parallel, cut, split, cache as ``.npy``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from audiozoo.data.audio import UnreadableAudio, load_clip
from audiozoo.atomic import atomic_dir
from audiozoo.data.cache import cache_key, cache_root
from audiozoo.data.source import AudioSource, DataConfig
from audiozoo.errors import AudiozooError

log = logging.getLogger("audiozoo.data")

SEGMENTS_FILE = "segments.npy"
META_FILE = "meta.json"


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
    """Decode, cut and split every file of ``source``, or read the cache of an earlier identical run."""
    config = source.config
    files = source.files()
    if not files:
        raise AudiozooError(f"dataset {source.name!r} has no audio files under {source.root}")
    shape_settings = {
        "sample_rate": config.sample_rate,
        "clip_seconds": config.clip_seconds,
        "segments": config.segments,
        "short": config.short,
    }
    entry = cache_root(config.cache_dir) / f"{source.name}-{cache_key(files, shape_settings)}"
    cached = (entry / META_FILE).is_file()
    if not cached:
        _decode_into_cache(source, files, entry, progress)
    meta = json.loads((entry / META_FILE).read_text())
    return PreparedData(
        segments=np.load(entry / SEGMENTS_FILE, mmap_mode="r"),
        segment_file=np.asarray(meta["segment_file"], dtype=np.int64),
        files=meta["files"],
        skipped=meta["skipped"],
        config=config,
        path=entry,
        from_cache=cached,
    )


def _decode_into_cache(source: AudioSource, files: list[Path], entry: Path, progress: bool) -> None:
    config = source.config
    names = [_relative(p, source.root) for p in files]
    clip, seg = config.clip_samples, config.segment_samples
    workers = config.workers or os.cpu_count() or 1

    def read(path: Path) -> np.ndarray | str:
        try:
            return load_clip(path, config.sample_rate, config.clip_seconds)
        except UnreadableAudio as err:
            return str(err)

    segments = np.zeros((len(files) * config.segments, seg), dtype=np.float32)
    kept: list[str] = []
    skipped: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(read, files)
        for name, result in tqdm(zip(names, results), total=len(files), desc="decoding", unit="file", disable=not progress):
            if isinstance(result, np.ndarray) and len(result) < clip and config.short == "skip":
                result = f"shorter than the clip ({len(result) / config.sample_rate:.1f} s < {config.clip_seconds:g} s)"
            if isinstance(result, str):
                if config.strict:
                    raise AudiozooError(f"cannot use {name}: {result} (strict=true; set data.strict=false to skip it)")
                log.warning("skipped %s: %s", name, result)
                skipped[name] = result
                continue
            usable = result[: seg * config.segments]  # short clips stay zero-padded
            row = len(kept) * config.segments
            segments[row : row + config.segments].reshape(-1)[: len(usable)] = usable
            kept.append(name)
    if not kept:
        raise AudiozooError(f"no usable audio in dataset {source.name!r}: all {len(files)} files were skipped")
    meta = {
        "files": kept,
        "segment_file": [i for i in range(len(kept)) for _ in range(config.segments)],
        "skipped": skipped,
        "settings": {"sample_rate": config.sample_rate, "clip_seconds": config.clip_seconds, "segments": config.segments},
    }

    def fill(folder: Path) -> None:
        np.save(folder / SEGMENTS_FILE, segments[: len(kept) * config.segments])
        (folder / META_FILE).write_text(json.dumps(meta, indent=1))

    atomic_dir(entry, fill)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
