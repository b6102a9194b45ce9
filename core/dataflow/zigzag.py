"""Translation to and from ZigZag (KU Leuven's mapper, ``zigzag-dse``) for the cross-check
benchmark: our layer and hierarchy as ZigZag's workload, accelerator and mapping inputs, and
ZigZag's chosen mapping back as ours. Pure data (dicts that JSON/YAML can write); ZigZag itself
is never imported here — it runs in its own virtual environment (benchmarks/zigzag/).
"""

from __future__ import annotations

from core.dataflow.layer import OPERANDS, ConvLayer

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
