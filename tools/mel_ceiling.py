"""Where `mel`'s round trip loses fidelity: its magnitude (bands → NNLS) or its phase (Griffin-Lim).

    python tools/mel_ceiling.py [data=NAME data.KEY=VALUE ...]

Decodes the bench split's stand-in clips (held out, as many as a cell's samples) several ways and
scores each with `fidelity` against the bench's reference clips, with its bootstrap interval
(docs/representations.md, "How many bands").
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from audiozoo import dsp
from audiozoo.bench.calibration import shared_caches
from audiozoo.bench.evaluate import split_by_file
from audiozoo.factory import create, metrics_at
from audiozoo.overrides import parse_overrides
from audiozoo.resolve import resolve
from audiozoo.runs.trained import prepare_data


def main(args: list[str]) -> None:
    settings = resolve({"model": "flow", "repr": "mel", **parse_overrides(args)})
    data, rate = prepare_data(settings), settings.data.sample_rate
    reference_idx, stand_in_idx = split_by_file(data, data.split_indices()[1])
    reference, clips = (torch.as_tensor(np.asarray(data.segments[i])) for i in (reference_idx, stand_in_idx))
    fidelity = next(m for m in metrics_at(rate) if m.name == "fidelity")
    store, length = shared_caches(data)[1], clips.shape[1]
    mel = create("representations", "mel", sample_rate=rate)
    c = mel.config
    spectrum = dsp.stft(clips, c.n_fft, c.hop_length, mel.window)
    phase = spectrum / spectrum.abs().clamp_min(1e-12)

    def griffinlim(magnitude: torch.Tensor, iterations: int) -> torch.Tensor:
        return dsp.griffinlim(magnitude, c.n_fft, c.hop_length, mel.window, length, iterations, c.momentum)

    decodings = {"the clips themselves (real vs real)": lambda: clips,
                 "the exact magnitude, Griffin-Lim 32": lambda: griffinlim(spectrum.abs(), 32),
                 "the exact magnitude, Griffin-Lim 128": lambda: griffinlim(spectrum.abs(), 128)}
    for bands in (64, 128):
        rep = create("representations", "mel", sample_rate=rate, n_mels=bands)
        nnls = lambda rep=rep: rep.mel_inverse(dsp.db_to_power(rep.log_mel(clips))).sqrt()  # noqa: E731
        decodings[f"{bands} bands → NNLS magnitude, the true phase"] = lambda nnls=nnls: torch.istft(
            nnls() * phase, c.n_fft, c.hop_length, window=mel.window, length=length)
        decodings[f"{bands} bands → NNLS magnitude, Griffin-Lim 128"] = lambda nnls=nnls: griffinlim(nnls(), 128)
        decodings[f"{bands} bands, the round trip"] = lambda rep=rep: rep.decode(rep.encode(clips), length=length)
    print("| decoding | fidelity |\n| --- | ---: |")
    for what, decode in decodings.items():
        figure = store.measure(fidelity, reference, decode(), reference)
        print(f"| {what} | {figure.value:.3g} ({figure.low:.3g}–{figure.high:.3g}) |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
