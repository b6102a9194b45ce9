"""A mapping from the Mapping tab made ready for the animation tab (runs on a worker thread):
its evaluated cost, its memory ↔ buffer trace (core.dataflow.mapping_trace) and the frame
model the views draw from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.dataflow import OPERANDS, Buffers, ConvLayer
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.mapping_eval import evaluate
from core.dataflow.mapping_trace import mapping_trace

from gui.dataflow.frames import TraceFrames


@dataclass(frozen=True)
class MappingAnimation:
    mapping: object
    layer: ConvLayer
    cost: object
    frames: TraceFrames
    buffers: Buffers
    stationary: str  # the operand whose reloads "next reload" jumps to first


class MappingFrames(TraceFrames):
    """A mapping's frames: every memory-level step runs the same box of MACs (the factors
    divide the extents exactly), so MACs and the compute-side accesses spread evenly."""

    def _compute_side(self) -> None:
        n = self.n_frames
        self._spread_by_macs(np.full(n, self.layer.macs // max(1, n), dtype=np.int64),
                             exact_buffer=False)


def hierarchy_of(state) -> Hierarchy:
    """The lab's form as a mapping hierarchy: its buffers, PE array and energy costs."""
    return Hierarchy(state.buffers, state.pe_array, None, state.settings.energy_costs())


def compute_mapping_animation(mapping, layer: ConvLayer, hierarchy: Hierarchy) -> MappingAnimation:
    cost = evaluate(mapping, layer, hierarchy)
    traced = mapping_trace(mapping, layer, hierarchy, cost)
    frames = MappingFrames(traced.result, traced.trace)
    for op in OPERANDS:
        frames.heat_max(op)  # fill the heat cache here rather than on the first seek
    reads = traced.result.counts.memory_reads
    stationary = min(OPERANDS, key=lambda op: (reads[op], OPERANDS.index(op)))
    return MappingAnimation(mapping, layer, cost, frames, hierarchy.buffers, stationary)
