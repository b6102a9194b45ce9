"""The design commands: presets, report (shapes, counts, memory per layer), solve-conv
(kernel/stride/padding for an output size) and ds (depthwise-separable comparison)."""

from __future__ import annotations

import json

from core.common.errors import InputError


def register(subparsers) -> None:
    """Add presets, report, solve-conv and ds to an argparse subparsers object."""
    p = subparsers.add_parser("presets", help="list the preset designs")
    p.set_defaults(func=cmd_presets)

    p = subparsers.add_parser("report",
                              help="shapes, parameters, operations and memory per layer")
    p.add_argument("model", help="preset name, design .json, file.py:factory (runs that "
                                 "Python file) or torchvision:NAME")
    p.add_argument("--input", help="per-sample input shape, e.g. 3,32,32 (sequence models: L)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the design's)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default=None)
    p.add_argument("--no-bias-adds", action="store_true", help="do not count bias additions")
    p.add_argument("--backward", action="store_true", help="add weight/bias/input gradients")
    p.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam"), default="adam",
                   help="optimizer whose state the memory total includes")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"), default="table")
    p.add_argument("--group-blocks", action="store_true",
                   help="one row per run of identical repeated blocks (×N, summed over its "
                        "layers) in the table, CSV, Markdown and LaTeX")
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("solve-conv", help="which kernel/stride/padding/dilation give "
                                                 "an output size")
    p.add_argument("--in", dest="size_in", required=True, help="input size H or H,W")
    p.add_argument("--out", dest="size_out", required=True, help="output size H or H,W")
    p.add_argument("--kernel", help="only this kernel size (K or Kh,Kw)")
    p.add_argument("--exact", action="store_true", help="only strides that tile the input")
    p.add_argument("--max-dilation", type=int, default=1, help="try dilations up to this")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_solve_conv)

    p = subparsers.add_parser("ds",
                              help="compare a network with its depthwise-separable version")
    p.add_argument("model")
    p.add_argument("--input")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"), default="table")
    p.set_defaults(func=cmd_ds)


def cmd_presets(args) -> int:
    from core.graph.presets import preset_descriptions
    for name, description in preset_descriptions():
        short = description if len(description) <= 96 else description[:95] + "…"
        print(f"{name:24s} {short}")
    return 0


def _analysis_for(args, backward: bool = False):
    from core.graph.analysis import AnalysisOptions, analyze
    from core.torchbridge.resolve import parse_shape, resolve_model
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
    from core.common.tables import render
    from core.graph.report import layer_table, report_json, summary_lines
    network, analysis = _analysis_for(args)
    if args.format == "json":
        print(json.dumps(report_json(analysis, args.model, args.backward), indent=1))
        return 0
    title = (f"{network.name}: batch {analysis.options.batch}, {analysis.options.precision}, "
             f"bias adds {'on' if analysis.options.bias_adds else 'off'}")
    folds = None
    if getattr(args, "group_blocks", False):
        from core.graph.blocks import find_folds
        folds = find_folds(analysis)
    print(render(layer_table(analysis, args.backward, title, folds=folds), args.format), end="")
    if args.format == "table":
        print()
        if network.description:  # says where an import came from and in which mode
            print(network.description)
        print("\n".join(summary_lines(analysis)))
    return 0


def cmd_solve_conv(args) -> int:
    from core.common.tables import Table, to_text
    from core.graph.solver import parse_size, solve
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
    from core.graph.analysis import AnalysisOptions
    from core.graph.dsconv import compare_depthwise_separable
    from core.common.tables import Table, render
    from core.torchbridge.resolve import parse_shape, resolve_model
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
