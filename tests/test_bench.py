"""`audiozoo bench`: cells as run directories, the same settings for all, failures kept, re-runs resume."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from conftest import write_music

from audiozoo.bench.calibration import calibration_rows
from audiozoo.bench.cell import INTERRUPTED, run_cell
from audiozoo.bench.evaluate import _mean_of_measured
from audiozoo.bench.matrix import PlannedCell, bench
from audiozoo.cli import cli
from audiozoo.ladders import ladders
from audiozoo.metric import GenerationMetric
from audiozoo.sentinels import REAL, sentinels


@pytest.fixture
def settings(tiny, tmp_path):
    """The tiny model on a folder of 10 pieces (2 held out: the bench splits them by file)."""
    for i in range(6, 10):
        write_music(tmp_path / "music" / f"piece{i}.wav", 1.2, 8000, seed=i)
    return {k: v for k, v in tiny.items() if k not in ("model", "repr")} | {"epochs": 2}


def evaluation(cell: PlannedCell) -> dict:
    return json.loads((cell.path / "evaluation.json").read_text())


def files_text(files: dict, name: str) -> str:
    return next(p for p in files.values() if p.name == name).read_text()


def rows(done: dict) -> dict[str, dict]:
    """evaluation.json's rows by label."""
    return {row["label"]: row for row in done["rows"]}


def test_bench_runs_every_cell_alike_and_records_failures(settings, tmp_path, private_cache):
    lines: list[str] = []
    cells, files = bench(models="tiny", reprs="waveform,mel", echo=lines.append,
                         **settings, **{"model.fail_channels": 1})  # the waveform cell (1 channel) fails
    assert [(c.model, c.repr, c.status) for c in cells] == [("tiny", "mel", "done"), ("tiny", "waveform", "failed")]
    done, failed = evaluation(cells[0]), evaluation(cells[1])
    assert failed["error"] == "ValueError: tiny refuses 1 channels"
    assert done["steps"] == 8 and done["parameters"] > 0 and done["generation_x_realtime"] > 0
    assert done["peak_memory_mb"] > 50
    assert {"snr", "spectral_convergence"} <= set(done["metrics"]) <= set(done["metric_info"])
    assert set(done["ceiling"]) == {m for m, i in done["metric_info"].items() if i["task"] == "reconstruction"}
    generation = {m for m, i in done["metric_info"].items() if i["task"] == "generation"}
    assert done["version"] == 2 and [r["kind"] for r in done["rows"]][:1] == ["real"]
    rungs = ladders(8000)
    assert list(rows(done)) == [REAL, *(s.label for s in sentinels(8000)), *(r.label for r in rungs), "ceiling: mel"]
    assert [r["kind"] for r in done["rows"]][1:] == [*(s.kind for s in sentinels(8000)), *["ladder"] * len(rungs),
                                                     "ceiling"]
    assert [(r["ladder"], r["rung"]) for r in done["rows"] if r["kind"] == "ladder"] == [(r.ladder, r.rung) for r in rungs]
    computed = {m for m in generation if not math.isnan(done["metrics"][m])}  # FAD and KAD need weights: n/a
    assert done["unavailable"]["fad_vggish"].startswith("without the published weights: metric.fad_vggish.weights=PATH")
    assert "fad_vggish: n/a without the published weights" in files_text(files, "results.md")  # once, under the table
    assert all(set(row["figures"]) == computed for row in done["rows"])
    # every set figure has its bootstrap interval, the cell's and each row's
    assert set(done["intervals"]) == {m for m in computed if m != "copies"}
    assert all(low <= high for low, high in done["intervals"].values())
    assert set(rows(done)[REAL]["intervals"]) == set(done["intervals"])
    assert rows(done)["ceiling: mel"]["repr"] == "mel"
    assert len(list((cells[0].path.parent / "sentinels").iterdir())) == 1  # one data set, one split
    calibrations = list((private_cache / "calibration").glob("*.json"))  # beside the prepared data
    assert len(calibrations) == 1 and list((private_cache / "features").glob("structure_distance*/*.pt"))
    for role in ("real", "roundtrip", "samples", "reconstructions", "sentinels", "ladders"):
        assert (cells[0].path / done["media"][role]["png"]).is_file()
    assert done["media"]["sentinels"]["png"].startswith("../sentinels/")  # one picture for every cell
    config = (cells[0].path / "config.toml").read_text()
    assert "epochs = 2" in config and 'repr = "mel"' in config
    assert {"results.csv", "results.md", "report.html"} <= {p.name for p in files.values()}

    # The same command again: finished cells are skipped, the failed one is retried.
    before = (cells[0].path / "evaluation.json").stat().st_mtime_ns
    lines.clear()
    bench(models="tiny", reprs="waveform,mel", echo=lines.append, **settings, **{"model.fail_channels": 1})
    assert lines[0] == "[1/2] tiny × mel: done before, skipped" and lines[1] == "[2/2] tiny × waveform (retrying)"
    assert (cells[0].path / "evaluation.json").stat().st_mtime_ns == before


def test_an_interrupted_cell_continues_from_its_checkpoint(settings, tmp_path):
    cell = PlannedCell("tiny", "mel", tmp_path / "bench" / "tiny-mel")
    overrides = {**settings, "model": "tiny", "repr": "mel", "model.fail_at": 7}
    overrides.pop("runs_dir")
    assert run_cell(cell.path, overrides) == INTERRUPTED
    assert cell.status == "pending" and (cell.path / "checkpoints" / "latest.pt").is_file()
    assert run_cell(cell.path, overrides) == 0
    assert cell.status == "done" and evaluation(cell)["steps"] == 8


def test_a_cell_whose_process_dies_is_recorded_as_failed(settings):
    lines: list[str] = []
    cells, _ = bench(models="tiny", reprs="mel", echo=lines.append,
                     **settings, **{"model.fail_at": 2, "model.fail_with": "exit"})
    assert cells[0].status == "failed"
    assert evaluation(cells[0])["error"] == "the cell's process ended with exit code 3"
    assert evaluation(cells[0])["data"] == "folder"


def test_bench_refuses_to_mix_settings_and_bad_patterns(settings):
    runner = CliRunner()
    args = [f"{k}={v}" for k, v in settings.items()]
    first = runner.invoke(cli, ["bench", "models=tiny", "reprs=mel", *args])
    assert first.exit_code == 0, first.output
    assert "bench finished: 1 of 1 cells done" in first.output
    again = runner.invoke(cli, ["bench", "models=tiny", "reprs=mel", *args, "epochs=3"])
    assert again.exit_code == 2 and "was benched with other settings" in again.output
    none = runner.invoke(cli, ["bench", "models=nothing*", *args])
    assert none.exit_code == 2 and "no cell matches models=nothing*" in none.output
    typo = runner.invoke(cli, ["bench", "models=tiny", "reprs=mel", *args, "model.nope=1"])
    assert typo.exit_code == 2 and "nope" in typo.output
    init = runner.invoke(cli, ["bench", "models=tiny", *args, "init=runs/some-run"])
    assert init.exit_code == 2 and "use audiozoo run init=RUN_DIR" in init.output


class Counting(GenerationMetric):
    """Mean level of the estimate; counts its calls, to see what the cache spares."""

    name = "counting"
    higher_is_better = False
    calls = 0

    def __call__(self, reference, estimate, train=None):
        Counting.calls += 1
        return estimate.abs().mean()


def test_sentinels_are_scored_once_per_data_set_and_each_ceiling_once(tmp_path):
    generator = torch.Generator().manual_seed(0)
    reference, stand_in, train = (torch.randn(n, 3150, generator=generator) for n in (4, 3, 6))
    cache = tmp_path / "sentinels" / "data.json"
    metrics = [Counting()]
    first = calibration_rows(cache, metrics, "mel", reference, stand_in, train, 0.5 * stand_in)
    count = len(sentinels(3150)) + len(ladders(3150)) + 2  # real, every sentinel and rung, the ceiling
    assert Counting.calls == count and first[0].key == ("real", REAL) and first[-1].key == ("ceiling", "ceiling: mel")
    assert first[-1].figures["counting"] == pytest.approx(0.5 * first[0].figures["counting"])
    again = calibration_rows(cache, metrics, "mel", reference, stand_in, train, 0.5 * stand_in)
    assert again == first and Counting.calls == count  # nothing recomputed
    calibration_rows(cache, metrics, "stft", reference, stand_in, train, stand_in)
    assert Counting.calls == count + 1  # only the new representation's ceiling
    retuned = calibration_rows(cache, metrics, "mel", reference, stand_in, train, 0.25 * stand_in)
    assert Counting.calls == count + 2  # mel with other settings: another round trip, scored afresh
    assert retuned[-1].figures["counting"] == pytest.approx(0.5 * first[-1].figures["counting"])
    class Scaled(Counting):
        version = 2  # the same name with other code (or settings): its cached figures are not reused
    calibration_rows(cache, [Scaled()], "mel", reference, stand_in, train, 0.5 * stand_in)
    assert Counting.calls == 2 * count + 2
    calibration_rows(cache, metrics, "mel", reference, stand_in, train, 0.5 * stand_in, draws=10)
    assert Counting.calls == 3 * count + 2  # figures drawn with other intervals are not reused either
    cache.write_text("{not json")  # a damaged cache is rebuilt, not trusted
    assert calibration_rows(cache, metrics, "mel", reference, stand_in, train, 0.5 * stand_in) == first


def test_a_clip_whose_figure_cannot_be_computed_is_noted_not_averaged():
    notes: list[str] = []
    assert _mean_of_measured("snr", torch.tensor([1.0, float("nan"), 3.0]), notes) == 2.0
    assert notes == ["snr: 1 of 3 clips not computable"]
    assert math.isnan(_mean_of_measured("lsd", torch.tensor([float("inf")]), notes))
