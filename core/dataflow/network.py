"""A whole network on one hierarchy: the mapper's best mapping of every convolution and linear
layer under each dataflow (and under none), tabulated per layer and in total.

Layers of the same shape are searched once (ResNets repeat them); each layer's search is
independent of the others, so they could run in parallel workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from core.common.errors import InputError
from core.common.tables import Table
from core.dataflow.dataflows import DATAFLOWS
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import ConvLayer
from core.dataflow.mapper import SearchProgress, SearchResult, check_objective, search_steps
from core.dataflow.network_layers import design_layers, network_layers

ANY = "any"  # no dataflow constraint
NETWORK_DATAFLOWS = (*DATAFLOWS, ANY)

__all__ = ["ANY", "NETWORK_DATAFLOWS", "LayerMapping", "NetworkMappingTable", "NetworkProgress",
           "map_network", "map_network_steps", "network_layers"]


@dataclass(frozen=True)
class NetworkProgress:
    """``done`` of ``total`` searches finished; the one running is ``layer`` under ``dataflow``."""

    done: int
    total: int
    layer: str
    dataflow: str
    evaluated: int


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


def map_network_steps(design, hierarchy: Hierarchy, objective: str = "energy",
                      dataflows: Sequence[str] = NETWORK_DATAFLOWS,
                      stop: Callable[[], bool] = lambda: False,
                      ) -> Iterator[NetworkProgress | NetworkMappingTable]:
    """Search every conv/linear layer of ``design`` under each dataflow ("any" = unconstrained);
    yields NetworkProgress and ends with the NetworkMappingTable (partial when stopped)."""
    check_objective(objective)
    dataflows = _check_dataflows(dataflows)
    start = time.perf_counter()
    layers, skipped = design_layers(design)
    if not layers:
        raise InputError(f"{getattr(design, 'name', 'the design')} has no Conv2d or Linear layer the "
                         f"dataflow lab can map" + (f" ({'; '.join(f'{k}: {v}' for k, v in skipped.items())})"
                                                     if skipped else ""))
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


def map_network(design, hierarchy: Hierarchy, objective: str = "energy",
                dataflows: Sequence[str] = NETWORK_DATAFLOWS) -> NetworkMappingTable:
    """Run map_network_steps to the end."""
    result = None
    for item in map_network_steps(design, hierarchy, objective, dataflows):
        result = item
    return result
