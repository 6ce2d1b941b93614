"""Every audio file under a folder, recursively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audiozoo import AudioSource, DataConfig, hookimpl
from audiozoo.data.source import audio_files_under
from audiozoo.errors import AudiozooError


@dataclass
class FolderConfig(DataConfig):
    root: str = ""  # the folder to read (required)


class Folder(AudioSource):
    """Every audio file (wav, flac, ogg, au, mp3) under data.root, recursively."""

    name = "folder"
    Config = FolderConfig

    @property
    def root(self) -> Path:
        if not self.config.root:
            raise AudiozooError("data=folder needs a folder: data.root=PATH")
        return Path(self.config.root).expanduser()

    def files(self) -> list[Path]:
        return audio_files_under(self.root)


@hookimpl
def register_datasets(register):
    register(Folder)
