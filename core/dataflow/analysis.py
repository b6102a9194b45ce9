"""Access counts, energy and the best dataflow for a layer and buffer sizes (closed form / fast LRU)."""

from __future__ import annotations

from dataclasses import dataclass

from core.dataflow.dataflows import (DATAFLOW_NAMES, DATAFLOWS, assumptions, build_nest,
                                     check_dataflow)
from core.dataflow.energy import EnergyBreakdown, EnergyCosts, energy_breakdown
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer, PEArray
from core.dataflow.loopnest import LoopNest
from core.dataflow.lru import lru_misses
from core.dataflow.rowstationary import array_counts
from core.common.errors import InputError

POLICIES = ("tile", "lru")


@dataclass(frozen=True)
class AccessCounts:
    """Per-operand counts, in elements.

    ``memory_reads``: memory → buffer (for "output": partial sums read back);
    ``memory_writes``: output buffer → memory; ``buffer``: accesses of the buffers by the
    compute side (the global buffer for row-stationary); ``rf`` and ``inter_pe``: inside
    the PE array (row-stationary only, zero otherwise).
    """

    macs: int
    memory_reads: dict[str, int]
    memory_writes: dict[str, int]
    buffer: dict[str, int]
    rf: dict[str, int]
    inter_pe: dict[str, int]

    @property
    def memory_total(self) -> int:
        return sum(self.memory_reads.values()) + sum(self.memory_writes.values())

    def by_level(self) -> dict[str, int]:
        return {
            "rf": sum(self.rf.values()),
            "inter_pe": sum(self.inter_pe.values()),
            "buffer": sum(self.buffer.values()),
            "dram": self.memory_total,
            "mac": self.macs,
        }


@dataclass(frozen=True)
class DataflowResult:
    """Everything the dataflow lab shows for one layer, dataflow, buffer set and reuse policy."""

    layer: ConvLayer
    buffers: Buffers
    dataflow: str
    policy: str
    nest: LoopNest
    counts: AccessCounts
    energy: EnergyBreakdown
    assumptions: tuple[str, ...]

    @property
    def name(self) -> str:
        return DATAFLOW_NAMES[self.dataflow]

    def as_dict(self) -> dict:
        c = self.counts
        return {
            "dataflow": self.dataflow,
            "policy": self.policy,
            "macs": c.macs,
            "output_shape": [self.layer.out_height, self.layer.out_width, self.layer.filters],
            "tiles": self.nest.tiles(),
            "reads": dict(c.memory_reads),
            "writes": dict(c.memory_writes),
            "memory_total": c.memory_total,
            "buffer_accesses": dict(c.buffer),
            "rf_accesses": dict(c.rf),
            "inter_pe": dict(c.inter_pe),
            "energy": self.energy.total,
            "energy_breakdown": dict(self.energy.energy),
        }


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InputError(f"policy: {policy!r} is not known (allowed: {', '.join(POLICIES)})")
    return policy


def memory_counts(nest: LoopNest, buffers: Buffers, policy: str) -> tuple[dict[str, int], dict[str, int]]:
    """(reads, writes) between memory and the buffers under a reuse policy."""
    check_policy(policy)
    out = nest.geometry("output")
    outputs = out.footprint()
    if policy == "tile":
        loads = {op: nest.geometry(op).tile_loads() for op in OPERANDS}
        reads = {"input": loads["input"], "weight": loads["weight"], "output": loads["output"] - outputs}
        return reads, {"output": loads["output"]}
    reads = {op: lru_misses(nest.geometry(op), buffers.capacity(op))[0] for op in ("input", "weight")}
    misses, _evictions, _resident = lru_misses(out, buffers.output)
    # Write-back buffer: every output that entered is written once when it leaves (evicted or flushed).
    reads["output"] = misses - outputs
    return reads, {"output": misses}


def _compute_side(nest: LoopNest) -> tuple[int, dict[str, int], dict[str, int], dict[str, int]]:
    """(MACs, buffer, register-file, inter-PE accesses) on the compute side of the buffers."""
    if nest.dataflow == "rs":
        arr = array_counts(nest)
        return arr.macs, arr.buffer, arr.rf, arr.inter_pe
    macs = nest.layer.macs
    # One MAC reads an input and a weight and updates (reads, writes) one partial sum.
    zeros = dict.fromkeys(OPERANDS, 0)
    return macs, {"input": macs, "weight": macs, "output": 2 * macs}, zeros, dict(zeros)


def analyse(
    layer: ConvLayer,
    dataflow: str,
    buffers: Buffers,
    policy: str = "tile",
    pe_array: PEArray | None = None,
    costs: EnergyCosts | None = None,
) -> DataflowResult:
    """Counts and energy of one dataflow; raises InputError when the buffers are too small for it."""
    check_dataflow(dataflow)
    check_policy(policy)
    nest = build_nest(layer, dataflow, buffers, pe_array)
    reads, writes = memory_counts(nest, buffers, policy)
    macs, buffer, rf, hops = _compute_side(nest)
    counts = AccessCounts(macs, reads, writes, buffer, rf, hops)
    return DataflowResult(
        layer, buffers, dataflow, policy, nest, counts,
        energy_breakdown(counts.by_level(), costs), assumptions(dataflow),
    )


@dataclass(frozen=True)
class DataflowRanking:
    """Dataflows ordered by memory accesses (then energy); those the buffers cannot run, with why."""

    ranked: tuple[DataflowResult, ...]
    infeasible: dict[str, str]
    metric: str

    @property
    def best(self) -> str | None:
        return self.ranked[0].dataflow if self.ranked else None

    def explanation(self) -> str:
        if not self.ranked:
            return "No dataflow fits these buffers: " + "; ".join(self.infeasible.values())
        key = "memory accesses" if self.metric == "memory" else "estimated energy"
        parts = [
            f"{r.dataflow}: {r.counts.memory_total:,} memory accesses, energy {r.energy.total:,.0f}"
            for r in self.ranked
        ]
        text = f"{DATAFLOW_NAMES[self.best]} minimises {key} ({'; '.join(parts)})."
        if self.infeasible:
            text += " Not possible with these sizes: " + "; ".join(f"{d}: {m}" for d, m in self.infeasible.items())
        return text


def rank_dataflows(
    layer: ConvLayer,
    buffers: Buffers,
    policy: str = "tile",
    pe_array: PEArray | None = None,
    costs: EnergyCosts | None = None,
    metric: str = "memory",
    dataflows: tuple[str, ...] = DATAFLOWS,
) -> DataflowRanking:
    """Evaluate every dataflow and order them by ``metric`` ("memory" accesses or "energy")."""
    if metric not in ("memory", "energy"):
        raise InputError(f"metric: {metric!r} is not known (allowed: memory, energy)")
    results, infeasible = [], {}
    for df in dataflows:
        try:
            results.append(analyse(layer, df, buffers, policy, pe_array, costs))
        except InputError as exc:
            infeasible[df] = str(exc)
    if metric == "memory":
        results.sort(key=lambda r: (r.counts.memory_total, r.energy.total, DATAFLOWS.index(r.dataflow)))
    else:
        results.sort(key=lambda r: (r.energy.total, r.counts.memory_total, DATAFLOWS.index(r.dataflow)))
    return DataflowRanking(tuple(results), infeasible, metric)


def best_dataflow(layer: ConvLayer, buffers: Buffers, policy: str = "tile", **kwargs) -> str | None:
    """Name of the dataflow with the fewest memory accesses (None when no dataflow fits the buffers)."""
    return rank_dataflows(layer, buffers, policy, **kwargs).best
