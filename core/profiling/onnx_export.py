"""The profiled model as ONNX (batch dimension dynamic), for Netron and other tools; the
same exporter settings as the Training workspace's (torch.onnx, dynamo)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

from core.common.errors import MlsysError
from core.graph.network import Network

MAX_ONNX_BATCH = 65536


class OnnxExportError(MlsysError, ValueError):
    """The model cannot be exported (a package is missing, the file cannot be written)."""


def onnx_missing() -> list[str]:
    """The packages torch.onnx.export (dynamo exporter) needs that are not installed."""
    return [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]


def export_onnx(network: Network, path: str | Path) -> Path:
    """Write ``network`` built as a torch module (random weights) to ``path``."""
    missing = onnx_missing()
    if missing:
        raise OnnxExportError(f"exporting ONNX needs the {' and '.join(missing)} package"
                              f"{'s' if len(missing) > 1 else ''}: install with "
                              f"`pip install {' '.join(missing)}`")
    import torch
    from core.torchbridge.build import build_model
    path = Path(path)
    model = build_model(network).eval()
    inputs = tuple(model.example_inputs(2))
    batch = torch.export.Dim("batch", min=1, max=MAX_ONNX_BATCH)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its steps
            torch.onnx.export(model, inputs, str(path), input_names=list(model.input_names),
                              output_names=list(model.output_names), dynamo=True,
                              external_data=False,
                              dynamic_shapes=(tuple({0: batch} for _ in inputs),),
                              verbose=False)  # forward(*inputs): one entry, a tuple
    except OSError as exc:
        raise OnnxExportError(f"cannot write ONNX file {path}: {exc.strerror or exc}") \
            from None
    except Exception as exc:  # exporter failures are many and varied: one line
        text = str(exc).strip().splitlines()
        raise OnnxExportError(f"ONNX export of {network.name} failed: "
                              f"{text[0] if text else type(exc).__name__}") from None
    return path
