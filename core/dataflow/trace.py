"""Buffer-traffic traces of a dataflow as numpy arrays, element by element or coarsened to loop tiles.

A trace row is (step, operand, slot, address, kind, count). ``step`` indexes iterations of
the outermost ``level`` loops of the nest (all of them for a full-resolution trace);
``kind`` is READ (memory → buffer), WRITE (buffer → memory) or ALLOC (a fresh partial sum
starts in the output buffer without memory traffic). Element-level rows have count 1 and
the buffer slot the element occupies; coarse rows aggregate ``count`` elements of one
operand and kind in one step (slot -1, address = lowest address of the step's tile).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from core.dataflow.analysis import check_policy
from core.dataflow.dataflows import build_nest
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer, PEArray
from core.dataflow.loopnest import LoopNest, OperandGeometry
from core.dataflow.lru import LruCounter
from core.common.errors import InputError

COLUMNS = ("step", "operand", "slot", "address", "kind", "count")
OPERAND_CODE = {op: i for i, op in enumerate(OPERANDS)}
READ, WRITE, ALLOC = 0, 1, 2
KIND_NAMES = {READ: "read", WRITE: "write", ALLOC: "alloc"}
DEFAULT_MAX_EVENTS = 200_000
_ROWS_PER_COARSE_STEP = 5  # input read, weight read, output read, output alloc, output write


@dataclass(frozen=True)
class Trace:
    """Traffic events of one dataflow run; ``level`` outer loops are resolved per step."""

    events: np.ndarray
    nest: LoopNest
    policy: str
    level: int
    element_level: bool

    @property
    def n_steps(self) -> int:
        return int(np.prod([loop.count for loop in self.nest.loops[: self.level]], dtype=np.int64))

    def step_indices(self) -> np.ndarray:
        """Loop indices (n_steps × level) of every step, outermost loop first."""
        counts = [loop.count for loop in self.nest.loops[: self.level]]
        if not counts:
            return np.zeros((1, 0), dtype=np.int64)
        return np.stack(np.unravel_index(np.arange(self.n_steps), counts), axis=1).astype(np.int64)

    def totals(self) -> dict[tuple[str, str], int]:
        """Summed counts per (operand, kind name)."""
        out: dict[tuple[str, str], int] = {}
        for op, code in OPERAND_CODE.items():
            for kind, name in KIND_NAMES.items():
                sel = (self.events[:, 1] == code) & (self.events[:, 4] == kind)
                total = int(self.events[sel, 5].sum())
                if total:
                    out[(op, name)] = total
        return out


def build_trace(
    layer: ConvLayer,
    dataflow: str,
    buffers: Buffers,
    policy: str = "tile",
    pe_array: PEArray | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
) -> Trace:
    """Element-level trace when it has at most ``max_events`` rows, else one coarsened to loop tiles."""
    check_policy(policy)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < _ROWS_PER_COARSE_STEP:
        raise InputError(f"max events: {max_events!r} is not allowed (an integer >= {_ROWS_PER_COARSE_STEP})")
    nest = build_nest(layer, dataflow, buffers, pe_array)
    if _element_event_bound(nest) <= max_events:
        return simulate_elements(nest, buffers, policy)
    return coarse_trace(nest, buffers, policy, coarse_level(nest, max_events))


def _element_event_bound(nest: LoopNest) -> int:
    """Rows of the tile-policy element trace, an upper bound for LRU (a miss is one of its loads)."""
    loads = {op: nest.geometry(op).tile_loads() for op in OPERANDS}
    return loads["input"] + loads["weight"] + 2 * loads["output"]


def coarse_level(nest: LoopNest, max_events: int) -> int:
    """How many outer loops a coarse trace resolves per step so it has at most ``max_events`` rows."""
    level, steps = 0, 1
    for loop in nest.loops:
        if steps * loop.count * _ROWS_PER_COARSE_STEP > max_events:
            break
        steps *= loop.count
        level += 1
    return level


# -- element level: the step-by-step reference simulation ---------------------------------
class _SlotBuffer:
    """A buffer of numbered slots with LRU replacement (used for element-level traces)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.slots: OrderedDict[int, int] = OrderedDict()  # address -> slot, least recent first
        self.free = list(range(capacity - 1, -1, -1))

    def access(self, addr: int) -> tuple[bool, int, int | None]:
        """(hit, slot, evicted address or None)."""
        slot = self.slots.get(addr)
        if slot is not None:
            self.slots.move_to_end(addr)
            return True, slot, None
        evicted = None
        if self.free:
            slot = self.free.pop()
        else:
            evicted, slot = self.slots.popitem(last=False)
        self.slots[addr] = slot
        return False, slot, evicted


def simulate_elements(nest: LoopNest, buffers: Buffers, policy: str) -> Trace:
    """Walk every step of the nest and every element of every tile (small layers only)."""
    check_policy(policy)
    geoms = {op: OperandGeometry(nest, op) for op in OPERANDS}
    counts = [loop.count for loop in nest.loops]
    last_index = [c - 1 for c in counts]
    touched = np.zeros(nest.layer.operand_size("output"), dtype=bool)
    lru = {op: _SlotBuffer(buffers.capacity(op)) for op in OPERANDS}
    events: list[tuple[int, int, int, int, int, int]] = []
    out_code = OPERAND_CODE["output"]
    for step, idx in enumerate(itertools.product(*(range(c) for c in counts))):
        for op in ("weight", "input", "output"):
            depth = geoms[op].depth
            if any(idx[depth:]):
                continue
            tile = geoms[op].tile(idx).tolist()
            code = OPERAND_CODE[op]
            if policy == "tile":
                for slot, addr in enumerate(tile):
                    events.append((step, code, slot, addr, _fill_kind(op, touched, addr), 1))
            else:
                for addr in tile:
                    hit, slot, evicted = lru[op].access(addr)
                    if hit:
                        continue
                    if evicted is not None and op == "output":
                        events.append((step, code, slot, evicted, WRITE, 1))
                    events.append((step, code, slot, addr, _fill_kind(op, touched, addr), 1))
        depth = geoms["output"].depth
        if policy == "tile" and list(idx[depth:]) == last_index[depth:]:
            for slot, addr in enumerate(geoms["output"].tile(idx).tolist()):
                events.append((step, out_code, slot, addr, WRITE, 1))
    if policy == "lru":
        final = nest.steps - 1
        for addr, slot in lru["output"].slots.items():
            events.append((final, out_code, slot, addr, WRITE, 1))
    arr = np.array(events, dtype=np.int64).reshape(-1, len(COLUMNS))
    return Trace(arr, nest, policy, len(nest.loops), True)


def _fill_kind(op: str, touched: np.ndarray, addr: int) -> int:
    if op != "output":
        return READ
    if touched[addr]:
        return READ
    touched[addr] = True
    return ALLOC


# -- coarse level: per-step totals from the closed form / fast LRU ---------------------------
def coarse_trace(nest: LoopNest, buffers: Buffers, policy: str, level: int) -> Trace:
    """One row per (step, operand, kind) with the number of elements moved; steps = outer ``level`` loops."""
    blocks = []
    for op in OPERANDS:
        geom = nest.geometry(op)
        base = _step_base_address(geom, level).reshape(-1)
        if policy == "tile":
            loads = _tile_loads_per_step(geom, level)
            fills, evictions = loads, None
        else:
            fills, evictions = _lru_per_step(geom, buffers.capacity(op), level)
        if op != "output":
            blocks.append(_rows(fills, OPERAND_CODE[op], READ, base))
            continue
        fresh = _first_touch_per_step(geom, level)
        blocks.append(_rows(fills - fresh, OPERAND_CODE[op], READ, base))
        blocks.append(_rows(fresh, OPERAND_CODE[op], ALLOC, base))
        if policy == "tile":
            writes = _tile_writes_per_step(geom, level, fills)
        else:
            writes = evictions.copy().reshape(-1)
            writes[-1] += int(fills.sum() - evictions.sum())  # flush what is left at the end
        blocks.append(_rows(writes, OPERAND_CODE[op], WRITE, base))
    events = np.concatenate(blocks) if blocks else np.zeros((0, len(COLUMNS)), dtype=np.int64)
    order = np.lexsort((events[:, 4], events[:, 1], events[:, 0]))
    return Trace(events[order], nest, policy, level, False)


def _rows(per_step: np.ndarray, code: int, kind: int, base: np.ndarray) -> np.ndarray:
    per_step = per_step.reshape(-1)
    steps = np.nonzero(per_step)[0]
    out = np.empty((len(steps), len(COLUMNS)), dtype=np.int64)
    out[:, 0] = steps
    out[:, 1] = code
    out[:, 2] = -1
    out[:, 3] = base[steps]
    out[:, 4] = kind
    out[:, 5] = per_step[steps]
    return out


def _outer(factors: list[np.ndarray]) -> np.ndarray:
    out = np.ones((), dtype=np.int64)
    for f in factors:
        out = np.multiply.outer(out, f)
    return out


def _at_depth(geom: OperandGeometry, level: int, values: np.ndarray, last: bool = False) -> np.ndarray:
    """Place per-(loops < depth) values at the steps where loops depth..level-1 are first (or last)."""
    counts = [loop.count for loop in geom.nest.loops[:level]]
    out = np.zeros(counts, dtype=np.int64)
    inner = tuple((c - 1 if last else 0) for c in counts[geom.depth:])
    out[(..., *inner)] = values
    return out


def _tile_loads_per_step(geom: OperandGeometry, level: int) -> np.ndarray:
    depth = geom.depth
    outer = [geom.loop_factor(m) for m in range(min(level, depth))]
    inner = geom.uncovered_size
    for m in range(level, depth):
        inner *= int(geom.loop_factor(m).sum())
    per = _outer(outer) * inner
    return per if level <= depth else _at_depth(geom, level, per)


def _tile_writes_per_step(geom: OperandGeometry, level: int, loads: np.ndarray) -> np.ndarray:
    if level <= geom.depth:
        return loads
    per = _outer([geom.loop_factor(m) for m in range(geom.depth)]) * geom.uncovered_size
    return _at_depth(geom, level, per, last=True)


def _first_touch_per_step(geom: OperandGeometry, level: int) -> np.ndarray:
    """Outputs touched for the first time in each step (their partial sums start from zero)."""
    top = min(level, geom.depth)
    factors = []
    for m in range(top):
        if geom.loop_axis[m] is None:
            first = np.zeros(geom.nest.loops[m].count, dtype=np.int64)
            first[0] = 1
            factors.append(first)
        else:
            factors.append(geom.loop_factor(m))
    driven = {geom.loop_axis[m] for m in range(top)}
    rest = int(np.prod([len(geom.full[a]) for a in range(len(geom.full)) if a not in driven], dtype=np.int64))
    per = _outer(factors) * rest
    return per if level <= geom.depth else _at_depth(geom, level, per)


def _lru_per_step(geom: OperandGeometry, capacity: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    rec = min(level, geom.depth)
    counter = LruCounter(geom, capacity, record_level=rec).run()
    shape = [loop.count for loop in geom.nest.loops[:rec]]
    misses = counter.rec_misses.reshape(shape)
    evictions = counter.rec_evictions.reshape(shape)
    if level <= geom.depth:
        return misses, evictions
    return _at_depth(geom, level, misses), _at_depth(geom, level, evictions)


def _step_base_address(geom: OperandGeometry, level: int) -> np.ndarray:
    top = min(level, geom.depth)
    terms = []
    driven = set()
    for m in range(top):
        axis = geom.loop_axis[m]
        if axis is None:
            terms.append(np.zeros(geom.nest.loops[m].count, dtype=np.int64))
            continue
        driven.add(axis)
        terms.append(np.array([_lowest(c) for c in geom.loop_coords[m]], dtype=np.int64) * geom.strides[axis])
    const = sum(_lowest(geom.full[a]) * geom.strides[a] for a in range(len(geom.full)) if a not in driven)
    out = np.zeros((), dtype=np.int64)
    for t in terms:
        out = np.add.outer(out, t)
    out = out + const
    counts = [loop.count for loop in geom.nest.loops[:level]]
    return np.broadcast_to(out.reshape(out.shape + (1,) * (level - top)), counts).copy()


def _lowest(coords: np.ndarray) -> int:
    return int(coords[0]) if len(coords) else 0
