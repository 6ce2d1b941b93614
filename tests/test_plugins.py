"""Discovery through entry points: built-ins, third-party packages, broken ones, the example package."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import soundfile as sf
import torch

from audiozoo.errors import AudiozooError
from audiozoo.overrides import apply_preset
from audiozoo.plugins import GROUP, PluginHost, registry_file
from conftest import make_distribution

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "audiozoo-mulaw"
BUILTINS = importlib.metadata.distribution("audiozoo").entry_points.select(group=GROUP).names
"""audiozoo's own plugins: its entry points, their one list."""
ENABLED = BUILTINS - set(tomllib.loads(registry_file().read_text()).get("plugins", {}).get("disabled", []))
"""The built-ins registry.toml leaves on."""

GOOD = """
from audiozoo import hookimpl
from audiozoo_plugins.waveform import Waveform

class Louder(Waveform):
    '''A waveform twin.'''
    name = "louder"

@hookimpl
def register_representations(register):
    register(Louder)
"""


def test_builtins_load_as_entry_points():
    host = PluginHost()
    for name in BUILTINS:
        info = host.plugins[name]
        status = "loaded" if name in ENABLED else "disabled"
        assert (info.status, info.builtin, info.distribution) == (status, True, "audiozoo"), info
        assert status == "disabled" or (info.hooks and all(h.startswith("register_") for h in info.hooks))
    assert "waveform" in host.registry("representations").names()
    assert {"classical", "gtzan", "folder"} <= set(host.registry("datasets").names())


def test_registry_toml_can_switch_plugins_off(tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text('[plugins]\ndisabled = ["gtzan", "folder"]\n[defaults]\ndata = "classical"\n')
    host = PluginHost(path)
    assert host.plugins["waveform"].status == "loaded"
    assert host.plugins["gtzan"].status == "disabled"
    assert host.registry("datasets").names() == ["classical", "manifest"]


@pytest.mark.parametrize("text", ["[presets]\nfast = 3\n", "[presets.fast]\nmodels = 3\n",
                                  "[presets.fast.models]\ngan = 3\n"])
def test_a_malformed_preset_table_is_one_clear_error(tmp_path, text):
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(AudiozooError, match=r"^cannot read the plugin registry .*: .*fast"):
        PluginHost(path)


def test_registry_toml_is_package_data(tmp_path, monkeypatch):
    import audiozoo

    assert registry_file() == Path(audiozoo.__file__).resolve().parent / "registry.toml"
    other = tmp_path / "other.toml"
    other.write_text('[defaults]\nrepr = "stft"\n')
    monkeypatch.setenv("AUDIOZOO_REGISTRY", str(other))
    assert PluginHost().defaults == {"repr": "stft"}


PRESETS = """
from audiozoo import hookimpl
from audiozoo_plugins.waveform import Waveform

@hookimpl
def register_presets(register):
    register("debug", {"model.width": 2}, model="{model}")
    register("{shared}", {"description": "x", "epochs": 3})
"""


def preset_plugins(tmp_path: Path, **plugins: tuple[str, str]) -> Path:
    """A distribution whose plugins (name → (model, shared preset name)) register presets."""
    return make_distribution(tmp_path, "audiozoo-presets", {name: f"zoo_{name}" for name in plugins},
                             {f"zoo_{name}": PRESETS.replace("{model}", model).replace("{shared}", shared)
                              for name, (model, shared) in plugins.items()})


def test_plugins_ship_presets_beside_the_shared_part(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(preset_plugins(tmp_path, mine=("mymodel", "quick"))))
    host = PluginHost()
    assert "register_presets" in host.plugins["mine"].hooks
    debug = apply_preset({"model": "mymodel", "preset": "debug"}, host.presets)
    assert debug == {"epochs": 1, "batch_size": 4, "samples": 2, "model.width": 2, "model": "mymodel"}
    assert apply_preset({"preset": "quick"}, host.presets) == {"epochs": 3}
    # Built-in models' own debug sizes are unchanged by another plugin's.
    assert apply_preset({"model": "gan", "preset": "debug"}, host.presets)["model.noise_dim"] == 16


def test_a_preset_clash_names_both_plugins(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(preset_plugins(tmp_path, one=("mymodel", "quick"), two=("mymodel", "fast"),
                                                   three=("other", "quick"), four=("gan", "slow"))))
    plugins = PluginHost().plugins
    assert plugins["one"].status == "loaded"
    assert plugins["two"].error == ("mymodel preset 'debug' is registered twice: by plugin 'one' (audiozoo-presets 1.0) "
                                    "and by plugin 'two' (audiozoo-presets 1.0)")
    assert plugins["three"].error == ("preset 'quick' is registered twice: by plugin 'one' (audiozoo-presets 1.0) "
                                      "and by plugin 'three' (audiozoo-presets 1.0)")
    assert "gan preset 'debug' is registered twice: by plugin 'gan' (audiozoo " in plugins["four"].error
    presets = PluginHost().presets
    assert "fast" not in presets and "slow" not in presets, "registration stops at the clash"
    assert presets["debug"]["models"]["gan"]["model.noise_dim"] == 16, "the first registration stays"


def test_environment_can_block_any_plugin(monkeypatch):
    monkeypatch.setenv("AUDIOZOO_DISABLE_PLUGINS", "gtzan, folder")
    host = PluginHost()
    assert host.registry("datasets").names() == ["classical", "manifest"]
    assert host.plugins["folder"].status == "disabled"


def test_broken_plugins_are_reported_and_the_rest_keep_working(tmp_path, monkeypatch):
    site = make_distribution(
        tmp_path,
        "audiozoo-broken",
        {"good": "zoo_good", "missing": "zoo_missing", "crash": "zoo_crash", "dupe": "zoo_dupe", "typo": "zoo_typo",
         "notarepr": "zoo_notarepr"},
        {
            "zoo_good": GOOD,
            "zoo_crash": "from audiozoo import hookimpl\n@hookimpl\ndef register_representations(register):\n    raise RuntimeError('boom')\n",
            "zoo_dupe": "from audiozoo import hookimpl\nfrom audiozoo_plugins.waveform import Waveform\n"
            "@hookimpl\ndef register_representations(register):\n    register(Waveform)\n",
            "zoo_typo": "from audiozoo import hookimpl\n@hookimpl\ndef register_representation(register):\n    pass\n",
            "zoo_notarepr": "from audiozoo import hookimpl\n@hookimpl\ndef register_representations(register):\n    register(int, name='integer')\n",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost()
    plugins = host.plugins
    assert plugins["good"].status == "loaded" and plugins["good"].distribution == "audiozoo-broken"
    assert "louder" in host.registry("representations").names()
    assert plugins["missing"].error == "ModuleNotFoundError: No module named 'zoo_missing'"
    assert plugins["crash"].error == "RuntimeError: boom"
    assert "'waveform' is registered twice: by plugin 'waveform' (audiozoo" in plugins["dupe"].error
    assert "and by plugin 'dupe' (audiozoo-broken 1.0)" in plugins["dupe"].error
    assert "register_representation" in plugins["typo"].error and plugins["typo"].status == "error"
    assert "not a Representation subclass" in plugins["notarepr"].error
    # Every built-in still works, and the first registration of a duplicate name wins.
    assert all(plugins[name].status == "loaded" for name in ENABLED)
    assert host.registry("representations").entry("waveform").provider.startswith("plugin 'waveform' (audiozoo ")


def example_site(tmp_path: Path) -> Path:
    """The example package as pip would install it: its own pyproject's entry points, its module."""
    entry_points = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["entry-points"]["audiozoo"]
    return make_distribution(tmp_path, "audiozoo-mulaw", entry_points, {
        "audiozoo_mulaw": (EXAMPLE / "audiozoo_mulaw.py").read_text()})


def test_example_package_is_found_through_its_entry_point(tmp_path, music):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example_site(tmp_path)), os.environ.get("PYTHONPATH", "")])}
    listed = subprocess.run([sys.executable, "-m", "audiozoo", "list", "reprs"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "mulaw" in listed.stdout and "example third-party plugin" in listed.stdout
    shown = subprocess.run([sys.executable, "-m", "audiozoo", "plugins"], env=env, capture_output=True, text=True)
    line = next(row for row in shown.stdout.splitlines() if row.startswith("mulaw"))
    assert "audiozoo-mulaw 1.0" in line and "register_representations" in line and "loaded" in line


def test_example_representation_round_trips(tmp_path, monkeypatch, music):
    monkeypatch.syspath_prepend(str(example_site(tmp_path)))
    cls = PluginHost().registry("representations").get("mulaw")
    rep = cls(cls.Config(mu=64.0)).fit([music])
    decoded = rep.decode(rep.encode(music), length=music.shape[1])
    assert torch.allclose(decoded, music, atol=1e-5)


def test_importing_audiozoo_discovers_nothing():
    code = "import audiozoo, audiozoo.api, audiozoo.cli, audiozoo.plugins as p; print(p._host is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


TINYFLOW = ROOT / "examples" / "audiozoo-tinyflow"


def flow_site(tmp_path: Path) -> Path:
    """The example model package (examples/audiozoo-tinyflow) installed the way pip would, by its own entry point."""
    entry_points = tomllib.loads((TINYFLOW / "pyproject.toml").read_text())["project"]["entry-points"]["audiozoo"]
    return make_distribution(tmp_path / "flow-site", "audiozoo-tinyflow", entry_points,
                             {"audiozoo_tinyflow": (TINYFLOW / "audiozoo_tinyflow.py").read_text()})


def test_example_model_trains_validates_and_samples_through_its_entry_point(tmp_path):
    from conftest import write_music

    for i in range(6):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(flow_site(tmp_path)), os.environ.get("PYTHONPATH", "")])}

    def audiozoo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "audiozoo", *args], env=env, capture_output=True, text=True)

    assert "example third-party model" in audiozoo("list", "models").stdout
    trained = audiozoo("run", "model=tinyflow", "repr=mel", "preset=debug", "data=folder", f"data.root={tmp_path / 'music'}",
                       "data.clip_seconds=1.0", "epochs=3", "samples=1", "device=cpu", "ema=0.9", "valid_every=3",
                       f"runs_dir={tmp_path / 'runs'}", "name=tinyflow")
    assert trained.returncode == 0, trained.stderr[-2000:]
    run_dir = tmp_path / "runs" / "tinyflow"
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "valid_loss" in r] == [3, 6, 9]
    made = audiozoo("generate", str(run_dir), "n=1", "seconds=2", "sample.steps=4", "sample.solver=midpoint",
                    f"out={tmp_path / 'gen'}")
    assert made.returncode == 0, made.stderr[-2000:]
    assert len(sf.read(tmp_path / "gen" / "sample_00.wav")[0]) == 2 * 3150  # any length: fully convolutional
    wrong = audiozoo("generate", str(run_dir), "sample.solver=rk4")
    assert wrong.returncode == 2 and "bad value 'rk4' for sample.solver; choose from" in wrong.stderr


def test_example_model_fits_one_batch(tmp_path, monkeypatch, music):
    """The contract test a model meets (tests/test_models.py), for the example at its own debug size."""
    from audiozoo.api import get_representation
    from audiozoo.model import Batch
    from audiozoo.settings import TrainConfig
    from audiozoo.train.update import Updater

    monkeypatch.syspath_prepend(str(flow_site(tmp_path)))
    host = PluginHost()
    wave = music[:, :3150]
    rep = get_representation("mel", n_mels=64).fit([wave])  # the bands the example's debug size was written for
    x = rep.encode(wave)
    debug = {k.removeprefix("model."): v for k, v in host.presets["debug"]["models"]["tinyflow"].items()}
    cls = host.registry("models").get("tinyflow")
    torch.manual_seed(0)
    model = cls(tuple(x.shape[1:]), cls.Config(**debug))
    updater = Updater(model, TrainConfig(), total_steps=80)
    history = [float(updater.step(Batch(x, wave, rep))["loss"]) for _ in range(80)]
    assert sum(history[-10:]) / 10 < 0.7 * sum(history[:10]) / 10
    assert model.sample(2, torch.Generator().manual_seed(0), frames=40).shape == (2, x.shape[1], 40)
