"""``python -m benchmarks [--size full|quick|tiny] [--device cpu|cuda] [--threads N] [--only SECTION,...]``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from audiozoo.allocator import tune_allocator
from benchmarks import data, evaluation, hours, memory, models, representations
from benchmarks.harness import SIZES, Section, Size, machine, synchronizer
from benchmarks.report import document, write

Benchmark = Callable[[Size, torch.device, Callable[[], None], Path], Section]

SECTIONS: dict[str, Benchmark] = {
    "forward": lambda size, device, sync, tmp: representations.forward(size, device, sync),
    "inversion": lambda size, device, sync, tmp: representations.inversion(size, device, sync),
    "prepare": lambda size, device, sync, tmp: data.prepare(size, tmp),
    "training": lambda size, device, sync, tmp: models.training(size, device, sync),
    "generation": lambda size, device, sync, tmp: models.generation(size, device, sync),
    "memory": lambda size, device, sync, tmp: memory.memory(size, tmp),
    "scaling": lambda size, device, sync, tmp: memory.scaling(size, tmp),
    "data": lambda size, device, sync, tmp: hours.hours(size, device, tmp),
    "evaluation": evaluation.evaluation,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--size", choices=SIZES, default="full", help="full: the published table; quick, tiny: checks")
    parser.add_argument("--quick", action="store_const", const="quick", dest="size", help="same as --size quick")
    parser.add_argument("--device", default="cpu", help="torch device of the audiozoo side (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc malloc as it is (the audiozoo command tunes it: audiozoo/allocator.py)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated, from: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"), help="where results.md and .json go")
    args = parser.parse_args(argv)
    tuned = not args.default_malloc and tune_allocator()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    if unknown := sorted(set(chosen) - set(SECTIONS)):
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the processes of the memory and scaling rows
    threadpool_limits(torch.get_num_threads(), user_api="blas")  # librosa's BLAS gets the threads we get
    device = torch.device(args.device)
    sync = synchronizer(device)
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    size = SIZES[args.size]
    described = {**machine(device), "malloc": "tuned (audiozoo/allocator.py)" if tuned else "glibc default"}
    sections = []
    with tempfile.TemporaryDirectory(prefix="audiozoo-bench-") as tmp:
        for name in chosen:
            print(f"[{name}] ...", file=sys.stderr, flush=True)
            sections.append(SECTIONS[name](size, device, sync, Path(tmp)))
    print(document(command, described, sections))
    for path in write(args.out, command, described, sections):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
