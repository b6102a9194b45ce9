"""How long does the mapper take for one ResNet-sized layer, and for all of ResNet-18?

For every distinct convolution shape of ResNet-18 (and the classifier), times one unconstrained
search (objective energy) and the four dataflow-constrained ones on the lab's default hierarchy
(buffers 1024/1024/256 elements, 12×14 PEs), wall and CPU seconds (the machine is shared: CPU
seconds are the steadier figure), with the mappings evaluated and the space size; expresses each
search in units of one evaluate() of the same layer (the baseline, timed in this process).
Then the whole network (map_network, "any" only and all five columns). Exit status 1 when the
median unconstrained search of a layer takes more than 3 CPU seconds.

--executors compares the whole of ResNet-18 (--dataflows, default "any") searched here one
after another (no executor) against a local process pool (core.common.executors, --workers,
default one per core), alternating the two --rounds times so that the shared machine's load
falls on both alike; prints each round, the medians and the ratio inline / pool, and checks
that both gave the same table. Each round also times the machine's ceiling: a pure-Python
loop run once per worker, one after another against all at once on a pool of as many
spawned workers — on a machine whose cores are busy with other work that speed-up is
below the worker count, and the mapper's cannot beat it. Usage:

    .venv/bin/python benchmarks/bench_mapper.py [--quick]
    .venv/bin/python benchmarks/bench_mapper.py --executors [--rounds 3] [--workers N] [--dataflows any]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.dataflow.hierarchy import Hierarchy  # noqa: E402
from core.dataflow.layer import Buffers, PEArray  # noqa: E402
from core.dataflow.mapper import search  # noqa: E402
from core.dataflow.mapping_eval import evaluate  # noqa: E402
from core.common.executors import PoolExecutor, cores  # noqa: E402
from core.dataflow.network import map_network  # noqa: E402
from core.dataflow.network_layers import network_layers  # noqa: E402
from core.graph.presets import load_preset  # noqa: E402

HIERARCHY = Hierarchy(Buffers(1024, 1024, 256), PEArray(12, 14))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the unconstrained searches")
    parser.add_argument("--executors", action="store_true",
                        help="whole ResNet-18: inline against a process pool, alternating")
    parser.add_argument("--rounds", type=int, default=3, help="with --executors (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="pool workers (default: cores)")
    parser.add_argument("--dataflows", default="any", help="with --executors (default any)")
    args = parser.parse_args()
    if args.executors:
        return compare_executors(args.rounds, args.workers, tuple(args.dataflows.split(",")))
    layers = {}
    for name, layer in network_layers(load_preset("resnet18")):
        layers.setdefault(layer, name)
    print(f"{'layer':20} {'dataflow':8} {'wall s':>7} {'CPU s':>6} {'evaluated':>9} {'space':>9} "
          f"{'× evaluate()':>12} {'energy':>15}")
    cpu_any = []
    for layer, name in layers.items():
        for dataflow in ([None] if args.quick else [None, "ws", "is", "os", "rs"]):
            result, wall, cpu = timed(lambda: search(layer, HIERARCHY, dataflow, "energy"))
            _, one_wall, _ = timed(lambda: [evaluate(result.best, layer, HIERARCHY) for _ in range(50)])
            if dataflow is None:
                cpu_any.append(cpu)
            print(f"{name:20} {dataflow or 'any':8} {wall:7.2f} {cpu:6.2f} {result.evaluated:9,} "
                  f"{result.space_size:9.1e} {wall / (one_wall / 50):12,.0f} {result.cost.energy.total:15,.0f}")
    print(f"\nunconstrained search per distinct layer: median {statistics.median(cpu_any):.2f} CPU s, "
          f"max {max(cpu_any):.2f} CPU s")
    design = load_preset("resnet18")
    table, wall, cpu = timed(lambda: map_network(design, HIERARCHY, "energy", ("any",)))
    print(f"ResNet-18, unconstrained: {table.searches} searches for {len(table.rows)} layers in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU; total energy {table.totals()['any']['energy']:,.0f}")
    if not args.quick:
        table, wall, cpu = timed(lambda: map_network(design, HIERARCHY, "energy"))
        print(f"ResNet-18, ws/is/os/rs/any: {table.searches} searches in {wall:.1f} s wall, {cpu:.1f} s CPU; "
              f"best dataflow in total: {table.best_dataflow()}")
    return 1 if statistics.median(cpu_any) > 3 else 0


def _same(a, b) -> bool:
    da, db = a.to_dict(), b.to_dict()
    da.pop("seconds"), db.pop("seconds")
    return da == db


def _spin(n: int = 10_000_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def ceiling(workers: int) -> float:
    """Speed-up of ``workers`` spins on a spawned pool over the same spins one after another."""
    import multiprocessing
    start = time.perf_counter()
    for _ in range(workers):
        _spin()
    serial = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_spin, [10] * workers)  # started before the clock, as the pool's tasks are not
        start = time.perf_counter()
        pool.map(_spin, [10_000_000] * workers)
        parallel = time.perf_counter() - start
    return serial / parallel


def compare_executors(rounds: int, workers: int | None, dataflows: tuple[str, ...]) -> int:
    """ResNet-18 inline vs pool, alternating; exit 1 if the tables differ."""
    design = load_preset("resnet18")
    workers = workers or cores()
    inline_s, pool_s, ceilings, reference, same = [], [], [], None, True
    print(f"ResNet-18, dataflows {','.join(dataflows)}, {cores()} cores, pool of {workers} workers")
    for r in range(1, rounds + 1):
        table, wall, _ = timed(lambda: map_network(design, HIERARCHY, "energy", dataflows))
        inline_s.append(wall)
        reference = reference or table
        same = same and _same(table, reference)
        pooled, pwall, _ = timed(lambda: map_network(design, HIERARCHY, "energy", dataflows,
                                                     executor=PoolExecutor(workers=workers)))
        pool_s.append(pwall)
        same = same and _same(pooled, reference)
        ceilings.append(ceiling(workers))
        print(f"round {r}: inline {wall:6.1f} s   pool {pwall:6.1f} s   ({table.searches} searches)   "
              f"machine ceiling {ceilings[-1]:.2f}×")
    ratio = statistics.median(inline_s) / statistics.median(pool_s)
    print(f"median inline {statistics.median(inline_s):.1f} s, pool {statistics.median(pool_s):.1f} s; "
          f"inline / pool = {ratio:.2f} (the machine's ceiling: {statistics.median(ceilings):.2f}×); "
          f"tables equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
