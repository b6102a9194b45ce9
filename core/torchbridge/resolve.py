"""Resolve a MODEL argument to a Network: a preset name, a design .json, a Python file's
factory (``path/model.py:make_model``) or a torchvision model (``torchvision:resnet18``)."""

from __future__ import annotations

from pathlib import Path

from core.graph import io
from core.common.errors import InputError
from core.graph.network import Network
from core.graph.presets import load_preset, preset_names


def resolve_model(spec: str, input_shape: tuple[int, ...] | None = None) -> Network:
    """The Network ``spec`` names, with its (first) input set to ``input_shape`` if given."""
    spec = spec.strip()
    if spec.startswith("torchvision:") or _is_factory(spec):
        from core.torchbridge.importer import import_model  # torch and torch.fx only when needed
        return import_model(spec, input_shape)
    if spec.endswith(".json") or Path(spec).is_file():
        network = io.load(spec)
    elif spec in preset_names():
        network = load_preset(spec)
    else:
        raise InputError(f"model {spec!r} is not a preset, a .json design, file.py:factory or "
                         f"torchvision:NAME (presets: {', '.join(preset_names())})")
    if input_shape is not None:
        set_input_shape(network, input_shape)
    return network


def _is_factory(spec: str) -> bool:
    path, sep, func = spec.rpartition(":")
    return bool(sep) and path.endswith(".py") and func.isidentifier()


def set_input_shape(network: Network, shape: tuple[int, ...]) -> None:
    """Give the first Input node a new per-sample shape (inputs declared ``like`` it follow)."""
    inputs = network.input_names()
    if not inputs:
        raise InputError(f"{network.name} has no Input node to reshape")
    network.set_param(inputs[0], "shape", list(shape))


def parse_shape(text: str) -> tuple[int, ...]:
    """'3,32,32' → (3, 32, 32); '128' → (128,). Anything else raises InputError."""
    parts = [p.strip() for p in str(text).replace("×", ",").replace("x", ",").split(",")]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1 or len(dims) > 4:
        raise InputError(f"input shape {text!r} is not allowed: use up to four whole numbers "
                         f"≥ 1 separated by commas, e.g. 3,32,32 or 128")
    return dims
