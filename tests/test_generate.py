"""`audiozoo generate` on requests a demanding user makes: many clips, long clips, bad lengths, a folder
that holds clips already or cannot be written, Ctrl-C. Each works, or ends in one line with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from conftest import debug_runs_settings

from audiozoo.cli import cli
from audiozoo.runs import sampling
from audiozoo.runs.sampling import BATCH_SECONDS, plan
from audiozoo.runs.trained import Run, load_run
from audiozoo.train.run import run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A debug flow on mel (attention over every frame at its lowest level) and a debug VAE on waveform."""
    root = tmp_path_factory.mktemp("generate")
    common = debug_runs_settings(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDIOZOO_CACHE", str(root / "cache"))
        runs = {name: run(progress=False, **common, model=name, repr=repr_, name=name).path
                for name, repr_ in (("flow", "mel"), ("vae_convpool", "waveform"))}
        runs["cropped"] = run(progress=False, **common, model="flow", repr="mel", crop_seconds=0.1, name="cropped").path
        return runs


def generate(*args: str):
    return CliRunner().invoke(cli, ["generate", *map(str, args)])


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("model", ["flow", "vae_convpool"])
def test_a_clip_is_the_same_whatever_the_batch_and_the_number_asked_for(runs, model):
    loaded = load_run(runs[model], device="cpu")
    whole = loaded.sample(5, seed=3)
    batched = torch.cat(list(loaded.clips(5, seed=3, batch=2)))
    assert [len(b) for b in loaded.clips(5, seed=3, batch=2)] == [2, 2, 1]
    close = 1e-3 * whole.abs().max().item()  # the same noise; a batch changes only the kernels' last bits (bf16)
    torch.testing.assert_close(batched, whole, rtol=0, atol=close)
    torch.testing.assert_close(loaded.sample(2, seed=3), whole[:2], rtol=0, atol=close)


def test_generate_writes_each_batch_as_it_comes_with_a_plain_bar_in_a_log(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(sampling, "MAX_BATCH", 2)
    out = tmp_path / "clips"
    done = generate(runs["vae_convpool"], "n=5", f"out={out}")
    assert done.exit_code == 0, done.output
    assert "2 at a time: about " in done.stderr and " a clip" in done.stderr  # the estimate, before any clip
    assert sorted(p.name for p in out.iterdir()) == [f"sample_{i:02d}.wav" for i in range(5)] + ["samples.png"]
    assert sf.info(out / "sample_04.wav").frames == load_run(runs["vae_convpool"], device="cpu").segment_samples
    assert "\r" not in done.stderr  # not a terminal: plain lines, not a redrawn bar
    assert [line for line in done.stderr.splitlines() if line.startswith("generating:")][-1].startswith(
        "generating: 100%")


def test_clips_are_as_long_as_the_datas_even_from_a_model_trained_on_crops(runs, tmp_path):
    """What the bench judges: a model that samples any length makes the data's clip (a segment), not its
    crop (the run's own samples too: tests/test_sampling.py); ``seconds=`` still asks for another length."""
    loaded = load_run(runs["cropped"], device="cpu")
    segment = loaded.settings.segment_samples
    assert loaded.segment_samples < segment  # trained on crops shorter than the data's clips
    done = generate(runs["cropped"], "n=1", f"out={tmp_path / 'clips'}")
    assert done.exit_code == 0, done.output
    assert f"of {segment / loaded.representation.sample_rate:g} s" in done.stderr
    assert sf.info(tmp_path / "clips" / "sample_00.wav").frames == segment
    asked = generate(runs["cropped"], "n=1", "seconds=0.1", f"out={tmp_path / 'short'}")
    assert asked.exit_code == 0, asked.output
    assert sf.info(tmp_path / "short" / "sample_00.wav").frames == round(0.1 * loaded.representation.sample_rate)


def test_ctrl_c_keeps_the_clips_of_every_finished_batch(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(sampling, "plan", lambda run, n, seconds, **options: sampling.Plan(n, 2, 1.0, 1e6))
    draw, calls = Run.draw, []

    def interrupted_in_the_third_batch(self, n, *args):
        calls.append(n)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return draw(self, n, *args)

    monkeypatch.setattr(Run, "draw", interrupted_in_the_third_batch)
    out = tmp_path / "clips"
    result = generate(runs["vae_convpool"], "n=6", f"out={out}")
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"interrupted: kept 4 of 6 clips in {out} (sample_00.wav to sample_03.wav)")
    assert sorted(p.name for p in out.iterdir()) == [f"sample_{i:02d}.wav" for i in range(4)] + ["samples.png"]


def test_clips_already_there_are_replaced_only_when_asked(runs, tmp_path):
    out = tmp_path / "clips"
    assert generate(runs["vae_convpool"], "n=3", f"out={out}").exit_code == 0
    before = (out / "sample_00.wav").read_bytes()
    one_line_error(generate(runs["vae_convpool"], "n=2", "seed=1", f"out={out}"),
                   "holds 3 clips already", "overwrite=true")
    assert (out / "sample_00.wav").read_bytes() == before
    assert generate(runs["vae_convpool"], "n=2", "seed=1", f"out={out}", "overwrite=true").exit_code == 0
    assert sorted(p.name for p in out.glob("sample_*.wav")) == ["sample_00.wav", "sample_01.wav"]  # no old clip left
    assert (out / "sample_00.wav").read_bytes() != before


def test_a_folder_that_cannot_be_written_is_refused_before_any_clip(runs, tmp_path):
    (tmp_path / "file").write_text("")
    one_line_error(generate(runs["vae_convpool"], f"out={tmp_path / 'file' / 'clips'}"),
                   "cannot write the output folder", "choose another with out=DIR")


@pytest.mark.parametrize("seconds, shortest", [("0", "0.0406 s"), ("0.001", "0.0406 s"), ("0.03", "0.0406 s")])
def test_a_length_shorter_than_one_frame_is_refused_naming_the_shortest(runs, tmp_path, seconds, shortest):
    one_line_error(generate(runs["flow"], f"seconds={seconds}", f"out={tmp_path / 'x'}"),
                   f"seconds={seconds} is shorter than one frame of flow on mel", f"the shortest clip is {shortest}")
    assert not (tmp_path / "x").exists()


def test_a_clip_too_long_for_the_memory_is_refused_with_the_longest_that_fits(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOZOO_MEMORY_LIMIT", str(400e6))
    line = one_line_error(generate(runs["flow"], "seconds=3600", "n=1", f"out={tmp_path / 'x'}"),
                          "seconds=3600 needs about", "grows with the square of the length",
                          "320 MB of memory is free for it here", "the longest clip that fits is about ")
    longest = float(line.split("the longest clip that fits is about ")[1].split(" s")[0])
    assert 60 < longest < 3600
    loaded = load_run(runs["flow"], device="cpu")
    assert plan(loaded, 1, 0.9 * longest).batch == 1  # what the line says fits, fits
    with pytest.raises(Exception, match="the longest clip that fits"):
        plan(loaded, 1, 1.2 * longest)
    assert not (tmp_path / "x").exists()


def test_the_probe_says_memory_grows_with_the_square_for_attention_and_linearly_without(runs):
    flow, vae = (load_run(runs[m], device="cpu") for m in ("flow", "vae_convpool"))
    short, long = (plan(flow, 1, s).clip_bytes for s in (240.0, 960.0))
    assert long / short > 8  # 4 × the length: more than 4 × the memory
    short, long = (plan(vae, 1, s).clip_bytes for s in (60.0, 240.0))
    assert 3.5 < long / short < 4.5


def test_many_steps_are_announced_with_their_time(runs, tmp_path):
    few = plan(load_run(runs["flow"], device="cpu"), 4, None, steps=2)
    many = plan(load_run(runs["flow"], device="cpu"), 4, None, steps=2000)
    assert many.seconds > 20 * few.seconds  # the model's part 1000 times: the probe times one and two steps
    # batches of slow clips are cut to about BATCH_SECONDS each (how many that is depends on the machine's speed)
    assert many.batch <= few.batch and (many.batch == 1 or many.batch * many.seconds / many.n <= BATCH_SECONDS)
