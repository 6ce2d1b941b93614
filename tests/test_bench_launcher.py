"""`audiozoo bench launcher=submitit`: cells as jobs through submitit give the tables of launcher=local."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiozoo.bench.launcher import launcher_from
from audiozoo.bench.matrix import BenchInterrupted, bench
from audiozoo.cli import cli
from conftest import make_distribution, write_music

TIMING = {"generation_x_realtime", "train_seconds", "examples_per_second", "peak_memory_mb"}
"""Columns that measure the machine, not the cell."""

TINY2 = '''
import os
from audiozoo import hookimpl
from tiny_model import TinyAE


class Tiny2(TinyAE):
    """A second tiny model, whose process dies without a word on a one-channel representation."""

    name = "tiny2"

    def training_step(self, batch, update):
        if self.shape[0] == 1:
            os._exit(3)
        return super().training_step(batch, update)


@hookimpl
def register_models(register):
    register(Tiny2)
'''


@pytest.fixture
def settings(tiny, tmp_path):
    """Two tiny models × two cheap representations on 10 pieces (2 held out); tiny2 × waveform dies."""
    make_distribution(tmp_path / "site", "audiozoo-tiny2", {"tiny2": "tiny2_model"}, {"tiny2_model": TINY2})
    for i in range(6, 10):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    return {k: v for k, v in tiny.items() if k not in ("model", "repr")} | {
        "epochs": 1, "models": "tiny,tiny2", "reprs": "waveform,stft"}


def rows(folder) -> dict[str, dict[str, str]]:
    """results.csv by run, without the columns that time the machine (nor their bold marks)."""
    with open(folder / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    out = {}
    for row in table:
        row["best"] = ";".join(k for k in row["best"].split(";") if k not in TIMING)
        out[row["run"]] = {k: v for k, v in row.items() if k not in TIMING}
    return out


def test_submitit_jobs_give_the_tables_of_local_processes(settings, tmp_path, monkeypatch):
    import submitit.core.core

    monkeypatch.setattr(submitit.core.core.Job, "_results_timeout_s", 1)  # a dead job's missing result
    bench(name="local", echo=lambda line: None, **settings)
    local = rows(tmp_path / "runs" / "local")

    jobs = {**settings, "name": "jobs", "launcher": "submitit", "launcher.cluster": "local", "launcher.parallel": 2}

    def interrupt_at_first_job(line: str) -> None:
        if ": job " in line:
            raise KeyboardInterrupt

    with pytest.raises(BenchInterrupted, match=r"cancelled 1 jobs \(tiny × stft\)"):
        bench(echo=interrupt_at_first_job, **jobs)

    lines: list[str] = []
    cells, _ = bench(echo=lines.append, **jobs)  # the same command again: every cell runs to its end
    assert lines[0].startswith("[1/4] tiny × stft: job ")  # cancelled before it finished: submitted again
    assert [c.status for c in cells] == ["done", "done", "done", "failed"]
    assert any(line.startswith("    jobs: ") and " running" in line for line in lines)

    submitted = rows(tmp_path / "runs" / "jobs")
    assert list(submitted) == list(local) and len(local) > 4  # four cells and the sentinel rows
    dead_local, dead_job = local["tiny2-waveform"].pop("error"), submitted["tiny2-waveform"].pop("error")
    assert submitted == local
    assert dead_local == "the cell's process ended with exit code 3"
    assert dead_job.startswith("job ") and "died before its cell ended" in dead_job
    log = Path(dead_job.split("log: ")[1])
    assert log.is_file() and log.is_relative_to(tmp_path / "runs" / "jobs" / "submitit")
    assert "tiny2 × waveform: failed: job " in "\n".join(lines)


def test_launcher_settings_are_checked_before_any_cell(settings, monkeypatch):
    runner = CliRunner()
    args = ["bench", *(f"{k}={v}" for k, v in settings.items())]

    def refused(*extra: str) -> str:
        result = runner.invoke(cli, [*args, *extra])
        assert result.exit_code == 2, result.output
        return result.output

    assert "choose from: local, submitit" in refused("launcher=slurm")
    assert "launcher.partition" in refused("launcher=submitit", "launcher.partiton=gpu")
    assert "choose from: slurm, auto, local" in refused("launcher=submitit", "launcher.cluster=slurn")
    assert "launcher.gpus must be 0 or more" in refused("launcher=submitit", "launcher.gpus=-1")
    assert "is a setting of launcher=submitit" in refused("launcher.gpus=1")
    assert "nope" in refused("launcher=submitit", "launcher.cluster=local", "model.nope=1")
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if it were not installed
    assert "pip install 'audiozoo[cluster]'" in refused("launcher=submitit")


def test_slurm_jobs_ask_for_the_launcher_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: f"/usr/bin/{name}")  # as on a login node
    overrides = {"launcher": "submitit", "launcher.partition": "gpu", "launcher.account": "lab", "launcher.gpus": 1,
                 "launcher.cpus": 8, "launcher.mem_gb": 32, "launcher.timeout_min": 120, "epochs": 1}
    launcher, cell_settings = launcher_from(overrides, tmp_path)
    assert cell_settings == {"epochs": 1} and launcher.cluster == "slurm"
    executor = launcher._executor()
    executor.update_parameters(name="gan-mel")
    script = executor._executor._make_submission_file_text("python -m job", "uid")  # what sbatch would be given
    for option in ("partition=gpu", "account=lab", "gpus-per-node=1", "cpus-per-task=8", "mem=32GB", "time=120",
                   "job-name=gan-mel", f"error={tmp_path}/submitit/%j_0_log.err"):
        assert f"#SBATCH --{option}\n" in script
