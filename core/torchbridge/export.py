"""Write a design as PyTorch source or as ONNX, atomically (the ``export`` command and the
app's File → Export share these)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

from core.common.errors import MlsysError, printable
from core.common.files import write_atomic, write_with
from core.graph.network import Network


class ExportError(MlsysError):
    """An export cannot be written (names the file and why)."""


def export_code(network: Network, path: str | Path) -> Path:
    """PyTorch source of ``network`` (see codegen) written to ``path``."""
    from core.torchbridge.codegen import generate
    source = generate(network)
    try:
        write_atomic(path, source)
    except OSError as exc:
        raise ExportError(f"cannot write {printable(str(path))}: {exc.strerror or exc}") \
            from None
    return Path(path)


def onnx_missing() -> list[str]:
    """The packages torch.onnx.export (dynamo exporter) needs that are not installed."""
    return [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]


def export_onnx(network: Network, path: str | Path) -> Path:
    """``network`` built with fresh weights, traced on example inputs of batch 2 and
    written as ONNX to ``path``."""
    missing = onnx_missing()
    if missing:
        raise ExportError(f"exporting ONNX needs the {' and '.join(missing)} package"
                          f"{'s' if len(missing) > 1 else ''}: install with "
                          f"`pip install {' '.join(missing)}`")
    import torch

    from core.torchbridge.build import build_model
    module = build_model(network).eval()
    inputs = tuple(module.example_inputs(batch=2))

    def write(tmp: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates on stdout
            torch.onnx.export(module, inputs, str(tmp), input_names=list(module.input_names),
                              output_names=list(module.output_names), dynamo=True,
                              external_data=False, verbose=False)
    try:
        write_with(path, write)
    except OSError as exc:
        raise ExportError(f"cannot write {printable(str(path))}: {exc.strerror or exc}") \
            from None
    except MlsysError:
        raise
    except Exception as exc:  # the exporter's failures are many and varied: one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExportError(f"ONNX export of {printable(network.name)} failed: {first}") \
            from None
    return Path(path)
