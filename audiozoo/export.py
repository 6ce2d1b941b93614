"""A trained run as files that run without audiozoo: ``audiozoo export RUN_DIR format=…``.

Sampling is noise → the model's tensors → audio. The noise is its only randomness (standard normal,
shaped as the model's ``noise_shapes`` say); the rest is deterministic and is traced into a file
with the run's EMA weights, the sampling options and the clip length fixed: TorchScript holds the
whole path (the flow's steps, Griffin-Lim's iterations, the mel inverse's NNLS steps and the
iSTFT unrolled). ONNX has no complex numbers, so where the representation decodes through them
(stft, mel, mfcc) the file is split: ``OUT.onnx`` noise → the model's (standardised) tensors and
``OUT.decoder.pt``, TorchScript, tensors → audio. safetensors writes the weights alone, the
representation's statistics among them. Each export writes ``OUT.json`` (``generator.pt.json``) beside it: the sample
rate, the inputs and outputs, the settings and how to call it (docs/export.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from audiozoo.atomic import atomic_file
from audiozoo.errors import AudiozooError, unknown
from audiozoo.model import GenerativeModel, SampleOptions
from audiozoo.representation import Representation
from audiozoo.runs.trained import Run

FORMATS = {"torchscript": ".pt", "onnx": ".onnx", "safetensors": ".safetensors"}
TRACE_BATCH = 2
"""Clips in the example input the files are traced with; the files take any batch (a batch of
one would let the tracer fold away the batch axis where it broadcasts)."""
ONNX_OPSET = 17


class Sampler(torch.nn.Module):
    """Noise tensors (positional, in ``noise_shapes`` order) → the model's tensors ``[n, C, frames]``."""

    def __init__(self, model: GenerativeModel, names: list[str], frames: int, options: SampleOptions) -> None:
        super().__init__()
        self.model, self.names, self.frames, self.options = model, names, frames, options

    def forward(self, *noise: torch.Tensor) -> torch.Tensor:
        return self.model.generate_from_noise(dict(zip(self.names, noise)), self.frames, self.options)


class Decoder(torch.nn.Module):
    """The model's tensors → audio ``[n, length]``: the representation's decode."""

    def __init__(self, representation: Representation, length: int) -> None:
        super().__init__()
        self.representation, self.length = representation, length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.representation.decode(x, self.length)


def export(run: Run, format: str, out: Path, seconds: float | None = None, **options: Any) -> list[Path]:
    """Write ``run``'s generator as ``format`` to ``out`` and its description to ``out`` + ``.json``; the files written.

    ``options`` are the model's sampling options over the run's ``[sample]``; ``seconds`` another
    clip length (fully convolutional models). The run should be loaded on the CPU.
    """
    if format not in FORMATS:
        raise unknown("format", format, FORMATS)
    model, rep = run.model.eval().requires_grad_(False), run.representation.eval().requires_grad_(False)
    chosen = run.sample_options(**options)
    frames, samples = run.length(seconds)
    frames = frames or model.shape[1]
    card: dict[str, Any] = {"format": format, "model": model.name, "representation": rep.name,
                            "sample_rate": rep.sample_rate, "seconds": samples / rep.sample_rate,
                            "sample_options": asdict(chosen), "run": str(run.path)}
    if format == "safetensors":
        files = {"weights": _write_weights(model, rep, out)}
        card["settings"] = run.settings.tables()
    else:
        if not model.exportable:
            raise AudiozooError(f"model {model.name!r} cannot be exported to {format}: it draws its own noise in "
                                "sample() (a plugin says noise_shapes and generate_from_noise, docs/plugins.md); "
                                "format=safetensors writes its weights")
        shapes = model.noise_shapes(TRACE_BATCH, frames)
        noise = tuple(torch.randn(shape) for shape in shapes.values())
        sampler, decoder = Sampler(model, list(shapes), frames, chosen), Decoder(rep, samples)
        if format == "onnx" and importlib.util.find_spec("onnx") is None:
            raise AudiozooError("format=onnx needs the onnx package: pip install 'audiozoo[onnx]'")
        if format == "torchscript":
            files = {"generator": _write_torchscript(torch.nn.Sequential(sampler, decoder), noise, out)}
        else:
            files = _write_onnx(sampler, decoder, noise, out, list(shapes))
        card["inputs"] = [{"name": name, "shape": ["n", *shape[1:]], "dtype": "float32",
                           "distribution": "standard normal"} for name, shape in shapes.items()]
        card["outputs"] = [{"name": "audio", "shape": ["n", samples], "dtype": "float32"}]
        if "decoder" in files:
            card["outputs"] = [{"name": "features", "shape": ["n", rep.channels, frames], "dtype": "float32"}]
            card["decoder"] = {"input": card["outputs"][0], "output": {"name": "audio", "shape": ["n", samples]}}
        card["seed"] = ("audiozoo generate seed=S draws g = torch.Generator().manual_seed(S), then for each clip "
                        "in turn torch.randn([1, *shape[1:]], generator=g) for each input in order; the clips "
                        "stack along the first axis")
    card["files"] = {role: path.name for role, path in files.items()}
    card["usage"] = USAGE[format if "decoder" not in files else "onnx-split"]
    sidecar = _card(out)
    with atomic_file(sidecar) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return [*files.values(), sidecar]


def _trace(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """``module`` traced on ``example``, after one plain call: constants that are computed once and cached
    (Griffin-Lim's seeded phases) then enter the file as constants, not as a random draw at every call."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about constants: lengths are fixed on purpose
        module(*example)
        return torch.jit.trace(module, example, check_trace=False)


def _write_torchscript(module: torch.nn.Module, example: tuple[torch.Tensor, ...], out: Path) -> Path:
    traced = _trace(module, example)
    with atomic_file(out) as tmp:
        traced.save(str(tmp))
    return out


def _write_onnx(sampler: Sampler, decoder: Decoder, noise: tuple[torch.Tensor, ...], out: Path,
                names: list[str]) -> dict[str, Path]:
    """One ONNX file noise → audio; where the decoding does not export, ONNX noise → tensors and TorchScript after.

    The exporter prints its whole graph (thousands of lines) when it fails; the first attempt is
    expected to fail for most representations, so its output is held back. The second attempt's is
    kept in ``OUT.log`` when it fails too, and the error line names that file.
    """
    with _held_output():
        try:
            _onnx(torch.nn.Sequential(sampler, decoder), noise, out, names, "audio")
            return {"generator": out}
        except (torch.onnx.errors.OnnxExporterError, RuntimeError):
            pass  # the decoding needs what ONNX lacks (complex numbers, the iSTFT): split it off
    log = out.with_name(out.name + ".log")
    with _held_output(log) as kept:
        try:
            _onnx(sampler, noise, out, names, "features")
        except (torch.onnx.errors.OnnxExporterError, RuntimeError) as err:
            kept()
            raise AudiozooError(f"cannot export model {sampler.model.name!r} to onnx: {_first_line(err)} "
                                f"(the exporter's output: {log})") from None
    with torch.no_grad():
        features = sampler(*noise)
    return {"features": out, "decoder": _write_torchscript(decoder, (features,), out.with_suffix(".decoder.pt"))}


@contextmanager
def _held_output(log: Path | None = None) -> Iterator[Callable[[], None]]:
    """What the block prints to the process's stdout and stderr (C++ prints there, past ``sys.stdout``),
    held back; calling the handle it yields keeps it in ``log``."""
    keep = []
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    with tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            yield lambda: keep.append(True)
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for fd, old in zip((1, 2), saved):
                os.dup2(old, fd)
                os.close(old)
            if keep and log is not None:
                sink.seek(0)
                with atomic_file(log) as tmp:
                    tmp.write_bytes(sink.read())


def export_files(out: Path) -> list[Path]:
    """Every file an export to ``out`` may write: the file, its card and (ONNX split) its decoder."""
    return [out, _card(out), out.with_suffix(".decoder.pt")] if out.suffix == ".onnx" else [out, _card(out)]


def _card(out: Path) -> Path:
    return out.with_name(out.name + ".json")  # generator.pt.json: two formats of one name keep both cards


def _onnx(module: torch.nn.Module, example: tuple[torch.Tensor, ...], out: Path, names: list[str], output: str) -> None:
    """The legacy (TorchScript-based) exporter: torch.export cannot follow Griffin-Lim's cached phases and was
    many times slower on the flow's unrolled steps; neither exporter has complex numbers or an iSTFT."""
    axes = {name: {0: "n"} for name in [*names, output]}
    traced = _trace(module, example)
    if "BFloat16" in str(traced.inlined_graph):
        raise AudiozooError("format=onnx cannot hold bfloat16 computation (onnxruntime's CPU convolutions lack it): "
                            "export with the model's fp32 sampling option (flow: sample.precision=fp32), "
                            "or format=torchscript")
    with atomic_file(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(traced, example, str(tmp), input_names=names, output_names=[output],
                          dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _write_weights(model: GenerativeModel, rep: Representation, out: Path) -> Path:
    """``model.*`` (the EMA weights where the run kept them) and ``representation.*`` (its statistics, and
    a latent representation's autoencoder) as one safetensors file."""
    from safetensors.torch import save_file

    tensors = {f"{prefix}.{key}": value.detach().cpu().contiguous().clone()
               for prefix, part in (("model", model), ("representation", rep))
               for key, value in part.state_dict().items()}
    with atomic_file(out) as tmp:
        save_file(tensors, str(tmp), metadata={"model": model.name, "representation": rep.name})
    return out


USAGE = {
    "torchscript": "audio = torch.jit.load(FILE)(*noise)  # noise: each input, torch.randn(shape); audio [n, samples]",
    "onnx": "audio = onnxruntime.InferenceSession(FILE).run(None, {name: noise, ...})[0]  # noise: float32 standard normal",
    "onnx-split": ("features = onnxruntime.InferenceSession(FEATURES).run(None, {name: noise, ...})[0]; "
                   "audio = torch.jit.load(DECODER)(torch.from_numpy(features))"),
    "safetensors": "tensors = safetensors.torch.load_file(FILE)  # model.* and representation.*; settings here",
}
"""How each kind of export is called, for the sidecar."""
