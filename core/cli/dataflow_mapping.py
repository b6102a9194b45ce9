"""The mapping forms of the ``dataflow`` command: evaluate a mapping file (--mapping), run the
mapper (--search), show a dataflow's textbook mapping (--textbook), and map a whole network
(``dataflow MODEL``); text or JSON out, the network table also as CSV, Markdown or LaTeX."""

from __future__ import annotations

import argparse
import json
import sys

from core.common.errors import InputError
from core.common.tables import Table, render
from core.dataflow.energy import LEVEL_NAMES
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import Mapping, read_mapping
from core.dataflow.mapping_eval import MappingCost, check, evaluate

COUNT_FIELDS = ("reads", "writes", "fills", "psum_reads", "updates", "forwards")


def run_mapping(args: argparse.Namespace, layer: ConvLayer, hierarchy: Hierarchy) -> int:
    """--mapping FILE, --search or --textbook on one layer."""
    if args.format not in ("table", "json"):
        raise InputError(f"--format {args.format}: only table or json for one layer "
                         f"(csv, md and latex are for a whole network)")
    search = None
    if args.mapping:
        mapping = read_mapping(args.mapping)
        check(mapping, layer, hierarchy)  # InputError with the overflow message → exit 2
        mode = "mapping"
    elif args.search:
        from core.dataflow.mapper import search as run_search
        search = run_search(layer, hierarchy, args.dataflow, args.objective)
        mapping, mode = search.best, "search"
    else:
        from core.dataflow.textbook import textbook_mapping
        if args.dataflow is None:
            raise InputError("--textbook needs --dataflow (allowed: ws, is, os, rs)")
        mapping, mode = textbook_mapping(args.dataflow, layer, hierarchy), "textbook"
        check(mapping, layer, hierarchy)
    cost = search.cost if search is not None else evaluate(mapping, layer, hierarchy)
    if args.format == "json":
        print(json.dumps(mapping_json(mode, layer, hierarchy, mapping, cost, search), indent=2))
    else:
        print(format_mapping(mode, layer, hierarchy, mapping, cost, search))
    return 0


def mapping_json(mode: str, layer: ConvLayer, hierarchy: Hierarchy, mapping: Mapping, cost: MappingCost,
                 search=None) -> dict:
    data = {"mode": mode, "layer": layer_json(layer), "hierarchy": hierarchy.to_dict(),
            "mapping": mapping.to_dict(), "levels": level_counts_json(cost)}
    data.update(cost.to_dict())
    if search is not None:
        data["search"] = {"objective": search.objective, "dataflow": search.dataflow,
                          "evaluated": search.evaluated, "space_size": search.space_size,
                          "exhaustive": search.exhaustive, "seconds": search.seconds,
                          "pareto": [{"energy": c.energy.total, "cycles": c.cycles,
                                      "memory_accesses": c.memory_accesses, "mapping": m.to_dict()}
                                     for m, c in search.pareto]}
    return data


def textbook_json(dataflow: str, layer: ConvLayer, hierarchy: Hierarchy) -> dict:
    """The keys the default (hand-count) JSON gains: the nest as a mapping and its per-level counts
    under the mapping model (or why the nest is not a valid mapping on this hierarchy)."""
    from core.dataflow.mapping_eval import validate
    from core.dataflow.textbook import textbook_mapping
    try:
        mapping = textbook_mapping(dataflow, layer, hierarchy)
    except InputError as exc:
        return {"mapping": None, "mapping_error": str(exc)}
    problems = validate(mapping, layer, hierarchy)
    if problems:
        return {"mapping": mapping.to_dict(), "mapping_error": str(problems[0])}
    cost = evaluate(mapping, layer, hierarchy, checked=False)
    return {"mapping": mapping.to_dict(), "levels": level_counts_json(cost),
            "mapping_energy": cost.energy.total, "mapping_cycles": cost.cycles}


def layer_json(layer: ConvLayer) -> dict:
    return {"height": layer.height, "width": layer.width, "channels": layer.channels, "kernel": layer.kernel,
            "filters": layer.filters, "stride": layer.stride, "padding": layer.padding,
            "output": [layer.out_height, layer.out_width, layer.filters]}


def level_counts_json(cost: MappingCost) -> dict:
    """level → operand → {reads, writes, fills, psum_reads, updates, forwards}."""
    return {level: {op: c.as_dict() for op, c in ops.items()} for level, ops in cost.counts.items()}


def counts_table(cost: MappingCost) -> Table:
    table = Table(["level", "operand", *COUNT_FIELDS], numeric=set(range(2, 2 + len(COUNT_FIELDS))))
    for level, ops in cost.counts.items():
        for op in OPERANDS:
            c = ops[op]
            table.rows.append([level, op, *(getattr(c, f) for f in COUNT_FIELDS)])
    return table


def format_mapping(mode: str, layer: ConvLayer, hierarchy: Hierarchy, mapping: Mapping, cost: MappingCost,
                   search=None) -> str:
    b = hierarchy.buffers
    regs = hierarchy.registers
    lines = [
        f"{mapping.name or mode}: {layer.describe()}",
        f"buffers (elements): input {b.input}, weight {b.weight}, output {b.output}; PE array "
        f"{hierarchy.pe.rows}×{hierarchy.pe.cols}"
        + (f"; registers per PE: input {regs.input}, weight {regs.weight}, output {regs.output}" if regs else ""),
    ]
    if search is not None:
        space = f"{search.space_size:,}" if search.space_size is not None else "?"
        lines.append(f"search: {search.evaluated:,} mappings evaluated of a space of {space} "
                     f"({'exhaustive' if search.exhaustive else 'pruned'}) in {search.seconds:.2f} s; "
                     f"objective {search.objective}" + (f" within {search.dataflow}" if search.dataflow else ""))
    lines += ["", "mapping (outermost first):", *("  " + line for line in mapping.lines()), "",
              "counts per level (elements):", render(counts_table(cost), "table").rstrip(), "",
              f"MACs {cost.macs:,}; cycles {cost.cycles:,}; utilisation {cost.utilisation:.2%}; "
              f"memory accesses {cost.memory_accesses:,}", "", "energy (units of one MAC):"]
    e = cost.energy
    for level, energy in e.energy.items():
        lines.append(f"  {LEVEL_NAMES[level]:24} {e.accesses[level]:>16,} × {e.costs[level]:<6g} = {energy:>16,.0f}")
    lines.append(f"  {'total':24} {'':>16}   {'':<6}   {e.total:>16,.0f}")
    if search is not None and len(search.pareto) > 1:
        lines += ["", "energy–cycles Pareto front:"]
        lines += [f"  energy {c.energy.total:>16,.0f}   cycles {c.cycles:>12,}" for _m, c in search.pareto]
    return "\n".join(lines)


def network_executor(args: argparse.Namespace):
    """``dataflow MODEL``'s executor: None for inline (the searches run here with progress inside
    each), else core.common.executors' pool or ray (one line naming what is allowed otherwise)."""
    from core.common.executors import check_choice, make_executor
    name = getattr(args, "executor", "inline") or "inline"
    cluster, workers = getattr(args, "cluster", None), getattr(args, "workers", None)
    check_choice(name, cluster)
    if workers is not None and name != "pool":
        raise InputError(f"--workers needs --executor pool (not {name})")
    return None if name == "inline" else make_executor(name, cluster, workers)


def run_network(args: argparse.Namespace, hierarchy: Hierarchy) -> int:
    """``dataflow MODEL``: the whole-network table."""
    from core.dataflow.network import NetworkProgress, map_network_steps
    from core.torchbridge.resolve import resolve_model
    executor = network_executor(args)
    network = resolve_model(args.model)
    dataflows = [d.strip() for d in str(args.dataflows).split(",") if d.strip()]
    tty = sys.stderr.isatty()
    table = None
    try:
        for item in map_network_steps(network, hierarchy, args.objective, dataflows, executor=executor):
            if isinstance(item, NetworkProgress):
                if tty:
                    sys.stderr.write(f"\r{item.done}/{item.total} {item.layer} ({item.dataflow}) … ")
            else:
                table = item
    finally:
        if hasattr(executor, "close"):
            executor.close()
    if tty:
        sys.stderr.write("\n")
    if args.format == "json":
        print(json.dumps(table.to_dict(), indent=2))
        return 0
    print(render(table.table(), args.format), end="")
    if args.format == "table":
        best = table.best_dataflow()
        print(f"\n{table.searches} searches in {table.seconds:.1f} s"
              + (f"; best dataflow in total: {best}" if best else "")
              + (f"; not mapped: {', '.join(table.skipped)}" if table.skipped else ""))
    return 0
