"""Fine-tuning (``audiozoo run init=RUN_DIR``): a debug run on the embedded music, fine-tuned on other audio."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import write_music

from audiozoo.cli import cli
from audiozoo.runs.trained import build_model
from audiozoo.train.finetune import init_settings, start_from
from audiozoo.train.run import run

SOURCE = {"model": "vae_1dconv", "preset": "debug", "data.clip_seconds": 0.5, "data.segments": 1,
          "model.lr": 0.01, "epochs": 3, "ema": 0.9, "device": "cpu", "samples": 1, "reconstructions": 0}
"""A debug VAE on the embedded music, on short clips so that it trains in seconds; with an EMA, so that
a fine-tuned run has two sets of weights to choose from."""


def first_loss(run_dir: Path) -> float:
    return next(r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run, shared by the tests of this file (its own cache: no test reads the user's)."""
    root = tmp_path_factory.mktemp("finetune")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDIOZOO_CACHE", str(root / "cache"))
        return run(progress=False, **SOURCE, runs_dir=str(root / "runs"), name="source").path


@pytest.fixture
def notes(tmp_path: Path) -> dict:
    """Other audio than the source's (synthetic notes), and where runs on it go."""
    for i in range(6):
        write_music(tmp_path / "notes" / f"n{i}.wav", 0.8, 8000, seed=100 + i)
    return {"data": "folder", "data.root": str(tmp_path / "notes"), "runs_dir": str(tmp_path / "runs"), "samples": 1}


def test_a_fine_tuned_run_starts_below_one_from_scratch(source, notes):
    scratch = run(progress=False, **{**SOURCE, **notes, "name": "scratch"})
    tuned = run(progress=False, init=str(source), **notes, name="tuned")
    assert first_loss(tuned.path) < first_loss(scratch.path), (first_loss(tuned.path), first_loss(scratch.path))
    recorded = tomllib.loads((tuned.path / "config.toml").read_text())
    assert recorded["run"]["init"] == str(source) and recorded["run"]["init_stats"] == "refit"
    assert recorded["model"] == tomllib.loads((source / "config.toml").read_text())["model"]  # the source's model
    assert recorded["data"]["root"] == notes["data.root"] and recorded["data"]["clip_seconds"] == 0.5
    assert tuned.progress.step == scratch.progress.step  # a fresh budget: the source's epochs on the new data
    again = run(progress=False, config=str(tuned.path / "config.toml"), runs_dir=notes["runs_dir"])
    assert first_loss(again.path) == first_loss(tuned.path)  # config.toml reproduces the fine-tuning


@pytest.mark.parametrize("stats", ["refit", "keep"])
def test_the_model_starts_from_the_ema_weights_and_keeps_statistics_when_asked(source, notes, stats):
    settings = init_settings({"init": str(source), **notes, "init_stats": stats})
    rep, model = build_model(settings)
    start_from(settings, model, rep)
    state = torch.load(source / "checkpoints" / "latest.pt", weights_only=True)
    for name, weight in model.named_parameters():  # the weights the source samples with
        assert torch.equal(weight.detach(), state["ema"]["weights"][name]), name
    assert any(not torch.equal(w, state["model"][k]) for k, w in state["ema"]["weights"].items())  # two sets to choose from
    assert torch.equal(rep.mean, state["representation"]["mean"]) == (stats == "keep")  # refit: fitted in the run


@pytest.mark.parametrize("args, message", [
    (["init=/nowhere"], "not a run directory"),
    (["init={source}", "resume={source}"], "give one"),
    (["init={source}", "model.widths=[8, 16]"], "its weights do not fit the model these settings build"),
    (["init={source}", "repr.n_mels=32"], "repr.n_mels=32 would change what its weights were trained on"),
    (["init={empty}"], "the run has no checkpoint yet"),
])
def test_init_errors_are_one_line(source, tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.toml").write_text((source / "config.toml").read_text())
    args = [a.format(source=source, empty=empty) for a in args]
    out = CliRunner().invoke(cli, ["run", *args, f"runs_dir={tmp_path / 'runs'}"])
    assert out.exit_code == 2 and message in out.output and len(out.output.strip().splitlines()) == 1, out.output
    assert not (tmp_path / "runs").exists() or not os.listdir(tmp_path / "runs")  # a refused run leaves no folder


def test_a_preset_applies_over_the_source_settings_and_the_users_keys_over_both(source, notes, caplog):
    with caplog.at_level("WARNING", logger="audiozoo.train.finetune"):
        settings = init_settings({"init": str(source), "preset": "debug", **notes})
    assert settings.run.epochs == 1  # debug's budget, not the source's 3 epochs
    assert settings.run.samples == notes["samples"] and settings.run.batch_size == 4
    source_model = tomllib.loads((source / "config.toml").read_text())["model"]
    assert settings.model.lr == source_model["lr"] == 0.01  # the model stays the source's
    assert "preset=debug: model.lr left out" in caplog.text
    assert init_settings({"init": str(source), "preset": "debug", "epochs": 2, **notes}).run.epochs == 2
    assert init_settings({"init": str(source), **notes}).run.epochs == 3  # no preset: the source's budget
    out = CliRunner().invoke(cli, ["run", f"init={source}", "preset=debug", "repr.n_mels=32",
                                   f"runs_dir={notes['runs_dir']}"])
    assert out.exit_code == 2 and "repr.n_mels=32 would change what its weights were trained on" in out.output
