"""Ctrl-C at a terminal, as the terminal sends it: SIGINT to the whole foreground process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import write_music


def bench_command(tiny: dict, tmp_path: Path) -> list[str]:
    for i in range(6, 10):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    settings = {k: v for k, v in tiny.items() if k not in ("model", "repr")}
    settings |= {"epochs": 100_000, "checkpoint_every": 100_000, "checkpoint_seconds": 600}  # no checkpoint but the first, till Ctrl-C
    return [sys.executable, "-m", "audiozoo", "bench", "models=tiny", "reprs=mel",
            *(f"{k}={v}" for k, v in settings.items())]


def as_a_shell_starts_it() -> None:
    """SIGINT delivered and at its default in the child, as a shell starts a foreground job: the
    test process may have it blocked (a library of an earlier test blocks it on the main thread,
    and a blocked signal stays blocked across exec)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(command: list[str]) -> subprocess.Popen:
    """The command in a session of its own, as a shell runs it in the foreground: its own process group."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=as_a_shell_starts_it,
                            env={**os.environ, "OPENBLAS_THREAD_TIMEOUT": "1"})


def ctrl_c_when(process: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)


def test_ctrl_c_in_a_bench_keeps_the_step_it_says_and_the_same_command_continues_there(tiny, tmp_path):
    command = bench_command(tiny, tmp_path)
    cell = Path(tiny["runs_dir"]) / "bench" / "tiny-mel"
    metrics = cell / "metrics.jsonl"
    first = start(command)
    ctrl_c_when(first, lambda: metrics.is_file() and len(metrics.read_text().splitlines()) >= 30)
    output = first.communicate(timeout=120)[0]
    assert first.returncode == 130, output
    last = output.rstrip("\n").splitlines()[-1]  # a line of its own, not glued onto a progress line
    assert last.startswith(f"interrupted in {cell}: checkpoint saved at step "), output
    step = int(last.split("checkpoint saved at step ")[1].split(";")[0])
    assert step >= 30  # the step of the Ctrl-C, not the first checkpoint's
    assert torch.load(cell / "checkpoints" / "latest.pt", weights_only=True)["progress"]["step"] == step
    assert "\r" not in output  # not a terminal: plain progress lines

    again = start(command)  # the same command, stopped once it has said where it starts
    lines: list[str] = []

    def said_where_it_starts() -> bool:
        lines.append(again.stdout.readline())
        return "from the checkpoint of step" in lines[-1]

    ctrl_c_when(again, said_where_it_starts)
    again.communicate(timeout=120)
    assert f"from the checkpoint of step {step} " in lines[-1], lines
