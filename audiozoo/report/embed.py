"""Files inlined as ``data:`` URIs, so report.html is one file that opens anywhere, offline."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import soundfile as sf
from PIL import Image  # Pillow: always there, matplotlib depends on it

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
WEBP_QUALITY = 85
AUDIO_TYPES = {".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac", ".mp3": "audio/mpeg"}


def image_uri(path: Path) -> str:
    """The picture as lossy WebP: spectrograms are noise-like detail that PNG packs poorly (a
    five-panel one: about 1 MB as PNG, 120 kB as WebP); the file as it is when Pillow cannot."""
    try:
        with Image.open(path) as image:
            buffer = io.BytesIO()
            image.save(buffer, "WEBP", quality=WEBP_QUALITY)
    except (OSError, ValueError, KeyError):
        return _uri(IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream"), path.read_bytes())
    return _uri("image/webp", buffer.getvalue())


def audio_uri(path: Path) -> str:
    """The clip as Ogg Vorbis (about a quarter of 16-bit WAV, and every browser plays it); the
    file as it is when libsndfile cannot re-encode it."""
    try:
        wave, rate = sf.read(path, dtype="float32")
        buffer = io.BytesIO()
        sf.write(buffer, wave, rate, format="OGG", subtype="VORBIS")
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return _uri(AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"), path.read_bytes())
    return _uri("audio/ogg", buffer.getvalue())


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
