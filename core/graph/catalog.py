"""Registry of layer types: lookup by name, categories for the palette, docs."""

from __future__ import annotations

from core.common.errors import NetworkError, brief
from core.graph.layers import (conv, dense, elementwise, gates, io_nodes, pool, shape_ops,
                               windows)
from core.graph.layers.base import LayerType

CATEGORIES = ("Structure", "Convolution", "Pooling", "Linear", "Activation", "Normalization",
              "Attention", "Loss")

_TYPES: dict[str, LayerType] = {}
for _module in (io_nodes, conv, pool, dense, elementwise, gates, shape_ops, windows):
    for _cls in _module.LAYER_TYPES:
        _TYPES[_cls.name] = _cls()


def layer_type(name: str) -> LayerType:
    """The layer type called ``name``; unknown names raise NetworkError listing the known."""
    try:
        return _TYPES[name]
    except KeyError:
        raise NetworkError(f"unknown layer type {brief(name)} ({_hint(name)})") from None


def _hint(name) -> str:
    """Close names, or a few known ones: the full list no longer fits on one line."""
    lowered = {t.lower(): t for t in _TYPES}
    import difflib  # only for a misspelt name's suggestions
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(lowered[c] for c in close) + "?"
    return f"{len(_TYPES)} types are known, e.g. Conv2d, Linear, ReLU: see the palette"


def type_names() -> list[str]:
    return list(_TYPES)


def by_category() -> dict[str, list[LayerType]]:
    """Layer types grouped by palette category, in palette order."""
    groups: dict[str, list[LayerType]] = {c: [] for c in CATEGORIES}
    for t in _TYPES.values():
        groups.setdefault(t.category, []).append(t)
    return groups
