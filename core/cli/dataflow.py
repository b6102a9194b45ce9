"""The ``dataflow`` and ``systolic`` sub-commands, registered on the main command line's subparsers."""

from __future__ import annotations

import argparse
import json

from core.dataflow.analysis import POLICIES, DataflowResult, analyse
from core.dataflow.dataflows import DATAFLOWS
from core.dataflow.energy import LEVEL_NAMES, EnergyCosts
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer, PEArray
from core.dataflow.systolic import (SYSTOLIC_DATAFLOWS, SystolicLayer, SystolicResult,
                                    simulate_systolic)
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.mapper import OBJECTIVES
from core.dataflow.network import NETWORK_DATAFLOWS
from core.common.errors import InputError
from core.common.executors import EXECUTORS

NETWORK_EXECUTOR = "inline"  # see --executor's help and the README's Command line

DEFAULT_BUFFERS = (1024, 1024, 256)  # elements: input, weight, output


def register(subparsers) -> None:
    """Add ``dataflow`` and ``systolic`` to an argparse subparsers object; each sets ``func``."""
    _register_dataflow(subparsers)
    _register_systolic(subparsers)


def _layer_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--height", type=int, required=required, help="input height H")
    parser.add_argument("--width", type=int, required=required, help="input width W")
    parser.add_argument("--channels", type=int, required=required, help="input channels C")
    parser.add_argument("--kernel", type=int, required=required, help="kernel size K (K×K)")
    parser.add_argument("--filters", type=int, required=required, help="number of filters F")
    parser.add_argument("--stride", type=int, default=1, help="stride S (default 1)")


def _register_dataflow(subparsers) -> None:
    p = subparsers.add_parser(
        "dataflow",
        help="buffer reads/writes and energy of a ws/is/os/rs dataflow for one conv layer; "
             "mappings, the mapper, and whole networks",
        description="Counts memory↔buffer traffic per operand for one convolution layer under a dataflow "
                    "(its loop nest is printed) and estimates energy with Eyeriss's normalised costs. "
                    "--mapping evaluates a mapping (JSON), --search runs the mapper, --textbook shows "
                    "the dataflow's fixed nest as a mapping; with MODEL (a preset, a design .json or "
                    "torchvision:NAME) the mapper maps every conv and linear layer of the network.",
    )
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help="map a whole network: a preset (e.g. resnet18), a design .json, file.py:factory "
                        "or torchvision:NAME (then the layer options are not used)")
    _layer_args(p, required=False)
    p.add_argument("--padding", type=int, default=0, help="zero padding P (default 0)")
    p.add_argument("--dataflow", choices=DATAFLOWS, default=None,
                   help="the dataflow (required without --mapping/--search; with --search it constrains "
                        "the space)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--mapping", metavar="FILE.json", default=None,
                      help="evaluate this mapping (JSON: levels with loops and factors); an invalid one "
                           "exits 2 with the overflow message")
    mode.add_argument("--search", action="store_true",
                      help="run the mapper: the best mapping (within --dataflow if given)")
    mode.add_argument("--textbook", action="store_true",
                      help="the dataflow's fixed nest (today's tiles) as a mapping, with per-level counts")
    p.add_argument("--objective", choices=OBJECTIVES, default="energy",
                   help="what --search and MODEL minimise (default energy)")
    p.add_argument("--dataflows", default=",".join(NETWORK_DATAFLOWS), metavar="LIST",
                   help="with MODEL: dataflows to tabulate, comma-separated, 'any' = unconstrained "
                        "(default %(default)s)")
    p.add_argument("--executor", choices=EXECUTORS, default=NETWORK_EXECUTOR,
                   help="with MODEL: where the distinct layer searches run — inline (here, one after "
                        "another; the default: a network's searches take seconds, less than a process "
                        "pool's start-up on a small machine), pool (a local process pool, one search "
                        "per core) or ray (a Ray cluster, see --cluster)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="with --executor ray: ray://HOST:PORT, HOST:PORT, or local (start one here)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="with --executor pool: worker processes (default: one per core)")
    p.add_argument("--memory-bandwidth", type=int, default=None, metavar="B",
                   help="memory elements per cycle for mappings (default: not modelled; then cycles = "
                        "the temporal iterations)")
    p.add_argument("--registers", default=None, metavar="I,W,O",
                   help="per-PE register capacities in elements for input, weight, output "
                        "(default: no register level)")
    p.add_argument("--input-buffer", type=int, default=DEFAULT_BUFFERS[0], help="input buffer capacity in elements")
    p.add_argument("--weight-buffer", type=int, default=DEFAULT_BUFFERS[1], help="weight buffer capacity in elements")
    p.add_argument("--output-buffer", type=int, default=DEFAULT_BUFFERS[2], help="output buffer capacity in elements")
    p.add_argument("--policy", choices=POLICIES, default="tile",
                   help="tile: every tile reloaded (hand count); lru: reuse whatever is still buffered")
    p.add_argument("--pe-rows", type=int, default=12, help="PE array rows (rs and mappings; default 12)")
    p.add_argument("--pe-cols", type=int, default=14, help="PE array columns (rs and mappings; default 14)")
    p.add_argument("--costs", default=None, metavar="RF,PE,BUF,DRAM,MAC",
                   help="energy per access of the register file, inter-PE link, buffer, DRAM and "
                        "per MAC (default 1,2,6,200,1: Eyeriss's normalised figures)")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"), default="table",
                   help="csv, md and latex: the whole-network table only")
    p.set_defaults(func=run_dataflow)


def _register_systolic(subparsers) -> None:
    p = subparsers.add_parser(
        "systolic",
        help="SCALE-Sim-compatible cycles, utilisation and SRAM traffic on an R×C systolic array",
        description="Maps one convolution layer onto an R×C systolic array as SCALE-Sim 3.0 does "
                    "(output size rounded up unless --floor-output).",
    )
    _layer_args(p)
    p.add_argument("--padding", type=int, default=0, help="zero padding, applied by enlarging the input (default 0)")
    p.add_argument("--rows", type=int, required=True, help="array rows R")
    p.add_argument("--cols", type=int, required=True, help="array columns C")
    p.add_argument("--dataflow", choices=SYSTOLIC_DATAFLOWS, required=True)
    p.add_argument("--sram-kb", default="64,64,64", help="ifmap,filter,ofmap SRAM sizes in KB (default 64,64,64)")
    p.add_argument("--floor-output", action="store_true",
                   help="PyTorch's floor output size instead of SCALE-Sim's ceil")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run_systolic)


# -- dataflow ---------------------------------------------------------------------------------
def parse_costs(text: str | None) -> EnergyCosts | None:
    """'1,2,6,200,1' → EnergyCosts (rf, inter-PE, buffer, DRAM, MAC); None keeps defaults."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 5:
        raise InputError(f"--costs {text!r} is not allowed: give five numbers ≥ 0 for the "
                         f"register file, inter-PE link, buffer, DRAM and MAC, e.g. 1,2,6,200,1")
    return EnergyCosts(*values)


def run_dataflow(args: argparse.Namespace) -> int:
    from core.cli import dataflow_mapping
    if getattr(args, "model", None):
        return dataflow_mapping.run_network(args, hierarchy_from_args(args))
    if (getattr(args, "executor", "inline") != "inline" or getattr(args, "cluster", None)
            or getattr(args, "workers", None) is not None):
        raise InputError("--executor, --cluster and --workers are for a whole network: give MODEL "
                         "(one layer's search runs here)")
    layer = layer_from_args(args)
    if getattr(args, "mapping", None) or getattr(args, "search", False) or getattr(args, "textbook", False):
        return dataflow_mapping.run_mapping(args, layer, hierarchy_from_args(args))
    if args.format not in ("table", "json"):
        raise InputError(f"--format {args.format}: only table or json for one layer "
                         f"(csv, md and latex are for a whole network)")
    _require_dataflow(args)
    buffers = Buffers(args.input_buffer, args.weight_buffer, args.output_buffer)
    result = analyse(layer, args.dataflow, buffers, args.policy, PEArray(args.pe_rows, args.pe_cols),
                     parse_costs(args.costs))
    if args.format == "json":
        data = result.as_dict()
        data.update(dataflow_mapping.textbook_json(args.dataflow, layer, hierarchy_from_args(args)))
        print(json.dumps(data, indent=2))
    else:
        print(format_dataflow_table(result))
    return 0


def _require_dataflow(args: argparse.Namespace) -> str:
    if args.dataflow is None:
        raise InputError(f"--dataflow is required here (allowed: {', '.join(DATAFLOWS)}); "
                         f"--mapping and --search work without it")
    return args.dataflow


def layer_from_args(args: argparse.Namespace) -> ConvLayer:
    missing = [f"--{name}" for name in ("height", "width", "channels", "kernel", "filters")
               if getattr(args, name) is None]
    if missing:
        raise InputError(f"{', '.join(missing)} required: give the layer's sizes, or a MODEL to map a "
                         f"whole network")
    return ConvLayer(args.height, args.width, args.channels, args.kernel, args.filters, args.stride, args.padding)


def parse_registers(text: str | None) -> Buffers | None:
    """'4,4,2' → per-PE register capacities (input, weight, output); None: no register level."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InputError(f"--registers {text!r} is not allowed: give three whole numbers ≥ 1 for the input, "
                         f"weight and output registers of one PE, e.g. 12,12,4")
    return Buffers(*(int(p) for p in parts))


def hierarchy_from_args(args: argparse.Namespace) -> Hierarchy:
    """The mapping hierarchy of the command line: the buffers, the PE array, optional registers, costs."""
    return Hierarchy(Buffers(args.input_buffer, args.weight_buffer, args.output_buffer),
                     PEArray(args.pe_rows, args.pe_cols), parse_registers(getattr(args, "registers", None)),
                     parse_costs(args.costs) or EnergyCosts(), getattr(args, "memory_bandwidth", None))


def format_dataflow_table(result: DataflowResult) -> str:
    c = result.counts
    lines = [
        f"{result.name} ({result.dataflow}), {result.policy} policy — {result.layer.describe()}",
        f"buffers (elements): input {result.buffers.input}, weight {result.buffers.weight}, "
        f"output {result.buffers.output}; MACs {c.macs:,}",
        "",
        "loop nest:",
        *("  " + line for line in result.nest.text().splitlines()),
        "",
        f"{'operand':8} {'memory reads':>14} {'memory writes':>14} {'buffer accesses':>16}",
    ]
    for op in OPERANDS:
        writes = c.memory_writes.get(op, 0)
        lines.append(f"{op:8} {c.memory_reads[op]:>14,} {writes:>14,} {c.buffer[op]:>16,}")
    lines.append(f"{'total':8} {sum(c.memory_reads.values()):>14,} {sum(c.memory_writes.values()):>14,} "
                 f"{sum(c.buffer.values()):>16,}")
    lines += ["", "energy (units of one MAC):"]
    e = result.energy
    for level, energy in e.energy.items():
        lines.append(f"  {LEVEL_NAMES[level]:24} {e.accesses[level]:>16,} × {e.costs[level]:<6g} = {energy:>16,.0f}")
    lines.append(f"  {'total':24} {'':>16}   {'':<6}   {e.total:>16,.0f}")
    return "\n".join(lines)


# -- systolic ---------------------------------------------------------------------------------
def parse_sram_kb(text: str) -> tuple[int, int, int]:
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InputError(f"--sram-kb: {text!r} is not three whole numbers of KB separated by commas (e.g. 64,64,64)")
    return tuple(int(p) for p in parts)


def run_systolic(args: argparse.Namespace) -> int:
    conv = ConvLayer(args.height, args.width, args.channels, args.kernel, args.filters, args.stride, args.padding)
    layer = SystolicLayer.from_conv(conv)
    rounding = "floor" if args.floor_output else "ceil"
    result = simulate_systolic(layer, args.rows, args.cols, args.dataflow, parse_sram_kb(args.sram_kb), rounding)
    if args.format == "json":
        print(json.dumps(systolic_json(result), indent=2))
    else:
        print(format_systolic_table(result))
    return 0


def systolic_json(result: SystolicResult) -> dict:
    return {
        "dataflow": result.dataflow,
        "cycles": result.cycles,
        "utilization": result.utilization,
        "mapping_efficiency": result.mapping_efficiency,
        "compute_utilization": result.compute_utilization,
        "utilization_pct": 100 * result.utilization,
        "mapping_efficiency_pct": 100 * result.mapping_efficiency,
        "sram_reads": {"ifmap": result.sram_ifmap_reads, "filter": result.sram_filter_reads},
        "sram_writes": {"ofmap": result.sram_ofmap_writes},
        "dram_estimate": {"ifmap_reads": result.dram_ifmap_reads, "filter_reads": result.dram_filter_reads,
                          "ofmap_writes": result.dram_ofmap_writes},
        "ofmap": [result.ofmap_h, result.ofmap_w],
        "output_rounding": result.rounding,
        "folds": [result.row_folds, result.col_folds],
        "macs": result.macs,
    }


def format_systolic_table(result: SystolicResult) -> str:
    rows = [
        ("dataflow", result.dataflow),
        ("array", f"{result.rows}×{result.cols}"),
        ("ofmap", f"{result.ofmap_h}×{result.ofmap_w} ({result.rounding})"),
        ("folds (row × col)", f"{result.row_folds} × {result.col_folds}"),
        ("cycles", f"{result.cycles:,}"),
        ("utilization", f"{100 * result.utilization:.4f} %"),
        ("mapping efficiency", f"{100 * result.mapping_efficiency:.4f} %"),
        ("compute utilization", f"{100 * result.compute_utilization:.4f} %"),
        ("SRAM ifmap reads", f"{result.sram_ifmap_reads:,}"),
        ("SRAM filter reads", f"{result.sram_filter_reads:,}"),
        ("SRAM ofmap writes", f"{result.sram_ofmap_writes:,}"),
        ("DRAM ifmap reads (est.)", f"{result.dram_ifmap_reads:,}"),
        ("DRAM filter reads (est.)", f"{result.dram_filter_reads:,}"),
        ("DRAM ofmap writes (est.)", f"{result.dram_ofmap_writes:,}"),
    ]
    return "\n".join(f"{name:26} {value}" for name, value in rows)
