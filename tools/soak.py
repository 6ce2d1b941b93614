"""Soak test: kill a real run with SIGKILL at random moments, resume it each time, and check that
its final loss curve equals an uninterrupted run's (not part of the test suite; docs/reliability.md).

    python tools/soak.py --kills 10 --model vae_convpool --out /tmp/soak

Exit code 0 when the curves agree (to float rounding between processes), 1 when they do not.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from audiozoo.runs.rundir import RunDir


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in RunDir(run_dir).read_metrics() if "loss" in r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="how many times to kill the run")
    parser.add_argument("--model", default="vae_convpool")
    parser.add_argument("--repr", default="waveform")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=2.0, help="shortest life of a process before its kill")
    parser.add_argument("--max-seconds", type=float, default=15.0, help="longest life of a process before its kill")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill times")
    parser.add_argument("--out", type=Path, default=Path("soak"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    common = [f"model={args.model}", f"repr={args.repr}", "preset=debug", f"epochs={args.epochs}", "device=cpu",
              "checkpoint_every=100000", "checkpoint_seconds=1", "samples=1", "reconstructions=0",
              f"runs_dir={args.out}"]
    command = [sys.executable, "-m", "audiozoo", "run"]
    print("uninterrupted run ...", flush=True)
    subprocess.run([*command, *common, "name=whole"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    victim = args.out / "victim"
    rng = random.Random(args.seed)
    kills = 0
    while True:
        resume = RunDir(victim).is_run
        process = subprocess.Popen([*command, f"resume={victim}"] if resume else [*command, *common, "name=victim"],
                                   stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        if kills < args.kills:
            try:
                process.wait(timeout=rng.uniform(args.min_seconds, args.max_seconds))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                steps = len(losses(victim))
                print(f"kill {kills}/{args.kills}: {steps} steps logged", flush=True)
                continue
        if process.wait() != 0:
            print(f"the run ended with exit code {process.returncode}", file=sys.stderr)
            return 1
        break
    whole, survived = losses(args.out / "whole"), losses(victim)
    same = len(whole) == len(survived) and all(abs(a - b) <= 1e-5 * abs(a) for a, b in zip(whole, survived))
    print(f"{kills} kills; {len(survived)} steps against {len(whole)} uninterrupted: "
          + ("the same curve" if same else "DIFFERENT curves"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
