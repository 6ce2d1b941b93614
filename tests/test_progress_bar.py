"""Progress written to a file (a SLURM log) is plain lines, a few a minute, not a redrawn bar."""

from __future__ import annotations

import io
import time

from click.testing import CliRunner

from audiozoo import progress_bar as bars
from audiozoo.cli import cli


def test_a_redraw_becomes_one_plain_line_and_a_repeat_none():
    log = io.StringIO()
    lines = bars.Lines(log)
    for text in ("\rtraining:  10%|#  | 1/10   ", "\r" + " " * 30 + "\r", "\rtraining:  10%|#  | 1/10", "\n",
                 "\rtraining: 100%|###| 10/10"):
        lines.write(text)
    assert log.getvalue() == "training:  10%|#  | 1/10\ntraining: 100%|###| 10/10\n"


def test_training_into_a_log_prints_a_line_at_most_every_interval(tiny, monkeypatch):
    monkeypatch.setattr(bars, "LOG_SECONDS", 0.5)
    started = time.monotonic()
    done = CliRunner().invoke(cli, ["run", *(f"{k}={v}" for k, v in {**tiny, "epochs": 50, "max_seconds": 0, "samples": 1}.items())])
    seconds = time.monotonic() - started
    assert done.exit_code == 0, done.output
    progress = [line for line in done.stderr.split("\n") if "tiny: " in line]  # prepare's decoding bar is not this one
    assert not any("\r" in line for line in progress)
    assert progress[-1].startswith("tiny: 100%") and "150/150" in progress[-1]
    assert 2 <= len(progress) <= seconds / 0.5 + 2, progress
