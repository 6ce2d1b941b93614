"""Fine-tuning: ``init=RUN_DIR`` starts a new run from a trained run's weights.

A fine-tuned run is "the settings of that run, plus its weights": its model and representation
come from the source run (the weights fit only the architecture they were trained as); a
``preset=`` sets its other keys over the source's (``preset=debug``: its short budget), and every
other key the user gives wins over both (``data=``, the budget, ``model.lr``…). The optimizer, its schedule, the EMA
and the progress start afresh. ``init`` and ``init_stats`` are run settings, so config.toml records
where a run came from, ``config=`` reproduces it, and resuming one that has no checkpoint yet starts
from the source's weights again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from audiozoo.config import setting_names
from audiozoo.data.source import DataConfig
from audiozoo.errors import AudiozooError
from audiozoo.model import GenerativeModel
from audiozoo.overrides import apply_preset
from audiozoo.plugins import host
from audiozoo.representation import Representation
from audiozoo.resolve import resolve
from audiozoo.runs.rundir import RunDir, sampling_weights
from audiozoo.runs.trained import build_model
from audiozoo.settings import RunSettings, tables_as_overrides

logger = logging.getLogger(__name__)

NOT_INHERITED = ("name", "init_stats")
"""Keys of the source run a fine-tuned run does not take: it is another run, and chooses its statistics anew."""


def init_settings(overrides: dict[str, Any]) -> RunSettings:
    """``init=RUN_DIR`` and the user's keys → the new run's settings: the source's, then a ``preset=``'s
    keys over them, then the user's own keys over both.

    A preset's model settings are left out (its ``debug`` size would not fit the source's weights),
    and so are its keys the weights fix. Naming another dataset keeps the preprocessing every
    dataset shares (the clip length the model is built for, the sample rate) and drops the source
    dataset's own keys (its folder). Settings the source's weights do not fit are refused here, in
    one line, before a run directory is made.
    """
    user = dict(overrides)
    source = _source(Path(str(user.pop("init"))).expanduser())
    # As config.toml spells them (its "none" for None), like a config= file naming the same settings.
    inherited = {k: v for k, v in tables_as_overrides(source.read_tables()).items() if k not in NOT_INHERITED}
    preset = _preset_keys(user.pop("preset", None), inherited)
    wanted = {**preset, **user}
    if wanted.get("data", inherited["data"]) != inherited["data"]:
        shared = setting_names(DataConfig)
        inherited = {k: v for k, v in inherited.items() if not k.startswith("data.") or k[5:] in shared}
    fixed = {k: v for k, v in inherited.items() if _fixed(k)}
    changed = [k for k in fixed if k in user and user[k] != fixed[k]]
    if not {"model", "repr"} & set(changed):  # the same plugins: their checked values decide ("none" is None)
        settings = resolve({**inherited, **wanted, "init": str(source.path)})
        trained_on = source.read_settings().overrides()
        changed = [k for k in changed if settings.overrides().get(k) != trained_on[k]]
    if changed:
        raise AudiozooError(f"init={source.path} fine-tunes its {fixed['model']} on {fixed['repr']}: "
                            f"{', '.join(f'{k}={user[k]}' for k in changed)} would change what its weights were trained on; leave "
                            f"{'it' if len(changed) == 1 else 'them'} out (another model or representation trains from scratch)")
    initial_state(settings, build_model(settings)[1])
    return settings


def _fixed(key: str) -> bool:
    """Whether the source's weights fix ``key``: they fit only its model on its representation."""
    return key in ("model", "repr", "data.sample_rate") or key.startswith("repr.")


def _preset_keys(name: Any, inherited: dict[str, Any]) -> dict[str, Any]:
    """The keys ``preset=NAME`` sets for the source's model, less the model's settings and the keys its
    weights fix (where those differ from the source's, a warning names them)."""
    if name is None:
        return {}
    expanded = apply_preset({"preset": name, "model": inherited["model"]}, host().presets)
    expanded.pop("model")
    left_out = sorted(k for k, v in expanded.items() if (_fixed(k) or k.startswith("model.")) and inherited.get(k) != v)
    if left_out:
        logger.warning(f"preset={name}: {', '.join(left_out)} left out; fine-tuning keeps the source's model "
                       "and representation")
    return {k: v for k, v in expanded.items() if not (_fixed(k) or k.startswith("model."))}


def _source(path: Path) -> RunDir:
    """The run to start from, refused in one line when it is no run or has no checkpoint to load."""
    run_dir = RunDir(path.absolute())
    run_dir.read_settings()
    if not run_dir.has_checkpoint:
        raise AudiozooError(f"init={path}: the run has no checkpoint yet; train it first "
                            f"(audiozoo run resume={path})")
    return run_dir


def start_from(settings: RunSettings, model: GenerativeModel, rep: Representation) -> None:
    """Load the weights of the run ``init=`` names into ``model`` and, with ``init_stats=keep``, its
    representation statistics into ``rep``."""
    weights, statistics = initial_state(settings, model)
    model.load_state_dict(weights)
    if settings.run.init_stats == "keep":
        rep.load_state_dict(statistics)


def initial_state(settings: RunSettings, model: GenerativeModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """The weights a fine-tuned ``model`` starts from — the source run's EMA weights when it kept them,
    the ones it samples with — and the source's representation state.

    Weights that do not fit ``model`` are refused in one line naming the settings that differ from the source's.
    """
    source = RunDir(Path(settings.run.init))
    state = source.load_checkpoint()
    weights = sampling_weights(state)
    own = model.state_dict()
    misfit = sorted(k for k in own.keys() | weights.keys()
                    if k not in own or k not in weights or own[k].shape != weights[k].shape)
    if misfit:
        raise AudiozooError(f"init={source.path}: its weights do not fit the model these settings build "
                            f"({_why(misfit[0], weights, own)}); fine-tuning keeps the run's architecture: "
                            f"{_advice(source.read_settings(), settings)}")
    return weights, state["representation"]


def _why(key: str, theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    if key not in ours:
        return f"{key} is not in this model"
    if key not in theirs:
        return f"{key} is not in the run's weights"
    return f"{key} is {list(theirs[key].shape)} there, {list(ours[key].shape)} here"


def _advice(source: RunSettings, settings: RunSettings) -> str:
    """What to undo to build the source's model again: the model keys that differ, and the clip length."""
    theirs = asdict(source.model)
    keys = [f"model.{k}={v}" for k, v in asdict(settings.model).items() if theirs.get(k) != v]
    advice = [f"leave out {', '.join(keys)}"] if keys else []
    if source.clip_samples != settings.clip_samples:
        advice.append(f"keep its clips of {source.clip_samples} samples (data.clip_seconds, data.segments, crop_seconds)")
    return " and ".join(advice) or "leave out the model settings that change it"
