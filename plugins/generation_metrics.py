"""Generation metrics on decoded audio: how close a set of generated clips is to held-out real music."""

from __future__ import annotations

from audiozoo import hookimpl


@hookimpl
def register_metrics(register):
    pass
