"""`repr=latent repr.run=RUN` on an autoencoder run that did not finish: said, or refused in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiozoo.api import get_representation
from audiozoo.cli import cli
from audiozoo.errors import AudiozooError


@pytest.fixture
def killed(tiny) -> Path:
    """A debug vae_convpool run killed (SIGKILL) just after its first checkpoint, at step 1 of 3 epochs."""
    settings = {**tiny, "model": "vae_convpool", "repr": "waveform", "preset": "debug", "name": "vae",
                "max_seconds": 0, "samples": 1}
    done = subprocess.run([sys.executable, "-m", "audiozoo", "run", *(f"{k}={v}" for k, v in settings.items())],
                          env={**os.environ, "AUDIOZOO_FAULT": "after-checkpoint-write"}, capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    return Path(tiny["runs_dir"]) / "vae"


def test_a_run_stopped_early_is_said_once_with_how_far_it_got(killed, caplog):
    with caplog.at_level("WARNING"):
        for _ in range(2):  # a run's settings build its representation more than once
            get_representation("latent", run=str(killed))
    warnings = [r.getMessage() for r in caplog.records if "repr.run=" in r.getMessage()]
    assert len(warnings) == 1 and re.fullmatch(
        rf"repr.run={re.escape(str(killed))}: it stopped at step 1 \(\d+ s trained\) of its 3 epochs, so its latent "
        rf"space may be far from trained \(audiozoo run resume={re.escape(str(killed))} finishes it\)", warnings[0])


def test_a_run_without_checkpoint_is_refused_in_one_line(killed, tiny, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.toml").write_text((killed / "config.toml").read_text())
    with pytest.raises(AudiozooError, match=f"repr.run={empty} has no checkpoint"):
        get_representation("latent", run=str(empty))
    args = {**tiny, "repr": "latent", "repr.run": str(empty)}
    out = CliRunner().invoke(cli, ["run", *(f"{k}={v}" for k, v in args.items())])
    assert out.exit_code == 2 and out.output.strip().splitlines() == [
        f"Error: repr.run={empty} has no checkpoint: it stopped before its first one; "
        f"train it first (audiozoo run resume={empty})"], out.output
