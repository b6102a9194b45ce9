"""The four dataflows ranked best against best: the mapper's best mapping within each dataflow
(search with dataflow=df) on one layer and hierarchy, beside that dataflow's textbook nest.

The hand-count ranking (analysis.rank_dataflows) compares one fixed nest per dataflow; this one
lets each dataflow pick its best loop orders and tiles first, so the verdict says which
constraint is cheapest, not which hand-made nest. Runs as a generator (rank_mapped_steps) with
progress events and a stop callback, for the GUI's worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.common.errors import InputError
from core.common.tables import Table
from core.dataflow.dataflows import DATAFLOW_NAMES, DATAFLOWS
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import ConvLayer
from core.dataflow.mapper import SearchProgress, SearchResult, check_objective, objective_key, search_steps
from core.dataflow.mapping import Mapping
from core.dataflow.mapping_eval import MappingCost, evaluate
from core.dataflow.textbook import textbook_mapping

__all__ = ["MappedDataflow", "MappedRanking", "RankProgress", "objective_value", "rank_mapped",
           "rank_mapped_steps"]


@dataclass(frozen=True)
class RankProgress:
    """``done`` of ``total`` dataflows searched; ``dataflow`` is running, ``evaluated`` so far."""

    done: int
    total: int
    dataflow: str
    evaluated: int


def objective_value(cost: MappingCost, objective: str) -> float:
    """The figure an objective minimises: memory accesses, energy or cycles."""
    return float(objective_key(cost, objective)[0])


@dataclass(frozen=True)
class MappedDataflow:
    """One dataflow: the mapper's best within it (None with ``error`` when nothing fits) and its
    textbook mapping's cost (None with ``textbook_error`` when the buffers cannot run it)."""

    dataflow: str
    result: SearchResult | None
    textbook: Mapping | None
    textbook_cost: MappingCost | None
    error: str = ""
    textbook_error: str = ""

    @property
    def best(self) -> Mapping | None:
        return None if self.result is None else self.result.best

    @property
    def cost(self) -> MappingCost | None:
        return None if self.result is None else self.result.cost

    def gain(self, objective: str) -> float | None:
        """Textbook ÷ best of the objective (≥ 1: how many times the search improves on the nest)."""
        if self.cost is None or self.textbook_cost is None:
            return None
        best = objective_value(self.cost, objective)
        book = objective_value(self.textbook_cost, objective)
        return book / best if best else (1.0 if not book else None)


@dataclass(frozen=True)
class MappedRanking:
    """Every dataflow's best mapping and textbook cost; ``best`` is the dataflow whose best
    mapping has the least objective (ties: the other two objectives, then ws, is, os, rs)."""

    layer: ConvLayer
    objective: str
    entries: tuple[MappedDataflow, ...]
    seconds: float
    stopped: bool = False

    def entry(self, dataflow: str) -> MappedDataflow | None:
        return next((e for e in self.entries if e.dataflow == dataflow), None)

    @property
    def ranked(self) -> tuple[MappedDataflow, ...]:
        found = [e for e in self.entries if e.cost is not None]
        return tuple(sorted(found, key=lambda e: (objective_key(e.cost, self.objective),
                                                  DATAFLOWS.index(e.dataflow))))

    @property
    def best(self) -> str | None:
        ranked = self.ranked
        return ranked[0].dataflow if ranked else None

    def explanation(self) -> str:
        what = {"accesses": "memory accesses", "energy": "energy", "cycles": "cycles"}[self.objective]
        if self.best is None:
            text = "No dataflow has a mapping that fits these buffers: " + "; ".join(
                f"{e.dataflow}: {e.error}" for e in self.entries)
            return text + (" (stopped)" if self.stopped else "")
        parts = [f"{e.dataflow}: {objective_value(e.cost, self.objective):,.0f}"
                 + (f" (textbook {objective_value(e.textbook_cost, self.objective):,.0f})"
                    if e.textbook_cost is not None else " (no textbook nest fits)")
                 for e in self.ranked]
        text = (f"Best against best, {DATAFLOW_NAMES[self.best]} minimises {what}: the mapper's best "
                f"mapping within each dataflow gives {'; '.join(parts)}.")
        missing = [e for e in self.entries if e.cost is None]
        if missing:
            text += " No mapping fits: " + "; ".join(f"{e.dataflow}: {e.error}" for e in missing)
        if self.stopped:
            text += " Stopped early: the remaining dataflows were not searched."
        return text

    def table(self) -> Table:
        headers = ["dataflow", "name", "best energy", "textbook energy", "best memory accesses",
                   "textbook memory accesses", "best cycles", "textbook cycles",
                   f"gain ({self.objective})", "mappings evaluated", "best", "note"]
        table = Table(headers, title=f"Best mapping per dataflow ({self.objective}) on "
                                     f"{self.layer.describe()}", numeric=set(range(2, 10)))
        for e in self.entries:
            c, t = e.cost, e.textbook_cost
            gain = e.gain(self.objective)
            note = e.error or e.textbook_error
            table.rows.append([
                e.dataflow, DATAFLOW_NAMES[e.dataflow],
                None if c is None else round(c.energy.total, 2), None if t is None else round(t.energy.total, 2),
                None if c is None else c.memory_accesses, None if t is None else t.memory_accesses,
                None if c is None else c.cycles, None if t is None else t.cycles,
                None if gain is None else round(gain, 3),
                None if e.result is None else e.result.evaluated,
                "yes" if e.dataflow == self.best else "", note])
        return table

    def to_dict(self) -> dict:
        return {"objective": self.objective, "best": self.best, "stopped": self.stopped,
                "seconds": self.seconds,
                "dataflows": [{"dataflow": e.dataflow, "error": e.error, "textbook_error": e.textbook_error,
                               "best": None if e.result is None else e.result.to_dict(),
                               "textbook": None if e.textbook_cost is None else e.textbook_cost.to_dict()}
                              for e in self.entries]}


def _textbook(dataflow: str, layer: ConvLayer, hierarchy: Hierarchy):
    try:
        mapping = textbook_mapping(dataflow, layer, hierarchy)
        return mapping, evaluate(mapping, layer, hierarchy), ""
    except InputError as exc:
        return None, None, str(exc)


def rank_mapped_steps(layer: ConvLayer, hierarchy: Hierarchy, objective: str = "energy",
                      stop: Callable[[], bool] = lambda: False,
                      dataflows: tuple[str, ...] = DATAFLOWS,
                      ) -> Iterator[RankProgress | MappedRanking]:
    """Search each dataflow's best mapping in turn; yields RankProgress, ends with the
    MappedRanking (partial, ``stopped`` True, when ``stop`` said so)."""
    check_objective(objective)
    start = time.perf_counter()
    entries: list[MappedDataflow] = []
    stopped = False
    for k, df in enumerate(dataflows):
        if stop():
            stopped = True
            break
        yield RankProgress(k, len(dataflows), df, 0)
        book, book_cost, book_error = _textbook(df, layer, hierarchy)
        result, error = None, ""
        try:
            for item in search_steps(layer, hierarchy, df, objective, stop):
                if isinstance(item, SearchProgress):
                    yield RankProgress(k, len(dataflows), df, item.evaluated)
                else:
                    result = item
        except InputError as exc:
            error = str(exc)
        if stop():
            stopped = True
            if result is None:
                break  # a dataflow cut short before any mapping is left out, not called infeasible
        entries.append(MappedDataflow(df, result, book, book_cost, error, book_error))
        if stopped:
            break
    yield MappedRanking(layer, objective, tuple(entries), time.perf_counter() - start, stopped)


def rank_mapped(layer: ConvLayer, hierarchy: Hierarchy, objective: str = "energy") -> MappedRanking:
    """Run rank_mapped_steps to the end."""
    result = None
    for item in rank_mapped_steps(layer, hierarchy, objective):
        result = item
    return result
