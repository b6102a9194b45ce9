"""Translation to and from ZigZag (KU Leuven's mapper, ``zigzag-dse``) for the cross-check
benchmark: our layer and hierarchy as ZigZag's workload, accelerator and mapping inputs, and
ZigZag's chosen mapping back as ours. Pure data (dicts that JSON/YAML can write); ZigZag itself
is never imported here — it runs in its own virtual environment (benchmarks/zigzag/).
"""

from __future__ import annotations

import itertools

from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import MapLevel, MapLoop, Mapping, dim_extents

# Our loop dimensions ↔ ZigZag's layer dimensions (r = kernel rows = FY, s = kernel cols = FX).
DIM_TO_ZIGZAG = {"n": "B", "f": "K", "c": "C", "y": "OY", "x": "OX", "r": "FY", "s": "FX"}
DIM_FROM_ZIGZAG = {v: k for k, v in DIM_TO_ZIGZAG.items()}
# Our operands ↔ ZigZag's layer operands and memory operands.
OPERAND_TO_ZIGZAG = {"input": "I", "weight": "W", "output": "O"}
OPERAND_FROM_ZIGZAG = {v: k for k, v in OPERAND_TO_ZIGZAG.items()}
MEMORY_OPERAND = {"input": "I1", "weight": "I2", "output": "O"}
ELEMENT_BITS = 8  # every operand, partial sums included: one element = one word of one access
ARRAY_AXES = {"rows": "D1", "cols": "D2"}
DRAM_BITS = 10**13

_OPERAND_PORTS = {
    "I1": ([("r_port_1", "read", ("tl",)), ("w_port_1", "write", ("fh",))]),
    "I2": ([("r_port_1", "read", ("tl",)), ("w_port_1", "write", ("fh",))]),
    "O": ([("r_port_1", "read", ("tl", "th")), ("w_port_1", "write", ("fh", "fl"))]),
}


def zigzag_layer(layer: ConvLayer, layer_id: int = 0, name: str | None = None) -> dict:
    """One convolution in ZigZag 3.9's workload format (a list of these is a workload)."""
    s, p = layer.stride, layer.padding
    entry = {
        "id": layer_id,
        "name": name or f"layer{layer_id}",
        "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, layer.filters, layer.channels, layer.out_height, layer.out_width,
                       layer.kernel, layer.kernel],
        "operand_precision": {"I": ELEMENT_BITS, "W": ELEMENT_BITS, "O": ELEMENT_BITS,
                              "O_final": ELEMENT_BITS},
        # A source equal to the layer's own id marks the operand as constant (read from DRAM).
        "operand_source": {"I": layer_id, "W": layer_id},
    }
    if p:
        entry["pr_loop_dims"] = ["IX", "IY"]
        entry["padding"] = [[p, p], [p, p]]
    return entry


def _memory(size_elements: int, cost: float, operands: list[str], served: list[str], fan_out: int) -> dict:
    """One ZigZag memory. Its ports move 1 to ``fan_out`` elements per cycle (ZigZag limits the
    spatial unrolling it considers by the bandwidth of the memories that feed the array); a
    ZigZag "word access" is then ``fan_out`` elements wide, so the per-access costs are scaled
    by ``fan_out`` to keep energy per element equal to ours."""
    wide = ELEMENT_BITS * fan_out
    ports = []
    if len(operands) == 1:
        for port, kind, directions in _OPERAND_PORTS[operands[0]]:
            ports.append({"name": port, "type": kind, "bandwidth_min": ELEMENT_BITS,
                          "bandwidth_max": wide,
                          "allocation": [f"{operands[0]}, {d}" for d in directions]})
    else:
        allocation = [f"{op}, {d}" for op in operands for _port, _kind, dirs in _OPERAND_PORTS[op] for d in dirs]
        ports.append({"name": "rw_port_1", "type": "read_write", "bandwidth_min": ELEMENT_BITS,
                      "bandwidth_max": wide, "allocation": allocation})
    return {"size": int(size_elements) * ELEMENT_BITS if size_elements else DRAM_BITS,
            "r_cost": float(cost) * fan_out, "w_cost": float(cost) * fan_out, "area": 0.0, "latency": 1,
            "operands": operands, "ports": ports, "served_dimensions": served}


def zigzag_accelerator(buffers, pe_rows: int, pe_cols: int, costs, registers=None,
                       name: str = "mlsys_studio") -> dict:
    """Our hierarchy as a ZigZag accelerator: optional per-PE registers (one per operand,
    serving no array dimension), one global buffer per operand serving the whole array,
    DRAM for all three. Sizes in bits (8 per element); one access moves one element;
    read and write costs both equal our per-access cost of that level."""
    memories = {}
    fan_out = int(pe_rows) * int(pe_cols)
    if registers is not None:
        for op in OPERANDS:
            memories[f"reg_{op}"] = _memory(registers.capacity(op), costs.rf, [MEMORY_OPERAND[op]], [], 1)
    for op in OPERANDS:
        memories[f"buf_{op}"] = _memory(buffers.capacity(op), costs.buffer, [MEMORY_OPERAND[op]], ["D1", "D2"], fan_out)
    memories["dram"] = _memory(0, costs.dram, [MEMORY_OPERAND[op] for op in OPERANDS], ["D1", "D2"], fan_out)
    return {
        "name": name,
        "memories": memories,
        "operational_array": {"unit_energy": float(costs.mac), "unit_area": 1.0,
                              "dimensions": ["D1", "D2"], "sizes": [int(pe_rows), int(pe_cols)]},
    }


def zigzag_mapping() -> list[dict]:
    """ZigZag's mapping input: no fixed spatial mapping (ZigZag generates and searches them)."""
    return [{"name": "default", "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}]


# -- ZigZag's chosen mapping as ours -------------------------------------------------------------
def _largest_divisor_at_most(n: int, limit: float) -> int:
    limit = max(1, int(round(limit)))
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def _exact_factors(loops: list[tuple[str, float]], spatial: list[tuple[str, float]], extents: dict[str, int]):
    """ZigZag's factors (uneven mappings make them fractional or non-divisors) rounded to whole
    divisors whose product per dim is the extent: spatial first, then the temporal loops from
    the innermost out; the outermost loop of a dim takes what is left. Returns (temporal loops
    innermost first as [dim, factor], spatial as [dim, factor], extra outermost loops, changed dims)."""
    remaining = dict(extents)
    exact_spatial, changed = [], set()
    for dim, factor in spatial:
        f = _largest_divisor_at_most(remaining[dim], factor)
        if f != factor:
            changed.add(dim)
        remaining[dim] //= f
        if f > 1:
            exact_spatial.append((dim, f))
    outermost = {dim: k for k, (dim, _f) in enumerate(loops)}
    exact = []
    for k, (dim, factor) in enumerate(loops):
        f = remaining[dim] if outermost[dim] == k else _largest_divisor_at_most(remaining[dim], factor)
        if f != factor:
            changed.add(dim)
        remaining[dim] //= f
        exact.append((dim, f))
    extra = [(d, r) for d, r in remaining.items() if r > 1]
    changed.update(d for d, _r in extra)
    return exact, exact_spatial, extra, changed


def _axis_assignments(spatial: list[tuple[str, int]], rows: int, cols: int):
    """Ways to put the spatial loops on PE rows / cols (the product on each axis within its size);
    a loop may also be split over both axes (ZigZag unrolls one dim over both array dimensions)."""
    options = []
    for dim, f in spatial:
        choice = [((dim, f, "rows"),), ((dim, f, "cols"),)]
        choice += [((dim, a, "rows"), (dim, f // a, "cols")) for a in range(2, f) if f % a == 0]
        options.append(choice)
    for combo in itertools.product(*options):
        loops = [loop for part in combo for loop in part]
        used = {"rows": 1, "cols": 1}
        for _dim, f, axis in loops:
            used[axis] *= f
        if used["rows"] <= rows and used["cols"] <= cols:
            yield tuple(MapLoop(dim, f, axis) for dim, f, axis in loops)


def mapping_from_zigzag(report: dict, layer: ConvLayer, hierarchy) -> tuple[Mapping | None, str]:
    """ZigZag's chosen mapping (a runner report: "temporal" and "spatial" per operand, innermost
    level and loop first) as our Mapping, and a note on what the translation had to change.

    ZigZag splits one loop order at a different depth for each operand (each has its own
    memories); ours has one boundary per level. Every boundary between the operands' depths is
    tried; the valid one our model prices lowest is returned (None when none is valid)."""
    from core.dataflow.mapping_eval import evaluate, is_valid
    extents = dim_extents(layer)
    temporal = report["temporal"]["O"]
    loops = [(DIM_FROM_ZIGZAG[d], f) for level in temporal for d, f in level if d in DIM_FROM_ZIGZAG]
    spatial_in = [(DIM_FROM_ZIGZAG[d], f) for level in report["spatial"]["O"] for d, f in level
                  if d in DIM_FROM_ZIGZAG and f > 1]
    exact, spatial, extra, changed = _exact_factors(loops, spatial_in, extents)
    inner_levels = len(hierarchy.level_names) - 1  # levels below memory
    depths = {op: [sum(len(level) for level in report["temporal"][z][:k + 1]) for k in range(inner_levels)]
              for op, z in OPERAND_TO_ZIGZAG.items()}
    ranges = [range(min(d[k] for d in depths.values()), max(d[k] for d in depths.values()) + 1)
              for k in range(inner_levels)]
    best, best_energy, tried, demoted = None, None, 0, []
    while True:
        for cuts in itertools.product(*ranges):
            if list(cuts) != sorted(cuts):
                continue
            for placed in _axis_assignments(spatial, hierarchy.pe.rows, hierarchy.pe.cols):
                mapping = _levels_from_cuts(hierarchy.level_names, exact, extra, cuts, placed)
                tried += 1
                if not is_valid(mapping, layer, hierarchy):
                    continue
                energy = evaluate(mapping, layer, hierarchy, checked=False).energy.total
                if best is None or energy < best_energy:
                    best, best_energy = mapping, energy
        if best is not None or not spatial:
            break
        # No way to put these unrollings on our two axes (ZigZag can unroll several dims on one
        # array dimension): run the smallest one in time, as the innermost loop, and try again.
        smallest = min(spatial, key=lambda loop: loop[1])
        spatial.remove(smallest)
        exact.insert(0, smallest)
        demoted.append(f"{smallest[0]} {smallest[1]}")
        ranges = [range(r.start + 1, r.stop + 1) for r in ranges]
    note = (f"{tried} boundary/axis choices tried"
            + (f"; factors rounded to divisors for {', '.join(sorted(changed))}" if changed else "")
            + (f"; unrolled loops run in time instead: {', '.join(demoted)}" if demoted else ""))
    return (best.with_name("ZigZag's mapping") if best else None), note


def _levels_from_cuts(level_names, exact, extra, cuts, spatial_loops) -> Mapping:
    """exact: temporal loops innermost first; cuts[k]: loops inside level k+1 (buffer, registers)
    counted from the innermost; extra loops go outermost at the memory level."""
    # cuts are cumulative from the innermost for (registers?, buffer): level names outermost first
    inner_names = list(level_names[1:])[::-1]  # innermost first
    bounds = sorted(cuts)
    levels: dict[str, list[MapLoop]] = {name: [] for name in level_names}
    start = 0
    for name, end in zip(inner_names, bounds):
        levels[name] = [MapLoop(d, f) for d, f in exact[start:end] if f > 1][::-1]
        start = end
    levels[level_names[0]] = ([MapLoop(d, f) for d, f in extra]
                              + [MapLoop(d, f) for d, f in exact[start:] if f > 1][::-1])
    out = []
    for name in level_names:
        loops = tuple(levels[name]) + (tuple(spatial_loops) if name == "buffer" else ())
        out.append(MapLevel(name, loops))
    return Mapping(tuple(out))


def mapping_to_zigzag(mapping: Mapping) -> dict:
    """Our mapping in the runner report's shape (the same loops for every operand, each operand's
    levels split at our level boundaries); mapping_from_zigzag inverts it (tests use the pair)."""
    per_level = []
    for level in mapping.levels[::-1]:  # innermost level first
        per_level.append([[DIM_TO_ZIGZAG[l.dim], l.factor] for l in level.temporal[::-1]])
    spatial = [[DIM_TO_ZIGZAG[l.dim], l.factor] for level in mapping.levels for l in level.spatial]
    return {"temporal": {z: per_level for z in OPERAND_TO_ZIGZAG.values()},
            "spatial": {z: [spatial] + [[] for _ in mapping.levels] for z in OPERAND_TO_ZIGZAG.values()}}


# -- counts side by side -------------------------------------------------------------------------
def zigzag_counts_as_ours(element_accesses: dict, level_names: tuple[str, ...]) -> dict:
    """ZigZag's exact element moves per operand and memory level (innermost first: [registers,]
    buffer, DRAM) in our LevelCounts' terms: level → operand → {reads, writes, fills, psum_reads,
    updates}. I/W: reads = read out to the level below, fills = written in from above. O: writes =
    written in from below, psum_reads = read out to below, updates = read out to above, fills =
    written in from above."""
    ours = list(level_names)[::-1]  # innermost first, as ZigZag lists them
    out: dict[str, dict[str, dict[str, int]]] = {name: {} for name in level_names}
    for z, levels in element_accesses.items():
        op = OPERAND_FROM_ZIGZAG[z]
        for name, moves in zip(ours, levels):
            if op == "output":
                out[name][op] = {"reads": 0, "writes": moves["wr_in_by_low"], "fills": moves["wr_in_by_high"],
                                 "psum_reads": moves["rd_out_to_low"], "updates": moves["rd_out_to_high"]}
            else:
                out[name][op] = {"reads": moves["rd_out_to_low"], "writes": 0, "fills": moves["wr_in_by_high"],
                                 "psum_reads": 0, "updates": 0}
    return out


ZIGZAG_DIFFERENCES = (
    "Same hardware: ZigZag gets our hierarchy as an accelerator — DRAM, one global buffer per operand with "
    "our capacities (8-bit elements, so sizes are capacity × 8 bits), optional per-PE registers, the PE "
    "array rows × cols — and our per-access costs; its counts are read as exact element moves (amount "
    "per period × periods × units from its data-movement records), not its port-width word counts.",
    "Energy convention: ZigZag charges every transfer at both ends (a read of the upper level and a write "
    "into the lower one); we charge a fill as a read of the level above only, a write-back as a write of "
    "the level above. Its own energy totals are therefore not comparable; the benchmark prices ZigZag's "
    "chosen mapping with our evaluate() instead.",
    "MAC-side reads: ZigZag does not count a read of the innermost level when consecutive MACs use the "
    "same element (the value stays at the port); we assume the MACs keep nothing, so every MAC reads its "
    "input and weight and reads/writes its partial sum at the innermost level holding them (minus "
    "multicast). Hence ZigZag's buffer reads and output updates are much lower than ours for the same loops.",
    "Spatial fan-out: ZigZag limits unrolling by the bandwidth of the memories feeding the array (we give "
    "the buffers ports 1 to PEs elements wide, with costs scaled so one element costs the same) and charges "
    "no energy for multicast or spatial reduction; we charge one inter-PE transfer per extra PE served "
    "and per partial sum added on the way up.",
    "Uneven mappings: ZigZag may use loop counts that do not divide a dimension (56 = 5 × 11.2); a mapping "
    "of ours needs whole divisors, so translating its choice rounds each factor to the largest divisor "
    "within it (the outermost loop of a dimension takes the rest), which can cost energy our search "
    "would not pay.",
    "Per-operand memories: ZigZag cuts one loop order at a different depth for each operand (each has its "
    "own buffer); our levels have one boundary for all operands. The translation tries every boundary "
    "between the operands' cuts (and each way to put the unrolled loops on PE rows/cols) and keeps the "
    "valid one our model prices lowest.",
    "Halos and padding: both count an input tile as the rows and columns its windows touch; ZigZag clips "
    "a tile only to the whole (unpadded) input, we also drop padded rows at every border tile, so our "
    "input fills are slightly lower (about 1% on a 56×56 layer with padding 1).",
    "Search spaces: ZigZag (LOMA) permutes the prime factors of every dimension (up to lpf_limit = 6 "
    "loops), allocates them to memories bottom-up (each operand's lowest memory filled first) and tries "
    "up to three spatial unrollings chosen by utilisation; ours enumerates divisor factorisations, "
    "orders of relevance groups and many unrollings (SEARCH_ASSUMPTIONS). Cycles: ZigZag models port "
    "bandwidth stalls and loading; we count temporal iterations (optionally bound by memory bandwidth).",
)
