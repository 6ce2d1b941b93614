"""``audiozoo run``: resolve settings, prepare data, train, and leave a run directory behind.

A run directory holds everything needed to understand, reproduce and continue it:
``config.toml`` (every setting, resolved), ``metrics.jsonl``, ``checkpoints/latest.pt``,
``losses.png``, ``samples/`` and, for autoencoders, ``reconstructions/``.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiozoo import api
from audiozoo.config import build_config, setting_names
from audiozoo.data.prepare import PreparedData
from audiozoo.data.prepare import prepare as prepare_source
from audiozoo.errors import AudiozooError
from audiozoo.model import GenerativeModel
from audiozoo.overrides import apply_preset, split_namespaces
from audiozoo.plots import save_loss_curves
from audiozoo.plugins import host
from audiozoo.representation import Representation
from audiozoo.train import distributed
from audiozoo.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from audiozoo.train.outputs import read_metrics, write_reconstructions, write_samples
from audiozoo.train.settings import TrainConfig, pick_device
from audiozoo.train.tomlfile import write_toml
from audiozoo.train.trainer import Progress, train

CONFIG, METRICS, CHECKPOINTS = "config.toml", "metrics.jsonl", "checkpoints"
PLUGIN_KEYS = ("model", "repr", "data")
ENCODE_BATCH = 32


@dataclass
class Run:
    """A run directory and what was built from it: the API's handle on a trained model."""

    path: Path
    settings: dict[str, dict[str, Any]]
    model: GenerativeModel
    representation: Representation
    progress: Progress
    files: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path / METRICS)

    @property
    def segment_samples(self) -> int:
        return api.get_dataset(self.settings["run"]["data"], **self.settings["data"]).config.segment_samples

    @torch.inference_mode()
    def sample(self, n: int = 8, seed: int = 0) -> torch.Tensor:
        """``n`` new clips ``[n, T]`` at the run's sample rate."""
        device = next(self.model.parameters()).device
        self.model.eval()
        x = self.model.sample(n, torch.Generator(device=device).manual_seed(seed))
        return self.representation.decode(x, length=self.segment_samples).cpu()

    @torch.inference_mode()
    def reconstruct(self, wave: torch.Tensor) -> torch.Tensor:
        """Clips ``[B, T]`` through the autoencoder and back."""
        if not self.model.can_reconstruct:
            raise AudiozooError(f"model {self.model.name!r} is not an autoencoder: it cannot reconstruct audio")
        self.model.eval()
        x = self.representation.encode(wave.to(torch.float32))
        return self.representation.decode(self.model.reconstruct(x), length=wave.shape[1]).cpu()


def resolve(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``key=value`` overrides → every setting of the run, resolved, as the tables of config.toml."""
    train_keys = setting_names(TrainConfig)
    groups = split_namespaces(apply_preset(overrides, host().presets, default="default"),
                              (*PLUGIN_KEYS, *train_keys))
    names = {key: groups.get(key, {}).pop("", None) for key in PLUGIN_KEYS}
    if names["model"] is None:
        raise AudiozooError(f"which model? add model=NAME; choose from: {', '.join(api.list_models())}")
    names["repr"] = names["repr"] or host().defaults["repr"]
    names["data"] = names["data"] or host().defaults["data"]
    data = api.get_dataset(names["data"], **groups.get("data", {})).config
    repr_settings = groups.get("repr", {})
    if repr_settings.get("sample_rate", data.sample_rate) != data.sample_rate:
        raise AudiozooError("set the sample rate with data.sample_rate, not repr.sample_rate")
    rep = api.get_representation(names["repr"], **{**repr_settings, "sample_rate": data.sample_rate})
    model_cls = host().registry("models").get(names["model"])
    model_config = build_config(model_cls.Config, groups.get("model", {}), "model")
    train_config = build_config(TrainConfig, {k: groups[k][""] for k in train_keys if k in groups}, "")
    return {"run": {**names, **asdict(train_config)}, "model": asdict(model_config),
            "repr": asdict(rep.config), "data": asdict(data)}


def read_settings(run_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        return tomllib.loads((run_dir / CONFIG).read_text())
    except FileNotFoundError:
        raise AudiozooError(f"not a run directory (no {CONFIG}): {run_dir}") from None
    except tomllib.TOMLDecodeError as err:
        raise AudiozooError(f"cannot read {run_dir / CONFIG}: {err}") from None


def settings_as_overrides(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tables of config.toml back into ``key=value`` overrides (to start a run like another)."""
    flat = dict(settings["run"])
    for table in PLUGIN_KEYS:
        flat.update({f"{table}.{k}": v for k, v in settings[table].items()})
    return flat


def train_config_of(settings: dict[str, dict[str, Any]]) -> TrainConfig:
    """The run's own settings (the ``[run]`` table less the plugin names), checked again."""
    return build_config(TrainConfig, {k: v for k, v in settings["run"].items() if k not in PLUGIN_KEYS}, "")


def build(settings: dict[str, dict[str, Any]], progress: bool = True) -> tuple[Representation, GenerativeModel, TrainConfig, PreparedData]:
    """The objects a run's settings describe (settings are checked again: config.toml may be hand-edited)."""
    names = settings["run"]
    train_config = train_config_of(settings)
    source = api.get_dataset(names["data"], **settings["data"])
    rep = api.get_representation(names["repr"], **settings["repr"])
    data = prepare_source(source, progress=progress)
    shape = rep.shape(source.config.segment_samples)
    torch.manual_seed(train_config.seed)
    model = api.get_model(names["model"], shape, **settings["model"])
    return rep, model, train_config, data


def encode_all(rep: Representation, clips: np.ndarray, device: torch.device) -> torch.Tensor:
    """Every clip encoded, in batches, as one tensor on ``device``: the training set lives there."""
    out = [rep.encode(torch.as_tensor(np.asarray(clips[i : i + ENCODE_BATCH])).to(device))
           for i in range(0, len(clips), ENCODE_BATCH)]
    return torch.cat(out)


def new_run_dir(train_config: TrainConfig, names: dict[str, Any]) -> Path:
    base = Path(train_config.runs_dir)
    name = train_config.name or f"{time.strftime('%Y%m%d-%H%M%S')}-{names['model']}-{names['repr']}"
    path, n = base / name, 1
    while path.exists():
        n += 1
        path = base / f"{name}-{n}"
    return path


def run(resume: str | Path | None = None, progress: bool = True, **overrides: Any) -> Run:
    """Train ``model=`` on ``repr=`` (``data=``, ``preset=``, dotted ``model.KEY=`` settings), or
    continue ``resume=RUN_DIR``. Returns the :class:`Run` once training and its outputs are done.

    Under ``torchrun`` every rank runs this; rank 0 alone prepares data first, writes files and
    checkpoints, and the run directory it creates is shared with the others.
    """
    if resume is not None:
        if overrides:
            raise AudiozooError("resume=RUN_DIR continues a run with its own settings; give no other keys")
        settings = read_settings(Path(resume))
    else:
        if "config" in overrides:  # start from another run's settings; the other keys still win
            overrides = {**settings_as_overrides(read_settings(Path(overrides.pop("config")).parent)), **overrides}
        settings = resolve(overrides)
    device = distributed.setup(pick_device(settings["run"]["device"]))
    try:
        return _run(settings, None if resume is None else Path(resume), device, progress)
    finally:
        distributed.teardown()


def _run(settings: dict[str, dict[str, Any]], resume: Path | None, device: torch.device, progress: bool) -> Run:
    lead = distributed.rank() == 0
    if not lead:
        distributed.barrier()  # rank 0 prepares (and caches) the data first
    rep, model, train_config, data = build(settings, progress and lead)
    if lead:
        distributed.barrier()
    if resume is not None:
        path = resume
    elif lead:
        path = new_run_dir(train_config, settings["run"])
        path.mkdir(parents=True)
        write_toml(path / CONFIG, settings, header=f"audiozoo run; reproduce with: audiozoo run config={path / CONFIG}")
    path = distributed.broadcast(path if lead or resume is not None else None)
    train_idx, test_idx = data.split_indices()
    if len(train_idx) == 0:
        raise AudiozooError("the training split is empty: use more files or a smaller data.test_fraction")
    rep.to(device)
    model.to(device)
    optimizers = model.configure_optimizers()
    state = Progress()
    if resume is not None:
        checkpoint = load_checkpoint(path / CHECKPOINTS)
        rep.load_state_dict(checkpoint["representation"])
        model.load_state_dict(checkpoint["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(checkpoint["optimizers"][name])
        state = Progress(**checkpoint["progress"])
        set_rng_state(checkpoint["rng"])
        if lead:
            _truncate_metrics(path / METRICS, state.step)
    else:
        rep.fit(torch.as_tensor(np.asarray(data.segments[train_idx[i : i + ENCODE_BATCH]]))
                for i in range(0, len(train_idx), ENCODE_BATCH))
    x_train = encode_all(rep, data.segments[train_idx], device)

    def save(at: Progress) -> None:
        if lead:
            save_checkpoint(path / CHECKPOINTS, {
                "model": model.state_dict(), "representation": rep.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "progress": at.as_dict(), "rng": rng_state(), "settings": json.dumps(settings)})

    with open(path / METRICS if lead else os.devnull, "a") as metrics:
        def log(record: dict[str, Any]) -> None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()

        state = train(model, optimizers, x_train, train_config, state, log, save, show_progress=progress)
    save(state)
    result = Run(path, settings, model, rep, state)
    if lead:
        result.files = write_outputs(result, data, test_idx)
    return result


def write_outputs(run: Run, data: PreparedData, test_idx: np.ndarray) -> dict[str, list[Path]]:
    """Loss curves, samples and (autoencoders) reconstructions of test clips, in the run directory."""
    config = train_config_of(run.settings)
    test = np.asarray(data.segments[test_idx])
    files = {"config": [run.path / CONFIG], "metrics": [run.path / METRICS],
             "checkpoint": [run.path / CHECKPOINTS / "latest.pt"]}
    if run.metrics:
        save_loss_curves(run.path / "losses.png", run.metrics)
        files["loss curves"] = [run.path / "losses.png"]
    real = test[0] if len(test) else None
    files["samples"] = write_samples(run.path / "samples", run.model, run.representation, config.samples,
                                     config.seed, data.config.segment_samples, real)
    if run.model.can_reconstruct and len(test) and config.reconstructions:
        files["reconstructions"] = write_reconstructions(run.path / "reconstructions", run.model,
                                                         run.representation, test[: config.reconstructions])
    return files


def load_run(path: str | Path, device: str = "auto") -> Run:
    """A trained run, ready to ``sample(n)`` and (autoencoders) ``reconstruct(wave)``."""
    path = Path(path)
    settings = read_settings(path)
    names = settings["run"]
    rep = api.get_representation(names["repr"], **settings["repr"])
    segment = api.get_dataset(names["data"], **settings["data"]).config.segment_samples
    model = api.get_model(names["model"], rep.shape(segment), **settings["model"])
    checkpoint = load_checkpoint(path / CHECKPOINTS)
    rep.load_state_dict(checkpoint["representation"])
    model.load_state_dict(checkpoint["model"])
    target = pick_device(device)
    return Run(path, settings, model.to(target), rep.to(target), Progress(**checkpoint["progress"]))


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint, so a resumed run's curve has no steps twice."""
    kept = [r for r in read_metrics(path) if r["step"] <= step]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
