"""`audiozoo report` on fake bench cells laid out as the bench writes them (tiny WAVs and PNGs):
the tables, the best marks and references, the pivot grid, and the page, in a real browser."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tomllib
from browser import BrowserUnavailable, Chromium
from PIL import Image

from audiozoo.errors import AudiozooError
from audiozoo.plots import save_loss_curves, save_spectrograms
from audiozoo.report import build_report
from audiozoo.report.cells import find_run_dirs, read_cell
from audiozoo.report.tables import REFERENCE, fmt, pivot_table

SAMPLE_RATE = 3150
INFO = {
    "frechet_logmel": {"task": "generation", "higher_is_better": False, "unit": ""},
    "structure_distance": {"task": "generation", "higher_is_better": False, "unit": "", "distance": True,
                           "structure": True},
    "snr": {"task": "reconstruction", "higher_is_better": True, "unit": "dB"},
    "spectral_convergence": {"task": "reconstruction", "higher_is_better": False, "unit": ""},
}
REFERENCE_VALUES = {"frechet_logmel": 1.2, "structure_distance": 0.001}
SENTINELS = {"noise: white": {"frechet_logmel": 9.0, "structure_distance": 0.04},
             "noise: envelope": {"frechet_logmel": 2.0, "structure_distance": 0.025},
             "degraded: Griffin-Lim": {"frechet_logmel": 1.5, "structure_distance": 0.002}}
CEILINGS = {"mel": {"frechet_logmel": 1.4, "structure_distance": 0.004},
            "waveform": {"frechet_logmel": 1.2, "structure_distance": 0.001}}
ERROR = "RuntimeError: CUDA out of memory | <b>step 3</b>"


class Bench:
    """Writes cell run directories under ``root`` and remembers which media the page must show."""

    def __init__(self, root: Path) -> None:
        self.root, self.seed = root, 0
        self.shown_png: list[Path] = []
        self.hidden_png: list[Path] = []
        self.shown_wav = 0

    def cell(self, name: str, model: str, rep: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True)
        (path / "config.toml").write_text(
            f'[run]\nmodel = "{model}"\nrepr = "{rep}"\ndata = "classical"\nepochs = 1\n\n'
            "[model]\n\n[repr]\n\n[data]\n")
        return path

    def evaluate(self, run: Path, evaluation: dict) -> None:
        names = tomllib.loads((run / "config.toml").read_text())["run"]
        body = {k: names[k] for k in ("model", "repr", "data")} | {"metric_info": INFO} | evaluation
        (run / "evaluation.json").write_text(json.dumps(body))

    def png(self, run: Path, rel: str, shown: bool = True) -> str:
        save_spectrograms(run / rel, {rel: self._wave()}, SAMPLE_RATE)
        (self.shown_png if shown else self.hidden_png).append(run / rel)
        return rel

    def losses(self, run: Path) -> str:
        """Loss curves as a run draws them, a different decay each time."""
        self.seed += 1
        save_loss_curves(run / "losses.png", [(s, {"loss": 2 / (1 + s / self.seed), "kl": 0.1 * s ** 0.5})
                                              for s in range(0, 200, 10)])
        self.shown_png.append(run / "losses.png")
        return "losses.png"

    def wav(self, run: Path, rel: str, shown: bool = True) -> str:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(run / rel, self._wave(), SAMPLE_RATE, subtype="PCM_16")
        self.shown_wav += shown
        return rel

    def clips(self, run: Path, png: str, n: int, shown: bool = True) -> dict:
        """``png`` and ``n`` WAVs beside it, named as the bench names them (samples/sample_00.wav, ...)."""
        stem = png.removesuffix(".png").removesuffix("s")
        wav = [self.wav(run, f"{stem}_{i:02d}.wav", shown) for i in range(n)]
        return {"png": self.png(run, png, shown), "wav": wav}

    def pairs(self, run: Path, n: int) -> dict:
        wav = [[self.wav(run, f"reconstructions/clip_{i:02d}.{side}.wav") for side in ("input", "reconstruction")]
               for i in range(n)]
        return {"png": self.png(run, "reconstructions/reconstructions.png"), "wav": wav}

    def media(self, run: Path, samples: int = 2, pairs: int = 0, losses: bool = False,
              real: bool | None = None, roundtrip: bool | None = None, sentinels: bool | None = None) -> dict:
        """evaluation.json's ``media``, its files written; ``real``/``roundtrip``: None leaves them
        out, else whether the page is expected to show them (once per data set / representation)."""
        media = {"samples": self.clips(run, "samples/samples.png", samples)}
        if losses:
            media["losses"] = self.losses(run)
        if pairs:
            media["reconstructions"] = self.pairs(run, pairs)
        if real is not None:
            media["real"] = self.clips(run, "evaluation/real.png", 2, real)
        if sentinels is not None:
            media["sentinels"] = self.clips(run, "evaluation/sentinels.png", 3, sentinels)
        if roundtrip is not None:
            media["roundtrip"] = self.clips(run, "evaluation/roundtrip.png", 1, roundtrip)
        return media

    def _wave(self) -> np.ndarray:
        """Half a second of a decaying tone, a different one each time."""
        self.seed += 1
        t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
        return (0.4 * np.exp(-3 * t) * np.sin(2 * np.pi * (110 + 37 * self.seed) * t)).astype(np.float32)


def figures(parameters: int, train: float, speed: float, realtime: float, memory: float, **metrics: float) -> dict:
    return {"status": "done", "error": None, "parameters": parameters, "train_seconds": train,
            "examples_per_second": speed, "generation_x_realtime": realtime, "peak_memory_mb": memory,
            "metrics": metrics, "reference": REFERENCE_VALUES}


def calibrated(rep: str) -> dict:
    """The sentinel rows a bench cell on ``rep`` carries: the shared ones and its representation's ceiling."""
    return {"sentinels": {**SENTINELS, f"ceiling: {rep}": CEILINGS[rep]}}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """Three evaluated cells, a failed one, and a plain run without evaluation.json; listed in the
    order the report reads them (sorted), so it is known which real clips and round trips it shows."""
    b = Bench(tmp_path_factory.mktemp("bench"))
    run = b.cell("1-gan-mel", "gan", "mel")
    b.evaluate(run, figures(2_000_000, 100.0, 50.0, 800.0, 1500.0, frechet_logmel=5.0, structure_distance=0.02) | {
        "losses": {"d": 0.5, "g": 1.2}, **calibrated("mel"), "media": b.media(run, losses=True, real=True, roundtrip=True, sentinels=True)})
    run = b.cell("2-vae-waveform", "vae_convpool", "waveform")
    b.evaluate(run, figures(500_000, 200.0, 20.0, 1200.0, 900.0, frechet_logmel=3.0, structure_distance=0.05,
                            snr=3.1, spectral_convergence=0.5) | {
        "losses": {"loss": 0.1, "kl": 0.01}, **calibrated("waveform"), "ceiling": {"snr": 138.0, "spectral_convergence": 0.01},
        "media": b.media(run, pairs=2, real=False, roundtrip=True, sentinels=False)})
    run = b.cell("3-vae-mel", "vae_convpool", "mel")
    b.evaluate(run, figures(600_000, 50.0, 80.0, 400.0, 1000.0, frechet_logmel=4.0, structure_distance=0.03,
                            snr=5.0, spectral_convergence=0.3) | {
        "losses": {"loss": 0.2, "recon": 0.15}, **calibrated("mel"), "ceiling": {"snr": 20.0, "spectral_convergence": 0.1},
        "media": b.media(run, pairs=1, roundtrip=False)})
    run = b.cell("4-gan-waveform", "gan", "waveform")
    b.evaluate(run, {"status": "failed", "error": ERROR, "parameters": 100, "media": {"losses": b.losses(run)}})
    run = b.cell("5-plain-stft", "vae_1dconv", "stft")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "latest.pt").write_bytes(b"")
    b.media(run, samples=1, pairs=1, losses=True)
    return b


@pytest.fixture(scope="module")
def report(bench: Bench) -> dict[str, Path]:
    return build_report([bench.root], bench.root.parent / "report")


def csv_rows(report: dict[str, Path]) -> dict[str, dict[str, str]]:
    with open(report["csv"], newline="") as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def test_csv_has_a_row_per_cell_and_every_figure(report: dict[str, Path]) -> None:
    with open(report["csv"], newline="") as f:
        header = next(csv.reader(f))
    assert header == ["run", "model", "repr", "data", "status", "verdict", "frechet_logmel", "structure_distance",
                      "snr", "snr.ceiling", "spectral_convergence", "spectral_convergence.ceiling",
                      "generation_x_realtime", "parameters", "train_seconds", "examples_per_second", "peak_memory_mb",
                      "final_d", "final_g", "final_loss", "final_kl", "final_recon", "error", "best"]
    rows = csv_rows(report)
    assert list(rows) == ["1-gan-mel", "2-vae-waveform", "3-vae-mel", "4-gan-waveform", "5-plain-stft", REFERENCE,
                          "noise: white", "noise: envelope", "degraded: Griffin-Lim", "ceiling: mel", "ceiling: waveform"]
    assert rows["2-vae-waveform"]["snr"] == "3.1" and rows["2-vae-waveform"]["snr.ceiling"] == "138.0"
    assert rows["4-gan-waveform"]["status"] == "failed" and rows["4-gan-waveform"]["error"] == ERROR
    plain = rows["5-plain-stft"]
    assert plain["status"] == "done" and plain["model"] == "vae_1dconv"
    assert all(plain[k] == "" for k in ("parameters", "frechet_logmel", "error"))


def test_best_follows_each_columns_direction_among_working_cells(report: dict[str, Path]) -> None:
    best = {run: set(filter(None, row["best"].split(";"))) for run, row in csv_rows(report).items()}
    assert best == {
        "1-gan-mel": {"structure_distance"},
        "2-vae-waveform": {"parameters", "frechet_logmel", "generation_x_realtime", "peak_memory_mb"},
        "3-vae-mel": {"train_seconds", "examples_per_second", "snr", "spectral_convergence"},
        "4-gan-waveform": set(),  # fewest parameters, but failed
        "5-plain-stft": set(),
        **{label: set() for label in (REFERENCE, *SENTINELS, "ceiling: mel", "ceiling: waveform")},
    }


def test_sentinel_rows_and_verdicts(report: dict[str, Path]) -> None:
    """Each sentinel is a row of the table; a cell that does not beat every noise sentinel on every
    structure metric is noise-like, whatever its other figures (cell 3 beats white noise, and is
    best on snr, but not the envelope noise's 0.025)."""
    rows = csv_rows(report)
    assert rows["noise: envelope"]["structure_distance"] == "0.025" and rows["ceiling: mel"]["frechet_logmel"] == "1.4"
    assert {run: rows[run]["verdict"] for run in ("1-gan-mel", "2-vae-waveform", "3-vae-mel", "4-gan-waveform")} == {
        "1-gan-mel": "beats noise", "2-vae-waveform": "noise-like", "3-vae-mel": "noise-like", "4-gan-waveform": ""}
    assert "noise-like when a cell does not beat every noise sentinel" in report["md"].read_text()
    page = report["html"].read_text()
    assert '<td class="noise-like">noise-like</td>' in page and '<td class="beats-noise">beats noise</td>' in page


def test_reference_row_holds_generation_metrics_between_real_splits(report: dict[str, Path]) -> None:
    reference = csv_rows(report)[REFERENCE]
    assert reference["data"] == "classical"
    assert reference["frechet_logmel"] == "1.2" and reference["structure_distance"] == "0.001"
    assert reference["snr"] == reference["model"] == reference["status"] == ""


def test_markdown_marks_best_escapes_and_pivots(report: dict[str, Path]) -> None:
    text = report["md"].read_text()
    lines = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    # The summary leads with the deciding columns; every other figure is in results.csv.
    assert "| structure_distance ↓ |" in text and "| train time (s) ↓ |" in text
    assert "snr" not in text.split("## structure_distance: model")[0].split("\n- ")[0]
    assert "**0.0200**" in lines["1-gan-mel"] and "**50.0**" in lines["3-vae-mel"]
    assert "out of memory \\| \\<b>step 3\\</b>" in lines["4-gan-waveform"]
    # The grid pivots registry.toml's default metric, with its real-vs-real reference below.
    assert "## structure_distance: model × representation" in text
    assert lines["vae_convpool"].split(" | ")[2:] == ["0.0300", "0.0500", " |"]  # gan is best on mel; waveform has one figure
    assert "*0.00100*" in lines[f"*{REFERENCE}*"]


def test_pivot_grid_defaults_to_the_first_generation_metric(bench: Bench) -> None:
    cells = [read_cell(p) for p in find_run_dirs([bench.root])]
    grid = pivot_table(cells)
    assert [c.key for c in grid.columns] == ["model", "data", "mel", "waveform", "stft"]
    assert [r.values for r in grid.rows] == [
        ["gan", "classical", 5.0, "failed", None],
        ["vae_convpool", "classical", 4.0, 3.0, None],
        ["vae_1dconv", "classical", None, None, None],
        [REFERENCE, "classical", 1.2, 1.2, 1.2],
        ["noise: white", "classical", 9.0, 9.0, 9.0],
        ["noise: envelope", "classical", 2.0, 2.0, 2.0],
        ["degraded: Griffin-Lim", "classical", 1.5, 1.5, 1.5],
        ["ceiling (representation round trip)", "classical", 1.4, 1.2, None],
    ]
    assert grid.best == {(1, 2)}  # lower is better; one figure in a column is no contest
    snr = pivot_table(cells, "snr")
    assert snr.rows[-1].values == ["ceiling (representation round trip)", "classical", 20.0, 138.0, None]
    assert snr.best == set()  # no column has two figures


def test_figures_that_could_not_be_computed_are_said_not_averaged(tmp_path: Path) -> None:
    b = Bench(tmp_path / "bench")
    run = b.cell("1-vae-mel", "vae_convpool", "mel")
    b.evaluate(run, figures(1000, 1.0, 1.0, 1.0, 1.0, structure_distance=float("nan"), snr=4.0) | {
        "notes": ["snr: 2 of 26 clips not computable", "structure_distance: not computable on these samples"]})
    row = csv_rows(build_report([b.root], tmp_path / "out"))["1-vae-mel"]
    assert row["snr"] == "4.0" and row["verdict"] == ""  # no structure figure: no verdict either way
    assert row["error"] == "snr: 2 of 26 clips not computable; structure_distance: not computable on these samples"
    assert "| n/a |" in (tmp_path / "out" / "results.md").read_text()


def test_unknown_pivot_metric_lists_the_choices(bench: Bench, tmp_path: Path) -> None:
    with pytest.raises(AudiozooError, match=r"unknown metric 'frechet_mel'; choose from: frechet_logmel, .*snr"):
        build_report([bench.root], tmp_path, pivot="frechet_mel")


def test_paths_that_are_not_run_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AudiozooError, match="not a run directory"):
        build_report([tmp_path], tmp_path / "out")
    with pytest.raises(AudiozooError, match="no cells"):
        build_report([], tmp_path / "out")


def test_a_plain_run_without_checkpoint_is_a_failed_row(tmp_path: Path) -> None:
    cell = read_cell(Bench(tmp_path).cell("unfinished", "gan", "mel"))
    assert (cell.evaluation.status, cell.evaluation.error, cell.media) == (
        "failed", "no checkpoint: training did not finish", {})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.toml").write_text("[model]\n")
    with pytest.raises(AudiozooError, match=r"has no \[run\] table"):
        read_cell(tmp_path / "broken")


def test_numbers_keep_three_significant_digits() -> None:
    assert [fmt(v) for v in (None, 0.0, 3.14159, 812.0, 0.0234567, 12345.6, 2.5e-5, 950, 123456, 2_000_000)] == [
        "", "0", "3.14", "812", "0.0235", "12346", "2.5e-05", "950", "123k", "2M"]


def test_page_embeds_every_cell_and_media_item(bench: Bench, report: dict[str, Path]) -> None:
    page = report["html"].read_text()
    for name in ("gan × mel", "vae_convpool × waveform", "vae_convpool × mel", "gan × waveform",
                 "vae_1dconv × stft"):
        assert f"{name} · classical" in page
    assert "&lt;b&gt;step 3&lt;/b&gt;" in page and "<b>step 3" not in page
    images = re.findall(r'<img src="data:image/webp;base64,([^"]+)" alt="[^"]*" title="([^"]+)"', page)
    assert sorted(source for _, source in images) == sorted(map(str, [*bench.shown_png, report["chart:classical"]]))
    assert page.count("<img ") == len(images)
    for data, source in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).size == Image.open(source).size
    for png in bench.hidden_png:  # a second cell's real clips or round trip of the same data and representation
        assert str(png) not in page
    audio = re.findall(r'<audio [^>]*src="data:audio/ogg;base64,([^"]+)"', page)
    assert len(audio) == page.count("<audio ") == bench.shown_wav
    wave, rate = sf.read(io.BytesIO(base64.b64decode(audio[0])))
    assert rate == SAMPLE_RATE and len(wave) == SAMPLE_RATE // 2
    assert "http://" not in page and "https://" not in page


CHECK_MEDIA = """(async () => {
  const audios = [...document.querySelectorAll('audio')];
  const settled = () => audios.every(a => a.readyState >= 1 || a.error);
  for (let i = 0; i < 300 && !settled(); i++) await new Promise(r => setTimeout(r, 100));
  const images = [...document.images];
  return {images: images.length, audios: audios.length,
          brokenImages: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
          brokenAudios: audios.filter(a => a.error || a.readyState < 1 || !(a.duration > 0))
                              .map(a => `${a.title}: ${a.error ? a.error.message : 'readyState ' + a.readyState}`)};
})()"""


def test_page_loads_in_a_headless_browser(bench: Bench, report: dict[str, Path], tmp_path: Path) -> None:
    try:
        browser = Chromium(tmp_path / "profile")
    except BrowserUnavailable as err:
        pytest.skip(str(err))
    with browser:
        browser.open(report["html"].resolve().as_uri())
        media = browser.evaluate(CHECK_MEDIA)
        shot = tmp_path / "report.png"
        browser.screenshot(shot)
    assert media == {"images": len(bench.shown_png) + 1, "audios": bench.shown_wav, "brokenImages": [], "brokenAudios": []}
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_intervals_set_the_verdicts_margins_and_the_ladder_rungs_beaten(tmp_path: Path) -> None:
    """A verdict holds only beyond both intervals: cell B's structure figure is below white noise's
    but their intervals overlap (noise-like); A and C beat the noise, then every rung of each
    strength they clear on the fidelity metric (C only the severe ones, A the medium ones too)."""
    from audiozoo.runs.evaluation import Evaluation, MetricInfo, Row

    info = {"structure_distance": MetricInfo("generation", False, roles=("distance", "structure")),
            "fidelity": MetricInfo("generation", False, roles=("distance", "fidelity")),
            "copies": MetricInfo("generation", False, "%", roles=("memorisation",))}
    rows = [Row("real", REFERENCE, {"structure_distance": 0.001, "fidelity": 0.1},
                intervals={"structure_distance": (-0.002, 0.004), "fidelity": (-0.5, 0.6)}),
            Row("noise", "noise: white", {"structure_distance": 0.5, "fidelity": 90.0},
                intervals={"structure_distance": (0.4, 0.6), "fidelity": (80.0, 99.0)})]
    for rung, (value, low, high) in {"mild": (2.0, 1.0, 3.0), "medium": (6.0, 5.0, 7.0),
                                     "severe": (20.0, 15.0, 25.0)}.items():
        rows.append(Row("ladder", f"ladder: chop ({rung})", {"fidelity": value, "structure_distance": 0.01},
                        intervals={"fidelity": (low, high)}, ladder="chop", rung=rung))
    b = Bench(tmp_path / "bench")
    for name, structure, fidelity in (("A", (0.05, 0.03, 0.07), (4.0, 3.5, 4.5)),
                                      ("B", (0.45, 0.3, 0.55), (4.0, 3.5, 4.5)),
                                      ("C", (0.05, 0.03, 0.07), (10.0, 8.0, 12.0))):
        run = b.cell(name, "flow", "mel")
        Evaluation("flow", "mel", "classical", metrics={"structure_distance": structure[0], "fidelity": fidelity[0],
                                                        "copies": 0.0},
                   intervals={"structure_distance": structure[1:], "fidelity": fidelity[1:]},
                   rows=rows, metric_info=info).write(run / "evaluation.json")
    out = build_report([b.root], tmp_path / "out", pivot="fidelity")
    table = csv_rows(out)
    assert {name: table[name]["verdict"] for name in "ABC"} == {
        "A": "beats medium", "B": "noise-like", "C": "beats severe"}
    assert (table["A"]["fidelity.low"], table["A"]["fidelity.high"]) == ("3.5", "4.5")
    assert table["ladder: chop (severe)"]["fidelity.low"] == "15.0"
    text = out["md"].read_text()
    assert "| fidelity ↓ | structure_distance ↓ | copies (%) ↓ |" in text  # the pivot leads
    assert "| **4.00 ± 0.500** |" in text and "*20.0 ± 5.00*" in text
    assert out["chart:classical"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pivot-classical.png" in text
