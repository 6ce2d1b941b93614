"""TensorBoard event files beside metrics.jsonl, read back with TensorBoard's own reader."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator as PluginAccumulator

from audiozoo.train import tensorboard
from audiozoo.train.run import run
from audiozoo.runs.rundir import RunDir
from audiozoo.train.trainer import TrainingDiverged

BOOKKEEPING = ("step", "epoch", "seconds")
"""metrics.jsonl's keys that are not curves (TensorBoard keeps its own time)."""


def events(path: Path) -> EventAccumulator:
    """Every event in a run directory, as ``tensorboard --logdir`` sees that run (no sampling)."""
    reader = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "audio": 0})
    reader.Reload()
    return reader


def curves(path: Path) -> dict[str, dict[int, float]]:
    """Each metrics.jsonl curve as {step: value}."""
    found: dict[str, dict[int, float]] = {}
    for record in RunDir(path).read_metrics():
        for key, value in record.items():
            if key not in BOOKKEEPING:
                found.setdefault(key, {})[record["step"]] = value
    return found


def test_a_run_writes_its_curves_and_samples_for_tensorboard(tiny):
    result = run(progress=False, **{**tiny, "model": "gan", "repr": "waveform", "preset": "debug", "epochs": 2,
                                    "valid_every": 4, "samples": 2, "name": "gan"})
    assert result.files["tensorboard"] == RunDir(result.path).events != []
    board, logged = events(result.path), curves(result.path)
    assert {"loss", "d_loss", "g_loss", "lr", "valid_loss"} <= set(logged)
    assert set(board.Tags()["scalars"]) == set(logged)  # every curve, and nothing but them
    for tag, points in logged.items():
        assert {e.step: e.value for e in board.Scalars(tag)} == pytest.approx(points, rel=1e-6), tag
    # The samples at the last step: each one's spectrogram, and its audio at the run's rate.
    last, rate = result.progress.step, result.representation.sample_rate
    assert board.Tags()["images"] == ["spectrogram/sample_00", "spectrogram/sample_01"]
    assert board.Tags()["audio"] == ["audio/sample_00", "audio/sample_01"]
    image, clip = board.Images("spectrogram/sample_00"), board.Audio("audio/sample_00")
    assert [e.step for e in image] == [e.step for e in clip] == [last]
    assert image[0].height == 257 and image[0].width > 1  # n_fft 512: 257 frequency rows, low ones at the bottom
    wav = sf.info(result.path / "samples" / "sample_00.wav")
    assert (clip[0].sample_rate, clip[0].length_frames) == (rate, wav.frames)
    # The server's own view (one kind of data per tag) finds each dashboard's data.
    served = PluginAccumulator(str(result.path))
    served.Reload()
    assert {"scalars", "images", "audio"} <= served.ActivePlugins()


def test_an_autoencoder_shows_each_test_clip_beside_its_reconstruction(tiny):
    result = run(progress=False, **{**tiny, "model": "vae_convpool", "repr": "waveform", "preset": "debug", "epochs": 1,
                                    "samples": 1, "reconstructions": 2, "name": "vae"})
    board = events(result.path)
    pairs = [f"clip_{i:02d}_{part}" for i in range(2) for part in ("input", "reconstruction")]
    assert sorted(board.Tags()["images"]) == sorted(["spectrogram/sample_00", *(f"spectrogram/{p}" for p in pairs)])
    assert sorted(board.Tags()["audio"]) == sorted(["audio/sample_00", *(f"audio/{p}" for p in pairs)])
    wav = sf.info(result.path / "reconstructions" / "clip_01.reconstruction.wav")
    assert board.Audio("audio/clip_01_reconstruction")[0].length_frames == wav.frames


def test_a_resumed_run_continues_its_curves_without_a_step_twice(tiny):
    # Checkpoints at steps 1 and 3; steps 4 and 5 are logged, then the loss turns NaN at step 6.
    settings = {**tiny, "repr": "waveform", "checkpoint_every": 3, "checkpoint_seconds": 0, "model.fail_at": 6, "model.fail_with": "nan"}
    with pytest.raises(TrainingDiverged):
        run(progress=False, **settings)
    path = next(Path(tiny["runs_dir"]).iterdir())
    assert sorted(e.step for e in events(path).Scalars("loss")) == [1, 2, 3, 4, 5]
    (path / "config.toml").write_text((path / "config.toml").read_text().replace("fail_at = 6", "fail_at = 0"))
    resumed = run(resume=path, progress=False)  # from step 3: steps 4 and 5 again, then on to 9
    assert len(RunDir(path).events) == 2  # one file a session
    steps = [e.step for e in events(path).Scalars("loss")]
    assert steps == list(range(1, resumed.progress.step + 1)) == sorted(curves(path)["loss"])


def test_a_failing_writer_warns_once_and_training_goes_on(tiny, monkeypatch, caplog):
    class FullDisk:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise OSError(28, "No space left on device")
            return fail

    monkeypatch.setattr(tensorboard, "_open", lambda folder, purge_step: FullDisk())
    with caplog.at_level(logging.WARNING, logger="audiozoo.train"):
        result = run(progress=False, **{**tiny, "repr": "waveform"})
    assert result.progress.step == 9 and (result.path / "samples" / "sample_00.wav").is_file()
    warnings = [r.getMessage() for r in caplog.records if "TensorBoard" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0] and str(result.path) in warnings[0]


def test_a_board_that_cannot_open_its_folder_writes_nothing(tmp_path, caplog):
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="audiozoo.train"), tensorboard.TensorBoard(taken) as board:
        board.scalars(1, {"loss": 1.0})
        board.audio(1, {"clip": [0.0] * 8}, 8000)
    assert len(caplog.records) == 1 and taken.read_text() == "not a folder"
