"""Wall time of a 4-point LeNet-5 sweep (batch 32, 64 × lr 0.001, 0.01; 1 epoch on the
bundled 3,000/1,000-image sample) inline against the local process pool (issue 16).

Three ways, alternated round after round so that the machine's load hits them alike:

- inline, 1 thread per point: the numbers every executor gives by default (--threads 1);
- inline, all cores per point: one point at a time using torch's intra-op threads;
- pool, cores workers × 1 thread: points side by side in spawned processes (its wall time
  includes starting the workers: spawn, import torch, receive the data).

Prints the median wall time per way, the ratios against the pool, and the pool's start-up
estimated as its wall time minus the busiest worker's training time (inference timing, 0.3 s a point, and
evaluation are left in the start-up figure).
Usage:

    .venv/bin/python benchmarks/bench_sweep_executors.py [--rounds 3] [--epochs 1]
        [--train-images N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GRID = ["batch_size=32,64", "lr=0.001,0.01"]


def sweep_once(executor, threads: int, data, epochs: int = 1):
    """(wall seconds, rows) of one sweep."""
    from core.graph.presets import load_preset
    from core.training.sweeps import SweepDone, parse_grid, run_sweep
    from core.training.trainer import TrainConfig
    start = time.perf_counter()
    done = None
    for event in run_sweep(load_preset("lenet5"), data, parse_grid(GRID),
                           TrainConfig(epochs=epochs, seed=0), 1, executor, threads=threads):
        if isinstance(event, SweepDone):
            done = event
    wall = time.perf_counter() - start
    assert done is not None and done.status == "finished", "the sweep did not finish"
    return wall, done.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per point (default 1): more work per point amortises "
                             "the pool's start-up")
    parser.add_argument("--train-images", type=int, default=None,
                        help="first N training images of the sample (default: all 3,000)")
    args = parser.parse_args()
    from core.cli.experiment import training_subset
    from core.training.data import SAMPLE_DIR
    from core.training.executors import InlineExecutor, PoolExecutor
    from core.training.sweeps import cores
    data = training_subset(str(SAMPLE_DIR), args.train_images)
    n = cores()
    ways = {
        "inline, 1 thread": lambda: sweep_once(InlineExecutor(), 1, data, args.epochs),
        f"inline, {n} threads": lambda: sweep_once(InlineExecutor(), n, data, args.epochs),
        f"pool, {n} workers × 1 thread": lambda: sweep_once(PoolExecutor(n, 1), 1, data,
                                                             args.epochs),
    }
    walls = {name: [] for name in ways}
    busiest = []
    reference = None
    sweep_once(InlineExecutor(), 1, data)  # warm-up: imports, allocator, data tensors
    for round_ in range(1, args.rounds + 1):
        for name, run in ways.items():
            wall, rows = run()
            walls[name].append(wall)
            if name.startswith("inline, 1"):
                reference = [(r.test_acc, r.test_loss) for r in rows]
            if name.startswith("pool"):
                assert [(r.test_acc, r.test_loss) for r in rows] == reference, \
                    "the pool's numbers differ from inline's"
                # points are given out in order; with 4 points on n workers each worker
                # trains about 4 / n of them: the busiest worker's compute
                per_point = sorted((r.train_seconds or 0) for r in rows)
                busiest.append(sum(per_point[-(len(rows) // n or 1):]))
            print(f"round {round_}: {name}: {wall:.2f} s", file=sys.stderr, flush=True)
    pool_name = list(ways)[-1]
    pool = statistics.median(walls[pool_name])
    print(f"4-point LeNet-5 sweep on {data.description}, {args.epochs} epoch(s), {n} cores, "
          f"{args.rounds} rounds (median wall time)")
    for name in ways:
        median = statistics.median(walls[name])
        print(f"  {name:<28} {median:7.2f} s   × {median / pool:.2f} of the pool's time")
    startup = pool - statistics.median(busiest)
    print(f"  pool start-up, hand-over, evaluation and inference timing (wall − busiest "
          f"worker's training): ≈ {startup:.2f} s")
    print("  the numbers of every point are equal on inline and pool (checked each round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
