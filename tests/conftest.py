"""Shared fixtures: real music from the embedded dataset, read directly (not through the cache)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch

from audiozoo.data.audio import load_clip

SAMPLE_RATE = 3150
HALF_CLIP = 45675  # half of a 29 s clip at 3150 Hz, the report's waveform length
HERE = Path(__file__).resolve().parent


def embedded_audio_files() -> list[Path]:
    return sorted(Path(str(files("audiozoo_plugins.classical") / "audio")).glob("*.ogg"))


@pytest.fixture(scope="session")
def music() -> torch.Tensor:
    """Four real half-clips [4, 45675] at 3150 Hz, from different pieces and instruments."""
    paths = embedded_audio_files()
    assert len(paths) >= 4, "the embedded dataset is missing"
    picks = [paths[i] for i in np.linspace(0, len(paths) - 1, 4).astype(int)]
    clips = [load_clip(p, SAMPLE_RATE, HALF_CLIP / SAMPLE_RATE) for p in picks]
    return torch.from_numpy(np.stack(clips))


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test prepares into its own cache, never the user's."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUDIOZOO_CACHE", str(cache))
    return cache


def write_music(path: Path, seconds: float, sample_rate: int = 22050, channels: int = 1, seed: int = 0) -> Path:
    """A short synthetic piece (decaying harmonic notes) as an audio file; format from the suffix."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 4), 0)
        wave += env * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    wave = 0.5 * wave / np.abs(wave).max()
    data = np.stack([wave * (0.5 + 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate)
    return path


def debug_runs_settings(root: Path, **extra) -> dict:
    """Settings of tiny debug runs on five short pieces written under ``root/music``, into ``root/runs``:
    what the fixtures of trained runs (export, generate) share."""
    for i in range(5):
        write_music(root / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    return {"data": "folder", "data.root": str(root / "music"), "data.clip_seconds": 0.5, "preset": "debug",
            "epochs": 1, "batch_size": 4, "samples": 1, "reconstructions": 0, "device": "cpu",
            "runs_dir": str(root / "runs"), **extra}


def make_distribution(site: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """An installed-looking distribution in ``site`` (dist-info + modules), found through sys.path."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[audiozoo]\n{lines}")
    return site


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The tiny test-double model installed as a plugin (for child processes too), a small folder
    dataset, and run settings using both."""
    import audiozoo.plugins

    site = make_distribution(tmp_path / "site", "audiozoo-tiny", {"tiny": "tiny_model"},
                             {"tiny_model": (HERE / "tiny_model.py").read_text()})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setattr(audiozoo.plugins, "_host", None)
    for i in range(6):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    yield {"model": "tiny", "repr": "mel", "data": "folder", "data.root": str(tmp_path / "music"),
           "data.clip_seconds": 1.0, "epochs": 3, "batch_size": 4, "samples": 2, "device": "cpu",
           "runs_dir": str(tmp_path / "runs")}
    audiozoo.plugins._host = None
