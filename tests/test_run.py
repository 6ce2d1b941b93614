"""`audiozoo run` and what it leaves behind, on a test-double model: files, determinism, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import audiozoo
from audiozoo.cli import cli
from audiozoo.errors import AudiozooError
from audiozoo.train.run import run
from audiozoo.runs.trained import load_run
from audiozoo.train.trainer import TrainingDiverged, TrainingInterrupted
from conftest import write_music


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def losses(path: Path) -> list[float]:
    return [r["loss"] for r in records(path) if "loss" in r]


UPDATE = {"ema": 0.9, "grad_clip": 0.5, "schedule": "cosine", "warmup_steps": 2, "precision": "bf16"}
"""Every knob of the trainer's update at once."""


def test_run_writes_everything_a_user_needs(tiny):
    result = run(progress=False, **tiny)
    files = {p.relative_to(result.path).as_posix() for p in result.path.rglob("*") if p.is_file()}
    assert {"config.toml", "metrics.jsonl", "checkpoints/latest.pt", "losses.png", "samples/sample_00.wav",
            "samples/sample_01.wav", "samples/samples.png", "reconstructions/clip_00.input.wav",
            "reconstructions/clip_00.reconstruction.wav", "reconstructions/reconstructions.png"} <= files
    records = result.metrics
    assert [r["step"] for r in records] == list(range(1, 10))  # 5 train files × 2 halves, batch 4: 3 steps × 3 epochs
    assert set(records[0]) == {"step", "epoch", "loss", "lr", "seconds"}
    audio, rate = sf.read(result.path / "samples" / "sample_00.wav")
    assert rate == 3150 and len(audio) == 1575
    # The checkpoint loads with weights_only=True and holds what resuming needs.
    state = torch.load(result.path / "checkpoints" / "latest.pt", weights_only=True)
    assert {"model", "representation", "optimizers", "progress", "rng", "settings"} <= set(state)


def test_config_toml_reproduces_the_run(tiny, tmp_path):
    first = run(progress=False, **{**tiny, "model.lr": 0.02})
    shared = tmp_path / "exp.toml"  # any file, not only a run's own config.toml
    shared.write_text((first.path / "config.toml").read_text().replace(tiny["runs_dir"], "/elsewhere"))
    again = run(progress=False, config=str(shared), runs_dir=tiny["runs_dir"])
    assert again.path.parent == first.path.parent != Path("/elsewhere")  # a file never says where files go
    assert again.settings == first.settings
    assert losses(again.path) == losses(first.path)


def test_same_seed_same_curve_and_another_seed_differs(tiny):
    a, b = run(progress=False, **tiny), run(progress=False, **tiny)
    assert losses(a.path) == losses(b.path)
    assert losses(run(progress=False, **{**tiny, "seed": 1}).path) != losses(a.path)


@pytest.mark.parametrize("update", [{}, UPDATE, {"crop_seconds": 0.25}], ids=["defaults", "ema-clip-cosine-bf16", "crops"])
def test_resume_after_ctrl_c_matches_an_uninterrupted_run(tiny, update):
    tiny = {**tiny, **update}
    whole = run(progress=False, **tiny)
    with pytest.raises(TrainingInterrupted):
        run(progress=False, **{**tiny, "model.fail_at": 4})
    interrupted = sorted(Path(tiny["runs_dir"]).iterdir())[-1]
    assert len(losses(interrupted)) == 3  # steps 1-3 done, Ctrl-C during the 4th
    # The run's settings still say fail_at=4; resuming a fresh model instance counts calls from zero.
    config = (interrupted / "config.toml").read_text().replace("fail_at = 4", "fail_at = 0")
    (interrupted / "config.toml").write_text(config)
    resumed = run(resume=interrupted, progress=False)
    assert resumed.path == interrupted
    assert records(interrupted) != [] and [{k: v for k, v in r.items() if k != "seconds"} for r in records(interrupted)] \
        == [{k: v for k, v in r.items() if k != "seconds"} for r in records(whole.path)]  # losses and rates alike
    for key, value in resumed.model.state_dict().items():  # the weights it samples with, EMA or not
        assert torch.equal(value, whole.model.state_dict()[key]), key


def test_ema_weights_are_checkpointed_and_sampled_with(tiny):
    result = run(progress=False, **{**tiny, **UPDATE})
    state = torch.load(result.path / "checkpoints" / "latest.pt", weights_only=True)
    assert {"ema", "schedulers", "scaler"} <= set(state) and state["ema"]["updates"] == 9
    averaged = state["ema"]["weights"]
    assert not torch.equal(averaged["decoder.weight"], state["model"]["decoder.weight"])
    for run_ in (result, load_run(result.path, device="cpu")):  # the finished run and a loaded one alike
        assert torch.equal(run_.model.decoder.weight.detach().cpu(), averaged["decoder.weight"])
    rates = [r["lr"] for r in records(result.path)]
    assert rates[0] == pytest.approx(0.005) and rates[1] == pytest.approx(0.01) and rates[-1] < 0.01 * 0.1


def test_validation_losses_are_logged_and_change_no_training_step(tiny):
    plain = run(progress=False, **tiny)
    validated = run(progress=False, **{**tiny, "valid_every": 4})
    assert losses(validated.path) == losses(plain.path)  # validating draws no training noise
    valid = [r for r in records(validated.path) if "valid_loss" in r]
    assert [r["step"] for r in valid] == [4, 8, 9]  # every 4 steps, and at the end
    assert all(r["valid_loss"] > 0 for r in valid) and set(valid[0]) == {"step", "epoch", "valid_loss"}
    assert (validated.path / "losses.png").is_file()
    again = run(resume=validated.path, progress=False)  # finished: nothing trains, nothing is validated twice
    assert [r["step"] for r in records(again.path) if "valid_loss" in r] == [4, 8, 9]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny):
    with pytest.raises(TrainingDiverged, match="loss became nan at step 5"):
        run(progress=False, **{**tiny, "model.fail_at": 5, "model.fail_with": "nan", "checkpoint_every": 2})
    failed = sorted(Path(tiny["runs_dir"]).iterdir())[-1]
    state = torch.load(failed / "checkpoints" / "latest.pt", weights_only=True)
    assert state["progress"]["step"] == 4
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_load_run_samples_and_reconstructs(tiny):
    result = audiozoo.run(progress=False, **tiny)  # the API mirrors `audiozoo run`
    loaded = audiozoo.load_run(result.path, device="cpu")
    assert loaded.sample(3, seed=1).shape == (3, 1575)
    assert torch.equal(loaded.sample(2, seed=1), loaded.sample(2, seed=1))
    wave = torch.randn(2, 1575) * 0.1
    assert loaded.reconstruct(wave).shape == (2, 1575)


def test_cli_run_generate_reconstruct(tiny, tmp_path):
    args = [f"{k}={v}" for k, v in tiny.items()]
    out = CliRunner().invoke(cli, ["run", *args])
    assert out.exit_code == 0, out.output
    run_dir = next(Path(tiny["runs_dir"]).iterdir())
    assert f"run finished: {run_dir}" in out.output and "samples" in out.output
    gen = CliRunner().invoke(cli, ["generate", str(run_dir), "n=3", f"out={tmp_path / 'gen'}"])
    assert gen.exit_code == 0, gen.output
    assert len(list((tmp_path / "gen").glob("*.wav"))) == 3
    song = write_music(tmp_path / "song.wav", 2.0)
    rec = CliRunner().invoke(cli, ["reconstruct", str(run_dir), str(song), f"out={tmp_path / 'rec'}"])
    assert rec.exit_code == 0, rec.output
    assert (tmp_path / "rec" / "clip_00.reconstruction.wav").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "repr=mel"], "which model? add model=NAME"),
        (["run", "model=tiny", "epochs=zero"], "bad value 'zero' for epochs"),
        (["run", "model=tiny", "device=tpu"], "bad value 'tpu' for device; choose from"),
        (["run", "model=tiny", "model.lr2=1"], "unknown key 'model.lr2'; choose from: model.lr"),
        (["run", "resume=/nowhere"], "not a run directory"),
        (["generate", "/nowhere"], "not a run directory"),
    ],
)
def test_run_errors_are_one_line(tiny, args, message):
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 2 and message in out.output and len(out.output.strip().splitlines()) == 1, out.output


def test_resume_takes_no_other_settings(tiny):
    with pytest.raises(AudiozooError, match="give no other keys"):
        run(resume="x", epochs=3)


def test_two_processes_follow_the_one_process_curve(tiny, tmp_path):
    """torchrun with 2 CPU ranks (gloo), same global batch: the same loss curve within 2 %.

    Not bit-equal: each rank draws its own noise for its half of the batch.
    """
    import os
    import subprocess
    import sys

    site = str(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([site, os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    args = [f"{k}={v}" for k, v in {**tiny, "epochs": 6}.items() if k != "runs_dir"]
    curves = []
    for procs in (1, 2):
        runs = tmp_path / f"runs{procs}"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}",
               "-m", "audiozoo", "run", *args, f"runs_dir={runs}"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        (run_dir,) = runs.iterdir()
        curves.append(losses(run_dir))
    one, two = curves
    assert len(one) == len(two) == 18
    assert all(abs(a - b) <= 0.02 * a for a, b in zip(one, two)), (one, two)


def test_time_budget_stops_training_and_counts_every_session(tiny):
    result = run(progress=False, **{**tiny, "epochs": 100_000, "max_seconds": 0.5})
    assert 0 < result.progress.step < 100_000 and result.progress.seconds >= 0.5
    again = run(resume=result.path, progress=False)  # the budget is spent: resuming trains no further
    assert again.progress.step == result.progress.step


def test_only_the_run_directory_module_names_run_files():
    """Every file name of a run is written in audiozoo/runs/rundir.py alone (docstrings may mention them)."""
    import ast

    names = ("latest.pt", "config.toml", "metrics.jsonl", "losses.png", "evaluation.json", "samples.png",
             "reconstructions.png", ".lock")
    root = Path(audiozoo.__file__).parent
    offenders = []
    for path in [*root.parent.joinpath("plugins").glob("*.py"), *root.rglob("*.py")]:
        if path.name == "rundir.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        offenders += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                      and any(name in node.value for name in names)]
    assert not offenders
