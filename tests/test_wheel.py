"""A built wheel installs and runs: registry.toml, the built-in plugins, their presets and the
embedded dataset all ship inside it, with no source tree on the path.

How, offline and in seconds: the sources the wheel is built from (pyproject.toml's package
folders) are copied to a temporary folder and built there with this interpreter's setuptools
(``pip wheel --no-deps --no-build-isolation --no-index``), so the shared working tree gets no
``build/`` folder. A fresh virtual environment (``venv``, no pip, no system site-packages) gets
the wheel from ``pip install --no-deps --no-index`` run by its own interpreter. Its dependencies
(torch, librosa, ...) are this environment's, reached through one ``.pth`` file that adds a
folder of links to every entry of this environment's site-packages *except* audiozoo's own
(its editable-install finder and metadata): the fresh environment sees torch but not the
audiozoo under test here. The commands then run from a temporary working directory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import write_music

ROOT = Path(__file__).resolve().parent.parent
OWN = ("audiozoo", "__editable__", "__pycache__")
"""Site-packages entries the fresh environment must not see: audiozoo's installed or editable self."""


def build_wheel(tmp: Path) -> Path:
    """The wheel of the working tree, built from a copy of its packaged sources."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("pip") is None:
        pytest.skip("building a wheel needs setuptools and pip in this environment (no network is used)")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", project["project"]["readme"]):
        shutil.copy(ROOT / name, source / name)
    for folder in sorted(set(project["tool"]["setuptools"]["package-dir"].values())):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(tmp / "wheels"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return next((tmp / "wheels").glob("audiozoo-*.whl"))


def fresh_environment(tmp: Path, wheel: Path) -> Path:
    """A new virtual environment with ``wheel`` installed and this one's dependencies linked in."""
    env = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    linked = tmp / "dependencies"
    linked.mkdir()
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        for entry in sorted(Path(folder).glob("*")) if Path(folder).is_dir() else []:
            if not entry.name.lower().startswith(OWN) and not (linked / entry.name).exists():
                (linked / entry.name).symlink_to(entry)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(f"import site; site.addsitedir({str(linked)!r})\n")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    return env


def test_a_built_wheel_lists_plugins_and_runs_a_debug_preset(tmp_path):
    env = fresh_environment(tmp_path, build_wheel(tmp_path))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AUDIOZOO_REGISTRY")}

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        done = subprocess.run([str(a) for a in args], cwd=cwd, env=environ, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    where = run(env / "bin" / "python", "-c", "import audiozoo, audiozoo_plugins.classical as c, importlib.resources as r;"
                "print(audiozoo.__file__); print(sum(1 for f in (r.files(c) / 'audio').iterdir()))").stdout.split()
    assert Path(where[0]).is_relative_to(env), f"audiozoo came from {where[0]}, not the wheel"
    assert int(where[1]) == len(list((ROOT / "plugins" / "classical" / "audio").glob("*.ogg")))

    listed = run(env / "bin" / "audiozoo", "list").stdout
    for name in ("waveform", "mel", "gan", "vae_convpool", "classical", "snr"):
        assert f"  {name} " in listed, listed

    for i in range(6):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    run(env / "bin" / "audiozoo", "run", "model=vae_convpool", "preset=debug", "data=folder",
        f"data.root={tmp_path / 'music'}", "data.clip_seconds=1.0", "device=cpu", f"runs_dir={tmp_path / 'runs'}")
    (config,) = (tmp_path / "runs").glob("*/config.toml")
    settings = tomllib.loads(config.read_text())
    assert settings["run"]["epochs"] == 1, "registry.toml's shared debug preset"
    assert settings["model"]["widths"] == [16, 32], "vae_convpool's own debug preset, registered beside its code"
