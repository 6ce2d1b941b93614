"""A trained autoencoder's latent space as a representation (repr=latent repr.run=RUN_DIR)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from audiozoo.api import get_representation
from audiozoo.bench.matrix import plan
from audiozoo.errors import AudiozooError
from audiozoo.train.run import run
from audiozoo.train.trained import load_run


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
