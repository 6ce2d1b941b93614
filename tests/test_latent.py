"""A trained autoencoder's latent space as a representation (repr=latent repr.run=RUN_DIR)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from audiozoo.api import get_representation
from audiozoo.bench.matrix import bench, plan, plan_priors
from audiozoo.errors import AudiozooError
from audiozoo.train.run import run
from audiozoo.runs.trained import load_run
from conftest import write_music


@pytest.fixture
def autoencoder(tiny):
    """A tiny vae_convpool trained for one epoch on waveform segments of 0.5 s (1575 samples)."""
    settings = {**tiny, "model": "vae_convpool", "repr": "waveform", "preset": "debug", "epochs": 1,
                "samples": 1, "reconstructions": 0, "name": "vae"}
    return run(progress=False, **settings)


def test_latent_encodes_through_the_encoder_and_decodes_through_the_decoder(autoencoder, music):
    latent = get_representation("latent", run=str(autoencoder.path))
    vae, hop = autoencoder.model, autoencoder.model.latent_hop
    assert not latent.is_exact and latent.channels == vae.latent_channels == 8
    wave = music[:2, :1575]
    assert latent.shape(1575) == (8, math.ceil(1575 / hop))
    latent.fit([wave])
    z = latent.encode(wave)
    assert z.shape == (2, *latent.shape(1575))
    with torch.no_grad():
        mean = vae.encode_latent(autoencoder.representation.encode(wave))
    torch.testing.assert_close(z, (mean - latent.mean) / latent.std)  # standardised like any representation
    back = latent.decode(z, length=1575)
    with torch.no_grad():
        expected = autoencoder.representation.decode(vae.reconstruct(autoencoder.representation.encode(wave)), 1575)
    torch.testing.assert_close(back, expected, rtol=1e-4, atol=1e-5)  # the autoencoder's own reconstruction


def test_any_model_trains_on_a_latent_space(autoencoder, tiny):
    second = run(progress=False, **{**tiny, "repr": "latent", "repr.run": str(autoencoder.path), "epochs": 2,
                                    "name": "prior"})
    assert second.model.shape == (8, math.ceil(1575 / autoencoder.model.latent_hop))
    state = torch.load(second.path / "checkpoints" / "latest.pt", weights_only=True)["representation"]
    assert any(key.startswith("autoencoder.") for key in state)  # frozen into the run: the first may train on
    again = load_run(second.path, device="cpu")
    assert again.sample(2).shape == (2, 1575) and torch.isfinite(again.sample(2)).all()


def test_a_bench_names_a_latent_space_and_checks_its_run_first(autoencoder, tiny, tmp_path):
    overrides = {k: v for k, v in tiny.items() if k not in ("model", "repr", "runs_dir")}
    cells = plan("tiny", f"waveform,latent:{autoencoder.path}", overrides, tmp_path / "bench")
    assert [(c.model, c.repr, c.path.name) for c in cells] == [("tiny", "waveform", "tiny-waveform"),
                                                               ("tiny", "latent", "tiny-latent-vae")]
    assert dict(cells[1].settings) == {"repr.run": str(autoencoder.path)}
    assert [c.repr for c in plan("tiny", None, overrides, tmp_path / "all")] == ["mel", "mfcc", "stft", "waveform"]
    with pytest.raises(AudiozooError, match="not a run directory"):
        plan("tiny", f"latent:{tmp_path / 'nowhere'}", overrides, tmp_path / "bench")
    with pytest.raises(AudiozooError, match="latent needs its run; name it as latent:RUN"):
        plan("tiny", "latent", overrides, tmp_path / "bench")


def test_only_an_autoencoder_run_has_a_latent_space(tiny):
    gan = run(progress=False, **{**tiny, "model": "gan", "preset": "debug", "epochs": 1, "samples": 1, "name": "gan"})
    with pytest.raises(AudiozooError, match="model 'gan' has no latent space"):
        get_representation("latent", run=str(gan.path))
    with pytest.raises(AudiozooError, match="repr=latent needs repr.run=RUN_DIR"):
        get_representation("latent")
    with pytest.raises(AudiozooError, match="not a run directory"):
        get_representation("latent", run=str(Path(tiny["runs_dir"]) / "missing"))


def test_a_bench_trains_priors_on_its_autoencoders_latents_after_them(tiny, tmp_path):
    for i in range(6, 10):  # a bench holds out two files
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    overrides = {k: v for k, v in tiny.items() if k not in ("model", "repr", "runs_dir")}
    overrides |= {"preset": "debug", "epochs": 1, "samples": 1, "reconstructions": 0}
    lines: list[str] = []
    cells, files = bench(models="vae_convpool,tiny", reprs="waveform", priors="tiny", echo=lines.append,
                         runs_dir=str(tmp_path), name="two-stage", **overrides)
    assert [(c.model, c.repr, c.path.name) for c in cells] == [
        ("tiny", "waveform", "tiny-waveform"), ("vae_convpool", "waveform", "vae_convpool-waveform"),
        ("tiny", "latent", "tiny-latent-vae_convpool-waveform")]  # only the autoencoder has a latent space
    assert [c.status for c in cells] == ["done"] * 3
    assert cells[2].after == cells[1].path and lines.index(next(l for l in lines if "of vae_convpool" in l)) > \
        lines.index(next(l for l in lines if "vae_convpool × waveform" in l))
    evaluation = json.loads((cells[2].path / "evaluation.json").read_text())
    assert evaluation["repr"] == "latent:vae_convpool-waveform"  # its own column, its own ceiling row
    ceiling = next(row for row in evaluation["rows"] if row["kind"] == "ceiling")
    assert (ceiling["label"], ceiling["repr"]) == ("ceiling: latent:vae_convpool-waveform", "latent:vae_convpool-waveform")
    table = next(p for p in files.values() if p.name == "results.md").read_text()
    assert "| latent:vae_convpool-waveform |" in table

    with pytest.raises(AudiozooError, match="add one of vae_1dconv, vae_convpool"):
        plan_priors("tiny", cells[:1], overrides, tmp_path / "other")
    with pytest.raises(AudiozooError, match="priors=nothing matches no model"):
        plan_priors("nothing", cells, overrides, tmp_path / "other")
