"""GTZAN in its usual layout: ``<root>/<genre>/<genre>.000NN.{au,wav}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audiozoo import AudioSource, DataConfig, hookimpl
from audiozoo.errors import AudiozooError, unknown

SUFFIXES = (".au", ".wav")
WRAPPERS = ("genres", "genres_original")  # the two common ways the archive unpacks


@dataclass
class GtzanConfig(DataConfig):
    root: str = ""  # the GTZAN folder (the one holding the genre folders, or genres/ or genres_original/)
    genres: list[str] = field(default_factory=lambda: ["classical"])  # the report used classical only


class Gtzan(AudioSource):
    """GTZAN genre collection from data.root; data.genres picks genres (default: classical)."""

    name = "gtzan"
    Config = GtzanConfig

    @property
    def root(self) -> Path:
        if not self.config.root:
            raise AudiozooError("data=gtzan needs the GTZAN folder: data.root=PATH")
        root = Path(self.config.root).expanduser()
        if not root.is_dir():
            raise AudiozooError(f"GTZAN folder not found: {root}")
        for wrapper in WRAPPERS:
            if (root / wrapper).is_dir():
                return root / wrapper
        return root

    def files(self) -> list[Path]:
        root = self.root
        available = sorted(p.name for p in root.iterdir() if p.is_dir())
        files = []
        for genre in self.config.genres:
            if genre not in available:
                raise unknown(f"genre (in {root})", genre, available)
            files += sorted(p for p in (root / genre).glob(f"{genre}.*") if p.suffix.lower() in SUFFIXES)
        return files


@hookimpl
def register_datasets(register):
    register(Gtzan)
