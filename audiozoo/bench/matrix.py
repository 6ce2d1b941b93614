"""``audiozoo bench``: every selected model × representation cell, trained alike, then tabled.

Every cell is an ordinary run directory ``BENCH_DIR/MODEL-REPR`` made by ``audiozoo run`` with
the same data, split, seed and budget. A cell runs in its own process, started by the launcher
(audiozoo/bench/launcher.py: here, or as a cluster job through submitit); when it ends, its
``evaluation.json`` says ``done`` or ``failed`` (with the error), and the bench goes on. Running
the same command again skips finished cells, continues an interrupted one from its checkpoint
and retries failed ones, so an interrupted bench loses nothing.

``priors=`` adds two-stage cells: each prior model trained on the latent space of each
autoencoder cell of the same bench (``repr=latent repr.run=CELL``), after the autoencoders.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from audiozoo.bench.launcher import BenchInterrupted  # noqa: F401 - the CLI catches it from here
from audiozoo.bench.launcher import Launcher, LocalLauncher, Task, launcher_from
from audiozoo.errors import AudiozooError
from audiozoo.factory import metric_settings, plugin_names, split_metric_settings
from audiozoo.plugins import host
from audiozoo.report import build_report
from audiozoo.resolve import resolve
from audiozoo.runs.evaluation import Evaluation
from audiozoo.runs.rundir import RunDir
from audiozoo.runs.tomlfile import write_toml
from audiozoo.runs.trained import prepare_data

BENCH = "bench.toml"


@dataclass(frozen=True)
class PlannedCell:
    """A cell as the bench plans it: which model on which representation, in which folder."""

    model: str
    repr: str
    path: Path
    settings: tuple[tuple[str, Any], ...] = ()  # the representation's own (repr.run of a latent one)
    after: Path | None = None  # a cell of the same bench this one needs first (a prior's autoencoder)

    @property
    def status(self) -> str:
        return status_of(self.path)


def status_of(cell_dir: Path) -> str:
    """``done``, ``failed`` or ``pending`` (not run, stopped part-way, or its evaluation unreadable)."""
    try:
        evaluation = Evaluation.read(RunDir(cell_dir).evaluation)
    except AudiozooError:
        return "pending"
    return evaluation.status if evaluation is not None else "pending"


def plan(models: Any, reprs: Any, overrides: dict[str, Any], folder: Path) -> list[PlannedCell]:
    """The cells, each one's settings checked now, so a typo fails at once and not in cell 7."""
    chosen = [(m, r, s) for m in plugin_names("models", include=_patterns(models, "models")) for r, s in _representations(reprs)]
    if not chosen:
        raise AudiozooError(f"no cell matches models={models or '*'} reprs={reprs or '*'}; "
                            f"models: {', '.join(plugin_names('models'))}; "
                            f"reprs: {', '.join(plugin_names('representations'))}")
    resolved = [resolve({**overrides, "model": model, "repr": repr_, **settings})  # a latent representation's
                for model, repr_, settings in chosen]                                # run is read here, before any cell
    distinct = {json.dumps([s.data_name, asdict(s.data)], sort_keys=True): s for s in resolved}
    for settings in distinct.values():
        prepare_data(settings)  # cached for the cells; no usable audio fails here, in one line
    return [PlannedCell(m, r, folder / "-".join([m, r, *(Path(str(v)).name for v in s.values())]), tuple(s.items()))
            for m, r, s in chosen]


def plan_priors(priors: Any, cells: list[PlannedCell], overrides: dict[str, Any], folder: Path) -> list[PlannedCell]:
    """Two-stage cells: each ``priors=`` model on the latent space of each autoencoder among ``cells``.
    Their settings are checked now; their representation cannot be until the autoencoder is trained."""
    if priors is None:
        return []
    models = plugin_names("models", include=_patterns(priors, "priors"))
    if not models:
        raise AudiozooError(f"priors={priors} matches no model; models: {', '.join(plugin_names('models'))}")
    registry = host().registry("models")
    encoders = [c for c in cells if not c.settings and registry.get(c.model).has_latent_space()]
    if not encoders:
        with_latents = [m for m in plugin_names("models") if registry.get(m).has_latent_space()]
        raise AudiozooError(f"priors={priors} trains on the latent space of an autoencoder cell, and models= selects "
                            f"none; add one of {', '.join(with_latents)}")
    for model in models:
        resolve({**overrides, "model": model, "repr": encoders[0].repr})
    return [PlannedCell(m, "latent", folder / f"{m}-latent-{e.path.name}", (("repr.run", str(e.path)),), after=e.path)
            for e in encoders for m in models]


def _representations(reprs: Any) -> list[tuple[str, dict[str, Any]]]:
    """``reprs=`` → (name, settings): wildcards match every representation built from defaults alone;
    ``NAME:VALUE`` names one with its required setting, as ``latent:RUN_DIR`` (an autoencoder's run)."""
    patterns = _patterns(reprs, "reprs") or ["*"]
    plain = [p for p in patterns if ":" not in p]
    chosen: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in
                                                (plugin_names("representations", include=plain, standalone=True) if plain else [])]
    registry = host().registry("representations")
    for pattern in patterns:
        name, colon, value = pattern.partition(":")
        if not colon and name in registry.names() and (required := registry.get(name).required):
            raise AudiozooError(f"reprs={pattern}: {name} needs its {required[0]}; name it as {name}:{required[0].upper()}")
        if colon:
            required = registry.get(name).required
            if not required:
                raise AudiozooError(f"reprs={pattern}: {name} takes no NAME:VALUE form; "
                                    f"it is for {', '.join(n for n in registry.names() if registry.get(n).required)}")
            chosen.append((name, {f"repr.{required[0]}": value}))
    return chosen


def _patterns(value: Any, key: str) -> list[str] | None:
    """``models=vae_*`` or ``models=gan,vae_1dconv`` or a TOML list → fnmatch patterns."""
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    patterns = [str(p).strip() for p in items if str(p).strip()]
    if not patterns:
        raise AudiozooError(f"{key}= is empty; give names or wildcards, e.g. {key}=vae_*")
    return patterns


def check_same_settings(folder: Path, settings: dict[str, Any]) -> None:
    """A bench folder holds one comparison: a re-run with other settings would mix two in one table."""
    path = folder / BENCH
    if path.is_file():
        before = tomllib.loads(path.read_text()).get("overrides", {})
        if before != settings:
            raise AudiozooError(f"{folder} was benched with other settings ({_describe(before)}); "
                                f"use another name= or the same settings ({_describe(settings)})")
    else:
        write_toml(path, {"overrides": settings},
                   header="audiozoo bench: the settings every cell of this folder shares")


def _describe(settings: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "no overrides"


def run_cells(cells: list[PlannedCell], overrides: dict[str, Any], echo: Callable[[str], None] = print,
              launcher: Launcher | None = None) -> None:
    """Each unfinished cell through ``launcher`` (by default one after another, in child processes here):
    first the cells that need no other, then those trained on another's result (a prior on its
    autoencoder's latents), each only where that cell is done."""
    launcher = launcher or LocalLauncher()
    for stage in (False, True):
        tasks = []
        for number, cell in enumerate(cells, 1):
            if (cell.after is not None) != stage:
                continue
            heading = f"[{number}/{len(cells)}] {cell.model} × {cell.repr}{f' of {cell.after.name}' if stage else ''}"
            if cell.status == "done":
                echo(f"{heading}: done before, skipped")
                continue
            if cell.after is not None and status_of(cell.after) != "done":
                echo(f"{heading}: skipped, {cell.after.name} is not done (the same command runs it once that is)")
                continue
            settings = {**overrides, "model": cell.model, "repr": cell.repr, **dict(cell.settings)}
            tasks.append(Task(heading + (" (retrying)" if cell.status == "failed" else ""), cell, settings))
        launcher.run(tasks, echo)


def bench(models: Any = None, reprs: Any = None, priors: Any = None, name: str = "bench", runs_dir: str = "runs",
          echo: Callable[[str], None] = print, **overrides: Any) -> tuple[list[PlannedCell], dict[str, Path]]:
    """Run the matrix and write its tables; returns the cells and the report's files. ``launcher=``
    and ``launcher.KEY=`` say how the cells run, not what they compute: they are no cell's settings;
    ``metric.NAME.KEY=`` settings say how every cell is judged (the bench folder records them)."""
    if "init" in overrides or "resume" in overrides:
        key = "init" if "init" in overrides else "resume"
        raise AudiozooError(f"{key}= names one run, and a bench trains every cell alike from scratch; "
                            f"use audiozoo run {key}=RUN_DIR")
    folder = Path(runs_dir) / name
    launcher, overrides = launcher_from(overrides, folder)
    metric_keys, training = split_metric_settings(overrides)
    metric_settings(metric_keys)  # a wrong metric.NAME.KEY stops here, before any cell
    cells = plan(models, reprs, training, folder)
    cells += plan_priors(priors, cells, training, folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_same_settings(folder, overrides)
    run_cells(cells, overrides, echo, launcher)
    return cells, build_report([c.path for c in cells if c.path.is_dir()], folder)
