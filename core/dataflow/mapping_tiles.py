"""Tile sizes of a mapping: the elements of an operand a box of loops touches, its largest instance and
the sum over every position of the box (closed form; padding never stored).

A box that is a suffix of the nest is given by its inner extent per dimension (the product of
the factors of the loops inside it); any other box by its loops with their strides. Weight and output tiles are plain products; an input tile's rows are the real rows
{(y0+a)·S − P + r0 + b} for a < y-extent and b < r-extent, and likewise its columns.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.common.limits import COUNT_WORK

from core.dataflow.layer import ConvLayer
from core.dataflow.mapping import LOOP_DIMS, dim_extents


def _offsets(loops: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Every value of sum(index × stride) over loops given as (factor, stride)."""
    out = np.zeros(1, dtype=np.int64)
    for factor, stride in loops:
        out = (out[:, None] + np.arange(factor, dtype=np.int64) * stride).ravel()
    return out


@lru_cache(maxsize=16384)
def span_stats(box_out: tuple, rest_out: tuple, box_k: tuple, rest_k: tuple, stride: int, padding: int,
               size: int) -> tuple[int, int]:
    """(sum over positions, largest) of the real input rows a box touches.

    The box holds the loops ``box_out`` over output rows and ``box_k`` over kernel rows, the
    others (``rest_*``) place it; loops are (factor, stride in that dimension). A suffix of the
    nest gives a contiguous box; spatial loops seen from the MACs can give a strided one.
    """
    cells = product(f for f, _ in box_out + rest_out + box_k + rest_k)
    COUNT_WORK.check(cells, f"the input rows of a mapping over {cells:,} (output row, kernel row) pairs")
    inner = np.unique((_offsets(box_out)[:, None] * stride + _offsets(box_k)[None, :]).ravel())
    starts = (_offsets(rest_out)[:, None] * stride + _offsets(rest_k)[None, :]).ravel() - padding
    rows = starts[:, None] + inner[None, :]
    counts = ((rows >= 0) & (rows < size)).sum(axis=1)
    return int(counts.sum()), int(counts.max(initial=0))


def _suffix(inner: int, extent: int) -> tuple[tuple, tuple]:
    """(box, rest) loops of a contiguous box of ``inner`` out of ``extent``."""
    return ((inner, 1),), ((extent // inner, inner),)


def product(values) -> int:
    """Product of whole numbers (1 for none)."""
    out = 1
    for v in values:
        out *= v
    return out


def inner_extents(loops) -> dict[str, int]:
    """Product of the factors per dimension of an iterable of loops (anything with .dim, .factor)."""
    out = dict.fromkeys(LOOP_DIMS, 1)
    for loop in loops:
        out[loop.dim] *= loop.factor
    return out


def _rows(layer: ConvLayer, inner: dict[str, int]) -> tuple[int, int]:
    return span_stats(*_suffix(inner["y"], layer.out_height), *_suffix(inner["r"], layer.kernel),
                      layer.stride, layer.padding, layer.height)


def _cols(layer: ConvLayer, inner: dict[str, int]) -> tuple[int, int]:
    return span_stats(*_suffix(inner["x"], layer.out_width), *_suffix(inner["s"], layer.kernel),
                      layer.stride, layer.padding, layer.width)


def largest_tile(layer: ConvLayer, operand: str, inner: dict[str, int]) -> int:
    """Elements of the largest instance of the operand's tile for a box (what a buffer must hold)."""
    if operand == "weight":
        return inner["f"] * inner["c"] * inner["r"] * inner["s"]
    if operand == "output":
        return inner["n"] * inner["f"] * inner["y"] * inner["x"]
    return inner["n"] * inner["c"] * _rows(layer, inner)[1] * _cols(layer, inner)[1]


def tile_sum(layer: ConvLayer, operand: str, inner: dict[str, int]) -> int:
    """Sum of the operand's tile size over every position of the box in the layer's iteration space."""
    if operand == "weight":
        return layer.filters * layer.channels * layer.window
    if operand == "output":
        return layer.filters * layer.out_height * layer.out_width
    n = dim_extents(layer)["n"]
    return n * layer.channels * _rows(layer, inner)[0] * _cols(layer, inner)[0]


def lattice_tile_sum(layer: ConvLayer, operand: str, box, rest) -> int:
    """tile_sum for a box given as loops (dim, factor, stride) with the loops that place it
    (``rest``): the box need not be contiguous (e.g. spatial loops above loops of the same dims)."""
    if operand != "input":
        return tile_sum(layer, operand, {})
    b, r = _by_dim(box), _by_dim(rest)
    rows = span_stats(b["y"], r["y"], b["r"], r["r"], layer.stride, layer.padding, layer.height)[0]
    cols = span_stats(b["x"], r["x"], b["s"], r["s"], layer.stride, layer.padding, layer.width)[0]
    return dim_extents(layer)["n"] * layer.channels * rows * cols


def _by_dim(loops) -> dict[str, tuple]:
    out: dict[str, list] = {"y": [], "r": [], "x": [], "s": []}
    for dim, factor, stride in loops:
        if dim in out:
            out[dim].append((factor, stride))
    return {d: tuple(v) for d, v in out.items()}
