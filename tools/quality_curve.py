#!/usr/bin/env python3
"""A learning curve on the ruler: one cell trained in stages, judged like a bench cell after each.

    python tools/quality_curve.py model=flow repr=mel [minutes=2,4,8,15,30] [name=flow-mel]
                                  [curves_dir=runs/curves] [preset=quality] [KEY=VALUE ...]
    python tools/quality_curve.py plot [curves_dir=runs/curves]
    python tools/quality_curve.py picture RUN_DIR [out=samples.png] [n=3] [seed=0]

The first form trains ``audiozoo run`` (``preset=quality`` unless another is named) to the first
budget, evaluates it exactly as ``audiozoo bench`` evaluates a cell (samples as long as the real
clips, every generation metric, the sentinel rows), then raises the run's ``max_seconds`` in its
config.toml and resumes it to the next budget, and so on. One run, so a point costs only the
minutes added since the last one; its cosine spans the preset's ``schedule_steps`` whatever the
budget, so the points lie on one training curve. Each point's figures go to
``CURVES_DIR/NAME/curve.json`` and its samples' picture to ``minute-M.png``; the same command
again skips the points already made and continues an interrupted stage from its checkpoint.

The second form writes ``curves.md`` (a table: structure distance, music-likeness, copies and
steps per cell and minute, with the real-vs-real reference and the closest noise sentinel) and
``curves.png`` (structure distance against minutes, log scale, with those rows as lines) from
every curve under ``CURVES_DIR``.

The third writes the README's picture: two held-out clips of the run's data beside ``n`` samples
as long as they are (the bench's split; the samples drawn with ``seed``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "1")  # librosa's BLAS threads would steal the next torch call's cores

from audiozoo.atomic import atomic_file  # noqa: E402
from audiozoo.bench.cell import sentinel_media  # noqa: E402
from audiozoo.bench.evaluate import evaluate, split_by_file  # noqa: E402
from audiozoo.factory import metrics_at  # noqa: E402
from audiozoo.overrides import parse_overrides  # noqa: E402
from audiozoo.plots import save_spectrograms  # noqa: E402
from audiozoo.report.tables import fmt  # noqa: E402
from audiozoo.runs.evaluation import Row  # noqa: E402
from audiozoo.sentinels import REAL  # noqa: E402
from audiozoo.runs.rundir import RunDir  # noqa: E402
from audiozoo.train.run import run  # noqa: E402
from audiozoo.runs.tomlfile import write_toml  # noqa: E402
from audiozoo.runs.trained import load_run, prepare_data  # noqa: E402

MINUTES = (2, 4, 8, 15, 30)
PIVOT = "structure_distance"
FLOOR = 1e-4
"""Where the plot draws a distance of zero or below (the unbiased estimate of two alike sets can be negative)."""
SHOWN = ("structure_distance", "music_likeness", "copies", "diversity")


def curve(overrides: dict[str, Any]) -> Path:
    """Train and evaluate one cell at each of ``minutes``; returns its curve.json."""
    minutes = sorted(float(m) for m in str(overrides.pop("minutes", ",".join(map(str, MINUTES)))).split(","))
    folder = Path(str(overrides.pop("curves_dir", "runs/curves")))
    name = str(overrides.pop("name", f"{overrides.get('model', 'model')}-{overrides.get('repr', 'repr')}"))
    overrides.setdefault("preset", "quality")
    cell, path = RunDir(folder / name), folder / name / "curve.json"
    points = json.loads(path.read_text()) if path.is_file() else []
    for minute in minutes:
        if any(p["minutes"] == minute for p in points):
            print(f"{name}: {minute:g} min done before, skipped", flush=True)
            continue
        if cell.is_run:
            settings = cell.read_settings().with_run(max_seconds=minute * 60)
            write_toml(cell.config, settings.tables(),
                       header=f"audiozoo run; a stage of tools/quality_curve.py ({minute:g} min)")
            trained = run(resume=cell.path)
        else:
            trained = run(runs_dir=str(folder), name=name, **{**overrides, "max_seconds": minute * 60})
        data = prepare_data(trained.settings)
        print(f"{name}: evaluating at {minute:g} min ({trained.progress.step} steps)", flush=True)
        figures = evaluate(trained, data, metrics_at(trained.representation.sample_rate), sentinel_media(folder, data))
        png = cell.path / f"minute-{minute:g}.png"
        shutil.copyfile(figures.media["samples"]["png"], png)
        points.append({"minutes": minute, "steps": trained.progress.step, "seconds": trained.progress.seconds,
                       "metrics": figures.metrics, "rows": [asdict(row) for row in figures.rows],
                       "samples_png": png.name})
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(sorted(points, key=lambda p: p["minutes"]), indent=1))
    return path


def plot(folder: Path) -> tuple[Path, Path]:
    """curves.md and curves.png from every curve.json under ``folder``."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/curve.json"))}
    if not curves:
        raise SystemExit(f"no curve.json under {folder}: make one first (python tools/quality_curve.py model=...)")
    lines = ["| cell | minutes | steps | " + " | ".join(SHOWN) + " |", "|" + " --- |" * (3 + len(SHOWN))]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for name, points in curves.items():
        for p in points:
            lines.append(f"| {name} | {p['minutes']:g} | {p['steps']} | "
                         + " | ".join(fmt(p["metrics"].get(m)) for m in SHOWN) + " |")
        axis.plot([p["minutes"] for p in points], [max(p["metrics"][PIVOT], FLOOR) for p in points], "o-", label=name)
    rows = [Row(**row) for row in next(iter(curves.values()))[-1]["rows"]]
    noise = {row.label: row.figures for row in rows if row.kind == "noise"}
    for row in rows:
        lines.append(f"| *{row.label}* |  |  | " + " | ".join(fmt(row.figures.get(m)) for m in SHOWN) + " |")
    real = next(row.figures[PIVOT] for row in rows if row.kind == "real")
    axis.axhline(real, color="k", ls="--", lw=1, label=f"{REAL} ({real:.3g})")
    axis.axhline(3 * real, color="k", ls=":", lw=1, label="3 × real")
    closest = min(noise, key=lambda label: noise[label][PIVOT])
    axis.axhline(noise[closest][PIVOT], color="r", ls="--", lw=1, label=f"{closest} ({noise[closest][PIVOT]:.3g})")
    axis.set(xscale="log", yscale="log", xlabel="training minutes (2 CPU cores)",
             ylabel=f"{PIVOT} (lower is better; ≤ 0 drawn at {FLOOR:g})", title=f"Learning curves on the ruler: {folder.name}")
    axis.set_xticks(MINUTES, [str(m) for m in MINUTES])
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.legend(fontsize=8)
    figure.tight_layout()
    md, png = folder / "curves.md", folder / "curves.png"
    with atomic_file(png) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    with atomic_file(md) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return md, png


def picture(run_dir: Path, out: Path, n: int, seed: int) -> Path:
    """Held-out clips beside samples of the same length, one shared colour scale."""
    trained = load_run(run_dir)
    data = prepare_data(trained.settings)
    reference_idx, _ = split_by_file(data, data.split_indices()[1])
    real = data.segments[reference_idx[::2][:2]]
    seconds = real.shape[1] / trained.representation.sample_rate
    samples = trained.sample(n, seed=seed, seconds=seconds if trained.model.any_length else None).numpy()
    panels = {f"real (held out) {i}": w for i, w in enumerate(real)}
    panels.update({f"sample {i} ({trained.settings.model_name} × {trained.settings.repr_name}, "
                   f"{trained.progress.step} steps)": w for i, w in enumerate(samples)})
    save_spectrograms(out, panels, trained.representation.sample_rate)
    return out


def main(args: list[str]) -> None:
    if args[:1] == ["picture"] and len(args) > 1:
        overrides = parse_overrides(args[2:])
        print(picture(Path(args[1]), Path(str(overrides.get("out", "samples.png"))), int(overrides.get("n", 3)),
                      int(overrides.get("seed", 0))))
    elif args[:1] == ["plot"]:
        overrides = parse_overrides(args[1:])
        for path in plot(Path(str(overrides.get("curves_dir", "runs/curves")))):
            print(path)
    else:
        print(curve(parse_overrides(args)))


if __name__ == "__main__":
    main(sys.argv[1:])
