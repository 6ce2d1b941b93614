"""Speed work changes no model's learning: at equal steps, every model × representation's loss curve matches
the one recorded before the speed work of issue 23 (commit 60b70d2), within float rounding.

Each cell trains its ``debug`` size with its default preset's trainer settings (precision, clipping,
EMA, schedule) on one batch of real music, one thread, a fixed seed. The curves are in
``tests/data/loss_curves.json``; a change that *means* to change what a model computes records them
again with ``python tests/test_loss_curves.py`` (and says so: that is a quality decision).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import audiozoo
from audiozoo.api import get_representation
from audiozoo.model import Batch
from audiozoo.plugins import host
from audiozoo.resolve import resolve
from audiozoo.train.update import Updater
from conftest import SAMPLE_RATE
from test_models import debug_model

CURVES = Path(__file__).resolve().parent / "data" / "loss_curves.json"
STEPS = 8
TOLERANCE = 1e-4
SPECTRAL_TOLERANCE = 2e-2
"""Relative difference allowed between a recorded and a new figure. Fused optimizer kernels round
differently from one operation at a time (1e-7 relative per update), and oneDNN's kernels differ with
the CPU and the thread count. A VAE with the multi-resolution STFT term (its log of near-silent bins)
amplifies rounding the most: the code of the recording itself gave curves up to 8e-3 apart with 2
threads instead of 1; every other cell stayed within 3e-5 (docs/performance.md)."""

RECORDED_WITH = {"mel": {"n_mels": 64}}
"""Representation settings the curves were recorded with that are no longer the defaults (mel had 64
bands then): this test is about how parameters move, so it feeds the models what they were fed."""


def cells() -> list[tuple[str, str]]:
    return [(m, r) for m in host().registry("models").names() for r in audiozoo.list_representations(standalone=True)]


def curve(model_name: str, repr_name: str, music: torch.Tensor) -> dict[str, list[float]]:
    """Every loss of ``STEPS`` training steps, and the mean |weight| of the EMA (or the model) after them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        wave = music[:, :SAMPLE_RATE]
        rep = get_representation(repr_name, **RECORDED_WITH.get(repr_name, {})).fit([wave])
        batch = Batch(rep.encode(wave), wave, rep)
        model = debug_model(model_name, tuple(batch.x.shape[1:]))
        updater = Updater(model, resolve({"model": model_name, "repr": repr_name}).run, total_steps=STEPS)
        steps = [updater.step(batch) for _ in range(STEPS)]
        with updater.averaged():
            weights = torch.cat([p.detach().flatten() for p in model.parameters()]).abs().mean()
        return {**{key: [float(losses[key]) for losses in steps] for key in steps[0]}, "weights": [float(weights)]}
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(CURVES.read_text())


@pytest.mark.parametrize("model_name, repr_name", cells())
def test_the_loss_curve_is_the_one_before_the_speed_work(model_name, repr_name, music, recorded):
    before = recorded[f"{model_name} {repr_name}"]
    now = curve(model_name, repr_name, music)
    tolerance = SPECTRAL_TOLERANCE if "stft" in before else TOLERANCE
    assert now.keys() == before.keys()
    for key, values in before.items():
        assert now[key] == pytest.approx(values, rel=tolerance, abs=1e-7), key


if __name__ == "__main__":  # records the curves of the code as it is now
    from conftest import music as music_fixture

    clips = music_fixture.__wrapped__()
    CURVES.parent.mkdir(exist_ok=True)
    CURVES.write_text(json.dumps({f"{m} {r}": curve(m, r, clips) for m, r in cells()}, indent=1) + "\n")
    print(f"wrote {CURVES}")
