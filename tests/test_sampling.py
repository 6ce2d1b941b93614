"""What a model sees and what it makes: random crops, clips of any length, and sampling options."""

from __future__ import annotations


import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from audiozoo.api import get_representation
from audiozoo.cli import cli
from audiozoo.errors import AudiozooError
from audiozoo.train.batches import TrainingSet
from audiozoo.train.run import run
from audiozoo.runs.trained import load_run


@pytest.fixture
def vae(tiny):
    """A tiny fully convolutional VAE trained for one epoch on waveform crops of 0.25 s."""
    settings = {**tiny, "model": "vae_convpool", "repr": "waveform", "preset": "debug", "epochs": 1,
                "crop_seconds": 0.25, "samples": 1, "reconstructions": 1}
    return run(progress=False, **settings)


def test_crops_are_new_each_step_and_the_same_on_every_draw():
    rep = get_representation("mel").fit([torch.randn(3, 3150)])
    clips = torch.randn(3, 3150).numpy()
    data = TrainingSet(rep, clips, torch.device("cpu"), crop=800, seed=1)
    index = torch.arange(3)
    first, again, next_step = data.batch(index, 0), data.batch(index, 0), data.batch(index, 1)
    assert first.audio.shape == (3, 800) and first.x.shape == (3, *rep.shape(800))
    assert torch.equal(first.audio, again.audio) and not torch.equal(first.audio, next_step.audio)
    assert torch.allclose(first.x, rep.encode(first.audio))  # the batch carries the audio its tensor came from
    starts = [int((torch.from_numpy(clips[i]).unfold(0, 800, 1) == first.audio[i]).all(1).nonzero()[0]) for i in range(3)]
    assert all(0 <= s <= 3150 - 800 for s in starts)
    whole = TrainingSet(rep, clips, torch.device("cpu"))
    assert whole.batch(index, 0).audio.shape == (3, 3150)  # no crop: whole segments, encoded once


def test_the_model_is_built_from_the_crop(vae):
    assert vae.model.shape == (1, round(0.25 * 3150))
    audio, rate = sf.read(vae.path / "samples" / "sample_00.wav")
    assert len(audio) == vae.settings.segment_samples > round(0.25 * 3150)  # as long as the data's clips, not the crop
    assert (vae.path / "reconstructions" / "clip_00.reconstruction.wav").is_file()


def test_a_fully_convolutional_model_samples_any_length(vae, tmp_path):
    out = CliRunner().invoke(cli, ["generate", str(vae.path), "n=1", "seconds=60", f"out={tmp_path / 'long'}"])
    assert out.exit_code == 0, out.output
    audio, rate = sf.read(tmp_path / "long" / "sample_00.wav")
    assert rate == 3150 and len(audio) == 60 * 3150
    assert load_run(vae.path, device="cpu").sample(2, seconds=1.5).shape == (2, round(1.5 * 3150))


def test_a_fixed_size_model_says_so_in_one_line(tiny, tmp_path):
    fixed = run(progress=False, **{**tiny, "epochs": 1})
    out = CliRunner().invoke(cli, ["generate", str(fixed.path), "seconds=60", f"out={tmp_path / 'x'}"])
    assert out.exit_code == 2 and "makes clips of one size" in out.output and "cannot make 60 s" in out.output
    assert len(out.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_sampling_options_reach_the_model_from_every_door(vae, tmp_path):
    loaded = load_run(vae.path, device="cpu")
    cold, warm = loaded.sample(2, temperature=0.1), loaded.sample(2)
    assert cold.std() < warm.std()  # a smaller prior draw is quieter
    with pytest.raises(AudiozooError, match=r"unknown key 'sample.steps'; choose from: sample.temperature"):
        loaded.sample(1, steps=8)
    out = CliRunner().invoke(cli, ["generate", str(vae.path), "n=1", "sample.temperature=0.5", f"out={tmp_path / 'g'}"])
    assert out.exit_code == 0, out.output
    bad = CliRunner().invoke(cli, ["generate", str(vae.path), "sample.steps=8", f"out={tmp_path / 'h'}"])
    assert bad.exit_code == 2 and "choose from: sample.temperature" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_a_run_records_its_sampling_options(tiny):
    settings = {**tiny, "model": "vae_convpool", "repr": "waveform", "preset": "debug", "epochs": 1, "samples": 1}
    result = run(progress=False, **settings, **{"sample.temperature": 0.5})
    assert vars(result.settings.sample) == {"temperature": 0.5}
    assert "[sample]\ntemperature = 0.5" in (result.path / "config.toml").read_text()
    assert load_run(result.path).sample_options().temperature == 0.5
    with pytest.raises(AudiozooError, match="model 'tiny' takes no sampling options"):
        run(progress=False, **tiny, **{"sample.temperature": 0.5})


def test_a_crop_longer_than_a_segment_is_refused(tiny):
    with pytest.raises(AudiozooError, match=r"crop_seconds=2 is longer than a segment \(0.5 s\)"):
        run(progress=False, **{**tiny, "crop_seconds": 2.0})
