"""How fast is evaluating one mapping (validation + closed-form counts + energy) on ResNet-18's
convolution layers, against the lab's fixed-nest tile-policy count (analyse) of the same layer?

Runs both in one process, alternating, on the four textbook mappings of every layer, and prints
microseconds per call and the ratio (the machine is noisy: compare ratios). Also times the
step-by-step simulation against evaluate on a small layer. Exit status 1 when the median
evaluate takes 1 ms or more. Usage:

    .venv/bin/python benchmarks/bench_mapping.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.dataflow import (DATAFLOWS, Buffers, ConvLayer, Hierarchy, PEArray, analyse, evaluate,  # noqa: E402
                           simulate_mapping, textbook_mapping)

# (input size, channels, kernel, filters, stride, padding) of ResNet-18's convolutions.
RESNET18 = [(224, 3, 7, 64, 2, 3), (56, 64, 3, 64, 1, 1), (56, 64, 3, 128, 2, 1), (56, 64, 1, 128, 2, 0),
            (28, 128, 3, 128, 1, 1), (28, 128, 3, 256, 2, 1), (28, 128, 1, 256, 2, 0),
            (14, 256, 3, 256, 1, 1), (14, 256, 3, 512, 2, 1), (14, 256, 1, 512, 2, 0), (7, 512, 3, 512, 1, 1)]


def per_call(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    hierarchy = Hierarchy(Buffers(16384, 16384, 16384), PEArray(12, 14), Buffers(64, 64, 64))
    ours, base = [], []
    for h, c, k, f, s, p in RESNET18:
        layer = ConvLayer(height=h, width=h, channels=c, kernel=k, filters=f, stride=s, padding=p)
        for df in DATAFLOWS:
            mapping = textbook_mapping(df, layer, hierarchy)
            for _ in range(3):  # alternate to share the machine's noise
                ours.append(per_call(lambda: evaluate(mapping, layer, hierarchy), args.repeats))
                base.append(per_call(lambda: analyse(layer, df, hierarchy.buffers, "tile", hierarchy.pe),
                                     args.repeats))
    med_ours, med_base = statistics.median(ours), statistics.median(base)
    print(f"evaluate (validate + counts + energy): median {med_ours * 1e6:,.0f} µs per mapping "
          f"(max {max(ours) * 1e6:,.0f} µs) over {len(RESNET18)} ResNet-18 layers × 4 textbook mappings")
    print(f"analyse(policy='tile') of the fixed nests: median {med_base * 1e6:,.0f} µs; ratio "
          f"evaluate / analyse = {med_ours / med_base:.2f}")
    small = ConvLayer(height=8, width=8, channels=4, kernel=3, filters=4, padding=1)
    small_h = Hierarchy(Buffers(64, 64, 16), PEArray(6, 4), Buffers(8, 8, 8))
    mapping = textbook_mapping("rs", small, small_h)
    sim = per_call(lambda: simulate_mapping(mapping, small, small_h), 3)
    closed = per_call(lambda: evaluate(mapping, small, small_h), args.repeats)
    print(f"step-by-step simulation of an 8×8×4 3×3 layer ({small.macs:,} MACs): {sim * 1e3:,.1f} ms, "
          f"{sim / closed:,.0f}× the closed form")
    return 0 if med_ours < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
