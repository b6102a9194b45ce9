"""Pipeline results as tables (per-layer cycles with formulas, and one summary row per
architecture with speed-ups and utilisation), shared by the command line and the app."""

from __future__ import annotations

from core.common.tables import Table
from core.pipeline.config import KINDS


def layers_table(results, title: str = "") -> Table:
    """One row per architecture and layer, then each architecture's total."""
    table = Table(["arch", "layer", "inputs", "outputs", "cycles", "formula"], title=title,
                  numeric={2, 3, 4})
    for r in results:
        for l in r.layers:
            table.rows.append([r.arch, l.index + 1, l.inputs, l.outputs, l.cycles.value,
                               l.cycles.explain()])
        table.rows.append([r.arch, "total", None, None, r.total.value, r.total.explain()])
    return table


def summary_table(results, title: str = "") -> Table:
    """One row per architecture: latency, initiation interval, stream total, throughput,
    speed-up over the first result, utilisation of each unit kind."""
    clocked = any(r.config.clock_mhz is not None for r in results)
    headers = ["arch", "latency", "initiation interval", "total cycles", "samples/cycle"]
    if clocked:
        headers += ["samples/s", "GOP/s"]
    headers += ["speed-up", *(f"{k} util." for k in KINDS),
                *(f"{k}s" for k in KINDS)]
    first_util = headers.index(f"{KINDS[0]} util.")
    table = Table(headers, title=title, numeric=set(range(1, len(headers))),
                  percent=set(range(first_util, first_util + len(KINDS))))
    base = results[0].total.value if results else 1
    for r in results:
        row = [r.arch, r.latency.value, r.initiation_interval.value, r.total.value,
               f"{r.throughput_per_cycle:.4g}"]
        if clocked:
            per_second = r.throughput_per_second()
            gops = r.gops()
            row += [None if per_second is None else round(per_second),
                    None if gops is None else round(gops, 3)]
        row += [round(base / r.total.value, 3), *(r.utilization[k] for k in KINDS),
                *(r.units[k] for k in KINDS)]
        table.rows.append(row)
    return table
