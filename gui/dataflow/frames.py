"""What the dataflow animation shows at frame i, computed from i alone (numpy, no Qt).

Frame i is the state *after* trace step i: cumulative counters come from per-step totals
summed once with ``cumsum`` (seeking is O(1)); the accesses of step i are a slice of the
event array; per-element reuse counts ("heat") are a ``bincount`` of the events up to i
for element-level traces, and for tile-coarsened traces a sum of tile regions that a
checkpoint cache makes cheap to seek. The cache only speeds things up: every path to
frame i gives the same arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.dataflow import ALLOC, OPERANDS, READ, WRITE, DataflowResult, SystolicTimeline, Trace
from core.dataflow.loopnest import OperandGeometry

KIND_KEYS = {READ: "read", WRITE: "write", ALLOC: "alloc"}
STATIONARY = {"ws": "weight", "is": "input", "os": "output", "rs": "weight"}
_SNAPSHOT_BYTES = 48 * 2**20  # memory the coarse heat cache may hold per operand


# -- drawing layout of an operand ---------------------------------------------------------
@dataclass(frozen=True)
class OperandLayout:
    """An operand's flat addresses drawn as ``planes`` tiles of ``h``×``w`` cells, ``columns`` per row.

    Address = plane·h·w + row·w + col (the engine's row-major layouts): input planes are
    channels (H×W), weight planes are (filter, channel) pairs (K×K), output planes filters.
    """

    operand: str
    planes: int
    h: int
    w: int
    columns: int
    plane_names: tuple[str, ...] = field(compare=False)
    shape_text: str = ""

    @property
    def size(self) -> int:
        return self.planes * self.h * self.w

    @property
    def rows(self) -> int:
        return -(-self.planes // self.columns)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) in cells, one empty cell between planes."""
        return self.rows * (self.h + 1) - 1, self.columns * (self.w + 1) - 1

    def cells(self, addresses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y, x) cell coordinates in the mosaic of each address."""
        a = np.asarray(addresses, dtype=np.int64)
        plane, rest = np.divmod(a, self.h * self.w)
        r, c = np.divmod(rest, self.w)
        py, px = np.divmod(plane, self.columns)
        return py * (self.h + 1) + r, px * (self.w + 1) + c

    def plane_origin(self, plane: int) -> tuple[int, int]:
        py, px = divmod(plane, self.columns)
        return py * (self.h + 1), px * (self.w + 1)

    def to_image(self, values: np.ndarray, fill) -> np.ndarray:
        """Per-address values (size,) or (size, k) laid out as the mosaic; gaps get ``fill``."""
        values = np.asarray(values)
        extra = values.shape[1:]
        total = self.rows * self.columns
        grid = np.empty((total, self.h + 1, self.w + 1) + extra, dtype=values.dtype)
        grid[...] = fill
        grid[: self.planes, : self.h, : self.w] = values.reshape((self.planes, self.h, self.w) + extra)
        grid = grid.reshape((self.rows, self.columns, self.h + 1, self.w + 1) + extra)
        grid = grid.swapaxes(1, 2).reshape((self.rows * (self.h + 1), self.columns * (self.w + 1)) + extra)
        return grid[: self.image_shape[0], : self.image_shape[1]]


def operand_layouts(layer) -> dict[str, OperandLayout]:
    """How the input map, the filters and the output map of ``layer`` are drawn."""
    H, W, C, K, F = layer.height, layer.width, layer.channels, layer.kernel, layer.filters
    ho, wo = layer.out_height, layer.out_width

    def square(planes: int, h: int, w: int) -> int:
        # About as many cells across as down.
        return max(1, min(planes, round(math.sqrt(planes * h / w))))

    if 1 < F and 2 <= C <= 16:  # each filter's channels side by side, filters wrapped
        # into rows of k so that many filters (ResNet's conv1: 64 × 3 of 7×7) make a
        # squarish grid rather than a strip one filter wide
        weight_cols = C * max(1, min(F, round(math.sqrt(F / C))))
    else:
        weight_cols = square(F * C, K, K)
    return {
        "input": OperandLayout("input", C, H, W, square(C, H, W), tuple(f"c{c}" for c in range(C)),
                               f"{H}×{W}×{C} (H×W×C), {C} channel plane{'s' * (C > 1)}"),
        "weight": OperandLayout("weight", F * C, K, K, weight_cols,
                                tuple(f"f{f} c{c}" for f in range(F) for c in range(C)),
                                f"{F} filter{'s' * (F > 1)} × {C} channels of {K}×{K}"),
        "output": OperandLayout("output", F, ho, wo, square(F, ho, wo), tuple(f"f{f}" for f in range(F)),
                                f"{ho}×{wo}×{F} (Ho×Wo×F)"),
    }


# -- the state of one frame ----------------------------------------------------------------
@dataclass(eq=False)
class FrameState:
    """Everything a view draws for one frame; two states are equal when every field is."""

    frame: int
    loop_index: tuple[int, ...]
    counters: dict[str, dict[str, int]]        # operand -> reads, writes, allocs, buffer (cumulative)
    step_counts: dict[str, dict[str, int]]     # operand -> read, write, alloc (this step)
    macs: int
    energy: float
    accesses: dict[str, dict[str, np.ndarray]]  # operand -> read/write/alloc -> addresses this step
    heat: dict[str, np.ndarray]                # operand -> memory transfers per element so far
    buffers: dict[str, np.ndarray | None]      # operand -> address in each slot (-1 empty); None if coarse
    active_lines: frozenset[int]

    def __eq__(self, other) -> bool:
        if not isinstance(other, FrameState):
            return NotImplemented
        plain = ("frame", "loop_index", "counters", "step_counts", "macs", "energy", "active_lines")
        if any(getattr(self, k) != getattr(other, k) for k in plain):
            return False
        for op in OPERANDS:
            if not np.array_equal(self.heat[op], other.heat[op]):
                return False
            a, b = self.buffers[op], other.buffers[op]
            if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
                return False
            if self.accesses[op].keys() != other.accesses[op].keys():
                return False
            if any(not np.array_equal(v, other.accesses[op][k]) for k, v in self.accesses[op].items()):
                return False
        return True

    __hash__ = None


class TraceFrames:
    """Per-frame states of one dataflow trace (frame i = after step i)."""

    def __init__(self, result: DataflowResult, trace: Trace):
        self.result = result
        self.trace = trace
        self.layer = result.layer
        self.layouts = operand_layouts(self.layer)
        ev = trace.events
        if len(ev) > 1 and np.any(np.diff(ev[:, 0]) < 0):
            ev = ev[np.argsort(ev[:, 0], kind="stable")]
        self.events = ev
        n = self.n_frames = trace.n_steps
        self.element_level = trace.element_level
        self.step_idx = trace.step_indices()
        steps = ev[:, 0]
        self._starts = np.searchsorted(steps, np.arange(n + 1))
        per = np.bincount(steps * 9 + ev[:, 1] * 3 + ev[:, 4], weights=ev[:, 5], minlength=n * 9)
        self.per_step = np.rint(per).astype(np.int64).reshape(n, 3, 3)  # step, operand, kind
        self.cum = np.cumsum(self.per_step, axis=0)
        self._compute_side()
        self._line_map()
        self.geometry = {op: OperandGeometry(result.nest, op) for op in OPERANDS}
        self._heat_cache: dict[str, _HeatCache] = {}
        self._mem_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._fill_rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._fill_steps: dict[str, np.ndarray] = {}
        for code, op in enumerate(OPERANDS):
            mine = ev[:, 1] == code
            mem = np.nonzero(mine & ((ev[:, 4] == READ) | (ev[:, 4] == WRITE)))[0]
            self._mem_rows[op] = (mem, ev[mem, 3])
            fill = np.nonzero(mine & ((ev[:, 4] == READ) | (ev[:, 4] == ALLOC)))[0]
            self._fill_rows[op] = (fill, ev[fill, 2], ev[fill, 3])
            self._fill_steps[op] = np.nonzero(self.per_step[:, code, READ] + self.per_step[:, code, ALLOC])[0]
        self._heat_max: dict[str, int] = {}

    # -- precomputation ---------------------------------------------------------------------
    def _compute_side(self) -> None:
        """MACs per step, and compute-side accesses apportioned to steps by MACs."""
        nest, layer, level = self.result.nest, self.layer, self.trace.level
        extents = {"f": layer.filters, "c": layer.channels, "y": layer.out_height, "x": layer.out_width}
        macs = np.full(self.n_frames, layer.window, dtype=np.int64)
        for m, loop in enumerate(nest.loops):
            extents.pop(loop.dim, None)
            if m < level:
                sizes = np.array([len(loop.tile_range(i)) for i in range(loop.count)], dtype=np.int64)
                macs *= sizes[self.step_idx[:, m]]
            else:
                macs *= loop.extent
        for extent in extents.values():
            macs *= extent
        # ws/is/os: buffer accesses are exact multiples of the MACs; row-stationary's global
        # buffer, RF and inter-PE counts are known per layer only and are spread by MACs.
        self._spread_by_macs(macs, exact_buffer=self.result.dataflow != "rs")

    def _spread_by_macs(self, macs: np.ndarray, exact_buffer: bool) -> None:
        """Cumulative MACs per frame, and the layer's buffer, RF and inter-PE accesses spread
        over the frames in proportion to them."""
        self.cum_macs = np.cumsum(macs)
        total_macs = max(1, int(self.cum_macs[-1]))
        counts = self.result.counts

        def spread(total: int) -> np.ndarray:
            return (self.cum_macs * int(total)) // total_macs
        self.cum_buffer = {op: spread(counts.buffer[op]) for op in OPERANDS}
        self.cum_rf = spread(sum(counts.rf.values()))
        self.cum_inter_pe = spread(sum(counts.inter_pe.values()))
        self.exact_buffer = exact_buffer

    def _line_map(self) -> None:
        self.loop_lines, self.load_lines, self.store_lines, self.compute_lines = [], {}, {}, []
        for i, line in enumerate(self.result.nest.lines):
            if line.kind == "loop":
                self.loop_lines.append(i)
            elif line.kind == "load":
                self.load_lines[line.operand] = i
            elif line.kind == "store":
                self.store_lines[line.operand] = i
            else:
                self.compute_lines.append(i)

    # -- queries --------------------------------------------------------------------------
    def totals(self) -> dict[str, dict[str, int]]:
        """Counters at the last frame."""
        return self.frame(self.n_frames - 1).counters

    def reload_frames(self, operand: str) -> np.ndarray:
        """Frames in which ``operand``'s buffer is (re)filled."""
        return self._fill_steps[operand]

    def heat_max(self, operand: str) -> int:
        if operand not in self._heat_max:
            self._heat_max[operand] = int(self.heat(operand, self.n_frames - 1).max(initial=0))
        return self._heat_max[operand]

    def region(self, operand: str, step: int) -> np.ndarray:
        """Addresses of ``operand`` that trace step ``step`` works on (its tile, or the union of
        the tiles of the loops the coarse step covers)."""
        geom = self.geometry[operand]
        prefix = tuple(int(v) for v in self.step_idx[step][: min(self.trace.level, geom.depth)])
        return geom.addresses(geom.axis_sets(prefix))

    def heat(self, operand: str, frame: int) -> np.ndarray:
        """Memory transfers (reads + writes) of each element up to ``frame``.

        Coarse traces do not record elements: there an element counts once for every step
        with traffic of its operand whose tile holds it (exact for the tile policy when the
        step resolves the operand's buffer depth, an upper bound for LRU).
        """
        size = self.layouts[operand].size
        if self.element_level:
            rows, addr = self._mem_rows[operand]
            k = np.searchsorted(rows, self._starts[frame + 1])
            return np.bincount(addr[:k], minlength=size).astype(np.int64)
        cache = self._heat_cache.get(operand)
        if cache is None:
            code = OPERANDS.index(operand)
            traffic = self.per_step[:, code, READ] + self.per_step[:, code, WRITE]
            cache = self._heat_cache[operand] = _HeatCache(size, np.nonzero(traffic)[0],
                                                           self._region_adder(operand))
        return cache.at(frame)

    def _region_adder(self, operand: str):
        """A function adding 1 per step to the elements of each step's region, run-length grouped
        (consecutive steps that share the operand's loop indices share its region)."""
        depth = min(self.trace.level, self.geometry[operand].depth)

        def add(heat: np.ndarray, steps: np.ndarray) -> None:
            if not len(steps):
                return
            keys = self.step_idx[steps, :depth]
            starts = np.concatenate([[0], np.nonzero(np.any(np.diff(keys, axis=0) != 0, axis=1))[0] + 1])
            runs = np.diff(np.concatenate([starts, [len(steps)]]))
            for start, run in zip(starts.tolist(), runs.tolist()):
                heat[self.region(operand, int(steps[start]))] += run
        return add

    def _buffer_slots(self, operand: str, frame: int) -> np.ndarray | None:
        if not self.element_level:
            return None
        capacity = self.result.buffers.capacity(operand)
        rows, slots, addr = self._fill_rows[operand]
        slots_out = np.full(capacity, -1, dtype=np.int64)
        if self.trace.policy == "tile":
            steps = self._fill_steps[operand]
            j = np.searchsorted(steps, frame, side="right") - 1
            if j < 0:
                return slots_out
            lo, hi = self._starts[steps[j]], self._starts[steps[j] + 1]
            sel = (rows >= lo) & (rows < hi)
            s, a = slots[sel], addr[sel]
        else:
            k = np.searchsorted(rows, self._starts[frame + 1])
            s, a = slots[:k][::-1], addr[:k][::-1]
            s, first = np.unique(s, return_index=True)  # the last fill of each slot
            a = a[first]
        if len(s) and s.max() >= capacity:
            slots_out = np.concatenate([slots_out, np.full(int(s.max()) + 1 - capacity, -1)])
        slots_out[s] = a
        return slots_out

    def frame(self, i: int) -> FrameState:
        """The state after step ``i`` (clamped to the trace)."""
        i = min(max(int(i), 0), self.n_frames - 1)
        cum, now = self.cum[i], self.per_step[i]
        counters, step_counts, accesses, heat, buffers = {}, {}, {}, {}, {}
        lo, hi = self._starts[i], self._starts[i + 1]
        rows = self.events[lo:hi]
        for code, op in enumerate(OPERANDS):
            counters[op] = {"reads": int(cum[code, READ]), "writes": int(cum[code, WRITE]),
                            "allocs": int(cum[code, ALLOC]), "buffer": int(self.cum_buffer[op][i])}
            step_counts[op] = {KIND_KEYS[k]: int(now[code, k]) for k in KIND_KEYS}
            mine = rows[rows[:, 1] == code]
            accesses[op] = {}
            for kind, key in KIND_KEYS.items():
                if not now[code, kind]:
                    continue
                if self.element_level:
                    accesses[op][key] = mine[mine[:, 4] == kind, 3].copy()
                else:
                    accesses[op][key] = self.region(op, i)
            heat[op] = self.heat(op, i)
            buffers[op] = self._buffer_slots(op, i)
        macs = int(self.cum_macs[i])
        dram = sum(c["reads"] + c["writes"] for c in counters.values())
        buffer = sum(c["buffer"] for c in counters.values())
        costs = self.result.energy.costs
        energy = (dram * costs["dram"] + buffer * costs["buffer"] + int(self.cum_rf[i]) * costs["rf"]
                  + int(self.cum_inter_pe[i]) * costs["inter_pe"] + macs * costs["mac"])
        active = set(self.compute_lines)
        for op in OPERANDS:
            if op in self.load_lines and (step_counts[op]["read"] or step_counts[op]["alloc"]):
                active.add(self.load_lines[op])
            if op in self.store_lines and step_counts[op]["write"]:
                active.add(self.store_lines[op])
        return FrameState(i, tuple(int(v) for v in self.step_idx[i]), counters, step_counts, macs,
                          float(energy), accesses, heat, buffers, frozenset(active))


class _HeatCache:
    """Sum of region indicators over the steps <= i, with snapshots every ``every`` steps."""

    def __init__(self, size: int, steps: np.ndarray, add):
        self.size, self.steps, self._add_steps = size, steps, add
        self.every = max(16, int(len(steps) * size * 4 // _SNAPSHOT_BYTES) + 1)
        self.snapshots: dict[int, np.ndarray] = {0: np.zeros(size, dtype=np.int32)}  # k -> after k·every steps
        self.last: tuple[int, np.ndarray] | None = None  # (number of steps summed, heat)

    def _add(self, heat: np.ndarray, begin: int, end: int) -> None:
        self._add_steps(heat, self.steps[begin:end])

    def at(self, frame: int) -> np.ndarray:
        n = int(np.searchsorted(self.steps, frame, side="right"))  # traffic steps up to frame
        if self.last is not None and self.last[0] <= n < self.last[0] + self.every:
            done, heat = self.last[0], self.last[1].copy()
        else:
            k = n // self.every
            top = max(j for j in self.snapshots if j <= k)
            heat = self.snapshots[top].copy()
            for j in range(top + 1, k + 1):
                self._add(heat, (j - 1) * self.every, j * self.every)
                self.snapshots[j] = heat.copy()
            done = k * self.every
        self._add(heat, done, n)
        self.last = (n, heat)
        return heat.astype(np.int64)


# -- systolic ----------------------------------------------------------------------------------
class SystolicFrames:
    """Per-cycle states of a systolic timeline (frame i = cycle i)."""

    def __init__(self, timeline: SystolicTimeline):
        self.timeline = timeline
        self.n_frames = timeline.cycles
        self.cum_macs = np.cumsum(timeline.busy.reshape(self.n_frames, -1).sum(axis=1))

    def fold_of(self, cycle: int) -> int:
        return int(np.searchsorted(self.timeline.fold_starts, cycle, side="right") - 1)

    def frame(self, i: int) -> dict:
        t = self.timeline
        i = min(max(int(i), 0), self.n_frames - 1)
        return {"cycle": i, "busy": t.busy[i], "ifmap": t.ifmap_addr[i], "filter": t.filter_addr[i],
                "ofmap": t.ofmap_index[i], "utilization": float(t.utilization[i]),
                "macs": int(self.cum_macs[i]), "fold": self.fold_of(i)}
