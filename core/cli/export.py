"""The ``export`` command: a design as stand-alone PyTorch source and/or ONNX."""

from __future__ import annotations

from core.common.errors import InputError, printable


def register(subparsers) -> None:
    """Add ``export`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "export", help="write a design as PyTorch code (--code) and/or ONNX (--onnx)",
        description="Writes MODEL as a stand-alone nn.Module class (--code FILE.py) and/or "
                    "as ONNX with fresh weights (--onnx FILE.onnx). Files are replaced "
                    "atomically. Note: a MODEL given as path/model.py:factory runs that "
                    "Python file, as importing it would.")
    p.add_argument("model", help="preset name, design .json, file.py:factory (runs the file) "
                                 "or torchvision:NAME")
    p.add_argument("--input", help="per-sample input shape, e.g. 3,32,32 (sequence models: L)")
    p.add_argument("--code", metavar="FILE.py", help="write PyTorch source here")
    p.add_argument("--onnx", metavar="FILE.onnx", help="write ONNX here")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    if not args.code and not args.onnx:
        raise InputError("export: give --code FILE.py, --onnx FILE.onnx or both")
    from core.torchbridge.export import export_code, export_onnx, onnx_missing
    from core.torchbridge.resolve import parse_shape, resolve_model
    if args.onnx and onnx_missing():
        raise InputError(f"--onnx needs {' and '.join(onnx_missing())}: install with "
                         f"`pip install {' '.join(onnx_missing())}`")
    network = resolve_model(args.model, parse_shape(args.input) if args.input else None)
    written = []
    if args.code:
        written.append(export_code(network, args.code))
    if args.onnx:
        written.append(export_onnx(network, args.onnx))
    for path in written:
        print(f"wrote {printable(str(path))}")
    return 0
