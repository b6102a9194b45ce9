"""A whole network on one hierarchy: the mapper's best mapping of every convolution and linear
layer under each dataflow (and under none), tabulated per layer and in total.

Layers of the same shape are searched once (ResNets repeat them). Each distinct (shape,
dataflow) search is independent of the others: by default they run here one after another
(with progress inside each search); given an executor of core.common.executors (inline, a
local process pool, Ray) they fan out as picklable SearchTasks and their rows stream back as
they finish. The table is the same whichever ran it (the search is deterministic).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from core.common.errors import InputError
from core.common.executors import Job, Outcome
from core.common.tables import Table
from core.dataflow.dataflows import DATAFLOWS
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import ConvLayer
from core.dataflow.mapper import SearchProgress, SearchResult, check_objective, search_steps
from core.dataflow.network_layers import design_layers, network_layers

ANY = "any"  # no dataflow constraint
NETWORK_DATAFLOWS = (*DATAFLOWS, ANY)

__all__ = ["ANY", "NETWORK_DATAFLOWS", "LayerMapping", "NetworkMappingTable", "NetworkProgress",
           "SearchTask", "map_network", "map_network_steps", "network_layers", "search_task"]


@dataclass(frozen=True)
class NetworkProgress:
    """``done`` of ``total`` searches finished; the one running is ``layer`` under ``dataflow``."""

    done: int
    total: int
    layer: str
    dataflow: str
    evaluated: int
    row: "LayerMapping | None" = None  # on an executor: the search that just finished


@dataclass(frozen=True)
class LayerMapping:
    """One layer under one dataflow: the search's result, or why no mapping fits."""

    name: str
    layer: ConvLayer
    dataflow: str
    result: SearchResult | None
    error: str = ""
    reused: bool = False  # the same shape was searched for an earlier layer

    def to_dict(self) -> dict:
        out = {"layer": self.name, "shape": shape_text(self.layer), "dataflow": self.dataflow,
               "reused": self.reused}
        if self.result is None:
            return out | {"error": self.error}
        cost = self.result.cost
        return out | {"energy": cost.energy.total, "memory_accesses": cost.memory_accesses,
                      "cycles": cost.cycles, "utilisation": cost.utilisation, "macs": cost.macs,
                      "evaluated": self.result.evaluated, "space_size": self.result.space_size,
                      "mapping": self.result.best.to_dict()}


@dataclass(frozen=True)
class NetworkMappingTable:
    """Every (layer, dataflow) search of a network, with totals per dataflow."""

    network: str
    objective: str
    dataflows: tuple[str, ...]
    rows: tuple[LayerMapping, ...]
    skipped: dict[str, str]
    pes: int
    seconds: float
    searches: int
    stopped: bool = False

    def totals(self) -> dict[str, dict]:
        """Per dataflow: energy, memory accesses, cycles, MACs summed over layers (None where a
        layer has no mapping under it), utilisation = MACs / (cycles × PEs)."""
        out = {}
        for df in self.dataflows:
            rows = [r for r in self.rows if r.dataflow == df]
            if not rows or any(r.result is None for r in rows):
                out[df] = {"energy": None, "memory_accesses": None, "cycles": None, "macs": None,
                           "utilisation": None, "missing": [r.name for r in rows if r.result is None]}
                continue
            costs = [r.result.cost for r in rows]
            cycles = sum(c.cycles for c in costs)
            macs = sum(c.macs for c in costs)
            out[df] = {"energy": sum(c.energy.total for c in costs),
                       "memory_accesses": sum(c.memory_accesses for c in costs),
                       "cycles": cycles, "macs": macs, "utilisation": macs / (cycles * self.pes),
                       "missing": []}
        return out

    def best_dataflow(self) -> str | None:
        """The constrained dataflow with the least total of the objective (None if none maps all)."""
        key = {"energy": "energy", "accesses": "memory_accesses", "cycles": "cycles"}[self.objective]
        totals = self.totals()
        ranked = [(t[key], df) for df, t in totals.items() if df != ANY and t[key] is not None]
        return min(ranked)[1] if ranked else None

    def table(self) -> Table:
        headers = ["layer", "shape", "dataflow", "energy", "memory accesses", "cycles", "utilisation",
                   "mappings evaluated"]
        table = Table(headers, title=f"{self.network}: best mapping per layer ({self.objective}) on "
                                     f"{self.pes} PEs", numeric={3, 4, 5, 6, 7}, percent={6})
        for r in self.rows:
            if r.result is None:
                table.rows.append([r.name, shape_text(r.layer), r.dataflow, None, None, None, None, None])
                continue
            c = r.result.cost
            evaluated = "same shape as above" if r.reused else r.result.evaluated
            table.rows.append([r.name, shape_text(r.layer), r.dataflow, c.energy.total, c.memory_accesses,
                               c.cycles, c.utilisation, evaluated])
        for df, t in self.totals().items():
            note = f"no mapping for {', '.join(t['missing'])}" if t["missing"] else ""
            table.rows.append(["total", note, df, t["energy"], t["memory_accesses"], t["cycles"],
                               t["utilisation"], None])
        return table

    def to_dict(self) -> dict:
        return {"network": self.network, "objective": self.objective, "dataflows": list(self.dataflows),
                "pes": self.pes, "seconds": self.seconds, "searches": self.searches,
                "stopped": self.stopped, "best_dataflow": self.best_dataflow(),
                "layers": [r.to_dict() for r in self.rows], "totals": self.totals(),
                "skipped": dict(self.skipped)}


def shape_text(layer: ConvLayer) -> str:
    return (f"{layer.height}×{layer.width}×{layer.channels} → {layer.out_height}×{layer.out_width}×"
            f"{layer.filters}, K{layer.kernel} S{layer.stride} P{layer.padding}")


def _check_dataflows(dataflows: Sequence[str]) -> tuple[str, ...]:
    for df in dataflows:
        if df not in NETWORK_DATAFLOWS:
            raise InputError(f"dataflow: {df!r} is not known (allowed: {', '.join(NETWORK_DATAFLOWS)})")
    if not dataflows:
        raise InputError(f"dataflows: none given (allowed: {', '.join(NETWORK_DATAFLOWS)})")
    return tuple(dict.fromkeys(dataflows))


@dataclass(frozen=True)
class SearchTask:
    """One distinct search, everything a worker needs (picklable)."""

    index: int
    layer: ConvLayer
    hierarchy: Hierarchy
    dataflow: str  # a dataflow or ANY
    objective: str


@dataclass(frozen=True)
class NoMapping:
    """A search's answer when no mapping fits: the mapper's message."""

    message: str


def search_task(task: SearchTask, _context=None, stop: Callable[[], bool] = lambda: False
                ) -> SearchResult | NoMapping:
    """Run one SearchTask (in whichever process the executor chose)."""
    result = None
    try:
        for item in search_steps(task.layer, task.hierarchy, None if task.dataflow == ANY else task.dataflow,
                                 task.objective, stop):
            result = item
    except InputError as exc:
        return NoMapping(str(exc))
    return result


def map_network_steps(design, hierarchy: Hierarchy, objective: str = "energy",
                      dataflows: Sequence[str] = NETWORK_DATAFLOWS,
                      stop: Callable[[], bool] = lambda: False, *, executor=None,
                      ) -> Iterator[NetworkProgress | NetworkMappingTable]:
    """Search every conv/linear layer of ``design`` under each dataflow ("any" = unconstrained);
    yields NetworkProgress and ends with the NetworkMappingTable (partial when stopped).
    ``executor`` (core.common.executors; None: here, one search after another with progress
    inside each) runs the distinct searches as tasks, a NetworkProgress with the ``row`` as each
    finishes."""
    check_objective(objective)
    dataflows = _check_dataflows(dataflows)
    start = time.perf_counter()
    layers, skipped = design_layers(design)
    if not layers:
        raise InputError(f"{getattr(design, 'name', 'the design')} has no Conv2d or Linear layer the "
                         f"dataflow lab can map" + (f" ({'; '.join(f'{k}: {v}' for k, v in skipped.items())})"
                                                     if skipped else ""))
    if executor is not None:
        yield from _map_on_executor(design, hierarchy, objective, dataflows, stop, executor, layers, skipped,
                                    start)
        return
    cache: dict[tuple[ConvLayer, str], LayerMapping] = {}
    rows: list[LayerMapping] = []
    total = len(layers) * len(dataflows)
    stopped = False
    for name, layer in layers:
        for df in dataflows:
            if stopped:
                break
            known = cache.get((layer, df))
            if known is not None:
                rows.append(LayerMapping(name, layer, df, known.result, known.error, reused=True))
                continue
            yield NetworkProgress(len(rows), total, name, df, 0)
            row = None
            try:
                for item in search_steps(layer, hierarchy, None if df == ANY else df, objective, stop):
                    if isinstance(item, SearchProgress):
                        yield NetworkProgress(len(rows), total, name, df, item.evaluated)
                    else:
                        row = LayerMapping(name, layer, df, item)
                        stopped = item.stopped
            except InputError as exc:
                if stop():
                    stopped = True
                    break
                row = LayerMapping(name, layer, df, None, str(exc))
            if row is not None:
                rows.append(row)
                cache[(layer, df)] = row
        if stopped:
            break
    yield NetworkMappingTable(getattr(design, "name", ""), objective, dataflows, tuple(rows), skipped,
                              hierarchy.pes, time.perf_counter() - start, len(cache), stopped)


def _map_on_executor(design, hierarchy, objective, dataflows, stop, executor, layers, skipped, start):
    """The distinct searches as tasks on ``executor``; rows in network order at the end."""
    keys = list(dict.fromkeys((layer, df) for _, layer in layers for df in dataflows))
    first_name = {}
    for name, layer in layers:
        first_name.setdefault(layer, name)
    tasks = [SearchTask(i, layer, hierarchy, df, objective) for i, (layer, df) in enumerate(keys)]
    total = len(layers) * len(dataflows)
    found: dict[tuple[ConvLayer, str], LayerMapping] = {}
    stopped = False
    yield NetworkProgress(0, total, first_name[keys[0][0]], keys[0][1], 0)
    for outcome in executor.run_job(Job(search_task), tasks, stop):
        if not isinstance(outcome, Outcome):  # a Retry: the executor tries again
            continue
        layer, df = keys[outcome.index]
        row = _row_of(first_name[layer], layer, df, outcome.result)
        if row is None or (row.result is None and stop()):  # stopped inside the search
            stopped = True
            continue
        stopped = stopped or (row.result is not None and row.result.stopped)
        found[(layer, df)] = row
        done = sum(1 for _, lay in layers for d in dataflows if (lay, d) in found)
        yield NetworkProgress(done, total, row.name, df, row.result.evaluated if row.result else 0, row)
    stopped = stopped or len(found) < len(keys)
    rows, seen = [], set()
    for name, layer in layers:
        for df in dataflows:
            known = found.get((layer, df))
            if known is not None:
                rows.append(LayerMapping(name, layer, df, known.result, known.error, reused=(layer, df) in seen))
                seen.add((layer, df))
    yield NetworkMappingTable(getattr(design, "name", ""), objective, dataflows, tuple(rows), skipped,
                              hierarchy.pes, time.perf_counter() - start, len(found), stopped)


def _row_of(name: str, layer: ConvLayer, df: str, result) -> LayerMapping | None:
    """A finished task's row: its SearchResult, no mapping (the mapper's message), a failure
    after the executor's retries (its message); None when it was stopped."""
    if isinstance(result, SearchResult):
        return LayerMapping(name, layer, df, result)
    if isinstance(result, NoMapping):
        return LayerMapping(name, layer, df, None, result.message)
    if isinstance(result, str):
        return LayerMapping(name, layer, df, None, f"search failed: {result}")
    return None


def map_network(design, hierarchy: Hierarchy, objective: str = "energy",
                dataflows: Sequence[str] = NETWORK_DATAFLOWS, *, executor=None) -> NetworkMappingTable:
    """Run map_network_steps to the end."""
    result = None
    for item in map_network_steps(design, hierarchy, objective, dataflows, executor=executor):
        result = item
    return result
