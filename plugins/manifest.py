"""A dataset named by a JSONL manifest, audiocraft's convention: one JSON object per line.

Each object has ``path`` (relative paths are from the manifest's folder) and optionally
``start`` and ``end`` (seconds: that part of the file only), ``duration`` and ``sample_rate``;
every field but ``path``, ``start`` and ``end`` is kept as the item's metadata. The file itself is
what is decoded: ``duration`` and ``sample_rate`` are never trusted over it. A ``.gz`` manifest
is read through gzip. A bad line is an error naming its line number.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiozoo import AudioSource, DataConfig, hookimpl
from audiozoo.data.source import AudioItem
from audiozoo.errors import AudiozooError

PART = ("start", "end")
NUMBERS = ("start", "end", "duration", "sample_rate")


@dataclass
class ManifestConfig(DataConfig):
    manifest: str = ""  # a JSONL file, one {"path": ...} object per line (required)


class Manifest(AudioSource):
    """The files (or parts of files) a JSONL manifest lists, one {"path": ..., "start": ..., "end": ...} per line."""

    name = "manifest"
    Config = ManifestConfig

    @property
    def file(self) -> Path:
        if not self.config.manifest:
            raise AudiozooError("data=manifest needs a JSONL file: data.manifest=PATH")
        path = Path(self.config.manifest).expanduser()
        if not path.is_file():
            raise AudiozooError(f"manifest not found: {path}")
        return path

    @property
    def root(self) -> Path:
        return self.file.parent

    def files(self) -> list[Path]:
        return list(dict.fromkeys(item.path for item in self.items()))

    def items(self) -> list[AudioItem]:
        manifest = self.file
        opener = gzip.open if manifest.suffix == ".gz" else open
        seen: dict[AudioItem, int] = {}
        try:
            with opener(manifest, "rt", encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        item = _item(json_line(line, manifest, number), manifest, number)
                        if item in seen:
                            raise AudiozooError(f"{manifest} line {number}: the same as line {seen[item]}")
                        seen[item] = number
        except (OSError, UnicodeDecodeError, EOFError) as err:
            raise AudiozooError(f"cannot read manifest {manifest}: {err}") from None
        if not seen:
            raise AudiozooError(f"manifest {manifest} lists no audio (no line with a path)")
        return list(seen)


def json_line(line: str, manifest: Path, number: int) -> dict[str, Any]:
    """One line's object; anything else is an error naming the line."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as err:
        raise AudiozooError(f"{manifest} line {number}: not JSON ({err.msg}, column {err.colno})") from None
    if not isinstance(entry, dict):
        raise AudiozooError(f"{manifest} line {number}: not a JSON object but {type(entry).__name__}")
    return entry


def _item(entry: dict[str, Any], manifest: Path, number: int) -> AudioItem:
    where = f"{manifest} line {number}"
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip():
        found = "no \"path\"" if path is None else f'"path" is {path!r}, not a file name'
        raise AudiozooError(f'{where}: {found} (each line is an object like {{"path": "audio/a.wav"}})')
    for key in NUMBERS:
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise AudiozooError(f"{where}: {key} must be a number of {'Hz' if key == 'sample_rate' else 'seconds'} "
                                f"at least 0, got {value!r}")
    start, end = float(entry.get("start") or 0.0), entry.get("end")
    if end is not None and end <= start:
        raise AudiozooError(f"{where}: end ({end:g} s) is not after start ({start:g} s)")
    file = Path(path).expanduser()
    file = file if file.is_absolute() else manifest.parent / file
    if not file.is_file():
        raise AudiozooError(f"{where}: no file at {file}")
    metadata = {k: v for k, v in entry.items() if k not in ("path", *PART)}
    return AudioItem(file, start, None if end is None else float(end), metadata)


@hookimpl
def register_datasets(register):
    register(Manifest)
