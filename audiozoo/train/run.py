"""``audiozoo run``: resolve settings, prepare data, train, and leave a run directory behind.

A run directory (:mod:`audiozoo.train.rundir`) holds everything needed to understand,
reproduce and continue the run: its settings, metrics log, checkpoint, loss curves, samples and,
for autoencoders, reconstructions.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from audiozoo import api
from audiozoo.atomic import ensure_writable, remove_stale_temporaries
from audiozoo.data.prepare import PreparedData
from audiozoo.data.prepare import prepare as prepare_source
from audiozoo.errors import AudiozooError
from audiozoo.model import Batch, GenerativeModel
from audiozoo.plots import save_loss_curves
from audiozoo.representation import Representation
from audiozoo.train import distributed
from audiozoo.train.batches import ENCODE_BATCH, TrainingSet, held_out_batches
from audiozoo.train.finetune import init_settings, start_from
from audiozoo.train.lock import run_dir_lock
from audiozoo.train.outputs import write_reconstructions, write_samples
from audiozoo.train.resolve import clip_samples, read_config_overrides, resolve, train_config_of
from audiozoo.train.rundir import RunDir, checkpoint_state
from audiozoo.train.settings import TrainConfig, pick_device
from audiozoo.train.tensorboard import TensorBoard
from audiozoo.train.trained import Run, build_model
from audiozoo.train.trainer import Progress, TrainingDiverged, TrainingInterrupted, steps_per_epoch, train
from audiozoo.train.update import Updater


def build(settings: dict[str, dict[str, Any]], progress: bool = True,
          fresh: bool = True) -> tuple[Representation, GenerativeModel, TrainConfig, PreparedData]:
    """The objects a run's settings describe (settings are checked again: config.toml may be hand-edited);
    a ``fresh`` model (not about to load its own checkpoint) starts from the weights of its ``init=`` run.

    Every setting is checked before the data is prepared, so a typo never waits for decoding.
    """
    source = api.get_dataset(settings["run"]["data"], **settings["data"])
    rep, model = build_model(settings)
    if fresh and settings["run"].get("init"):
        start_from(settings, model, rep)
    return rep, model, train_config_of(settings), prepare_source(source, progress=progress)


def status(text: str) -> None:
    """A line on stderr saying what the run does now (printed above any progress bar)."""
    tqdm.write(text, file=sys.stderr)


def run(resume: str | Path | None = None, progress: bool = True, **overrides: Any) -> Run:
    """Train ``model=`` on ``repr=`` (``data=``, ``preset=``, dotted ``model.KEY=`` settings), or
    continue ``resume=RUN_DIR``. Returns the :class:`Run` once training and its outputs are done.

    ``config=FILE`` (or a run directory) starts from the settings in that file; other keys still win.
    ``init=RUN_DIR`` starts from that run's settings and weights (fine-tuning, :mod:`audiozoo.train.finetune`).
    Under ``torchrun`` every rank runs this; rank 0 alone prepares data first, writes files and
    checkpoints, and the run directory it creates is shared with the others.
    """
    if resume is not None:
        if "init" in overrides:
            raise AudiozooError("resume=RUN_DIR continues a run; init=RUN_DIR starts a new one from a run's weights: give one")
        if overrides:
            raise AudiozooError("resume=RUN_DIR continues a run with its own settings; give no other keys")
        settings = RunDir(Path(resume)).read_settings()
    else:
        if "config" in overrides:  # start from another run's settings; the other keys still win
            overrides = {**read_config_overrides(Path(str(overrides.pop("config")))), **overrides}
        # init=: start from another run's settings and weights (fine-tuning)
        settings = init_settings(overrides) if overrides.get("init") else resolve(overrides)
    train_config = train_config_of(settings)
    if resume is None:
        ensure_writable(Path(train_config.runs_dir), "the runs folder", "choose another with runs_dir=PATH")
    else:
        ensure_writable(Path(resume), "the run directory", "copy it somewhere writable and resume the copy")
    device = distributed.setup(pick_device(train_config.device))
    try:
        return _run(settings, None if resume is None else RunDir(Path(resume)), device, progress)
    finally:
        distributed.teardown()


def _create(settings: dict[str, dict[str, Any]]) -> RunDir:
    config, names = train_config_of(settings), settings["run"]
    name = config.name or f"{time.strftime('%Y%m%d-%H%M%S')}-{names['model']}-{names['repr']}"
    return RunDir.create(Path(config.runs_dir), name, settings)


def _run(settings: dict[str, dict[str, Any]], resume: RunDir | None, device: torch.device, progress: bool) -> Run:
    lead = distributed.rank() == 0
    run_dir = distributed.broadcast(_create(settings) if resume is None and lead else resume)
    with run_dir_lock(run_dir.path) if lead else nullcontext():
        if lead:
            for folder in (run_dir.path, run_dir.checkpoints):
                remove_stale_temporaries(folder)
        try:
            return _train_in(run_dir, settings, resume is not None, device, progress and lead)
        except AudiozooError:
            if resume is None and lead and not run_dir.has_checkpoint and not run_dir.metrics.exists():
                shutil.rmtree(run_dir.path, ignore_errors=True)  # a run that never started leaves no folder
            raise


def _train_in(run_dir: RunDir, settings: dict[str, dict[str, Any]], resuming: bool, device: torch.device,
              show: bool) -> Run:
    lead = distributed.rank() == 0
    say = status if show else _quiet
    names, budget = settings["run"], train_config_of(settings)
    limit = f"{budget.max_seconds:g} s budget, at most {budget.epochs} epochs" if budget.max_seconds else f"{budget.epochs} epochs"
    checkpointed = resuming and run_dir.has_checkpoint
    origin = f" from the weights of {budget.init}" if budget.init and not checkpointed else ""
    say(f"{'continuing' if resuming else 'fine-tuning' if budget.init else 'training'} {names['model']} on "
        f"{names['repr']} of {names['data']}{origin} "
        f"({limit}, batch {budget.batch_size}, {device.type}); run directory: {run_dir.path}")
    if not lead:
        distributed.barrier()  # rank 0 prepares (and caches) the data first
    rep, model, train_config, data = build(settings, show, fresh=not checkpointed)
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
    if resuming and not checkpointed:
        say(f"no checkpoint yet in {run_dir.path}: starting from the first step")
    if checkpointed:
        state.load_state_dict(run_dir.load_checkpoint())
        say(f"from the checkpoint of step {progress.step} ({progress.seconds:.0f} s trained)")
    elif train_config.init and train_config.init_stats == "keep":
        say(f"keeping the {names['repr']} statistics of {train_config.init}")
    else:
        say(f"fitting {names['repr']} statistics on {len(train_idx)} training clips")
        rep.fit(torch.from_numpy(block) for block in data.select(train_idx).blocks(ENCODE_BATCH))
    if lead and resuming:
        run_dir.truncate_metrics(progress.step)
    crop = clip_samples(settings) if train_config.crop_seconds else 0
    say(f"encoding {len(train_idx)} training clips" + (" per step, in random crops" if crop else ""))
    training = TrainingSet(rep, data.select(train_idx), device, crop, train_config.seed, train_config.batch_size)
    held_out = held_out_batches(rep, data.select(test_idx), device, train_config.batch_size, crop)
    saved = progress.step if checkpointed else None

    def save(at: Progress) -> None:
        nonlocal saved
        if lead:
            run_dir.save_checkpoint(state.state_dict())
        saved = at.step

    with open(run_dir.metrics if lead else os.devnull, "a") as metrics, \
            TensorBoard(run_dir.tensorboard if lead else None, purge_step=progress.step + 1) as board:
        def log(record: dict[str, Any]) -> None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            board.scalars(record["step"], {k: v for k, v in record.items() if k not in ("step", "epoch", "seconds")})

        def validate(at: Progress) -> None:
            losses = validation_losses(updater, held_out, train_config.seed)
            if losses:
                log({"step": at.step, "epoch": at.epoch, **{f"valid_{k}": v for k, v in losses.items()}})
            at.validated = at.step

        try:
            train(updater, training, train_config, progress, log, save, validate, show_progress=show)
        except TrainingInterrupted:
            raise TrainingInterrupted(run_dir.path) from None
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{err}; {_kept(run_dir, saved)}") from None
        if train_config.valid_every and progress.validated != progress.step:
            validate(progress)  # at the end, once (a resumed finished run has validated already)
        save(progress)
        if updater.ema is not None:
            updater.ema.copy_to(model)  # from here on the run samples and evaluates with the averaged weights
        result = Run(run_dir.path, settings, model, rep, progress)
        if lead:
            say("writing samples" + (" and reconstructions" if model.can_reconstruct else ""))
            result.files = write_outputs(result, data, test_idx, board)
    return result


def _quiet(text: str) -> None:
    """``status`` when progress is off."""


def _kept(run_dir: RunDir, step: int | None) -> str:
    """What a diverged run keeps, and how to go on."""
    edit = (f"change what diverged in {run_dir.config} (model.lr, say) and continue with "
            f"audiozoo run resume={run_dir.path}")
    if step is None:
        return f"no step finished before it, so there is no checkpoint; {edit} (it starts again)"
    return f"the checkpoint of step {step} is kept; {edit}"


@torch.no_grad()
def validation_losses(updater: Updater, held_out: Iterable[Batch], seed: int) -> dict[str, float]:
    """The model's ``evaluation_losses`` over the held-out batches (EMA weights when kept), averaged per clip.

    Its noise is drawn from ``seed`` on a side generator, so validating never changes the training curve.
    """
    model, totals, clips = updater.model, {}, 0
    device = next(model.parameters()).device
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), updater.averaged(), updater.autocast():
        torch.manual_seed(seed)
        model.eval()
        try:
            for batch in held_out:  # one pass: a large split's batches are read and encoded as they come
                clips += len(batch)
                for key, value in model.evaluation_losses(batch).items():
                    totals[key] = totals.get(key, 0.0) + float(value) * len(batch)
        finally:
            model.train()
    return distributed.mean_across_ranks({k: v / clips for k, v in totals.items()})


def write_outputs(run: Run, data: PreparedData, test_idx: np.ndarray, board: TensorBoard) -> dict[str, list[Path]]:
    """Loss curves, samples and (autoencoders) reconstructions of test clips, in the run directory;
    both on ``board`` too (only here, at the end: sampling at every checkpoint costs seconds on a CPU)."""
    config, run_dir = train_config_of(run.settings), run.dir
    test = data.select(test_idx[: max(1, config.reconstructions)]).read()
    if run.metrics:
        save_loss_curves(run_dir.losses, run.metrics)
    real = test[0] if len(test) else None
    write_samples(run_dir.samples, run, config.samples, config.seed, real=real, board=board)
    if run.model.can_reconstruct and len(test) and config.reconstructions:
        write_reconstructions(run_dir.reconstructions, run, test[: config.reconstructions, : run.segment_samples], board)
    return run_dir.files()
