"""`audiozoo export`: each exported file runs in a fresh process without audiozoo and gives what `audiozoo generate` gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import debug_runs_settings

from audiozoo.cli import cli
from audiozoo.overrides import parse_overrides
from audiozoo.runs.trained import load_run
from audiozoo.train.run import run

SEED = 7
TOLERANCE = {"torchscript": 1e-4, "onnx": 1e-2}
"""Largest ``|exported − generate|`` allowed, as a fraction of generate's peak (docs/export.md): TorchScript
runs the same kernels; onnxruntime's differ in the last bits, which Griffin-Lim's iterations amplify."""
ANY_BATCH = 1e-2
"""The same, between a clip made alone and in a batch of two (a batch changes the kernels' blocking)."""

CELLS = {  # model × representation: the full ONNX path (waveform), the split one (mel), sampling options fixed
    "gan-mel": ({"model": "gan", "repr": "mel"}, []),
    "vae_convpool-waveform": ({"model": "vae_convpool", "repr": "waveform"}, ["sample.temperature=0.7"]),
    "flow-stft": ({"model": "flow", "repr": "stft"}, ["sample.steps=2", "sample.precision=fp32"]),
}

RUNNER = """
import json, sys
import numpy as np
card = json.load(open(sys.argv[1])); folder = sys.argv[1].rsplit('/', 1)[0] + '/'
noise = [np.load(path) for path in sys.argv[3:]]
if card['format'] == 'torchscript':
    import torch
    audio = torch.jit.load(folder + card['files']['generator'])(*map(torch.from_numpy, noise)).numpy()
elif card['format'] == 'onnx':
    import onnxruntime
    session = onnxruntime.InferenceSession(folder + card['files'].get('generator', card['files'].get('features')))
    audio = session.run(None, {i['name']: z for i, z in zip(card['inputs'], noise)})[0]
    if 'decoder' in card['files']:
        import torch
        audio = torch.jit.load(folder + card['files']['decoder'])(torch.from_numpy(audio)).numpy()
else:
    from safetensors.numpy import load_file
    audio = load_file(folder + card['files']['weights'])
    np.savez(sys.argv[2], **audio)
assert 'audiozoo' not in sys.modules and 'audiozoo_plugins' not in sys.modules
if card['format'] != 'safetensors':
    np.save(sys.argv[2], audio)
"""


def without_audiozoo(card: Path, result: Path, noise: list[Path]) -> None:
    """The file(s) ``card`` describes, run in a fresh interpreter that never imports audiozoo."""
    done = subprocess.run([sys.executable, "-c", RUNNER, str(card), str(result), *map(str, noise)],
                          capture_output=True, text=True, cwd=card.parent)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny trained run per cell (debug preset, one epoch, EMA weights kept)."""
    root = tmp_path_factory.mktemp("export")
    common = debug_runs_settings(root, ema=0.5)
    return {name: run(progress=False, **common, **cell, name=name).path for name, (cell, _) in CELLS.items()}


@pytest.mark.parametrize("format", ["torchscript", "onnx"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_an_exported_generator_makes_what_generate_makes(runs, tmp_path, cell, format):
    if format == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
    options = CELLS[cell][1]
    out = tmp_path / f"gen{'.pt' if format == 'torchscript' else '.onnx'}"
    done = CliRunner().invoke(cli, ["export", str(runs[cell]), f"format={format}", f"out={out}", *options])
    assert done.exit_code == 0, done.output
    card = json.loads(out.with_name(out.name + ".json").read_text())
    loaded = load_run(runs[cell], device="cpu")
    assert card["sample_rate"] == loaded.representation.sample_rate == 3150
    # The noise as the card says generate draws it, clip by clip, for two clips; then the first clip alone (any batch).
    generator = torch.Generator().manual_seed(SEED)
    clips = [[torch.randn([1, *i["shape"][1:]], generator=generator) for i in card["inputs"]] for _ in range(2)]
    noise = [torch.cat(parts).numpy() for parts in zip(*clips)]
    assert all(i["distribution"] == "standard normal" for i in card["inputs"])
    files = []
    for batch in (2, 1):
        files.append([tmp_path / f"noise{k}-{batch}.npy" for k in range(len(noise))])
        for path, z in zip(files[-1], noise):
            np.save(path, z[:batch])
        without_audiozoo(out.with_name(out.name + ".json"), tmp_path / f"audio-{batch}.npy", files[-1])
    exported, alone = np.load(tmp_path / "audio-2.npy"), np.load(tmp_path / "audio-1.npy")
    chosen = {k.removeprefix("sample."): v for k, v in parse_overrides(tuple(options)).items()}
    expected = loaded.sample(2, seed=SEED, **chosen).numpy()  # what audiozoo generate seed=SEED writes
    assert exported.shape == expected.shape == (2, card["outputs"][-1]["shape"][-1] if "decoder" not in card
                                                else card["decoder"]["output"]["shape"][-1])
    peak = np.abs(expected).max()
    assert peak > 0 and np.abs(exported - expected).max() <= TOLERANCE[format] * peak
    assert np.abs(alone[0] - exported[0]).max() <= ANY_BATCH * peak
    assert ("decoder" in card["files"]) == (format == "onnx" and CELLS[cell][0]["repr"] != "waveform")


def test_safetensors_hold_the_ema_weights_and_the_statistics(runs, tmp_path):
    pytest.importorskip("safetensors")
    out = tmp_path / "weights.safetensors"
    done = CliRunner().invoke(cli, ["export", str(runs["gan-mel"]), "format=safetensors", f"out={out}"])
    assert done.exit_code == 0, done.output
    without_audiozoo(out.with_name(out.name + ".json"), tmp_path / "tensors.npz", [])
    tensors = np.load(tmp_path / "tensors.npz")
    loaded = load_run(runs["gan-mel"], device="cpu")
    ema = {f"model.{k}": v for k, v in loaded.model.state_dict().items()}
    assert set(ema) <= set(tensors) and all(np.array_equal(tensors[k], v.numpy()) for k, v in ema.items())
    raw = torch.load(runs["gan-mel"] / "checkpoints" / "latest.pt", weights_only=True)["model"]
    assert any(not torch.equal(raw[k], loaded.model.state_dict()[k]) for k in raw)  # EMA, not the last step's
    assert np.array_equal(tensors["representation.std"], loaded.representation.std.numpy())
    card = json.loads(out.with_name(out.name + ".json").read_text())
    assert card["settings"]["run"]["model"] == "gan" and card["sample_rate"] == 3150


def test_what_cannot_be_exported_says_so_in_one_line(tiny, tmp_path):
    trained = run(progress=False, **{**tiny, "epochs": 1})  # the test double draws its own noise in sample()
    for args, message in ([f"out={tmp_path / 'g.pt'}", "format=torchscript"], "cannot be exported to torchscript"), \
                         (["format=tflite"], "unknown format 'tflite'; choose from"), \
                         (["format=onnx", f"out={tmp_path / 'g.pt'}"], "must be a file name ending in .onnx"):
        done = CliRunner().invoke(cli, ["export", str(trained.path), *args])
        assert done.exit_code == 2 and message in done.output, done.output
        assert len(done.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("g.*"))


def test_onnx_says_one_line_where_the_exporter_printed_its_graph(runs, tmp_path, capfd):
    pytest.importorskip("onnx")
    out = tmp_path / "gen.onnx"
    done = CliRunner().invoke(cli, ["export", str(runs["gan-mel"]), "format=onnx", f"out={out}"])
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines() == [f"wrote {out}, {out.with_suffix('.decoder.pt')}, {out}.json"]
    printed = capfd.readouterr()  # what C++ wrote to the process's own stdout and stderr
    assert "graph" not in printed.out + printed.err and len((printed.out + printed.err).splitlines()) < 5


def test_an_existing_export_is_replaced_only_when_asked(runs, tmp_path):
    out = tmp_path / "gen.pt"
    args = ["export", str(runs["gan-mel"]), "format=torchscript", f"out={out}"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = out.stat().st_mtime_ns
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and f"{out} exists; add overwrite=true" in again.output
    assert len(again.output.strip().splitlines()) == 1 and out.stat().st_mtime_ns == before
    assert CliRunner().invoke(cli, [*args, "overwrite=true"]).exit_code == 0 and out.stat().st_mtime_ns != before


@pytest.mark.parametrize("args, message", [
    (["out={file}/gen.pt"], "cannot write the export folder"),
    (["seconds=0"], "seconds=0 is shorter than one frame of vae_convpool on waveform: the shortest clip is"),
    (["seconds=0.001"], "seconds=0.001 is shorter than one frame"),
])
def test_what_would_fail_after_the_work_is_refused_before_it(runs, tmp_path, args, message):
    (tmp_path / "file").write_text("")
    args = [a.format(file=tmp_path / "file") for a in args]
    done = CliRunner().invoke(cli, ["export", str(runs["vae_convpool-waveform"]), "format=torchscript",
                                    *(args if any(a.startswith("out=") for a in args) else [*args, f"out={tmp_path / 'g.pt'}"])])
    assert done.exit_code == 2 and message in done.output, done.output
    assert len(done.output.strip().splitlines()) == 1 and not (tmp_path / "g.pt").exists()
