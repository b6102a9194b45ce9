"""The ``mlsys-studio`` command: the app with no arguments, otherwise headless commands
over the same engine (presets, report, solve-conv, ds, dataflow, systolic).

Errors print one line on stderr and exit with status 2; no traceback (set
MLSYS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import InputError, MlsysError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str):
        raise InputError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlsys-studio", description="MLSys Studio: neural networks from the "
                                                      "systems side. With no command, opens "
                                                      "the app.")
    parser.add_argument("--screenshot", metavar="FILE", help="render the main window to a PNG "
                                                             "offscreen and exit")
    parser.add_argument("--preset", help="preset to open in the app (with --screenshot too)")
    parser.add_argument("--workspace", help="workspace to show (with --screenshot)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("presets", help="list the preset designs")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("report", help="shapes, parameters, operations and memory per layer")
    p.add_argument("model", help="preset name, design .json, file.py:factory or "
                                 "torchvision:NAME")
    p.add_argument("--input", help="per-sample input shape, e.g. 3,32,32 (sequence models: L)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the design's)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default=None)
    p.add_argument("--no-bias-adds", action="store_true", help="do not count bias additions")
    p.add_argument("--backward", action="store_true", help="add weight/bias/input gradients")
    p.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam"), default="adam",
                   help="optimizer whose state the memory total includes")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"), default="table")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("solve-conv", help="which kernel/stride/padding/dilation give an "
                                          "output size")
    p.add_argument("--in", dest="size_in", required=True, help="input size H or H,W")
    p.add_argument("--out", dest="size_out", required=True, help="output size H or H,W")
    p.add_argument("--kernel", help="only this kernel size (K or Kh,Kw)")
    p.add_argument("--exact", action="store_true", help="only strides that tile the input")
    p.add_argument("--max-dilation", type=int, default=1, help="try dilations up to this")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_solve_conv)

    p = sub.add_parser("ds", help="compare a network with its depthwise-separable version")
    p.add_argument("model")
    p.add_argument("--input")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"), default="table")
    p.set_defaults(func=cmd_ds)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Commands contributed by the other engine packages (training, dataflow)."""
    from .dataflow.cli import register as register_dataflow
    from .experiment_cli import register as register_experiment
    from .train_cli import register as register_train
    register_train(sub)
    register_dataflow(sub)
    register_experiment(sub)


# ---------------------------------------------------------------------------------------
def cmd_presets(args) -> int:
    from .presets import preset_descriptions
    for name, description in preset_descriptions():
        short = description if len(description) <= 96 else description[:95] + "…"
        print(f"{name:24s} {short}")
    return 0


def _analysis_for(args, backward: bool = False):
    from .analysis import AnalysisOptions, analyze
    from .models import parse_shape, resolve_model
    shape = parse_shape(args.input) if getattr(args, "input", None) else None
    network = resolve_model(args.model, shape)
    batch = args.batch if getattr(args, "batch", None) is not None else int(
        network.defaults.get("batch", 1))
    precision = getattr(args, "precision", None) or network.defaults.get("precision", "fp32")
    options = AnalysisOptions(batch=batch, precision=precision,
                              bias_adds=not getattr(args, "no_bias_adds", False),
                              optimizer=getattr(args, "optimizer", "adam"))
    analysis = analyze(network, options)
    error = analysis.first_error()
    if error:
        raise InputError(error)
    return network, analysis


def cmd_report(args) -> int:
    from .export import render
    from .report import layer_table, report_json, summary_lines
    network, analysis = _analysis_for(args)
    if args.format == "json":
        print(json.dumps(report_json(analysis, args.model, args.backward), indent=1))
        return 0
    title = (f"{network.name}: batch {analysis.options.batch}, {analysis.options.precision}, "
             f"bias adds {'on' if analysis.options.bias_adds else 'off'}")
    print(render(layer_table(analysis, args.backward, title), args.format), end="")
    if args.format == "table":
        print()
        print("\n".join(summary_lines(analysis)))
    return 0


def cmd_solve_conv(args) -> int:
    from .export import Table, to_text
    from .solver import parse_size, solve
    size_in = parse_size(args.size_in, "--in")
    size_out = parse_size(args.size_out, "--out")
    kernel = parse_size(args.kernel, "--kernel") if args.kernel else None
    if args.max_dilation < 1:
        raise InputError(f"--max-dilation {args.max_dilation} is not allowed: use a whole "
                         f"number ≥ 1")
    solutions = solve(size_in, size_out, kernel, args.max_dilation, args.exact)
    if args.format == "json":
        print(json.dumps({"input": list(size_in), "output": list(size_out),
                          "solutions": [s.as_dict() for s in solutions]}, indent=1))
        return 0
    if not solutions:
        print(f"no configuration maps {size_in[0]}×{size_in[1]} to {size_out[0]}×{size_out[1]}"
              + (" exactly" if args.exact else ""))
        return 0
    table = Table(["kernel", "stride", "padding", "dilation", "tiling"],
                  [[_pair_text(s.kernel), _pair_text(s.stride), _pair_text(s.padding),
                    _pair_text(s.dilation), "exact" if s.exact else "floored"]
                   for s in solutions],
                  f"{size_in[0]}×{size_in[1]} → {size_out[0]}×{size_out[1]}: "
                  f"{len(solutions)} configurations")
    print(to_text(table), end="")
    return 0


def _pair_text(v) -> str:
    return f"{v[0]}×{v[1]}" if isinstance(v, (tuple, list)) else str(v)


def cmd_ds(args) -> int:
    from .analysis import AnalysisOptions
    from .dsconv import compare_depthwise_separable
    from .export import Table, render
    from .models import parse_shape, resolve_model
    network = resolve_model(args.model, parse_shape(args.input) if args.input else None)
    comparison = compare_depthwise_separable(network, AnalysisOptions())
    if args.format == "json":
        print(json.dumps(_ds_json(comparison), indent=1))
        return 0
    rows = [[s.name, s.standard_mul, s.separable_mul, float(s.predicted_mul), s.ratio,
             "yes" if s.formula_holds else "NO", s.standard_params, s.separable_params]
            for s in comparison.layers]
    for key, (a, b, red) in comparison.totals().items():
        rows.append([f"total {key}", a, b, None, 1 - red, "", None, None])
    table = Table(["layer", "mul (standard)", "mul (separable)", "x·(1/Cout + 1/K²)",
                   "ratio", "formula holds", "params", "params (separable)"], rows,
                  f"{network.name} vs its depthwise-separable version",
                  numeric={1, 2, 3, 4, 6, 7}, percent={4})
    print(render(table, args.format), end="")
    return 0


def _ds_json(comparison) -> dict:
    return {"layers": [{"name": s.name, "standard_mul": s.standard_mul,
                        "separable_mul": s.separable_mul,
                        "predicted_mul": float(s.predicted_mul), "ratio": s.ratio,
                        "formula_holds": s.formula_holds, "standard_params": s.standard_params,
                        "separable_params": s.separable_params, "formula": s.formula()}
                       for s in comparison.layers],
            "totals": {k: {"standard": a, "separable": b, "reduction": red}
                       for k, (a, b, red) in comparison.totals().items()}}


# ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None, launch_app=None) -> int:
    """Run a command; with none, ``launch_app(args)`` opens the app (the GUI package passes
    it in, so the engine never imports Qt)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            if launch_app is None:
                raise MlsysError("no command given (see --help); the app starts from the "
                                 "mlsys-studio launcher")
            return launch_app(args)
        return args.func(args)
    except MlsysError as exc:
        print(f"mlsys-studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line unless debugging
        if os.environ.get("MLSYS_DEBUG"):
            raise
        print(f"mlsys-studio: internal error: {type(exc).__name__}: {exc} (set MLSYS_DEBUG=1 "
              f"for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
