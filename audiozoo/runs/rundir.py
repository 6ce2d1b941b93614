"""The run directory: every file name of a run, and reading and writing each file, in this module alone.

::

    RUN_DIR/
    ├── config.toml            every setting, resolved (reproduce with audiozoo run config=...)
    ├── metrics.jsonl          one line per logged step (and per validation)
    ├── events.out.tfevents.*  the same curves, and the samples at the end, for TensorBoard (one file a session)
    ├── losses.png             the loss curves
    ├── checkpoints/latest.pt  the checkpoint (its entries: checkpoint_state below)
    ├── samples/               sample_NN.wav, samples.png
    ├── reconstructions/       clip_NN.input.wav, clip_NN.reconstruction.wav, reconstructions.png
    ├── evaluation.json        a bench cell's figures, and evaluation/ the clips it plays
    └── .lock                  held while a process trains here

Train, bench, report, export and the CLI reach these files through :class:`RunDir`, so a file is
renamed in one place.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audiozoo.atomic import atomic_file
from audiozoo.errors import AudiozooError
from audiozoo.resolve import settings_from_tables
from audiozoo.runs.checkpoint import Checkpointed, Stateful, load_checkpoint, save_checkpoint
from audiozoo.runs.tomlfile import write_toml
from audiozoo.settings import RunSettings, tables_as_overrides

TABLES = ("run", "model", "repr", "data")
"""The tables of config.toml; ``[sample]`` (the model's sampling options) is optional."""
BOOKKEEPING = ("step", "epoch", "seconds")
"""Keys of every metrics.jsonl line that place it (when, how far), beside the figures it logs."""


def sample_files(folder: Path, n: int) -> tuple[list[Path], Path]:
    """Where ``n`` generated clips and their picture go in ``folder`` (a run's samples/, or generate's out=)."""
    return [folder / f"sample_{i:02d}.wav" for i in range(n)], folder / "samples.png"


def reconstruction_files(folder: Path, n: int) -> tuple[list[tuple[Path, Path]], Path]:
    """Where ``n`` (input, reconstruction) pairs and their picture go in ``folder``."""
    pairs = [(folder / f"clip_{i:02d}.input.wav", folder / f"clip_{i:02d}.reconstruction.wav") for i in range(n)]
    return pairs, folder / "reconstructions.png"


def read_config(path: Path) -> dict[str, dict[str, Any]]:
    """The tables of a ``config.toml`` (a run's, or a shared file written like one); a missing table is an error."""
    try:
        settings = tomllib.loads(path.read_text())
    except OSError as err:
        raise AudiozooError(f"cannot read {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise AudiozooError(f"cannot read {path}: {err}") from None
    for table in TABLES:
        if not isinstance(settings.get(table), dict):
            raise AudiozooError(f"{path} has no [{table}] table (a run's settings are [run], [model], [repr], [data])")
    for key in TABLES[1:]:
        if not isinstance(settings["run"].get(key), str):
            raise AudiozooError(f"{path}: [run] must name the {key} ({key} = \"NAME\")")
    if not isinstance(settings.setdefault("sample", {}), dict):
        raise AudiozooError(f"{path}: [sample] must be a table of the model's sampling options")
    return settings


@dataclass(frozen=True)
class RunDir:
    """One run's folder and the paths of its files."""

    path: Path

    @classmethod
    def create(cls, parent: Path, name: str, settings: RunSettings) -> RunDir:
        """A new run directory ``parent/name`` (``name-2``, … when taken) holding ``config.toml``."""
        for n in itertools.count(1):
            path = parent / (name if n == 1 else f"{name}-{n}")
            try:
                path.mkdir(parents=True)
                break
            except FileExistsError:
                continue
        run_dir = cls(path)
        write_toml(run_dir.config, settings.tables(),
                   header=f"audiozoo run; reproduce with: audiozoo run config={run_dir.config}")
        return run_dir

    @classmethod
    def found_in(cls, paths: list[Path]) -> list[RunDir]:
        """Run directories named directly, or found one level inside a folder (a bench's output)."""
        found: list[RunDir] = []
        for path in paths:
            path = Path(path).absolute()  # named by the folder even when given as "."
            if cls(path).is_run:
                found.append(cls(path))
            elif path.is_dir() and (inside := sorted(cls(p.parent) for p in path.glob(f"*/{cls(path).config.name}"))):
                found.extend(inside)
            else:
                raise AudiozooError(f"not a run directory (no {cls(path).config.name}) nor a folder of them: {path}")
        return found

    def __lt__(self, other: RunDir) -> bool:
        return self.path < other.path

    config = property(lambda self: self.path / "config.toml")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    # TensorBoard's event files lie in the run's own folder, so `tensorboard --logdir runs` names a run by it.
    tensorboard = property(lambda self: self.path)
    events = property(lambda self: sorted(self.tensorboard.glob("events.out.tfevents.*")))
    losses = property(lambda self: self.path / "losses.png")
    checkpoints = property(lambda self: self.path / "checkpoints")
    checkpoint = property(lambda self: self.checkpoints / "latest.pt")
    samples = property(lambda self: self.path / "samples")
    reconstructions = property(lambda self: self.path / "reconstructions")
    evaluation = property(lambda self: self.path / "evaluation.json")
    evaluation_media = property(lambda self: self.path / "evaluation")
    lock = property(lambda self: self.path / ".lock")

    @property
    def is_run(self) -> bool:
        return self.config.is_file()

    @property
    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    def read_tables(self) -> dict[str, dict[str, Any]]:
        """config.toml's tables, checked for shape only: what a reader needs without the run's plugins."""
        if not self.is_run:
            raise AudiozooError(f"not a run directory (no {self.config.name}): {self.path}")
        return read_config(self.config)

    def read_settings(self) -> RunSettings:
        """The run's settings, every one checked again (the file may be hand-edited)."""
        return settings_from_tables(self.read_tables())

    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        self.checkpoints.mkdir(exist_ok=True)
        return save_checkpoint(self.checkpoint, state)

    def load_checkpoint(self) -> dict[str, Any]:
        return load_checkpoint(self.checkpoint)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``; a line torn by a kill mid-write (the last one) is left out."""
        if not self.metrics.is_file():
            return []
        records = []
        for line in self.metrics.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
        return records

    @contextmanager
    def metrics_log(self, enabled: bool = True) -> Iterator[MetricsLog]:
        """metrics.jsonl open for appending, one flushed line per record (``enabled`` False: nothing written)."""
        if not enabled:
            yield MetricsLog(None)
            return
        with open(self.metrics, "a") as handle:
            yield MetricsLog(handle)

    def truncate_metrics(self, step: int) -> None:
        """Drop lines past ``step`` (and a line torn by a kill), so a resumed run's curve has no step twice."""
        kept = [r for r in self.read_metrics() if r["step"] <= step]
        with atomic_file(self.metrics) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def files(self) -> dict[str, list[Path]]:
        """What a finished run holds, by label, for the command's summary."""
        files = {"config": [self.config], "metrics": [self.metrics], "checkpoint": [self.checkpoint]}
        if self.losses.is_file():
            files["loss curves"] = [self.losses]
        if self.events:
            files["tensorboard"] = self.events
        for label, folder in (("samples", self.samples), ("reconstructions", self.reconstructions)):
            if folder.is_dir():
                files[label] = sorted(folder.iterdir())
        return files

    def media(self) -> dict[str, Any]:
        """The media ``audiozoo run`` leaves, in evaluation.json's ``media`` shape (absolute paths; only
        what exists): what a plain run shows, and what a bench cell starts from."""
        found: dict[str, Any] = {}
        if self.losses.is_file():
            found["losses"] = self.losses
        wavs, png = sample_files(self.samples, len(list(self.samples.glob("*.wav"))))
        if wavs and all(w.is_file() for w in wavs):
            found["samples"] = {"png": png, "wav": wavs}
        pairs, png = reconstruction_files(self.reconstructions, len(list(self.reconstructions.glob("*.wav"))) // 2)
        if pairs and all(a.is_file() and b.is_file() for a, b in pairs):
            found["reconstructions"] = {"png": png, "wav": [list(pair) for pair in pairs]}
        return found


class MetricsLog:
    """Appends records to a run's metrics.jsonl (see :meth:`RunDir.metrics_log`)."""

    def __init__(self, handle: IO[str] | None) -> None:
        self.handle = handle

    def write(self, record: dict[str, Any]) -> None:
        if self.handle is not None:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()


def figures(record: dict[str, Any]) -> dict[str, Any]:
    """A metrics.jsonl record less its :data:`BOOKKEEPING`: the losses, rates and held-out figures it logs."""
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


def losses(record: dict[str, Any]) -> dict[str, Any]:
    """The losses a metrics.jsonl record logs (held-out ``valid_*`` ones too): its figures less the learning rate."""
    return {k: v for k, v in figures(record).items() if k != "lr"}


def checkpoint_state(model: Stateful, representation: Stateful, progress: Stateful, ema: Stateful | None,
                     **training: Stateful) -> Checkpointed:
    """What a checkpoint holds, declared once: the model, its representation (fitted statistics),
    the EMA of the weights (when kept) and the progress — all a trained run needs to sample — and
    whatever continuing the training exactly needs besides (``training``: the optimizers, schedulers,
    random generators…, which the trainer declares)."""
    return Checkpointed(model=model, representation=representation, ema=ema, progress=progress, **training)


def sampling_weights(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's model weights as sampling uses them: the EMA weights where the run kept them."""
    return {**state["model"], **state.get("ema", {}).get("weights", {})}


def read_config_overrides(source: Path) -> dict[str, Any]:
    """``config=FILE``: the settings of a shared file, or of a run directory's own, as overrides."""
    return tables_as_overrides(RunDir(source).read_tables() if source.is_dir() else read_config(source))
