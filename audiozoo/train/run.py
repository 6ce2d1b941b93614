"""``audiozoo run``: resolve settings, prepare data, train, and leave a run directory behind.

A run directory holds everything needed to understand, reproduce and continue it:
``config.toml`` (every setting, resolved), ``metrics.jsonl``, ``checkpoints/latest.pt``,
``losses.png``, ``samples/`` and, for autoencoders, ``reconstructions/``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import time
import tomllib
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tqdm import tqdm

from audiozoo import api
from audiozoo.atomic import atomic_file, ensure_writable, remove_stale_temporaries
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
from audiozoo.model import Batch
from audiozoo.train.batches import ENCODE_BATCH, TrainingSet, encode_all, held_out_batches
from audiozoo.train.checkpoint import (Checkpointed, Constant, Named, RandomState, has_checkpoint, load_checkpoint,
                                       save_checkpoint)
from audiozoo.train.ema import EMA
from audiozoo.train.lock import run_dir_lock
from audiozoo.train.outputs import read_metrics, write_reconstructions, write_samples
from audiozoo.train.settings import TrainConfig, pick_device
from audiozoo.train.tomlfile import write_toml
from audiozoo.train.trainer import Progress, TrainingDiverged, TrainingInterrupted, steps_per_epoch, train
from audiozoo.train.update import Updater

CONFIG, METRICS, CHECKPOINTS = "config.toml", "metrics.jsonl", "checkpoints"
PLUGIN_KEYS = ("model", "repr", "data")


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
    """The resolved settings of the run in ``run_dir``, checked for shape (the file may be hand-edited)."""
    if not (run_dir / CONFIG).is_file():
        raise AudiozooError(f"not a run directory (no {CONFIG}): {run_dir}")
    return read_config(run_dir / CONFIG)


def read_config(path: Path) -> dict[str, dict[str, Any]]:
    """The tables of a ``config.toml`` (a run's, or a shared file written like one); a missing table is an error."""
    try:
        settings = tomllib.loads(path.read_text())
    except OSError as err:
        raise AudiozooError(f"cannot read {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise AudiozooError(f"cannot read {path}: {err}") from None
    for table in ("run", *PLUGIN_KEYS):
        if not isinstance(settings.get(table), dict):
            raise AudiozooError(f"{path} has no [{table}] table (a run's settings are [run], [model], [repr], [data])")
    for key in PLUGIN_KEYS:
        if not isinstance(settings["run"].get(key), str):
            raise AudiozooError(f"{path}: [run] must name the {key} ({key} = \"NAME\")")
    return settings


def settings_as_overrides(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The tables of config.toml back into ``key=value`` overrides (to start a run like another).

    ``runs_dir`` is left out: a shared file says what to train, not where this user's files go.
    """
    flat = {k: v for k, v in settings["run"].items() if k != "runs_dir"}
    for table in PLUGIN_KEYS:
        flat.update({f"{table}.{k}": v for k, v in settings[table].items()})
    return flat


def train_config_of(settings: dict[str, dict[str, Any]]) -> TrainConfig:
    """The run's own settings (the ``[run]`` table less the plugin names), checked again."""
    return build_config(TrainConfig, {k: v for k, v in settings["run"].items() if k not in PLUGIN_KEYS}, "")


def build(settings: dict[str, dict[str, Any]], progress: bool = True) -> tuple[Representation, GenerativeModel, TrainConfig, PreparedData]:
    """The objects a run's settings describe (settings are checked again: config.toml may be hand-edited).

    Every setting is checked before the data is prepared, so a typo never waits for decoding.
    """
    names = settings["run"]
    train_config = train_config_of(settings)
    source = api.get_dataset(names["data"], **settings["data"])
    rep = api.get_representation(names["repr"], **settings["repr"])
    shape = rep.shape(source.config.segment_samples)
    torch.manual_seed(train_config.seed)
    model = api.get_model(names["model"], shape, **settings["model"])
    data = prepare_source(source, progress=progress)
    return rep, model, train_config, data


def create_run_dir(settings: dict[str, dict[str, Any]]) -> Path:
    """A new run directory under ``runs_dir`` holding ``config.toml`` (``NAME-2``, … when taken)."""
    config, names = train_config_of(settings), settings["run"]
    base = Path(config.runs_dir)
    name = config.name or f"{time.strftime('%Y%m%d-%H%M%S')}-{names['model']}-{names['repr']}"
    for n in itertools.count(1):
        path = base / (name if n == 1 else f"{name}-{n}")
        try:
            path.mkdir(parents=True)
            break
        except FileExistsError:
            continue
    write_toml(path / CONFIG, settings, header=f"audiozoo run; reproduce with: audiozoo run config={path / CONFIG}")
    return path


def status(text: str) -> None:
    """A line on stderr saying what the run does now (printed above any progress bar)."""
    tqdm.write(text, file=sys.stderr)


def run(resume: str | Path | None = None, progress: bool = True, **overrides: Any) -> Run:
    """Train ``model=`` on ``repr=`` (``data=``, ``preset=``, dotted ``model.KEY=`` settings), or
    continue ``resume=RUN_DIR``. Returns the :class:`Run` once training and its outputs are done.

    ``config=FILE`` (or a run directory) starts from the settings in that file; other keys still win.
    Under ``torchrun`` every rank runs this; rank 0 alone prepares data first, writes files and
    checkpoints, and the run directory it creates is shared with the others.
    """
    if resume is not None:
        if overrides:
            raise AudiozooError("resume=RUN_DIR continues a run with its own settings; give no other keys")
        settings = read_settings(Path(resume))
    else:
        if "config" in overrides:  # start from another run's settings; the other keys still win
            source = Path(str(overrides.pop("config")))
            overrides = {**settings_as_overrides(read_config(source / CONFIG if source.is_dir() else source)),
                         **overrides}
        settings = resolve(overrides)
    train_config = train_config_of(settings)
    if resume is None:
        ensure_writable(Path(train_config.runs_dir), "the runs folder", "choose another with runs_dir=PATH")
    else:
        ensure_writable(Path(resume), "the run directory", "copy it somewhere writable and resume the copy")
    device = distributed.setup(pick_device(train_config.device))
    try:
        return _run(settings, None if resume is None else Path(resume), device, progress)
    finally:
        distributed.teardown()


def _run(settings: dict[str, dict[str, Any]], resume: Path | None, device: torch.device, progress: bool) -> Run:
    lead = distributed.rank() == 0
    path = distributed.broadcast(create_run_dir(settings) if resume is None and lead else resume)
    with run_dir_lock(path) if lead else nullcontext():
        if lead:
            for folder in (path, path / CHECKPOINTS):
                remove_stale_temporaries(folder)
        try:
            return _train_in(path, settings, resume is not None, device, progress and lead)
        except AudiozooError:
            if resume is None and lead and not has_checkpoint(path / CHECKPOINTS) and not (path / METRICS).exists():
                shutil.rmtree(path, ignore_errors=True)  # a run that never started leaves no folder
            raise


def _train_in(path: Path, settings: dict[str, dict[str, Any]], resuming: bool, device: torch.device,
              show: bool) -> Run:
    lead = distributed.rank() == 0
    say = status if show else _quiet
    names, budget = settings["run"], train_config_of(settings)
    limit = f"{budget.max_seconds:g} s budget, at most {budget.epochs} epochs" if budget.max_seconds else f"{budget.epochs} epochs"
    say(f"{'continuing' if resuming else 'training'} {names['model']} on {names['repr']} of {names['data']} "
        f"({limit}, batch {budget.batch_size}, {device.type}); run directory: {path}")
    if not lead:
        distributed.barrier()  # rank 0 prepares (and caches) the data first
    rep, model, train_config, data = build(settings, show)
    if lead:
        distributed.barrier()
    train_idx, test_idx = data.split_indices()
    if len(train_idx) == 0:
        raise AudiozooError("the training split is empty: use more files or a smaller data.test_fraction")
    rep.to(device)
    model.to(device)
    progress = Progress()
    updater = Updater(model, train_config, train_config.epochs * steps_per_epoch(len(train_idx), train_config))
    state = checkpoint_state(model, rep, progress, updater.ema, updater, settings)
    checkpointed = resuming and has_checkpoint(path / CHECKPOINTS)
    if resuming and not checkpointed:
        say(f"no checkpoint yet in {path}: starting from the first step")
    if checkpointed:
        state.load_state_dict(load_checkpoint(path / CHECKPOINTS))
        say(f"from the checkpoint of step {progress.step} ({progress.seconds:.0f} s trained)")
    else:
        say(f"fitting {names['repr']} statistics on {len(train_idx)} training clips")
        rep.fit(torch.as_tensor(np.asarray(data.segments[train_idx[i : i + ENCODE_BATCH]]))
                for i in range(0, len(train_idx), ENCODE_BATCH))
    if lead and resuming:
        _truncate_metrics(path / METRICS, progress.step)
    say(f"encoding {len(train_idx)} training clips")
    training = TrainingSet(rep, data.segments[train_idx], device)
    held_out = held_out_batches(rep, data.segments[test_idx], device, train_config.batch_size)
    saved = progress.step if checkpointed else None

    def save(at: Progress) -> None:
        nonlocal saved
        if lead:
            save_checkpoint(path / CHECKPOINTS, state.state_dict())
        saved = at.step

    with open(path / METRICS if lead else os.devnull, "a") as metrics:
        def log(record: dict[str, Any]) -> None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()

        def validate(at: Progress) -> None:
            losses = validation_losses(updater, held_out, train_config.seed)
            if losses:
                log({"step": at.step, "epoch": at.epoch, **{f"valid_{k}": v for k, v in losses.items()}})
            at.validated = at.step

        try:
            train(updater, training, train_config, progress, log, save, validate, show_progress=show)
        except TrainingInterrupted:
            raise TrainingInterrupted(path) from None
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{err}; {_kept(path, saved)}") from None
        if train_config.valid_every and progress.validated != progress.step:
            validate(progress)  # at the end, once (a resumed finished run has validated already)
    save(progress)
    if updater.ema is not None:
        updater.ema.copy_to(model)  # from here on the run samples and evaluates with the averaged weights
    result = Run(path, settings, model, rep, progress)
    if lead:
        say("writing samples" + (" and reconstructions" if model.can_reconstruct else ""))
        result.files = write_outputs(result, data, test_idx)
    return result


def _quiet(text: str) -> None:
    """``status`` when progress is off."""


def _kept(path: Path, step: int | None) -> str:
    """What a diverged run keeps, and how to go on."""
    edit = f"change what diverged in {path / CONFIG} (model.lr, say) and continue with audiozoo run resume={path}"
    if step is None:
        return f"no step finished before it, so there is no checkpoint; {edit} (it starts again)"
    return f"the checkpoint of step {step} is kept; {edit}"


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
    config, progress = train_config_of(settings), Progress()
    ema = EMA(model, config.ema) if config.ema else None
    checkpoint_state(model, rep, progress, ema).load_state_dict(load_checkpoint(path / CHECKPOINTS))
    if ema is not None:
        ema.copy_to(model)  # what sample, reconstruct, generate and the bench use
    target = pick_device(device)
    return Run(path, settings, model.to(target), rep.to(target), progress)


def checkpoint_state(model: GenerativeModel, rep: Representation, progress: Progress, ema: EMA | None,
                     updater: Updater | None = None, settings: dict[str, Any] | None = None) -> Checkpointed:
    """What a checkpoint holds, declared once: enough to continue exactly (``updater`` given), or to sample."""
    training = {} if updater is None else {
        "optimizers": Named(updater.optimizers), "schedulers": Named(updater.schedulers),
        "scaler": updater.scaler, "rng": RandomState(), "settings": Constant(json.dumps(settings))}
    return Checkpointed(model=model, representation=rep, ema=ema, progress=progress, **training)


@torch.no_grad()
def validation_losses(updater: Updater, held_out: list[Batch], seed: int) -> dict[str, float]:
    """The model's ``evaluation_losses`` over the held-out batches (EMA weights when kept), averaged per clip.

    Its noise is drawn from ``seed`` on a side generator, so validating never changes the training curve.
    """
    model, totals = updater.model, {}
    device = next(model.parameters()).device
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), updater.averaged(), updater.autocast():
        torch.manual_seed(seed)
        model.eval()
        try:
            for batch in held_out:
                for key, value in model.evaluation_losses(batch).items():
                    totals[key] = totals.get(key, 0.0) + float(value) * len(batch)
        finally:
            model.train()
    clips = sum(len(b) for b in held_out)
    return distributed.mean_across_ranks({k: v / clips for k, v in totals.items()})


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint (and a line torn by a kill), so a resumed run's curve has no steps twice."""
    kept = [r for r in read_metrics(path) if r["step"] <= step]
    with atomic_file(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
