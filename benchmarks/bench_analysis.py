"""How fast is the whole analysis of a ResNet-50-sized graph, against measuring the same
network with torch's FlopCounterMode on the built model?

Runs both in one process, alternating, and prints medians and ratios (the machine is
noisy: compare ratios, not absolute times). Usage:

    .venv/bin/python benchmarks/bench_analysis.py [--model resnet50] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.graph.analysis import AnalysisOptions, analyze  # noqa: E402
from core.torchbridge.resolve import resolve_model  # noqa: E402


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from core.torchbridge.build import build_model

    network = resolve_model(args.model)
    options = AnalysisOptions(batch=args.batch)
    analysis = analyze(network, options)
    model = build_model(network).eval()
    with torch.device("meta"):
        meta_model = build_model(network).eval()
    cpu_inputs = model.example_inputs(args.batch)
    meta_inputs = meta_model.example_inputs(args.batch, device="meta")

    def flop_counter(m, inputs):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            m(*inputs)
        return counter.get_total_flops()

    assert flop_counter(meta_model, meta_inputs) == analysis.totals.flops_torch_forward

    times = {"analysis": [], "FlopCounterMode (meta)": [], "FlopCounterMode (cpu)": []}
    for _ in range(args.repeats):  # alternate so that load changes hit all equally
        times["analysis"].append(time_once(lambda: analyze(network, options)))
        times["FlopCounterMode (meta)"].append(
            time_once(lambda: flop_counter(meta_model, meta_inputs)))
        times["FlopCounterMode (cpu)"].append(time_once(lambda: flop_counter(model, cpu_inputs)))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.model}: {len(network)} nodes, {analysis.totals.macs:,} MACs, batch "
          f"{args.batch}, {args.repeats} alternating repeats")
    for name, value in medians.items():
        print(f"  {name:26s} median {value * 1000:8.2f} ms")
    base = medians["analysis"]
    for name in ("FlopCounterMode (meta)", "FlopCounterMode (cpu)"):
        print(f"  {name} / analysis = {medians[name] / base:.1f}×")
    print(f"  target: analysis under 50 ms -> {'met' if base < 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
