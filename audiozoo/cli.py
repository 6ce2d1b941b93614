"""The ``audiozoo`` command: list, plugins, prepare, roundtrip, run, generate, export, reconstruct, bench, report.

Each command imports what it needs when it runs: ``--help``, ``--version``, ``list`` and
``plugins`` answer without importing torch (docs/performance.md has the figures).
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Any

import click

from audiozoo.allocator import tune_allocator
from audiozoo.errors import AudiozooError, unknown
from audiozoo.overrides import parse_overrides, split_namespaces

SEED_LIMIT = 2**32
INTERRUPTED = 130
"""Exit code after Ctrl-C (the shell's 128 + SIGINT)."""


class UserError(click.ClickException):
    """An :class:`AudiozooError` shown as one line, exit code 2 (click's code for usage errors)."""

    exit_code = 2


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AudiozooError as err:
            raise UserError(str(err)) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="audiozoo", prog_name="audiozoo")
def cli() -> None:
    """audiozoo: generative audio models on every audio representation, compared uniformly.

    Arguments are key=value pairs with dotted keys, values as TOML literals
    (bare words are strings): repr=mel repr.n_mels=128 data=gtzan data.root=PATH
    data.genres=[classical,jazz]. preset=NAME applies a named bundle from registry.toml.
    """
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)


@cli.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("--settings", is_flag=True, help="Each plugin's settings: key, type, default and what it does.")
def list_command(kind: str | None, pattern: str | None, settings: bool) -> None:
    """List plugins: KIND is models, reprs, datasets or metrics; PATTERN filters names (wildcards)."""
    from audiozoo.catalog import catalog
    from audiozoo.kinds import KINDS, RUN_COMMANDS, RUN_ONLY, words
    from audiozoo.kinds import kind as kind_named

    if kind is not None and kind not in words():
        raise unknown("kind", kind, words())
    kinds = [kind_named(kind).name] if kind else [k.name for k in KINDS]
    listing = catalog()["kinds"]
    for name in kinds:
        entries = [e for e in listing[name] if not pattern or fnmatch.fnmatchcase(e["name"], pattern)]
        if not kind:
            click.echo(f"{name}:")
        if not entries:
            click.echo("  (none" + (f" matching {pattern!r}" if pattern else "") + ")")
        width = max((len(e["name"]) for e in entries), default=0)
        for entry in entries:
            click.echo(f"  {entry['name']:<{width}}  {entry['summary']}")
            if settings:
                _echo_settings(entry["settings"], "      ")
    if settings and not kind:
        from audiozoo.config import describe_settings
        from audiozoo.settings import TrainConfig

        click.echo(f"run settings ({', '.join(RUN_COMMANDS)}):")
        _echo_settings([{**row, "commands": "run" if row["key"] in RUN_ONLY else ",".join(RUN_COMMANDS)}
                        for row in describe_settings(TrainConfig)], "  ")


def _echo_settings(rows: list[dict[str, str]], indent: str) -> None:
    """One line a setting: key, type, default, the commands that take it, what it does."""
    columns = ("key", "type", "default", "commands")
    widths = [max((len(r[k]) for r in rows), default=0) for k in columns]
    for r in rows:
        cells = [f"{r[k]:<{w}}" for k, w in zip(columns, widths)]
        click.echo(f"{indent}{'  '.join(cells)}  {r['help']}".rstrip())


@cli.command()
def plugins() -> None:
    """Show every plugin: distribution, version, hooks, status and load errors."""
    from audiozoo.catalog import catalog

    infos = catalog()["plugins"]
    width = max(len(i["name"]) for i in infos)
    for info in infos:
        origin = f"{info['distribution']} {info['version']}" + (" (built-in)" if info["builtin"] else "")
        detail = ", ".join(info["hooks"]) if info["status"] == "loaded" else info["error"] or info["status"]
        click.echo(f"{info['name']:<{width}}  {info['status']:<8}  {origin:<28}  {detail}")


def resolve(args: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """key=value arguments → settings grouped by namespace. A preset gives only the keys this
    command takes (``prepare preset=seed`` applies its data settings, not its training budget)."""
    from audiozoo.overrides import apply_preset
    from audiozoo.plugins import host

    overrides = parse_overrides(args)
    if "preset" in overrides:
        expanded = apply_preset({"preset": overrides.pop("preset")}, host().presets)
        overrides = {**{k: v for k, v in expanded.items() if k.partition(".")[0] in allowed}, **overrides}
    return split_namespaces(overrides, allowed)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def prepare(args: tuple[str, ...]) -> None:
    """Preprocess and cache a dataset: [data=NAME] [data.KEY=VALUE ...] [preset=NAME].

    The report's pipeline: mono, resample to data.sample_rate (3150 Hz), cut to
    data.clip_seconds (29), split into data.segments (2) equal parts, cache as .npy.
    Files that are unreadable, silent or absurdly loud are skipped with a warning
    (data.silent, data.loud, data.short, data.strict decide; see the README).
    """
    from audiozoo import api

    data = resolve(args, ("data",)).get("data", {})
    prepared = api.prepare(data.pop("", None), **data)
    click.echo(prepared.summary())


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def roundtrip(args: tuple[str, ...]) -> None:
    """Encode and decode one FILE through a representation: repr=NAME FILE [out=PATH].

    Writes the decoded audio (out, default FILE-STEM.REPR.wav), the input at the
    model's sample rate beside it, a PNG of both spectrograms, and prints the
    round-trip figures: the ceiling a representation sets before any training.
    """
    from audiozoo import api
    from audiozoo.data.audio import write_audio
    from audiozoo.plots import save_spectrograms
    from audiozoo.plugins import host

    files = [a for a in args if not _is_override(a)]
    if len(files) != 1:
        raise AudiozooError(f"roundtrip takes exactly one audio file, got {len(files)}: repr=NAME FILE [out=PATH]")
    path = Path(files[0])
    groups = resolve(tuple(a for a in args if _is_override(a)), ("repr", "data", "out"))
    data_settings = groups.get("data", {})
    data = api.get_dataset(data_settings.pop("", None), **data_settings).config
    repr_settings = groups.get("repr", {})
    repr_name = repr_settings.pop("", None) or host().defaults["repr"]
    if repr_settings.get("sample_rate", data.sample_rate) != data.sample_rate:
        raise AudiozooError("set the sample rate with data.sample_rate, not repr.sample_rate")
    representation = api.get_representation(repr_name, **{**repr_settings, "sample_rate": data.sample_rate})
    if not path.is_file():
        raise AudiozooError(f"cannot read {path}: no such file")
    out = _audio_file(str(groups.get("out", {}).get("", f"{path.stem}.{repr_name}.wav")))
    result = api.roundtrip(path, representation, data.clip_seconds)

    reference = out.with_name(f"{path.stem}.{data.sample_rate}hz{out.suffix}")
    picture = out.with_suffix(".png")
    write_audio(out, result.decoded.numpy(), data.sample_rate)
    write_audio(reference, result.original.numpy(), data.sample_rate)
    save_spectrograms(picture, {f"input at {data.sample_rate} Hz": result.original.numpy(),
                                f"{repr_name} round trip": result.decoded.numpy()}, data.sample_rate)

    kind = "exact" if representation.is_exact else "approximate"
    click.echo(f"{repr_name} ({kind} inverse) on {path}: {len(result.original) / data.sample_rate:.1f} s at {data.sample_rate} Hz")
    click.echo(f"  tensor shape  [{result.shape[0]}, {result.shape[1]}]  (channels × frames)")
    for name, value in result.figures.items():
        metric = host().registry("metrics").get(name)
        better = "higher" if metric.higher_is_better else "lower"
        click.echo(f"  {name:<22} {value:10.4f} {metric.unit:<3} ({better} is better)")
    click.echo(f"  encode+decode  {result.seconds:.3f} s")
    click.echo(f"wrote {out} (decoded), {reference} (input), {picture} (spectrograms)")


@cli.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def run_command(args: tuple[str, ...]) -> None:
    """Train a model on a representation: model=NAME [repr=NAME] [data=NAME] [preset=NAME] [KEY=VALUE ...].

    Settings: model.KEY, repr.KEY, data.KEY, sample.KEY (the model's sampling options) and the
    run's own (epochs, batch_size, seed, device=auto|cpu|cuda, max_seconds, precision=fp32|bf16|fp16,
    grad_clip, schedule=constant|cosine, warmup_steps, ema, valid_every, crop_seconds,
    checkpoint_every, checkpoint_seconds, samples, runs_dir, name); audiozoo list --settings shows them. Without preset=, registry.toml's
    default preset applies: 240 s of training. resume=RUN_DIR continues a run (Ctrl-C or kill
    loses at most checkpoint_seconds); config=FILE starts one with the settings in FILE;
    init=RUN_DIR starts one from a trained run's settings and weights (fine-tuning: data=, the
    budget and model.lr may change; init_stats=refit|keep).
    """
    from audiozoo.train.run import run
    from audiozoo.train.trainer import TrainingInterrupted

    overrides = parse_overrides(args)
    resume = overrides.pop("resume", None)
    try:
        result = run(resume=resume, **overrides)
    except TrainingInterrupted as err:
        _interrupted(f"interrupted: checkpoint saved; continue with audiozoo run resume={err.path}")
    if not result.files:  # a torchrun rank other than 0: rank 0 reports
        return
    click.echo(f"run finished: {result.path}  ({result.progress.step} steps, {result.progress.seconds:.0f} s)")
    for label, paths in result.files.items():
        shown = f"{paths[0].parent}/ ({len(paths)} files)" if len(paths) > 2 else ", ".join(map(str, paths))
        click.echo(f"  {label:<16} {shown}")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("args", nargs=-1)
def generate(run_dir: str, args: tuple[str, ...]) -> None:
    """Generate audio from a trained run: RUN_DIR [n=8] [seed=0] [seconds=S] [sample.KEY=VALUE ...] [out=DIR] [overwrite=false].

    WAV files and a spectrogram PNG of the first clips, written batch by batch as they are made
    (Ctrl-C keeps every clip written). Clips are as long as the data's clips (what the bench
    judges), even where the model trained on shorter crops; seconds= asks for another length
    (models that sample any length only); sample.KEY= sets the model's sampling options
    (audiozoo list models --settings).
    A short probe first says how long it will take, and refuses a length that cannot fit in memory.
    """
    options = {k.removeprefix("sample."): v for k, v in parse_overrides(args).items() if k.startswith("sample.")}
    plain_args = tuple(a for a in args if not a.startswith("sample."))
    plain = _options(plain_args, {"n": 8, "seed": 0, "seconds": 0.0, "out": f"{run_dir}/generated", "overwrite": False})
    if not 1 <= plain["n"] <= 10_000:
        raise AudiozooError(f"n must be a number of clips from 1 to 10000, got {plain['n']}")
    if not 0 <= plain["seed"] < SEED_LIMIT:
        raise AudiozooError(f"seed must be in [0, 2**32), got {plain['seed']}")
    seconds = _seconds(plain_args, plain["seconds"])
    out = _folder(plain["out"])
    from audiozoo.atomic import ensure_writable
    from audiozoo.runs.rundir import RunDir, sample_files

    RunDir(Path(run_dir)).read_tables()  # no run there: said before any folder is made
    earlier = sorted(out.glob("sample_*.wav")) if out.is_dir() else []
    if earlier and not plain["overwrite"]:
        raise AudiozooError(f"out={out} holds {len(earlier)} clips already (sample_*.wav); add overwrite=true "
                            "to replace them, or give another out=DIR")
    from audiozoo.progress_bar import progress_bar
    from audiozoo.runs.outputs import write_samples
    from audiozoo.runs.sampling import plan
    from audiozoo.runs.trained import load_run

    loaded = load_run(run_dir)
    loaded.sample_options(**options)  # a wrong option stops here, before any work
    if seconds is None:
        seconds = loaded.default_seconds
    loaded.length(seconds)
    chosen = plan(loaded, plain["n"], seconds, **options)
    ensure_writable(out, "the output folder", "choose another with out=DIR")
    length = seconds or loaded.segment_samples / loaded.representation.sample_rate
    clips = f"{plain['n']} clip{'s' if plain['n'] > 1 else ''}"
    click.echo(f"generating {clips} of {length:g} s with {loaded.model.name} on {loaded.representation.name}, "
               f"{chosen.describe()}", err=True)
    for path in [*earlier, sample_files(out, 0)[1]] if plain["overwrite"] else []:
        path.unlink(missing_ok=True)  # one generation per folder: no old clip left among the new
    written: list[Path] = []
    bar = progress_bar(total=plain["n"], unit="clip", desc="generating", dynamic_ncols=True)

    def batch_done(paths: list[Path]) -> None:
        written.extend(paths)
        bar.update(len(paths))

    try:
        paths = write_samples(out, loaded, plain["n"], plain["seed"], seconds, batch=chosen.batch,
                              written=batch_done, **options)
    except KeyboardInterrupt:
        bar.close()  # its line ends first
        kept = f"{written[0].name} to {written[-1].name}" if written else "none"
        _interrupted(f"interrupted: kept {len(written)} of {plain['n']} clips in {out} ({kept})")
    finally:
        bar.close()
    click.echo(f"wrote {len(paths) - 1} clips and {paths[-1]}")


def _seconds(args: tuple[str, ...], value: float) -> float | None:
    """``seconds=`` when given (None: not given); zero and negative lengths are refused
    later with the shortest the model makes, a negative one here."""
    if not any(a.partition("=")[0].strip() == "seconds" for a in args):
        return None
    if value < 0:
        raise AudiozooError(f"seconds must be positive, got {value:g}")
    return value


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("args", nargs=-1)
def export(run_dir: str, args: tuple[str, ...]) -> None:
    """Write a trained generator that runs without audiozoo: RUN_DIR format=torchscript|onnx|safetensors [out=PATH] [seconds=S] [sample.KEY=VALUE ...] [overwrite=false].

    Noise in (standard normal, shapes in OUT.json), audio out at the run's sample rate, with the
    EMA weights and the sampling options fixed; onnx splits off the decoding where it needs
    complex numbers (OUT.decoder.pt); safetensors writes the weights alone. OUT.json says how to
    call it (docs/export.md). Default out: RUN_DIR/export/generator.pt|.onnx|.safetensors; an
    existing file is replaced only with overwrite=true.
    """
    from audiozoo.export import FORMATS, export_files

    options = {k.removeprefix("sample."): v for k, v in parse_overrides(args).items() if k.startswith("sample.")}
    plain_args = tuple(a for a in args if not a.startswith("sample."))
    plain = _options(plain_args, {"format": "", "out": "", "seconds": 0.0, "overwrite": False})
    if not plain["format"]:
        raise AudiozooError(f"which format? add format={'|'.join(FORMATS)}")
    if plain["format"] not in FORMATS:
        raise unknown("format", plain["format"], FORMATS)
    out = Path(plain["out"] or f"{run_dir}/export/generator{FORMATS[plain['format']]}").expanduser()
    if out.is_dir() or out.suffix != FORMATS[plain["format"]]:
        raise AudiozooError(f"out={out} must be a file name ending in {FORMATS[plain['format']]}")
    seconds = _seconds(plain_args, plain["seconds"])
    from audiozoo.atomic import ensure_writable
    from audiozoo.export import export as write_export
    from audiozoo.runs.rundir import RunDir
    from audiozoo.runs.trained import load_run

    RunDir(Path(run_dir)).read_tables()
    existing = [path for path in export_files(out) if path.exists()]
    if existing and not plain["overwrite"]:
        raise AudiozooError(f"{existing[0]} exists; add overwrite=true to replace it, or give another out=PATH")
    loaded = load_run(run_dir, device="cpu")
    loaded.sample_options(**options)
    loaded.length(seconds)
    ensure_writable(out.parent, "the export folder", "choose another with out=PATH")
    paths = write_export(loaded, plain["format"], out, seconds, **options)
    click.echo(f"wrote {', '.join(map(str, paths))}")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("args", nargs=-1)
def reconstruct(run_dir: str, args: tuple[str, ...]) -> None:
    """Send audio files through a trained autoencoder: RUN_DIR FILE... [out=DIR]."""
    files = [a for a in args if not _is_override(a)]
    options = _options(tuple(a for a in args if _is_override(a)), {"out": f"{run_dir}/reconstructed"})
    if not files:
        raise AudiozooError("give at least one audio file: audiozoo reconstruct RUN_DIR FILE... [out=DIR]")
    out = _folder(options["out"])
    import numpy as np

    from audiozoo.data.audio import UnreadableAudio, load_clip
    from audiozoo.runs.outputs import write_reconstructions
    from audiozoo.runs.trained import load_run

    loaded = load_run(run_dir)
    if not loaded.model.can_reconstruct:
        raise AudiozooError(f"model {loaded.model.name!r} is not an autoencoder: it cannot reconstruct audio")
    length = loaded.segment_samples
    clips = []
    for file in files:
        try:
            wave = load_clip(Path(file), loaded.representation.sample_rate, length / loaded.representation.sample_rate)
        except UnreadableAudio as err:
            raise AudiozooError(f"cannot read {file}: {err}") from None
        clips.append(np.pad(wave, (0, length - len(wave))))
    click.echo(f"reconstructing {len(files)} files with {loaded.model.name}", err=True)
    paths = write_reconstructions(out, loaded, np.stack(clips))
    click.echo(f"wrote {len(files)} input/reconstruction pairs and {paths[-1]}")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def bench(args: tuple[str, ...]) -> None:
    """Train and compare every model × representation: [models=PATTERNS] [reprs=PATTERNS] [priors=PATTERNS] [data=NAME] [name=NAME] [launcher=local|submitit] [KEY=VALUE ...].

    PATTERNS are names or wildcards, comma-separated (models=vae_* reprs=mel,stft,latent:RUN_DIR).
    priors=flow adds two-stage cells: flow trained on the latent space of each autoencoder cell
    (vae_convpool × waveform, say), after it; the tables name them latent:CELL.
    Every cell gets the same data, split, seed and budget (the default preset's, or epochs=,
    max_seconds=, preset=, any run setting, sample.KEY=). Cells are run directories under
    RUNS_DIR/NAME (runs/bench); the tables and report.html go there too, with sentinel rows
    (real music, noise, degraded music, copies, each representation's round trip) and a verdict
    per cell (noise-like, copies, beats noise). launcher=submitit runs each cell as a SLURM (or
    local) job, with launcher.KEY= settings (docs/distributed.md). metric.NAME.KEY= sets how every
    cell is judged (metric.fad_vggish.weights=PATH: audiozoo list metrics --settings). Run the same command again to
    continue after a stop. Exits with code 1 when a cell failed (the failed cells are named).
    """
    from audiozoo.bench.matrix import BenchInterrupted
    from audiozoo.bench.matrix import bench as run_bench

    overrides = parse_overrides(args)
    try:
        cells, files = run_bench(echo=click.echo, **overrides)
    except BenchInterrupted as err:
        _interrupted(str(err))
    failed = [f"{c.model} × {c.repr}" for c in cells if c.status != "done"]
    click.echo(f"bench finished: {len(cells) - len(failed)} of {len(cells)} cells done")
    _echo_files(files)
    if failed:
        click.echo(f"failed: {', '.join(failed)} (see the error column; the same command retries them)", err=True)
        raise SystemExit(1)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def report(args: tuple[str, ...]) -> None:
    """Comparison tables and a page to listen to from run directories: RUN_DIR... [out=DIR] [pivot=METRIC].

    Any runs will do (bench cells, or separate audiozoo run jobs merged here); figures come
    from each run's evaluation.json where bench wrote one.
    """
    runs = [Path(a) for a in args if not _is_override(a)]
    if not runs:
        raise AudiozooError("give at least one run directory: audiozoo report RUN_DIR... [out=DIR] [pivot=METRIC]")
    options = _options(tuple(a for a in args if _is_override(a)), {"out": "report", "pivot": ""})
    out = _folder(options["out"])
    from audiozoo.report import build_report

    _echo_files(build_report(runs, out, options["pivot"] or None))


def _interrupted(message: str) -> None:
    """Ctrl-C: what was kept, on a line of its own on stderr, and the shell's exit code for it."""
    click.echo(message, err=True)
    raise SystemExit(INTERRUPTED)


def _echo_files(files: dict[str, Path]) -> None:
    for label, path in files.items():
        click.echo(f"  {label:<16} {path}")


def _options(args: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any]:
    """Plain key=value options of a command (no namespaces): unknown keys rejected, each value of its default's type."""
    from audiozoo.config import coerce

    given = parse_overrides(args)
    for key, value in given.items():
        if key not in defaults:
            raise unknown("key", key, defaults)
        given[key] = str(value) if isinstance(defaults[key], str) else coerce(value, type(defaults[key]), key)
    return {**defaults, **given}


def _folder(out: str) -> Path:
    """``out=`` naming a folder to write into: an existing file there is refused, not overwritten."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise AudiozooError(f"out={out} is a file; give a folder to write into")
    return path


def _audio_file(out: str) -> Path:
    """``out=`` naming an audio file: a folder, or a suffix no audio format has, is refused before any work."""
    import soundfile as sf

    path = Path(out).expanduser()
    if path.is_dir() or not path.suffix:
        raise AudiozooError(f"out={out} is a folder; give a file name such as back.wav")
    if path.suffix[1:].upper() not in sf.available_formats():
        formats = ", ".join(f".{f.lower()}" for f in sorted(sf.available_formats()))
        raise AudiozooError(f"out={out}: unknown audio format {path.suffix!r}; use one of {formats}")
    return path


def _is_override(arg: str) -> bool:
    key = arg.partition("=")[0]
    return "=" in arg and all(part.isidentifier() for part in key.split("."))


def main() -> None:
    tune_allocator()
    cli(prog_name="audiozoo")
