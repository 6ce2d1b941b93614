"""How bench cells run: ``launcher=local`` (the default) or ``launcher=submitit``.

Either way a cell is the same call, :func:`audiozoo.bench.cell.run_cell`, in its own process and
its own run directory, so the tables do not depend on the launcher. ``local`` runs the cells one
after another as child processes of the bench. ``submitit`` submits each as a job through
`submitit <https://github.com/facebookincubator/submitit>`_ (SLURM where ``sbatch`` is found,
else processes on this machine) and follows the jobs until every one has ended.

Ctrl-C while jobs run **cancels them** (``scancel`` on SLURM): each keeps its cell's last
checkpoint, and the same command submits them again and continues. Leaving them to run would
have the next command meet cells still training in another job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from audiozoo.allocator import tune_allocator
from audiozoo.bench.cell import INTERRUPTED, failed, run_cell, write_evaluation
from audiozoo.config import build_config
from audiozoo.errors import AudiozooError, unknown
from audiozoo.runs.rundir import RunDir

if TYPE_CHECKING:
    from audiozoo.bench.matrix import PlannedCell

Echo = Callable[[str], None]
POLL_SECONDS = 2.0
"""How often the submitit launcher asks after its jobs (submitit caches SLURM's answers itself)."""


class BenchInterrupted(Exception):
    """Ctrl-C: the running cells saved a checkpoint; the same command continues."""


@dataclass(frozen=True)
class Task:
    """One cell to run: its heading in the log, its run directory and its full settings."""

    heading: str
    cell: PlannedCell
    settings: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.cell.model} × {self.cell.repr}"

    def settle(self, reason: str) -> None:
        """After the cell's process ended: a cell that left no verdict (killed, out of memory, out
        of time) is recorded as failed with ``reason``."""
        if self.cell.status == "pending":
            self.cell.path.mkdir(parents=True, exist_ok=True)
            write_evaluation(self.cell.path, failed(self.settings, reason))

    @property
    def outcome(self) -> str:
        """``done`` or ``failed: ERROR``, from the cell's evaluation."""
        if self.cell.status == "done":
            return "done"
        error = json.loads(RunDir(self.cell.path).evaluation.read_text()).get("error") or "unknown error"
        return f"failed: {error}"


class Launcher(Protocol):
    def run(self, tasks: list[Task], echo: Echo) -> None:
        """Run every task's cell; raise :class:`BenchInterrupted` on Ctrl-C."""


class LocalLauncher:
    """One cell after another, each a child process of this one.

    Ctrl-C at a terminal reaches the cell's process too (one process group): the cell saves a
    checkpoint at the step it is on and exits, and the bench waits for that before it says so. A
    cell that was not signalled with the bench (``kill -INT`` of the bench alone) is sent the
    signal after :data:`GRACE_SECONDS`; a second Ctrl-C stops it at once.
    """

    def run(self, tasks: list[Task], echo: Echo) -> None:
        for task in tasks:
            echo(task.heading)
            command = [sys.executable, "-m", "audiozoo.bench.cell", str(task.cell.path), json.dumps(task.settings)]
            process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            try:
                code = process.wait()
            except KeyboardInterrupt:
                _let_it_save(process)
                raise BenchInterrupted(_where_it_stopped(task.cell.path)) from None
            if code == INTERRUPTED:  # the cell alone was interrupted
                raise BenchInterrupted(_where_it_stopped(task.cell.path))
            task.settle(f"the cell's process ended with exit code {code}")
            echo(f"    {task.outcome}")


GRACE_SECONDS = 30.0
"""How long an interrupted bench waits for its cell to save and exit before signalling it itself."""


def _let_it_save(process: subprocess.Popen) -> None:
    """Wait for an interrupted cell to write its checkpoint and end (see :class:`LocalLauncher`)."""
    try:
        try:
            process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            process.wait()
    except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
        process.kill()
        process.wait()


def _where_it_stopped(cell_dir: Path) -> str:
    """What an interrupted cell kept: the step of its checkpoint, which the same command continues from."""
    run_dir = RunDir(cell_dir)
    if not run_dir.has_checkpoint:
        return f"interrupted in {cell_dir} before its first checkpoint; the same command starts that cell again"
    try:
        step = run_dir.load_checkpoint()["progress"]["step"]
    except (AudiozooError, KeyError):
        return f"interrupted in {cell_dir}; its checkpoint cannot be read, so the same command starts that cell again"
    return f"interrupted in {cell_dir}: checkpoint saved at step {step}; run the same command to continue from there"


@dataclass(frozen=True)
class SubmititSettings:
    """``launcher.KEY=VALUE`` for ``launcher=submitit``: what each cell's job asks for."""

    cluster: Literal["auto", "slurm", "local"] = "auto"  # auto: SLURM when sbatch is on PATH, else processes here
    partition: str = ""  # SLURM partition; "": the cluster's default
    account: str = ""  # SLURM account the jobs are charged to; "": yours by default
    gpus: int = 0  # GPUs per cell (device=auto takes the first)
    cpus: int = 0  # CPU cores per cell; 0: the cluster's default
    mem_gb: float = 0.0  # memory per cell in GB; 0: the cluster's default
    timeout_min: int = 60  # each job's time limit in minutes; a cell that reaches it is requeued and continues
    parallel: int = 0  # most cells at once; 0: every cell on SLURM, one at a time on this machine
    logs: str = ""  # folder of submitit's job files and logs; "": BENCH_DIR/submitit

    def __post_init__(self) -> None:
        for key in ("gpus", "cpus", "mem_gb", "parallel"):
            if getattr(self, key) < 0:
                raise ValueError(f"launcher.{key} must be 0 or more, got {getattr(self, key)}")
        if self.timeout_min < 1:
            raise ValueError(f"launcher.timeout_min must be at least 1, got {self.timeout_min}")


class CellJob:
    """What a submitit job runs: :func:`run_cell` in the bench's working directory (relative
    paths mean what they meant there). Being checkpointable (a ``checkpoint`` method), a job
    that reaches its time limit or is preempted is requeued by submitit, and the cell continues
    from its last checkpoint."""

    def __call__(self, cell_dir: str, settings: dict[str, Any], cwd: str) -> int:
        tune_allocator()
        os.chdir(cwd)
        return run_cell(Path(cell_dir), settings)

    def checkpoint(self, *args: Any) -> Any:
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args)


class SubmititLauncher:
    """Every cell a submitit job, at most ``parallel`` at once, followed until all have ended."""

    def __init__(self, settings: SubmititSettings, folder: Path) -> None:
        self.settings = settings
        self.cluster = settings.cluster
        if self.cluster == "auto":
            self.cluster = "slurm" if shutil.which("sbatch") else "local"
        elif self.cluster == "slurm" and not shutil.which("sbatch"):
            raise AudiozooError("launcher.cluster=slurm but sbatch is not on PATH; "
                                "choose from: auto, local (processes on this machine)")
        self.logs = Path(settings.logs).expanduser() if settings.logs else folder / "submitit"

    def _executor(self) -> Any:
        import submitit

        s = self.settings
        executor = submitit.AutoExecutor(folder=self.logs, cluster=self.cluster)
        asked = {"timeout_min": s.timeout_min, "gpus_per_node": s.gpus, "cpus_per_task": s.cpus or None,
                 "mem_gb": s.mem_gb or None, "slurm_partition": s.partition or None,
                 "slurm_account": s.account or None}
        executor.update_parameters(**{k: v for k, v in asked.items() if v is not None})
        return executor

    def run(self, tasks: list[Task], echo: Echo) -> None:
        running: list[tuple[Task, Any]] = []
        try:
            self._follow(tasks, running, echo)
        except BaseException as err:
            for _, job in running:
                job.cancel(check=False)
            if isinstance(err, KeyboardInterrupt):
                names = ", ".join(task.name for task, _ in running) or "none was running"
                raise BenchInterrupted(f"interrupted; cancelled {len(running)} jobs ({names}), each keeping its "
                                       "last checkpoint; run the same command to continue") from None
            raise

    def _follow(self, tasks: list[Task], running: list[tuple[Task, Any]], echo: Echo) -> None:
        """Submit while fewer than ``parallel`` jobs run; settle each job's cell when it ends; a
        status line whenever the jobs' states change."""
        executor = self._executor()
        limit = self.settings.parallel or (len(tasks) if self.cluster == "slurm" else 1)
        queue, seen = list(tasks), ""
        while queue or running:
            while queue and len(running) < limit:
                task = queue.pop(0)
                job = self._submit(executor, task)
                running.append((task, job))
                echo(f"{task.heading}: job {job.job_id} ({self.cluster}), log {job.paths.stderr}")
            for task, job in [(t, j) for t, j in running if j.done()]:
                running.remove((task, job))
                echo(f"    {task.name}: {self._outcome(task, job)}")
            states = Counter(job.state.lower() for _, job in running)
            line = (f"    jobs: {len(tasks) - len(queue) - len(running)} of {len(tasks)} ended"
                    + "".join(f", {n} {state}" for state, n in sorted(states.items()))
                    + (f", {len(queue)} to submit" if queue else ""))
            if running and line != seen:
                echo(line)
                seen = line
            if running:
                time.sleep(POLL_SECONDS)

    def _submit(self, executor: Any, task: Task) -> Any:
        executor.update_parameters(name=task.cell.path.name)
        try:
            return executor.submit(CellJob(), str(task.cell.path), task.settings, os.getcwd())
        except RuntimeError as err:  # sbatch's refusal (a partition that does not exist, say), in its words
            lines = [line for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
            raise AudiozooError(f"could not submit the job of {task.name}: {lines[-1].strip()}") from None

    def _outcome(self, task: Task, job: Any) -> str:
        """The cell's ``done`` or ``failed: ERROR``, with the job's log when the cell failed."""
        from submitit.core.utils import UncompletedJobError

        log = job.paths.stderr
        try:
            code = job.result()
        except UncompletedJobError:
            reason = f"job {job.job_id} died before its cell ended (job state {job.state})"
        else:
            reason = f"job {job.job_id} returned {code} before its cell ended"
        task.settle(f"{reason}; log: {log}")
        outcome = task.outcome
        return outcome if outcome == "done" or str(log) in outcome else f"{outcome} (log: {log})"


LAUNCHERS = ("local", "submitit")


def launcher_from(overrides: dict[str, Any], folder: Path) -> tuple[Launcher, dict[str, Any]]:
    """The launcher ``launcher=NAME`` names, with its ``launcher.KEY`` settings checked, and the
    other overrides (the cells' settings). A bad name, key or value exits 2 with the choices."""
    name = str(overrides.get("launcher", "local"))
    keys = {k.removeprefix("launcher."): v for k, v in overrides.items() if k.startswith("launcher.")}
    rest = {k: v for k, v in overrides.items() if k != "launcher" and not k.startswith("launcher.")}
    if name not in LAUNCHERS:
        raise unknown("launcher", name, LAUNCHERS)
    if name == "local":
        if keys:
            raise AudiozooError(f"launcher.{next(iter(keys))} is a setting of launcher=submitit; "
                                "add launcher=submitit or leave it out")
        return LocalLauncher(), rest
    try:
        import submitit  # noqa: F401 - only to say how to install it, before any cell is planned
    except ImportError:
        raise AudiozooError("launcher=submitit needs the submitit package: "
                            "pip install 'audiozoo[cluster]' (or pip install submitit)") from None
    return SubmititLauncher(build_config(SubmititSettings, keys, "launcher"), folder), rest
