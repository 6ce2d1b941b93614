"""The command line as a user meets it: output, files written, and one-line errors with exit code 2."""

from __future__ import annotations

import pytest
import soundfile as sf
from click.testing import CliRunner

from audiozoo.cli import cli
from conftest import write_music


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_version_and_help():
    assert run("--version").output.startswith("audiozoo, version ")
    help_text = run("--help").output
    for command in ("list", "plugins", "prepare", "roundtrip"):
        assert command in help_text


def test_list_shows_names_with_descriptions():
    out = run("list", "datasets").output
    assert "classical" in out and "GTZAN genre collection" in out
    assert run("list", "reprs", "wave*").output.split() [0] == "waveform"
    everything = run("list").output
    for heading in ("representations:", "models:", "datasets:", "metrics:"):
        assert heading in everything


def test_plugins_lists_each_with_distribution_and_hooks():
    out = run("plugins").output
    row = next(line for line in out.splitlines() if line.startswith("gtzan"))
    assert "loaded" in row and "audiozoo" in row and "register_datasets" in row


def test_prepare_prints_a_summary(tmp_path):
    write_music(tmp_path / "music" / "a.wav", 2.5)
    (tmp_path / "music" / "b.wav").write_bytes(b"")
    result = run("prepare", "data=folder", f"data.root={tmp_path / 'music'}", "data.clip_seconds=2")
    assert result.exit_code == 0, result.output
    assert "files read:   1" in result.output and "skipped:      1" in result.output
    assert "b.wav:" in result.output and "segments:     2 × 3150 samples" in result.output
    again = run("prepare", "data=folder", f"data.root={tmp_path / 'music'}", "data.clip_seconds=2")
    assert "(from cache, nothing decoded)" in again.output


def test_roundtrip_writes_audio_and_picture(tmp_path):
    song = write_music(tmp_path / "song.wav", 3.0)
    out = tmp_path / "out" / "back.wav"
    result = run("roundtrip", "repr=waveform", str(song), f"out={out}")
    assert result.exit_code == 0, result.output
    assert "waveform (exact inverse)" in result.output and "tensor shape  [1, 9450]" in result.output
    decoded, rate = sf.read(out)
    assert rate == 3150 and len(decoded) == 9450
    assert (tmp_path / "out" / "song.3150hz.wav").is_file() and out.with_suffix(".png").is_file()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("list", "modles"), ("unknown kind 'modles'", "choose from: models")),
        (("roundtrip", "repr=mell", "x.wav"), ("unknown representation 'mell'", "choose from: mel")),
        (("roundtrip", "repr=waveform", "repr.n_mels=3", "x.wav"), ("unknown key 'repr.n_mels'", "repr.standardize")),
        (("roundtrip", "repr=waveform", "repr.standardize=maybe", "x.wav"), ("bad value 'maybe' for repr.standardize",)),
        (("roundtrip", "repr=waveform", "missing.wav"), ("cannot read missing.wav",)),
        (("roundtrip", "repr=waveform"), ("exactly one audio file",)),
        (("roundtrip", "preset=gan", "x.wav"), ("unknown preset 'gan'", "gan_spectrogram")),
        (("prepare", "data=gtzn"), ("unknown dataset 'gtzn'", "choose from: gtzan")),
        (("prepare", "data=folder", "data.root=/nonexistent"), ("data folder not found: /nonexistent",)),
        (("prepare", "data.segments=0"), ("bad settings for data", "segments must be at least 1")),
        (("prepare", "model=gan"), ("unknown key 'model'", "choose from: ")),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, fragments):
    assert_user_error(run(*args), *fragments)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("generate", "RUN", "n=0"), ("n must be a number of clips from 1 to 10000, got 0",)),
        (("generate", "RUN", "n=-1"), ("got -1",)),
        (("generate", "RUN", "n=abc"), ("bad value 'abc' for n: expected an integer",)),
        (("generate", "RUN", "seed=abc"), ("bad value 'abc' for seed",)),
        (("generate", "RUN", "seed=123456789012345678901"), ("seed must be in [0, 2**32)",)),
        (("generate", "RUN", "out=FILE"), ("is a file; give a folder",)),
        (("reconstruct", "RUN", "x.wav", "out=FILE"), ("is a file; give a folder",)),
        (("report", "RUN", "out=FILE"), ("is a file; give a folder",)),
        (("roundtrip", "repr=waveform", "SONG", "out=back.xyz"), ("unknown audio format '.xyz'", ".wav")),
        (("roundtrip", "repr=waveform", "SONG", "out=DIR"), ("is a folder; give a file name",)),
        (("run", "model=gan", "name=../x"), ("name must be a plain folder name",)),
        (("run", "model=gan", "name=/tmp/x"), ("name must be a plain folder name",)),
        (("run", "model=gan", "model.lr_generator=nan"), ("expected a finite number",)),
        (("run", "model=gan", "max_seconds=nan"), ("bad value nan for max_seconds: expected a finite number",)),
        (("run", "model=gan", "seed=123456789012345678901"), ("seed must be in [0, 2**32)",)),
        (("run", "model=gan", "config=/nowhere.toml"), ("cannot read /nowhere.toml",)),
    ],
)
def test_options_are_checked_before_any_work(tmp_path, args, fragments):
    (tmp_path / "file").write_text("")
    song = write_music(tmp_path / "song.wav", 0.5)
    names = {"RUN": str(tmp_path / "nowhere"), "FILE": str(tmp_path / "file"), "DIR": str(tmp_path), "SONG": str(song)}
    for placeholder, value in names.items():
        args = tuple(a.replace(placeholder, value) for a in args)
    assert_user_error(run(*args), *fragments)


def test_prepare_takes_a_presets_data_settings_only(tmp_path):
    write_music(tmp_path / "music" / "a.wav", 2.5)
    write_music(tmp_path / "music" / "b.wav", 2.5, seed=1)
    result = run("prepare", "preset=seed", "data=folder", f"data.root={tmp_path / 'music'}", "data.clip_seconds=2")
    assert result.exit_code == 0, result.output
    assert "segments:     4 × 3150" in result.output


def test_list_settings_shows_type_default_and_help():
    out = run("list", "models", "--settings").output
    assert "model.lr" in out or "model.noise_dim" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("sample.solver"))  # flow's sampling
    assert "euler" in row and "heun" in row.lower()
    everything = run("list", "--settings").output
    row = next(line for line in everything.splitlines() if line.strip().startswith("data.silent"))
    assert "skip|keep" in row and "skip" in row and "digital silence" in row
    row = next(line for line in everything.splitlines() if line.strip().startswith("checkpoint_seconds"))
    assert "float" in row and "60.0" in row and "kill -9" in row


def test_list_settings_shows_only_settings_a_command_takes_and_which_commands():
    everything = run("list", "--settings").output
    rows = {line.split()[0]: line for line in everything.splitlines() if line.strip()}  # key (or plugin) → its line
    assert "run,bench,prepare,roundtrip" in rows["data.silent"]
    assert "run,bench,roundtrip" in rows["repr.n_mels"] and "repr.sample_rate" not in rows  # data.sample_rate sets it
    assert "run,bench,generate,export" in rows["sample.steps"]
    assert "run,bench" in rows["epochs"] and rows["init"].split()[3] == "run"  # bench trains from scratch
    assert rows["metric.fad_vggish.weights"].split()[3] == "bench"  # metrics judge bench cells
    assert not any(key.startswith("metric.") and key.endswith(".sample_rate") for key in rows)  # the data's rate


@pytest.mark.parametrize(("args", "fragments"), [
    (("metric.nope.weights=x",), ("unknown metric 'nope'", "structure_distance")),
    (("metric.snr.x=1",), ("metric.snr.x", "has no settings")),
])
def test_bench_checks_metric_settings_before_any_cell(tmp_path, args, fragments):
    assert_user_error(run("bench", "models=flow", "reprs=mel", f"runs_dir={tmp_path}", *args), *fragments)
    assert not (tmp_path / "bench").exists()


def test_bench_refuses_a_missing_weights_file_before_any_cell(tmp_path):
    result = run("bench", "models=flow", "reprs=mel", f"runs_dir={tmp_path}", "metric.fad_vggish.weights=/no/such.pth")
    assert_user_error(result, "metric.fad_vggish", "/no/such.pth: no such file")
    assert not (tmp_path / "bench").exists()
