"""Dataflow lab engine: buffer-level dataflow counts (ws/is/os/rs), traces, energy, a
SCALE-Sim-compatible systolic model, and mappings (per-level loop orders, tile factors, spatial
unrolling, bypass) with validation, closed-form counts, a step-by-step oracle and textbook nests.

Imports only core.common (numpy, no torch); network_layers also reads core.graph designs.
The mapper (mapper.search, network.map_network, ranking_mapped.rank_mapped) is imported from
its modules.

Typical use::

    from core.dataflow import ConvLayer, Buffers, analyse, build_trace, rank_dataflows
    layer = ConvLayer(height=6, width=7, channels=9, kernel=3, filters=1)
    result = analyse(layer, "ws", Buffers(input=9, weight=9, output=1), policy="tile")
    result.counts.memory_reads   # {'input': 1620, 'weight': 81, 'output': 160}
    result.nest.lines            # the loop nest, line by line, for display

    # The same nest as a mapping (per-level loops with factors), its counts per level:
    from core.dataflow import Hierarchy, evaluate, textbook_mapping
    hierarchy = Hierarchy(Buffers(input=9, weight=9, output=1))
    mapping = textbook_mapping("ws", layer, hierarchy)
    evaluate(mapping, layer, hierarchy).counts["memory"]["input"].reads   # 1620
"""

from core.dataflow.analysis import (
    POLICIES,
    AccessCounts,
    DataflowRanking,
    DataflowResult,
    analyse,
    best_dataflow,
    rank_dataflows,
)
from core.dataflow.dataflows import (COMMON_ASSUMPTIONS, DATAFLOW_NAMES, DATAFLOWS, assumptions,
                                     build_nest)
from core.dataflow.energy import LEVEL_NAMES, LEVELS, EnergyBreakdown, EnergyCosts, energy_breakdown
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer, PEArray
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.loopnest import Loop, LoopNest, NestLine
from core.dataflow.mapping import (DIM_EXTENTS, LOOP_DIMS, MapLevel, MapLoop, Mapping, dim_extents, read_mapping,
                                   write_mapping)
from core.dataflow.mapping_eval import (MAPPING_ASSUMPTIONS, LevelCounts, MappingCost, Overflow, check, evaluate,
                                        is_valid, tile_sizes, validate)
from core.dataflow.mapping_sim import simulate_mapping
from core.dataflow.systolic import (
    ROUNDINGS,
    SCALESIM_CONVENTIONS,
    SYSTOLIC_DATAFLOWS,
    SystolicLayer,
    SystolicResult,
    simulate_systolic,
)
from core.dataflow.systolic_timeline import SystolicTimeline, systolic_timeline
from core.dataflow.textbook import TEXTBOOK_ASSUMPTIONS, dataflow_allows, textbook_mapping
from core.dataflow.trace import (
    ALLOC,
    COLUMNS,
    KIND_NAMES,
    OPERAND_CODE,
    READ,
    WRITE,
    Trace,
    build_trace,
    simulate_elements,
)

__all__ = [
    "DIM_EXTENTS", "LOOP_DIMS", "MAPPING_ASSUMPTIONS", "TEXTBOOK_ASSUMPTIONS", "Hierarchy", "LevelCounts", "MapLevel",
    "MapLoop", "Mapping", "MappingCost", "Overflow", "check", "dataflow_allows", "dim_extents", "evaluate", "is_valid",
    "read_mapping", "simulate_mapping", "textbook_mapping", "tile_sizes", "validate", "write_mapping",
    "ALLOC", "COLUMNS", "COMMON_ASSUMPTIONS", "DATAFLOWS", "DATAFLOW_NAMES", "KIND_NAMES", "LEVELS", "LEVEL_NAMES",
    "OPERANDS", "OPERAND_CODE", "POLICIES", "READ", "ROUNDINGS", "SCALESIM_CONVENTIONS", "SYSTOLIC_DATAFLOWS",
    "WRITE", "AccessCounts", "Buffers", "ConvLayer", "DataflowRanking", "DataflowResult", "EnergyBreakdown",
    "EnergyCosts", "Loop", "LoopNest", "NestLine", "PEArray", "SystolicLayer", "SystolicResult",
    "SystolicTimeline", "Trace", "analyse", "assumptions", "best_dataflow", "build_nest", "build_trace",
    "energy_breakdown", "rank_dataflows", "simulate_elements", "simulate_systolic", "systolic_timeline",
]
