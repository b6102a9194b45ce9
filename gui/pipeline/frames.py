"""What the views draw at cycle i, computed from i alone: the operations running, the
neurons and connections they light, how many units of each kind are busy, and the Gantt
chart's aggregated occupancy. Numpy only (no Qt), so the tests can check it directly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.pipeline import KINDS
from core.pipeline.schedule import MUL, Schedule

SHOWN_NEURONS = 12      # circles per layer column at most; wider layers are drawn in groups
DETAIL_ROWS = 120       # a Gantt row per unit up to this many units...
DETAIL_OPERATIONS = 20_000  # ...and this many operations; otherwise rows per kind and layer
MAX_BINS = 1600         # columns of the aggregated Gantt image


@dataclass
class FrameState:
    """Everything drawn at one cycle."""

    cycle: int
    neurons: list[np.ndarray]   # per column: -1 idle, else the kind code running there
    edges: list[np.ndarray]     # per layer: bool (shown inputs × shown outputs) multiplying
    busy: dict[str, int]        # units of each kind busy during this cycle
    active: int                 # operations running
    layers: tuple[int, ...]     # layers with an operation running
    samples: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...] = ()  # (layer, sample) with an operation running


def shown(width: int) -> int:
    return min(width, SHOWN_NEURONS)


def bucket(index: np.ndarray, width: int) -> np.ndarray:
    """Which drawn circle stands for neuron ``index`` of a column of ``width``."""
    return (index.astype(np.int64) * shown(width)) // width


class ScheduleFrames:
    def __init__(self, schedule: Schedule):
        s = self.schedule = schedule
        self.config = s.config
        self.span = s.makespan
        self.layer_count = len(self.config.layers)
        # The builders emit operations layer by layer (a test checks it): each layer is a slice.
        bounds = np.searchsorted(s.layer, np.arange(self.layer_count + 1, dtype=s.layer.dtype))
        self.blocks = [(int(bounds[k]), int(bounds[k + 1])) for k in range(self.layer_count)]
        self.group_units = self._group_units()
        self.per_bin = max(1, -(-max(self.span, 1) // MAX_BINS))
        self.busy_per_bin = self._busy_per_bin()  # busy unit-cycles per (kind, layer) and bin
        self.detailed = (sum(s.units.values()) <= DETAIL_ROWS and len(s) <= DETAIL_OPERATIONS)

    # -- per-cycle state ----------------------------------------------------------------------
    def active_indices(self, cycle: int) -> np.ndarray:
        s = self.schedule
        parts = []
        for k, (lo, hi) in enumerate(self.blocks):
            if s.layer_start[k] <= cycle < s.layer_end[k] and hi > lo:
                start, end = s.start[lo:hi], s.end[lo:hi]
                parts.append(lo + np.flatnonzero((start <= cycle) & (end > cycle)))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def state(self, cycle: int) -> FrameState:
        s, widths = self.schedule, self.config.widths
        idx = self.active_indices(cycle)
        neurons = [np.full(shown(w), -1, dtype=np.int8) for w in widths]
        edges = [np.zeros((shown(m), shown(n)), dtype=bool) for m, n in self.config.layers]
        layer, kind, neuron = s.layer[idx], s.kind[idx], s.neuron[idx]
        for k, (m, n) in enumerate(self.config.layers):
            pick = layer == k
            if not pick.any():
                continue
            out = bucket(neuron[pick], n)
            np.maximum.at(neurons[k + 1], out, kind[pick])
            mul = pick & (kind == MUL)
            if mul.any():
                inp = bucket(s.input[idx[mul]], m)
                edges[k][inp, bucket(neuron[mul], n)] = True
                neurons[k][np.unique(inp)] = np.maximum(neurons[k][np.unique(inp)], MUL)
        counts = np.bincount(kind, minlength=len(KINDS))
        busy = {k: int(counts[i]) for i, k in enumerate(KINDS)}
        pairs = np.unique(layer.astype(np.int64) * self.config.samples + s.sample[idx])
        return FrameState(cycle, neurons, edges, busy, int(idx.size),
                          tuple(int(v) for v in np.unique(layer)),
                          tuple(int(v) for v in np.unique(s.sample[idx])),
                          tuple((int(p // self.config.samples), int(p % self.config.samples))
                                for p in pairs))

    def busy_at(self, cycle: int) -> dict[str, int]:
        """Units of each kind busy during ``cycle``."""
        return self.state(cycle).busy

    # -- the Gantt chart's data -----------------------------------------------------------------
    def _group_units(self) -> np.ndarray:
        """Units behind each (kind, layer) row: the layer's own units for per-neuron
        hardware, the whole shared NFU otherwise."""
        c = self.config
        units = np.zeros((len(KINDS), self.layer_count), dtype=np.int64)
        for i, kind in enumerate(KINDS):
            if c.arch == "per-neuron":
                units[i] = [n for _m, n in c.layers]
            else:
                units[i] = self.schedule.units[kind]
        return units.ravel()

    def _busy_per_bin(self) -> np.ndarray:
        """Busy unit-cycles of each (kind, layer) group in each bin of ``per_bin`` cycles: each
        operation adds its overlap with every bin it touches (exact, and no array as long as
        the schedule's span)."""
        s, w = self.schedule, self.per_bin
        bins = -(-max(self.span, 1) // w)
        group = s.kind.astype(np.int64) * self.layer_count + s.layer
        size = len(KINDS) * self.layer_count * bins
        first, last = s.start // w, (s.end - 1) // w
        one = first == last
        total = np.bincount((group * bins + first)[one], weights=(s.end - s.start)[one],
                            minlength=size)
        many = ~one
        g, f, l = group[many], first[many], last[many]
        total += np.bincount(g * bins + f, weights=(f + 1) * w - s.start[many], minlength=size)
        total += np.bincount(g * bins + l, weights=s.end[many] - l * w, minlength=size)
        # whole bins in between: +w from f + 1 to l - 1, as a difference array
        middle = l - f > 1
        step = np.bincount(g[middle] * bins + f[middle] + 1, minlength=size + 1)[:size] - \
            np.bincount(g[middle] * bins + l[middle], minlength=size + 1)[:size]
        total += w * np.cumsum(step.reshape(-1, bins), axis=1).ravel()
        return total.reshape(-1, bins)

    def group_labels(self) -> list[str]:
        names = {"multiplier": "×", "adder": "+", "nonlinear": "σ"}
        stage = {"multiplier": "NFU-1", "adder": "NFU-2", "nonlinear": "NFU-3"}
        labels = []
        for kind in KINDS:
            for k in range(self.layer_count):
                prefix = names[kind] if self.config.arch == "per-neuron" else stage[kind]
                labels.append(f"{prefix} L{k + 1}")
        return labels

    def binned_fraction(self) -> tuple[np.ndarray, int]:
        """(groups × bins) mean fraction of the group's units busy, and cycles per bin (the
        last bin may be cut short by the end of the schedule)."""
        bins = self.busy_per_bin.shape[1]
        edges = np.arange(bins + 1) * self.per_bin
        widths = np.minimum(edges[1:], max(self.span, 1)) - edges[:-1]
        units = np.maximum(self.group_units, 1)[:, None]
        return self.busy_per_bin / (widths[None, :] * units), self.per_bin

    def unit_rows(self) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Detailed mode: the row of every operation and the rows' tick labels (one row per
        unit, multipliers first)."""
        s = self.schedule
        offsets, ticks, row = {}, [], 0
        for i, kind in enumerate(KINDS):
            offsets[i] = row
            for u in range(s.units[kind]):
                ticks.append((row + u, self.unit_label(kind, u)))
            row += s.units[kind]
        rows = np.array([offsets[int(k)] for k in range(len(KINDS))])[s.kind] + s.unit
        return rows, ticks

    def unit_label(self, kind: str, unit: int) -> str:
        c = self.config
        symbol = {"multiplier": "×", "adder": "+", "nonlinear": "σ"}[kind]
        if c.arch == "per-neuron":
            for k, (_m, n) in enumerate(c.layers):
                if unit < n:
                    return f"{symbol} L{k + 1} n{unit}"
                unit -= n
        if c.arch == "diannao" and kind != "nonlinear":
            return f"{symbol} tree{unit // c.ti}.{unit % c.ti}"
        return f"{symbol} {unit}"
