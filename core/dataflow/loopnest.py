"""A dataflow as an explicit blocked loop nest, and which elements each operand's buffer holds at each tile.

A nest is an ordered list of memory-level loops, each stepping one layer dimension
(f filters, c channels, y output rows, x output columns) by a tile. Each operand's buffer is
(re)filled at one depth of the nest: its tile covers the current tile of every loop outside
that depth and the whole range of every dimension iterated inside it. Everything else
(tile-policy counts, LRU simulation, traces) is computed from this description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from core.common.limits import SIMULATION_BYTES
from core.dataflow.layer import OPERANDS, ConvLayer

DIMS = ("f", "c", "y", "x")
DIM_NAMES = {"f": "filters", "c": "input channels", "y": "output rows", "x": "output columns"}

# Which operand axis each loop dimension drives; a dimension absent here leaves the operand unchanged.
_AXIS_OF_DIM = {
    "input": {"c": "c", "y": "row", "x": "col"},
    "weight": {"f": "f", "c": "c"},
    "output": {"f": "f", "y": "y", "x": "x"},
}


@dataclass(frozen=True)
class Loop:
    """One memory-level loop: dimension ``dim`` of size ``extent`` stepped by ``tile``."""

    dim: str
    tile: int
    extent: int

    @property
    def count(self) -> int:
        return -(-self.extent // self.tile)

    def tile_range(self, i: int) -> np.ndarray:
        lo = i * self.tile
        return np.arange(lo, min(lo + self.tile, self.extent), dtype=np.int64)


@dataclass(frozen=True)
class NestLine:
    """One line of the loop nest as shown to the user (kind: loop, load, compute or store)."""

    kind: str
    depth: int
    text: str
    bound: int | None = None
    operand: str | None = None


@dataclass(frozen=True)
class LoopNest:
    """Memory-level loops, the depth at which each operand's buffer is filled, and the display lines."""

    dataflow: str
    layer: ConvLayer
    loops: tuple[Loop, ...]
    depths: tuple[int, int, int]  # input, weight, output
    lines: tuple[NestLine, ...] = field(default=(), compare=False)

    def depth(self, operand: str) -> int:
        return self.depths[OPERANDS.index(operand)]

    @property
    def steps(self) -> int:
        """Innermost iterations of the memory-level nest (one trace step each)."""
        return int(np.prod([loop.count for loop in self.loops], dtype=np.int64))

    def tiles(self) -> dict[str, int]:
        return {loop.dim: loop.tile for loop in self.loops}

    def text(self) -> str:
        return "\n".join("  " * line.depth + line.text for line in self.lines)

    def geometry(self, operand: str) -> OperandGeometry:
        return OperandGeometry(self, operand)


def _outer_addresses(coords: list[np.ndarray], strides: list[int]) -> np.ndarray:
    """Addresses of the Cartesian product of per-axis coordinates, ascending when each axis is sorted."""
    addr = np.zeros(1, dtype=np.int64)
    for axis_coords, stride in zip(coords, strides):
        addr = (addr[:, None] + axis_coords[None, :] * stride).ravel()
    return addr


# Coordinates are kept per axis, each row and column once per window tap, in a handful of
# int64 copies (full axes, per-tile ranges, sorted unions): a generous bound per element.
_BYTES_PER_AXIS_ELEMENT = 64


def geometry_bytes(layer: ConvLayer) -> int:
    """Upper bound of the memory an operand's per-axis coordinates take."""
    axes = (layer.height + layer.width) * layer.kernel + layer.channels + layer.filters
    return axes * _BYTES_PER_AXIS_ELEMENT


class OperandGeometry:
    """Per-axis coordinates of one operand for every tile of every loop, and the derived sizes.

    The operand's address is a weighted sum of its axes (row-major, padding never stored),
    so a tile is a Cartesian product of per-axis coordinate sets and its address list is
    their outer sum, ascending.
    """

    def __init__(self, nest: LoopNest, operand: str):
        self.nest = nest
        self.operand = operand
        self.layer = layer = nest.layer
        SIMULATION_BYTES.check(geometry_bytes(layer), f"the {operand} coordinates of a "
                                                      f"{layer.height}×{layer.width}×"
                                                      f"{layer.channels} layer")
        self.depth = nest.depth(operand)
        self.axis_names, self.strides, self.full = self._axes(layer, operand)
        axis_of_dim = _AXIS_OF_DIM[operand]
        # For each loop: the operand axis it drives (index) or None when the loop is irrelevant.
        self.loop_axis: list[int | None] = []
        self.loop_coords: list[list[np.ndarray] | None] = []
        self.loop_step: list[int] = []
        for loop in nest.loops:
            name = axis_of_dim.get(loop.dim)
            if name is None:
                self.loop_axis.append(None)
                self.loop_coords.append(None)
                self.loop_step.append(0)
                continue
            axis = self.axis_names.index(name)
            self.loop_axis.append(axis)
            self.loop_coords.append([self._coords(name, loop.tile_range(i)) for i in range(loop.count)])
            spatial = operand == "input" and name in ("row", "col")
            self.loop_step.append(loop.tile * (layer.stride if spatial else 1))

    @staticmethod
    def _axes(layer: ConvLayer, operand: str):
        ar = lambda n: np.arange(n, dtype=np.int64)  # noqa: E731 - tiny local helper
        if operand == "input":
            rows = layer.input_rows(ar(layer.out_height))
            cols = layer.input_cols(ar(layer.out_width))
            return ["c", "row", "col"], [layer.height * layer.width, layer.width, 1], [ar(layer.channels), rows, cols]
        if operand == "weight":
            k = layer.kernel
            return ["f", "c", "ky", "kx"], [layer.channels * k * k, k * k, k, 1], [
                ar(layer.filters), ar(layer.channels), ar(k), ar(k)]
        ho, wo = layer.out_height, layer.out_width
        return ["f", "y", "x"], [ho * wo, wo, 1], [ar(layer.filters), ar(ho), ar(wo)]

    def _coords(self, axis_name: str, dim_range: np.ndarray) -> np.ndarray:
        if axis_name == "row":
            return self.layer.input_rows(dim_range)
        if axis_name == "col":
            return self.layer.input_cols(dim_range)
        return dim_range

    # -- tiles and footprints ------------------------------------------------------------
    def axis_sets(self, prefix: tuple[int, ...]) -> list[np.ndarray]:
        """Per-axis coordinates touched under the loop indices ``prefix`` (outer loops fixed)."""
        sets = list(self.full)
        for level, i in enumerate(prefix):
            axis = self.loop_axis[level]
            if axis is not None:
                sets[axis] = self.loop_coords[level][i]
        return sets

    def addresses(self, sets: list[np.ndarray]) -> np.ndarray:
        return _outer_addresses(sets, self.strides)

    def tile(self, prefix: tuple[int, ...]) -> np.ndarray:
        """Addresses loaded at the operand's depth for loop indices ``prefix`` (len == depth)."""
        return self.addresses(self.axis_sets(prefix[: self.depth]))

    @staticmethod
    def size(sets: list[np.ndarray]) -> int:
        return int(np.prod([len(s) for s in sets], dtype=np.int64))

    def signature(self, level: int, i: int) -> bytes:
        """Equal signatures of consecutive iterations mean the second is the first shifted by ``shift``."""
        coords = self.loop_coords[level]
        if coords is None:
            return b""
        rel = coords[i] - i * self.loop_step[level]
        return len(rel).to_bytes(8, "little") + rel.tobytes()

    def shift(self, level: int) -> int:
        """Address shift between consecutive equal-signature iterations of a loop."""
        axis = self.loop_axis[level]
        return 0 if axis is None else self.loop_step[level] * self.strides[axis]

    def footprint(self) -> int:
        """Distinct elements of the operand the whole nest touches."""
        return self.size(list(self.full))

    # -- tile-policy counts ---------------------------------------------------------------
    def loop_factor(self, level: int) -> np.ndarray:
        """Per-iteration multiplicative factor of one loop on the operand's tile loads."""
        loop = self.nest.loops[level]
        coords = self.loop_coords[level]
        if coords is None:
            return np.ones(loop.count, dtype=np.int64)
        return np.array([len(c) for c in coords], dtype=np.int64)

    @cached_property
    def uncovered_size(self) -> int:
        """Size of the tile along axes not driven by any loop outside the operand's depth."""
        driven = {self.loop_axis[level] for level in range(self.depth)}
        return int(np.prod([len(self.full[a]) for a in range(len(self.full)) if a not in driven], dtype=np.int64))

    def tile_loads(self) -> int:
        """Elements moved into the buffer when every tile the nest asks for is loaded afresh."""
        total = self.uncovered_size
        for level in range(self.depth):
            total *= int(self.loop_factor(level).sum())
        return total

    # -- first/last tile holding a coordinate (for LRU order without simulating) ------------
    @cached_property
    def tile_index_bounds(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per loop: (first, last) tile index containing each coordinate of the driven axis."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for level, coords in enumerate(self.loop_coords):
            if coords is None:
                out.append(None)
                continue
            axis_len = int(self.full[self.loop_axis[level]].max(initial=-1)) + 1
            first = np.full(axis_len, -1, dtype=np.int64)
            last = np.full(axis_len, -1, dtype=np.int64)
            for i, c in enumerate(coords):
                unset = c[first[c] < 0]
                first[unset] = i
                last[c] = i
            out.append((first, last))
        return out
