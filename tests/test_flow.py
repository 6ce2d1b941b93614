"""The flow model's own behaviour: its solvers against an exact flow, folding, any length, a run end to end."""

from __future__ import annotations

import math

import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from audiozoo import AudiozooError
from audiozoo.api import get_model
from audiozoo.cli import cli
from audiozoo.train.run import run
from audiozoo_plugins.flow import FlowSampleOptions

DEBUG = {"widths": [16, 32], "blocks": 1}
SIGMA = 0.3  # the standard deviation of the Gaussian "data" whose flow is known exactly


def exact_gaussian_flow(monkeypatch: pytest.MonkeyPatch, prediction: str) -> torch.nn.Module:
    """A flow model whose network is the exact answer for data ~ N(0, SIGMA²) per value.

    On the line x_t = (1 - t)·x0 + t·x1 the best clip estimate is E[x1 | x_t] = t·SIGMA²·x_t / s²
    and the velocity (t·SIGMA² - (1 - t))·x_t / s², s² = t²·SIGMA² + (1 - t)²; the flow carries
    noise x0 to SIGMA·x0: an exact endpoint to measure each solver's error against.
    """
    model = get_model("flow", (8, 16), **DEBUG, prediction=prediction)

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.view(-1, 1, 1)
        s2 = t**2 * SIGMA**2 + (1 - t) ** 2
        return (t * SIGMA**2 if prediction == "x" else t * SIGMA**2 - (1 - t)) * x / s2  # the clip, or the velocity

    monkeypatch.setattr(model, "predict", predict)
    return model


@pytest.mark.parametrize("prediction", ["x", "velocity"])
def test_euler_converges_at_first_order_and_heun_at_second(monkeypatch, prediction):
    model = exact_gaussian_flow(monkeypatch, prediction)

    def error(steps: int, solver: str) -> float:
        start = torch.randn(4, 8, 16, generator=torch.Generator().manual_seed(0))
        end = model.sample(4, torch.Generator().manual_seed(0), options=FlowSampleOptions(steps, solver))
        return float((end - SIGMA * start).abs().max())

    euler, heun = error(16, "euler") / error(32, "euler"), error(16, "heun") / error(32, "heun")
    assert 1.7 < euler < 2.3 and 3.5 < heun < 4.5  # twice the steps: half the error, a quarter of it
    assert error(16, "heun") < 0.2 * error(16, "euler")


def test_folding_is_exact_at_any_length(monkeypatch):
    """A waveform's samples fold into 64 channels and back; odd lengths are padded and cropped."""
    model = get_model("flow", (1, 3150), **DEBUG)
    assert model.fold == 64
    monkeypatch.setattr(model.network, "forward", lambda h, t: h)  # the identity network: predict must give x back
    for frames in (3150, 777, 1):
        x = torch.randn(2, 1, frames)
        torch.testing.assert_close(model.predict(x, torch.zeros(2)), x, rtol=0, atol=0)


@pytest.mark.parametrize(("channels", "fold"), [(1, 64), (20, 4), (64, 1), (514, 1)])
def test_auto_fold_gives_at_least_64_channels(channels, fold):
    assert get_model("flow", (channels, 100), **DEBUG).fold == fold


def test_samples_any_length_and_the_network_sees_neighbours_across_fold_boundaries():
    torch.manual_seed(0)
    model = get_model("flow", (64, 32), **DEBUG)
    for p in model.parameters():  # break the zero initialisation so the output depends on the input
        torch.nn.init.normal_(p, std=0.05)
    assert model.sample(2, torch.Generator().manual_seed(1), frames=45).shape == (2, 64, 45)
    x = torch.randn(1, 64, 32)
    changed = x.clone()
    changed[..., 20] += 1.0
    difference = (model.predict(changed, torch.zeros(1)) - model.predict(x, torch.zeros(1))).abs().sum((0, 1))
    assert difference[0] > 0 and difference[-1] > 0  # the lowest level's attention spans every frame


@pytest.mark.parametrize("settings", [{"widths": []}, {"kernel_size": 4}, {"fold": -1}, {"blocks": 0}, {"t_std": 0.0}])
def test_bad_settings_are_one_line_errors(settings):
    with pytest.raises(AudiozooError, match=next(iter(settings))):
        get_model("flow", (64, 100), **settings)


def test_trains_on_crops_and_generates_with_each_solver(tiny, tmp_path):
    settings = {**tiny, "model": "flow", "preset": "debug", "epochs": 2, "crop_seconds": 0.5, "samples": 1,
                "ema": 0.9, "precision": "bf16", "grad_clip": 1.0, "schedule": "cosine", "warmup_steps": 2}
    result = run(progress=False, **settings, **{"sample.steps": 4, "sample.solver": "heun"})
    assert all(math.isfinite(line["loss"]) for line in result.metrics)
    for solver in ("euler", "heun"):
        out = CliRunner().invoke(cli, ["generate", str(result.path), "n=1", "seconds=1.5", f"sample.solver={solver}",
                                       "sample.steps=3", f"out={tmp_path / solver}"])
        assert out.exit_code == 0, out.output
        audio, rate = sf.read(tmp_path / solver / "sample_00.wav")
        assert rate == 3150 and len(audio) == round(1.5 * 3150)
    bad = CliRunner().invoke(cli, ["generate", str(result.path), "sample.solver=rk4"])
    assert bad.exit_code == 2 and "choose from" in bad.output
