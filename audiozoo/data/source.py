"""The dataset plugin interface: a source lists audio files; the core prepares them uniformly."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from audiozoo.errors import AudiozooError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".au", ".snd", ".aiff", ".aif", ".mp3")
"""Files libsndfile decodes (mp3 where the installed libsndfile supports it)."""


@dataclass
class DataConfig:
    """The report's preprocessing, every step a setting (``data.KEY=VALUE``), shared by all datasets."""

    sample_rate: int = 3150  # 22050 / 7, as the report
    clip_seconds: float = 29.0  # first: each file is cut to its first clip_seconds
    segments: int = 2  # the clip is split into this many equal parts (the report: halves): the segment length
    windows: Literal["first", "all"] = "first"  # first: the first clip_seconds of a file; all: the whole file in segments
    hop_seconds: float = 0.0  # windows=all: seconds from one segment's start to the next; 0: a segment's length
    short: Literal["pad", "skip"] = "pad"  # files shorter than the clip (all: a last partial segment): zero-pad or skip
    silent: Literal["skip", "keep"] = "skip"  # files of digital silence, and segments peaking below -60 dBFS
    loud: Literal["skip", "keep"] = "skip"  # files with absurd samples (peak over 16, i.e. +24 dBFS)
    strict: bool = False  # a file that would be skipped is an error instead of a warning
    test_fraction: float = 0.2  # share of source files held out for testing
    split_seed: int = 0  # which files are held out
    cache_dir: str = ""  # default: $AUDIOZOO_CACHE, else the user's cache dir
    workers: int = 0  # decoding threads; 0 = one per CPU core

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.clip_seconds <= 0:
            raise ValueError(f"clip_seconds must be positive, got {self.clip_seconds}")
        if self.segments < 1:
            raise ValueError(f"segments must be at least 1, got {self.segments}")
        if self.segment_samples < 1:
            raise ValueError(f"a segment is clip_seconds / segments = {self.clip_seconds / self.segments:g} s, "
                             f"under one sample at {self.sample_rate} Hz")
        if self.hop_seconds < 0 or (self.hop_seconds and self.windows != "all"):
            raise ValueError(f"hop_seconds must be 0 or positive, and is for windows=all, got {self.hop_seconds:g} "
                             f"with windows={self.windows}")
        if self.hop_seconds and self.hop_samples < 1:
            raise ValueError(f"hop_seconds={self.hop_seconds:g} is under one sample at {self.sample_rate} Hz")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (all cores) or more, got {self.workers}")

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)

    @property
    def segment_samples(self) -> int:
        return self.clip_samples // self.segments

    @property
    def hop_samples(self) -> int:
        """Samples from one segment's start to the next (windows=all)."""
        return round(self.hop_seconds * self.sample_rate) if self.hop_seconds else self.segment_samples


@dataclass(frozen=True)
class AudioItem:
    """One entry of a dataset: a file, or the part ``[start, end)`` of one (seconds), with its metadata."""

    path: Path
    start: float = 0.0
    end: float | None = None  # None: to the end of the file
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def name(self, root: Path) -> str:
        """How summaries and the cache name it: the path relative to ``root``, with the part when not whole."""
        try:
            name = self.path.relative_to(root).as_posix()
        except ValueError:
            name = self.path.as_posix()
        if self.start or self.end is not None:
            name += f" [{self.start:g}-{'end' if self.end is None else format(self.end, 'g')} s]"
        return name


class AudioSource(ABC):
    """A dataset plugin: it only says which files belong to the dataset, under which root."""

    name: ClassVar[str]
    Config: ClassVar[type[DataConfig]] = DataConfig

    def __init__(self, config: DataConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    @abstractmethod
    def root(self) -> Path:
        """The folder file names are reported relative to."""

    @abstractmethod
    def files(self) -> list[Path]:
        """Every audio file of the dataset, in a stable order."""

    def items(self) -> list[AudioItem]:
        """What ``prepare`` reads: each file whole by default; a source may name parts of files
        and metadata (a manifest does). The train/test split goes by file, never by part."""
        return [AudioItem(path) for path in self.files()]


def audio_files_under(root: Path) -> list[Path]:
    """Every audio file below ``root``, recursively, sorted; a missing folder is a user error."""
    if not root.is_dir():
        raise AudiozooError(f"data folder not found: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
