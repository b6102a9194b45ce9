"""The profiler's own overhead: its whole-model latency (core.profiling.profiler.time_model,
the measurement profile() makes per batch: warm-up, timed runs under inference_mode, the
median) against a bare torch.utils.benchmark.Timer of the same module, inputs, batch and
threads, alternating in one process.

Each round makes one measurement of each; the ratio of their medians is printed per round
and overall (aim: within 5%). Timer.blocked_autorange reports the median of block means,
which a loaded machine's preemptions inflate, so the ratio against the Timer's single runs
(timeit(1), the same statistic as ours) is printed too. The machine is noisy:
compare ratios, not absolute times. Usage:

    .venv/bin/python benchmarks/bench_profiler.py [--model lenet5] [--batch 32]
        [--threads 1] [--rounds 7] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.profiling.config import ProfileConfig  # noqa: E402
from core.torchbridge.resolve import resolve_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch
    from torch.utils import benchmark

    from core.torchbridge.build import build_model

    from core.profiling.machine import device_sync
    from core.profiling.profiler import time_model

    network = resolve_model(args.model)
    config = ProfileConfig(batches=(args.batch,), repeats=100_000, warmup=3,
                           budget_s=args.budget, threads=args.threads, device=args.device)
    # One module for both, eval, the same inputs; the Timer under inference_mode too.
    model = build_model(network).to(args.device).eval()
    inputs = model.example_inputs(args.batch, args.device)
    timer = benchmark.Timer("with torch.inference_mode(): model(*inputs)",
                            globals={"model": model, "inputs": inputs, "torch": torch},
                            num_threads=args.threads)
    sync = device_sync(args.device)
    previous = torch.get_num_threads()

    ours, theirs, singles = [], [], []
    for i in range(args.rounds):  # alternate, so that load changes hit both alike
        torch.set_num_threads(args.threads)  # as profile() does for its run
        timing = time_model(model, inputs, config, sync, lambda: False)
        torch.set_num_threads(previous)
        ours.append(timing.median_ms)
        theirs.append(timer.blocked_autorange(min_run_time=args.budget).median * 1e3)
        singles.append(statistics.median(timer.timeit(1).median for _ in
                                          range(timing.count)) * 1e3)
        print(f"round {i + 1}: profiler {ours[-1]:.3f} ms ({timing.count} runs), Timer "
              f"{theirs[-1]:.3f} ms (single runs {singles[-1]:.3f} ms), ratio "
              f"{ours[-1] / theirs[-1]:.3f} ({ours[-1] / singles[-1]:.3f})")
    ratios = [a / b for a, b in zip(ours, theirs)]
    single = [a / b for a, b in zip(ours, singles)]
    print(f"{args.model}, batch {args.batch}, {args.threads} thread(s), {args.device}: "
          f"profiler median {statistics.median(ours):.3f} ms, Timer median "
          f"{statistics.median(theirs):.3f} ms; ratio profiler/Timer: median "
          f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}–{max(ratios):.3f}); "
          f"against the Timer's single runs (timeit(1), as many as ours): median "
          f"{statistics.median(single):.3f} (rounds {min(single):.3f}–{max(single):.3f})")


if __name__ == "__main__":
    main()
