"""The embedded default dataset: classical excerpts rendered from public-domain scores (docs/dataset.md)."""

from __future__ import annotations

from pathlib import Path

from audiozoo import AudioSource, hookimpl
from audiozoo.data.source import audio_files_under

AUDIO = Path(__file__).resolve().parent / "audio"


class Classical(AudioSource):
    """Embedded classical excerpts (30 s, strings/piano/organ/ensembles); works offline."""

    name = "classical"

    @property
    def root(self) -> Path:
        return AUDIO

    def files(self) -> list[Path]:
        return audio_files_under(AUDIO)


@hookimpl
def register_datasets(register):
    register(Classical)
