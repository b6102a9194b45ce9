"""A mapping of a convolution onto a memory hierarchy: per storage level, temporal loops with tile
factors in order (outermost first), spatial unrolling over the PE array, and bypass; JSON round trip.

Counting lives in mapping_eval; this module only describes and (de)serialises a mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.common.errors import InputError, brief
from core.common.files import read_text_bounded, write_atomic
from core.dataflow.layer import OPERANDS, ConvLayer

LOOP_DIMS = ("n", "f", "c", "y", "x", "r", "s")
DIM_TITLES = {
    "n": "batch", "f": "filters", "c": "input channels", "y": "output rows",
    "x": "output columns", "r": "kernel rows", "s": "kernel columns",
}
SPATIAL_AXES = ("rows", "cols")
# The layer dimensions each operand's elements depend on (the others leave its tile unchanged).
RELEVANT = {
    "input": frozenset("ncyxrs"),
    "weight": frozenset("fcrs"),
    "output": frozenset("nfyx"),
}


def dim_extents(layer: ConvLayer) -> dict[str, int]:
    """Size of each loop dimension: n=1 (batch 1), f=F, c=C, y=Ho, x=Wo, r=s=K."""
    return {"n": 1, "f": layer.filters, "c": layer.channels, "y": layer.out_height,
            "x": layer.out_width, "r": layer.kernel, "s": layer.kernel}


DIM_EXTENTS = dim_extents  # the contract's spelling


def _whole(field_name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{field_name}: {brief(value)} is not allowed (a whole number >= {minimum})")
    return int(value)


@dataclass(frozen=True)
class MapLoop:
    """One loop: dimension ``dim`` stepped ``factor`` times; ``spatial`` "rows"/"cols" unrolls it over the PEs."""

    dim: str
    factor: int
    spatial: str | None = None

    def __post_init__(self):
        if self.dim not in LOOP_DIMS:
            raise InputError(f"loop dim: {brief(self.dim)} is not known (allowed: {', '.join(LOOP_DIMS)})")
        object.__setattr__(self, "factor", _whole(f"factor of the {self.dim} loop", self.factor))
        if self.spatial is not None and self.spatial not in SPATIAL_AXES:
            raise InputError(f"spatial of the {self.dim} loop: {brief(self.spatial)} is not allowed "
                             f"(allowed: null for temporal, rows, cols)")

    def text(self) -> str:
        where = f"  (spatial over PE {self.spatial})" if self.spatial else ""
        return f"{'par-for' if self.spatial else 'for'} {self.dim} in 0..{self.factor}{where}"


@dataclass(frozen=True)
class MapLevel:
    """The loops of one storage level (outermost first) and the operands that bypass it."""

    name: str
    loops: tuple[MapLoop, ...] = ()
    bypass: frozenset[str] = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "loops", tuple(self.loops))
        bypass = frozenset(self.bypass)
        unknown = sorted(bypass - set(OPERANDS))
        if unknown:
            raise InputError(f"bypass of level {brief(self.name)}: {brief(unknown[0])} is not an operand "
                             f"(allowed: {', '.join(OPERANDS)})")
        object.__setattr__(self, "bypass", bypass)

    @property
    def temporal(self) -> tuple[MapLoop, ...]:
        return tuple(loop for loop in self.loops if loop.spatial is None)

    @property
    def spatial(self) -> tuple[MapLoop, ...]:
        return tuple(loop for loop in self.loops if loop.spatial is not None)

    def stores(self, operand: str) -> bool:
        return operand not in self.bypass


@dataclass(frozen=True)
class Mapping:
    """Storage levels outermost first (memory, buffer[, registers]); ``name`` labels it for display."""

    levels: tuple[MapLevel, ...]
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(self.levels))

    def level(self, name: str) -> MapLevel:
        for level in self.levels:
            if level.name == name:
                return level
        raise InputError(f"level: {brief(name)} is not in this mapping "
                         f"(it has {', '.join(l.name for l in self.levels)})")

    def factor_product(self) -> dict[str, int]:
        """Product of every loop's factor per dimension (all levels, temporal and spatial)."""
        out = dict.fromkeys(LOOP_DIMS, 1)
        for level in self.levels:
            for loop in level.loops:
                out[loop.dim] *= loop.factor
        return out

    def ordered_loops(self) -> list[tuple[str, MapLoop]]:
        """(level name, loop) outermost first; a level's spatial loops come after its temporal ones."""
        return [(level.name, loop) for level in self.levels for loop in level.temporal + level.spatial]

    def lines(self) -> list[str]:
        """The loop nest as indented text, one line per loop, with its level and bypasses."""
        out: list[str] = []
        depth = 0
        for level in self.levels:
            note = f" (bypassed by {', '.join(sorted(level.bypass))})" if level.bypass else ""
            out.append("  " * depth + f"# {level.name}{note}")
            for loop in level.temporal + level.spatial:
                out.append("  " * depth + loop.text())
                depth += 1
        out.append("  " * depth + "MAC")
        return out

    def with_name(self, name: str) -> "Mapping":
        return Mapping(self.levels, name)

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "levels": [
            {"name": level.name, "bypass": sorted(level.bypass),
             "loops": [{"dim": l.dim, "factor": l.factor, "spatial": l.spatial} for l in level.loops]}
            for level in self.levels]}

    @classmethod
    def from_dict(cls, data) -> "Mapping":
        """Build from JSON data; InputError naming the field (e.g. ``levels[1].loops[0].factor``)."""
        if not isinstance(data, dict):
            raise InputError(f"mapping: {brief(data)} is not an object with name and levels")
        name = data.get("name", "")
        if not isinstance(name, str):
            raise InputError(f"name: {brief(name)} is not a string")
        levels = data.get("levels")
        if not isinstance(levels, list) or not levels:
            raise InputError(f"levels: {brief(levels)} is not allowed (a non-empty list of levels)")
        return cls(tuple(_level_from_dict(f"levels[{i}]", item) for i, item in enumerate(levels)), name)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Mapping":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise InputError(f"mapping: not valid JSON ({brief(str(exc))})") from None
        return cls.from_dict(data)


def _level_from_dict(where: str, data) -> MapLevel:
    if not isinstance(data, dict):
        raise InputError(f"{where}: {brief(data)} is not an object with name, loops and bypass")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}.name: {brief(name)} is not allowed (a level name such as memory, buffer)")
    loops = data.get("loops", [])
    if not isinstance(loops, list):
        raise InputError(f"{where}.loops: {brief(loops)} is not a list")
    bypass = data.get("bypass", [])
    if not isinstance(bypass, list) or not all(isinstance(b, str) for b in bypass):
        raise InputError(f"{where}.bypass: {brief(bypass)} is not a list of operand names")
    for b in bypass:
        if b not in OPERANDS:
            raise InputError(f"{where}.bypass: {brief(b)} is not an operand (allowed: {', '.join(OPERANDS)})")
    return MapLevel(name, tuple(_loop_from_dict(f"{where}.loops[{j}]", item) for j, item in enumerate(loops)),
                    frozenset(bypass))


def _loop_from_dict(where: str, data) -> MapLoop:
    if not isinstance(data, dict):
        raise InputError(f"{where}: {brief(data)} is not an object with dim, factor and spatial")
    dim, factor, spatial = data.get("dim"), data.get("factor"), data.get("spatial")
    if dim not in LOOP_DIMS:
        raise InputError(f"{where}.dim: {brief(dim)} is not known (allowed: {', '.join(LOOP_DIMS)})")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise InputError(f"{where}.factor: {brief(factor)} is not allowed (a whole number >= 1)")
    if spatial is not None and spatial not in SPATIAL_AXES:
        raise InputError(f"{where}.spatial: {brief(spatial)} is not allowed (null, rows or cols)")
    return MapLoop(dim, factor, spatial)


def read_mapping(path: str | Path) -> Mapping:
    """A mapping from a JSON file (bounded read; InputError naming the field on bad content)."""
    return Mapping.from_json(read_text_bounded(path, what="mapping file"))


def write_mapping(path: str | Path, mapping: Mapping) -> None:
    """Write a mapping as JSON atomically."""
    write_atomic(path, mapping.to_json() + "\n")
