"""The dataset plugin interface: a source lists audio files; the core prepares them uniformly."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from audiozoo.errors import AudiozooError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".au", ".snd", ".aiff", ".aif", ".mp3")
"""Files libsndfile decodes (mp3 where the installed libsndfile supports it)."""


@dataclass
class DataConfig:
    """The report's preprocessing, every step a setting (``data.KEY=VALUE``), shared by all datasets."""

    sample_rate: int = 3150  # 22050 / 7, as the report
    clip_seconds: float = 29.0  # each file is cut to its first clip_seconds
    segments: int = 2  # each clip is split into this many equal parts (the report: halves)
    short: Literal["pad", "skip"] = "pad"  # files shorter than the clip: zero-pad (with a warning) or skip
    silent: Literal["skip", "keep"] = "skip"  # files of digital silence (peak under one 16-bit step)
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


def audio_files_under(root: Path) -> list[Path]:
    """Every audio file below ``root``, recursively, sorted; a missing folder is a user error."""
    if not root.is_dir():
        raise AudiozooError(f"data folder not found: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
