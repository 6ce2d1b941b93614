"""The benchmark suite runs end to end at a tiny size. No timing is asserted: figures depend on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audiozoo import list_models, list_representations

REPO = Path(__file__).resolve().parents[1]


def benchmarks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_suite_runs_at_tiny_size_and_writes_its_tables(tmp_path):
    result = benchmarks("--size", "tiny", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["command"].startswith("python -m benchmarks --size tiny")
    assert {"cpu", "cores", "torch threads", "torch", "librosa"} <= set(report["machine"])
    titles = ["Representation forward", "Inversion", "Data preparation", "Training throughput", "Generation",
              "Peak resident memory", "Scaling", "Data at scale", "Bench evaluation"]
    assert [s["title"][: len(t)] for s, t in zip(report["sections"], titles)] == titles
    assert all(s["rows"] for s in report["sections"])
    sections = dict(zip(titles, report["sections"]))
    assert all(row["rel. error"] < 1e-5 for row in sections["Representation forward"]["rows"])  # same output as librosa
    cells = {(row["model"], row["repr"]) for row in sections["Training throughput"]["rows"]}
    every = {(m, r) for m in list_models() for r in list_representations(standalone=True)}
    assert cells == every and all(row["GFLOP/step"] > 0 for row in sections["Training throughput"]["rows"])
    judged = {row["what"]: row for row in sections["Bench evaluation"]["rows"]}
    assert judged["evaluation, warm cache"]["seconds"] > judged["copies on the samples"]["seconds"] > 0
    assert (tmp_path / "results.md").read_text() in result.stdout


def test_unknown_section_is_a_usage_error():
    result = benchmarks("--only", "forwards")
    assert result.returncode == 2 and "forward" in result.stderr
