"""The ``pipeline`` sub-command: cycles of an MLP on per-neuron units and NFU variants, with
formulas, stream figures, utilisation and the model's assumptions."""

from __future__ import annotations

import argparse
import json

from core.common.errors import InputError
from core.common.tables import render
from core.pipeline import ARCHS, PipelineConfig, analyse, assumptions, parse_widths
from core.pipeline.report import layers_table, summary_table

FORMATS = ("table", "json", "csv", "md", "latex")
# Which flag holds the value a core message names (so that the one-line error names it).
FLAGS = (("layer width", "--layers"), ("two widths", "--layers"), ("t_m", "--tm"),
         ("t_a", "--ta"), ("t_σ", "--tsigma"), ("Tn", "--tn"), ("Ti", "--ti"),
         ("samples", "--samples"), ("clock", "--clock-mhz"))


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="cycles of an MLP on per-neuron units or a pipelined NFU (DianNao), with formulas",
        description="Closed-form cycle counts of an MLP (widths such as 10,8,6,5) on per-neuron "
                    "multipliers/adders/nonlinear units, an idealised NFU (serial or tree "
                    "accumulation) or DianNao's Tn×Ti NFU; the stream's initiation interval, "
                    "throughput and utilisation; the assumptions are printed with the result.")
    p.add_argument("--layers", required=True, metavar="W0,W1,…",
                   help="layer widths, inputs first (10,8,6,5 = layers 10→8, 8→6, 6→5)")
    p.add_argument("--arch", choices=ARCHS + ("all",), default="per-neuron",
                   help="architecture, or all of them side by side (default per-neuron)")
    p.add_argument("--tm", type=int, default=8, help="multiply latency t_m in cycles (default 8)")
    p.add_argument("--ta", type=int, default=2, help="add latency t_a in cycles (default 2)")
    p.add_argument("--tsigma", type=int, default=1,
                   help="nonlinear latency t_σ in cycles (default 1)")
    p.add_argument("--overlap", action="store_true",
                   help="per-neuron: the multiplier starts the next product while the adder "
                        "accumulates the last")
    p.add_argument("--tn", type=int, default=16, help="DianNao: neurons per tile Tn (default 16)")
    p.add_argument("--ti", type=int, default=16, help="DianNao: inputs per tile Ti (default 16)")
    p.add_argument("--samples", type=int, default=1,
                   help="samples streamed through the hardware (default 1)")
    p.add_argument("--clock-mhz", type=float, default=None, metavar="F",
                   help="clock in MHz, for samples per second and GOP/s")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=run_pipeline)


def configs_from_args(args: argparse.Namespace) -> list[PipelineConfig]:
    archs = ARCHS if args.arch == "all" else (args.arch,)
    try:
        widths = parse_widths(args.layers)
        return [PipelineConfig(widths, arch, t_m=args.tm, t_a=args.ta, t_sigma=args.tsigma,
                               overlap=args.overlap, tn=args.tn, ti=args.ti,
                               samples=args.samples, clock_mhz=args.clock_mhz)
                for arch in archs]
    except InputError as exc:
        message = str(exc)
        flag = next((f for key, f in FLAGS if key in message), "--layers" if "width" in
                    message else None)
        raise InputError(f"{flag}: {message}" if flag else message) from None


def run_pipeline(args: argparse.Namespace) -> int:
    results = [analyse(c) for c in configs_from_args(args)]
    if args.format == "json":
        data = [r.as_dict() for r in results]
        print(json.dumps(data if args.arch == "all" else data[0], indent=2, ensure_ascii=False))
        return 0
    print(format_results(results, args.format), end="")
    return 0


def format_results(results, fmt: str) -> str:
    """The per-layer table, the summary table and the assumptions as notes."""
    c = results[0].config
    title = (f"MLP {'-'.join(map(str, c.widths))}: t_m={c.t_m}, t_a={c.t_a}, t_σ={c.t_sigma}, "
             f"samples={c.samples}" + (f", Tn={c.tn}, Ti={c.ti}" if any(
                 r.arch == "diannao" for r in results) else ""))
    parts = [render(layers_table(results, title), fmt),
             render(summary_table(results, "Stream and utilisation"), fmt)]
    if fmt == "csv":
        return "\n".join(parts)
    prefix = {"table": "note: ", "md": "- ", "latex": "% "}[fmt]
    notes = []
    for r in results:
        heading = {"table": f"assumptions ({r.arch}):", "md": f"**Assumptions ({r.arch})**\n",
                   "latex": f"% assumptions ({r.arch}):"}[fmt]
        notes.append(heading + "\n" + "\n".join(prefix + a for a in assumptions(r.config)))
        notes.append("\n".join(prefix + f"{k} utilisation: {r.utilization_formula(k)}"
                               for k in r.units))
    return "\n".join(parts) + "\n" + "\n\n".join(notes) + "\n"
