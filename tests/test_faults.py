"""Fault injection: for each fault, nothing a user made is lost and the next command works.

Processes are killed with SIGKILL at exact points named by ``AUDIOZOO_FAULT`` (audiozoo/faults.py),
never after a guessed sleep, so every test here is deterministic.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import audiozoo.data.prepare as prepare_module
from audiozoo import api
from audiozoo.cli import cli
from audiozoo.errors import AudiozooError
from audiozoo.train.lock import run_dir_lock
from audiozoo.train.run import run
from conftest import write_music


def audiozoo_process(*args: str, fault: str = "") -> subprocess.Popen:
    env = {**os.environ, "AUDIOZOO_FAULT": fault}
    return subprocess.Popen([sys.executable, "-m", "audiozoo", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def killed(*args: str, fault: str) -> None:
    """Run ``audiozoo ARGS`` and check it died by SIGKILL at ``fault``."""
    process = audiozoo_process(*args, fault=fault)
    _, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err[-2000:]


def losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def checkpoint_step(run_dir: Path) -> int | None:
    path = run_dir / "checkpoints" / "latest.pt"
    return torch.load(path, weights_only=True)["progress"]["step"] if path.is_file() else None


@pytest.fixture
def settings(tiny):
    """The tiny run: 9 steps, checkpoints at step 1 (the first), 3, 6 and 9; waveforms (no slow inversion)
    and few files at the end."""
    return {**tiny, "repr": "waveform", "checkpoint_every": 3, "name": "victim", "samples": 1, "reconstructions": 0}


@pytest.fixture
def uninterrupted(settings):
    whole = run(progress=False, **{**settings, "name": "whole"})
    return losses(whole.path)


@pytest.mark.parametrize("fault, step_kept", [
    ("after-step@1", None),  # before the first checkpoint: the run starts again
    ("during-checkpoint-write@2", 1),  # step 3's checkpoint half-written: step 1's stands
    ("after-checkpoint-write@2", 3),  # just after step 3's checkpoint
    ("after-step@5", 3),  # mid-run, between checkpoints
])
def test_kill_9_of_a_run_loses_at_most_the_steps_since_the_checkpoint(settings, uninterrupted, fault, step_kept):
    killed("run", *(f"{k}={v}" for k, v in settings.items()), fault=fault)
    run_dir = Path(settings["runs_dir"]) / "victim"
    assert checkpoint_step(run_dir) == step_kept
    resumed = run(resume=run_dir, progress=False)
    assert resumed.progress.step == 9
    # As if never killed: no step lost, none twice (steps done in the killed process agree to float rounding).
    assert losses(run_dir) == pytest.approx(uninterrupted, rel=1e-5)
    assert not list(run_dir.rglob(".tmp-*"))  # a half-written checkpoint's temporary is cleaned up


def test_ctrl_c_names_the_run_to_resume(settings):
    process = audiozoo_process("run", *(f"{k}={v}" for k, v in settings.items()), "model.fail_at=4")
    _, err = process.communicate(timeout=120)
    run_dir = Path(settings["runs_dir"]) / "victim"
    assert process.returncode == 130 and f"audiozoo run resume={run_dir}" in err  # the shell's code for Ctrl-C
    assert checkpoint_step(run_dir) == 3


def test_torn_and_truncated_run_files(settings, uninterrupted):
    first = run(progress=False, **settings)
    with open(first.path / "metrics.jsonl", "a") as f:  # a kill in the middle of a line
        f.write('{"step": 10, "epo')
    assert run(resume=first.path, progress=False).progress.step == 9
    assert losses(first.path) == uninterrupted
    checkpoint = first.path / "checkpoints" / "latest.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(AudiozooError, match="truncated or not a torch checkpoint"):
        run(resume=first.path, progress=False)
    checkpoint.write_bytes(b"")
    with pytest.raises(AudiozooError, match="latest.pt: the file is empty"):
        run(resume=first.path, progress=False)
    config = first.path / "config.toml"
    config.write_text(config.read_text().replace("[model]", "[modle]"))
    out = CliRunner().invoke(cli, ["run", f"resume={first.path}"])
    assert out.exit_code == 2 and "has no [model] table" in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_a_diverged_run_keeps_a_resumable_checkpoint(settings):
    with pytest.raises(AudiozooError, match=r"nan at step 5; .*checkpoint of step 3 is kept; .*resume="):
        run(progress=False, **{**settings, "model.fail_at": 5, "model.fail_with": "nan"})
    run_dir = Path(settings["runs_dir"]) / "victim"
    config = run_dir / "config.toml"
    config.write_text(config.read_text().replace("fail_at = 5", "fail_at = 0"))  # the fix a user would make
    assert run(resume=run_dir, progress=False).progress.step == 9


def test_one_process_trains_in_a_run_directory_at_a_time(settings):
    first = run(progress=False, **{**settings, "epochs": 1})
    with run_dir_lock(first.path):
        out = CliRunner().invoke(cli, ["run", f"resume={first.path}"])
    assert out.exit_code == 2 and f"is in use by process {os.getpid()}" in out.output
    assert len(out.output.strip().splitlines()) == 1
    # A lock left by a killed process is no lock.
    (first.path / ".lock").write_text("process 999999 on elsewhere\n")
    assert run(resume=first.path, progress=False).path == first.path


def test_kill_9_of_a_bench_cell_and_the_bench_continues(settings, tmp_path):
    for i in range(6, 10):  # the bench splits held-out files in two: it needs two or more
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    args = ["bench", "models=tiny", "reprs=waveform", *(f"{k}={v}" for k, v in settings.items()
                                                    if k not in ("model", "repr", "name"))]
    process = audiozoo_process(*args, fault="after-checkpoint-write@2")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 1 and "failed: tiny × waveform" in err, out + err
    cell = Path(settings["runs_dir"]) / "bench" / "tiny-waveform"
    assert checkpoint_step(cell) == 3
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert json.loads((cell / "evaluation.json").read_text())["steps"] == 12  # 10 pieces: 4 steps × 3 epochs


# -- prepared data ------------------------------------------------------------------------------------------


@pytest.fixture
def songs(tmp_path) -> dict[str, str]:
    for i in range(4):
        write_music(tmp_path / "songs" / f"piece{i}.wav", 2.5, 22050, seed=i)
    return {"data": "folder", "data.root": str(tmp_path / "songs"), "data.clip_seconds": 2.0}


def prepared(songs: dict[str, str], **more):
    return api.prepare("folder", root=songs["data.root"], clip_seconds=2.0, progress=False, **more)


def test_kill_9_of_prepare_leaves_nothing_that_blocks_the_next(songs, private_cache):
    killed("prepare", *(f"{k}={v}" for k, v in songs.items()), fault="during-cache-write")
    assert [p.name.startswith(".tmp-") for p in private_cache.iterdir()] == [True]  # only the temporary
    data = prepared(songs)
    assert not data.from_cache and len(data.files) == 4
    assert not list(private_cache.glob(".tmp-*"))  # the dead process's temporary is gone


def test_concurrent_prepare_of_one_dataset(songs, private_cache):
    processes = [audiozoo_process("prepare", *(f"{k}={v}" for k, v in songs.items())) for _ in range(2)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "segments:     8 × 3150" in out
    assert len([p for p in private_cache.iterdir() if p.name.startswith("folder-")]) == 1
    assert not list(private_cache.glob(".tmp-*"))


@pytest.mark.parametrize("damage", ["no meta.json", "bad meta.json", "truncated segments.npy", "empty folder"])
def test_a_damaged_cache_entry_is_reported_and_rebuilt(songs, damage, caplog):
    first = prepared(songs)
    reference = np.array(first.segments)
    entry = first.path
    if damage == "no meta.json":
        (entry / "meta.json").unlink()
    elif damage == "bad meta.json":
        (entry / "meta.json").write_text('{"files": [')
    elif damage == "truncated segments.npy":
        blob = (entry / "segments.npy").read_bytes()
        (entry / "segments.npy").write_bytes(blob[: len(blob) // 2])
    else:
        for path in entry.iterdir():
            path.unlink()
    with caplog.at_level(logging.WARNING):
        again = prepared(songs)
    assert f"the cache entry {entry} is incomplete or damaged" in caplog.text
    assert not again.from_cache and again.path == entry
    np.testing.assert_array_equal(again.segments, reference)
    assert prepared(songs).from_cache  # healed: the next one reads it


def test_an_unwritable_cache_fails_in_one_line_before_decoding(songs, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded audio although the cache cannot be written")

    monkeypatch.setattr(prepare_module, "AudioStream", no_decoding)
    out = CliRunner().invoke(cli, ["prepare", *(f"{k}={v}" for k, v in songs.items()),
                                   f"data.cache_dir={blocker / 'cache'}"])
    assert out.exit_code == 2 and f"cannot write the data cache {blocker / 'cache'}" in out.output
    assert len(out.output.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_fails_before_decoding(songs, tmp_path):
    cache = tmp_path / "ro"
    cache.mkdir(mode=0o500)
    with pytest.raises(AudiozooError, match="cannot write the data cache"):
        prepared(songs, cache_dir=str(cache))


def test_an_unwritable_runs_folder_fails_in_one_line(settings, tmp_path):
    (tmp_path / "file").write_text("")
    out = CliRunner().invoke(cli, ["run", *(f"{k}={v}" for k, v in settings.items() if k != "runs_dir"),
                                   f"runs_dir={tmp_path / 'file' / 'runs'}"])
    assert out.exit_code == 2 and "cannot write the runs folder" in out.output, out.output


# -- bad audio ----------------------------------------------------------------------------------------------


def _bad_audio(folder: Path) -> None:
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(int(2.5 * rate)) / rate)).astype(np.float32)
    with_sample = lambda value: np.where(np.arange(len(tone)) == 999, value, tone).astype(np.float32)  # noqa: E731
    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "text.wav").write_text("these are notes, not audio")
    good = (folder / "piece0.wav").read_bytes()
    (folder / "truncated_header.wav").write_bytes(good[:20])
    (folder / "header_only.wav").write_bytes(good[:44])
    sf.write(folder / "half_second.wav", tone[: rate // 2], rate)
    write_music(folder / "stereo_44k.wav", 2.5, 44100, channels=2)
    sf.write(folder / "zeros.wav", np.zeros_like(tone), rate)
    sf.write(folder / "clipped.wav", np.clip(tone * 8, -1, 1), rate)
    sf.write(folder / "nan.wav", with_sample(np.nan), rate, subtype="FLOAT")
    sf.write(folder / "inf.wav", with_sample(np.inf), rate, subtype="FLOAT")
    sf.write(folder / "huge.wav", with_sample(3e38), rate, subtype="FLOAT")


def test_every_kind_of_bad_audio_is_skipped_or_kept_with_a_reason(songs, settings, tmp_path):
    folder = Path(songs["data.root"])
    _bad_audio(folder)
    data = prepared(songs)
    assert sorted(data.skipped) == ["header_only.wav", "huge.wav", "inf.wav", "nan.wav", "text.wav",
                                    "truncated_header.wav", "zero_bytes.wav", "zeros.wav"]
    assert all(data.skipped.values())
    assert sorted(data.warnings) == ["half_second.wav"]
    assert {"clipped.wav", "stereo_44k.wav", "half_second.wav"} <= set(data.files)
    assert np.isfinite(data.segments).all() and np.abs(data.segments).max() < 2  # clipped.wav overshoots on resampling
    summary = data.summary()
    assert "skipped:      8" in summary and "kept, with a warning: 1" in summary
    # The next command works: a run trains on what was kept.
    result = run(progress=False, **{**settings, "data.root": str(folder), "epochs": 1})
    assert all(np.isfinite(losses(result.path)))


def test_reconstruction_metrics_have_floors_on_silent_references():
    """One silent held-out clip must not swamp an average: documented floors in plugins/reconstruction_metrics.py."""
    silent = torch.zeros(2, 9450)
    noise = 0.1 * torch.randn(2, 9450, generator=torch.Generator().manual_seed(0))  # -20 dBFS
    expected = {"snr": -40.0, "si_sdr": -40.0, "spectral_convergence": 100.0}
    for name in api.list_metrics():
        metric = api.get_metric(name, sample_rate=3150)
        if metric.task != "reconstruction":
            continue
        against_noise, against_silence = metric(silent, noise), metric(silent, silent)
        assert torch.isfinite(against_noise).all() and torch.isfinite(against_silence).all(), name
        assert against_noise.abs().max() < 200, (name, against_noise)
        if name in expected:
            assert against_noise.tolist() == pytest.approx([expected[name]] * 2, rel=0.01), name
        assert torch.isnan(metric(noise, torch.full_like(noise, float("nan")))).all(), name  # not computable: NaN
