"""``audiozoo run``: resolve settings, prepare data, train, and leave a run directory behind.

A run directory (:mod:`audiozoo.runs.rundir`) holds everything needed to understand,
reproduce and continue the run: its settings, metrics log, checkpoint, loss curves, samples and,
for autoencoders, reconstructions. Training reads as its stages: build the objects the settings
describe, restore a checkpoint (or fit the representation's statistics), train, write the outputs.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from audiozoo.atomic import ensure_writable, remove_stale_temporaries
from audiozoo.data.prepare import PreparedData
from audiozoo.errors import AudiozooError
from audiozoo.model import Batch, GenerativeModel
from audiozoo.plots import save_loss_curves
from audiozoo.representation import Representation
from audiozoo.resolve import resolve
from audiozoo.runs.checkpoint import Checkpointed, Constant, RandomState
from audiozoo.runs.outputs import write_reconstructions, write_samples
from audiozoo.runs.progress import Progress
from audiozoo.runs.rundir import RunDir, checkpoint_state, figures, losses, read_config_overrides
from audiozoo.runs.trained import Run, build_model, prepare_data
from audiozoo.settings import RunSettings, pick_device
from audiozoo.train import distributed
from audiozoo.train.batches import ENCODE_BATCH, TrainingSet, held_out_batches
from audiozoo.train.finetune import init_settings, start_from
from audiozoo.train.lock import run_dir_lock
from audiozoo.train.tensorboard import TensorBoard
from audiozoo.train.trainer import TrainingDiverged, TrainingInterrupted, steps_per_epoch, train
from audiozoo.train.update import Updater


def build(settings: RunSettings, progress: bool = True, fresh: bool = True,
          data: PreparedData | None = None) -> tuple[Representation, GenerativeModel, PreparedData]:
    """The objects a run's settings describe, and its data prepared (unless given); a ``fresh`` model
    (not about to load its own checkpoint) starts from the weights of its ``init=`` run."""
    rep, model = build_model(settings)
    if fresh and settings.run.init:
        start_from(settings, model, rep)
    return rep, model, data if data is not None else prepare_data(settings, progress)


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
    if resume is None:
        ensure_writable(Path(settings.run.runs_dir), "the runs folder", "choose another with runs_dir=PATH")
    else:
        ensure_writable(Path(resume), "the run directory", "copy it somewhere writable and resume the copy")
    device = distributed.setup(pick_device(settings.run.device))
    try:
        return _run(settings, None if resume is None else RunDir(Path(resume)), device, progress)
    finally:
        distributed.teardown()


def _create(settings: RunSettings) -> RunDir:
    name = settings.run.name or f"{time.strftime('%Y%m%d-%H%M%S')}-{settings.model_name}-{settings.repr_name}"
    return RunDir.create(Path(settings.run.runs_dir), name, settings)


def _run(settings: RunSettings, resume: RunDir | None, device: torch.device, progress: bool) -> Run:
    lead = distributed.rank() == 0
    # rank 0 prepares (and caches) the data before a run directory is made or announced: a data set with
    # no usable audio stops here, in one line; the broadcast then holds the other ranks until it is cached
    data = prepare_data(settings, progress) if lead else None
    run_dir = distributed.broadcast(_create(settings) if resume is None and lead else resume)
    with run_dir_lock(run_dir.path) if lead else nullcontext():
        if lead:
            for folder in (run_dir.path, run_dir.checkpoints):
                remove_stale_temporaries(folder)
        try:
            return _train_in(run_dir, settings, data, resume is not None, device, progress and lead)
        except AudiozooError:
            if resume is None and lead and not run_dir.has_checkpoint and not run_dir.metrics.exists():
                shutil.rmtree(run_dir.path, ignore_errors=True)  # a run that never started leaves no folder
            raise


@dataclass
class Session:
    """One session of training in a run directory: what the stages build and hand on."""

    run_dir: RunDir
    settings: RunSettings
    say: Callable[[str], None]
    lead: bool
    resuming: bool  # a session of a run that has had one before
    checkpointed: bool  # resuming from a checkpoint of this run
    rep: Representation
    model: GenerativeModel
    data: PreparedData
    train_idx: np.ndarray
    test_idx: np.ndarray
    progress: Progress
    updater: Updater
    state: Checkpointed
    saved: int | None = None  # the step of the last checkpoint written (None: none yet)

    def save(self, at: Progress) -> None:
        if self.lead:
            self.run_dir.save_checkpoint(self.state.state_dict())
        self.saved = at.step


def _train_in(run_dir: RunDir, settings: RunSettings, data: PreparedData | None, resuming: bool,
              device: torch.device, show: bool) -> Run:
    session = _build(run_dir, settings, data, resuming, device, show)
    _restore(session)
    with run_dir.metrics_log(session.lead) as metrics, \
            TensorBoard(run_dir.tensorboard if session.lead else None, purge_step=session.progress.step + 1) as board:
        _train(session, device, show, metrics.write, board)
        return _finish(session, board)


def _build(run_dir: RunDir, settings: RunSettings, data: PreparedData | None, resuming: bool,
           device: torch.device, show: bool) -> Session:
    """Stage 1: the representation, model, data (rank 0's already prepared) and updater the settings
    describe, on ``device``."""
    lead, say = distributed.rank() == 0, status if show else _quiet
    budget = settings.run
    limit = f"{budget.max_seconds:g} s budget, at most {budget.epochs} epochs" if budget.max_seconds else f"{budget.epochs} epochs"
    checkpointed = resuming and run_dir.has_checkpoint
    origin = f" from the weights of {budget.init}" if budget.init and not checkpointed else ""
    say(f"{'continuing' if resuming else 'fine-tuning' if budget.init else 'training'} {settings.model_name} on "
        f"{settings.repr_name} of {settings.data_name}{origin} "
        f"({limit}, batch {budget.batch_size}, {device.type}); run directory: {run_dir.path}")
    rep, model, data = build(settings, show, fresh=not checkpointed, data=data)
    train_idx, test_idx = data.split_indices()
    if len(train_idx) == 0:
        raise AudiozooError("the training split is empty: use more files or a smaller data.test_fraction")
    if resuming and not checkpointed:
        say(f"no checkpoint yet in {run_dir.path}: starting from the first step")
    rep.to(device)
    model.to(device)
    progress = Progress()
    updater = Updater(model, budget, budget.epochs * steps_per_epoch(len(train_idx), budget))
    state = checkpoint_state(model, rep, progress, updater.ema, **updater.state_entries(), rng=RandomState(),
                             settings=Constant(json.dumps(settings.tables())))
    return Session(run_dir, settings, say, lead, resuming, checkpointed, rep, model, data, train_idx, test_idx,
                   progress, updater, state)


def _restore(session: Session) -> None:
    """Stage 2: the checkpoint's state where resuming, else the representation's statistics (fitted
    on the training split, or kept from the ``init=`` run)."""
    settings, say, progress = session.settings, session.say, session.progress
    if session.checkpointed:
        session.state.load_state_dict(session.run_dir.load_checkpoint())
        session.saved = progress.step
        say(f"from the checkpoint of step {progress.step} ({progress.seconds:.0f} s trained)")
    elif settings.run.init and settings.run.init_stats == "keep":
        say(f"keeping the {settings.repr_name} statistics of {settings.run.init}")
    else:
        train_idx = session.train_idx
        say(f"fitting {settings.repr_name} statistics on {len(train_idx)} training clips")
        session.rep.fit(torch.from_numpy(block) for block in session.data.select(train_idx).blocks(ENCODE_BATCH))
    if session.lead and session.resuming:
        session.run_dir.truncate_metrics(progress.step)


def _train(session: Session, device: torch.device, show: bool, log_line: Callable[[dict[str, Any]], None],
           board: TensorBoard) -> None:
    """Stage 3: the loop, with validation and checkpoints, until the budget or the epochs are spent."""
    settings, config, progress = session.settings, session.settings.run, session.progress
    crop = settings.clip_samples if config.crop_seconds else 0
    data = session.data
    session.say(f"encoding {len(session.train_idx)} training clips" + (" per step, in random crops" if crop else ""))
    training = TrainingSet(session.rep, data.select(session.train_idx), device, crop, config.seed, config.batch_size)
    held_out = held_out_batches(session.rep, data.select(session.test_idx), device, config.batch_size, crop)

    def log(record: dict[str, Any]) -> None:
        log_line(record)
        board.scalars(record["step"], figures(record))

    def validate(at: Progress) -> None:
        losses = validation_losses(session.updater, held_out, config.seed)
        if losses:
            log({"step": at.step, "epoch": at.epoch, **{f"valid_{k}": v for k, v in losses.items()}})
        at.validated = at.step

    try:
        train(session.updater, training, config, progress, log, session.save, validate, show_progress=show)
    except TrainingInterrupted:
        raise TrainingInterrupted(session.run_dir.path) from None
    except TrainingDiverged as err:
        raise TrainingDiverged(f"{err}; {_kept(session.run_dir, session.saved)}") from None
    if config.valid_every and progress.validated != progress.step:
        validate(progress)  # at the end, once (a resumed finished run has validated already)
    session.save(progress)


def _finish(session: Session, board: TensorBoard) -> Run:
    """Stage 4: the averaged weights in the model, then (rank 0) samples, reconstructions and loss curves."""
    if session.updater.ema is not None:
        session.updater.ema.copy_to(session.model)  # from here on the run samples and evaluates with the averaged weights
    result = Run(session.run_dir.path, session.settings, session.model, session.rep, session.progress)
    if session.lead:
        session.say("writing samples" + (" and reconstructions" if session.model.can_reconstruct else ""))
        result.files = write_outputs(result, session.data, session.test_idx, board)
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
    """Loss curves, samples (as long as the data's clips) and (autoencoders) reconstructions of test
    clips, in the run directory; both on ``board`` too (only here, at the end: sampling at every
    checkpoint costs seconds on a CPU)."""
    config, run_dir = run.settings.run, run.dir
    test = data.select(test_idx[: max(1, config.reconstructions)]).read()
    if run.metrics:
        save_loss_curves(run_dir.losses, [(record["step"], losses(record)) for record in run.metrics])
    real = test[0] if len(test) else None
    write_samples(run_dir.samples, run, config.samples, config.seed, run.default_seconds, real=real, board=board)
    if run.model.can_reconstruct and len(test) and config.reconstructions:
        write_reconstructions(run_dir.reconstructions, run, test[: config.reconstructions, : run.segment_samples], board)
    return run_dir.files()
