"""The event-level schedule: every multiply, add and nonlinear operation of an MLP with its
unit, start and end cycle, as numpy arrays.

Times come from placement rules: an operation starts as soon as its operands are ready and
its unit is free (a unit serves its operations in order); a sample (or DianNao chunk) enters
the hardware when every stage will be free for it, so no work queues between stages; layers
wait for the previous layer. The tests check that the makespan
equals the closed form of core.pipeline.cycles and that no unit runs two operations at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.common.limits import SCHEDULE_OPERATIONS
from core.pipeline.config import KINDS, PipelineConfig
from core.pipeline.cycles import hardware_units

MUL, ADD, NONLINEAR = 0, 1, 2
COLUMNS = ("kind", "layer", "sample", "neuron", "input", "unit", "start", "end")
DTYPES = {"kind": np.int8, "layer": np.int16, "sample": np.int32, "neuron": np.int32,
          "input": np.int32, "unit": np.int32, "start": np.int64, "end": np.int64}


@dataclass
class Schedule:
    """Operations as parallel arrays (one entry per operation). ``unit`` numbers the units of
    one kind from 0; ``input`` is the input index a multiply reads (for adds, the first input
    they sum; -1 for nonlinear operations)."""

    config: PipelineConfig
    kind: np.ndarray
    layer: np.ndarray
    sample: np.ndarray
    neuron: np.ndarray
    input: np.ndarray
    unit: np.ndarray
    start: np.ndarray
    end: np.ndarray
    units: dict[str, int]
    layer_start: np.ndarray = field(default=None)   # first cycle of each layer (any sample)
    layer_end: np.ndarray = field(default=None)     # last cycle + 1 of each layer
    sample_layer_start: np.ndarray = field(default=None)  # layer × sample: first cycle

    def __len__(self) -> int:
        return int(self.kind.size)

    @property
    def makespan(self) -> int:
        return int(self.end.max()) if self.end.size else 0

    def busy(self) -> dict[str, int]:
        """Busy unit-cycles of each kind."""
        durations = self.end - self.start
        return {k: int(durations[self.kind == i].sum()) for i, k in enumerate(KINDS)}

    def utilization(self) -> dict[str, float]:
        span = self.makespan
        busy = self.busy()
        return {k: busy[k] / (self.units[k] * span) if self.units[k] and span else 0.0
                for k in KINDS}

    def active(self, cycle: int) -> np.ndarray:
        """Indices of the operations running during ``cycle`` (start ≤ cycle < end)."""
        return np.flatnonzero((self.start <= cycle) & (self.end > cycle))


# -- helpers ---------------------------------------------------------------------------------
def operation_count(c: PipelineConfig) -> int:
    """Operations the schedule will hold (checked against the limit before allocating)."""
    per_sample = 0
    for m, n in c.layers:
        adds = n * (m - 1) if c.arch == "nfu-tree" else m * n
        per_sample += m * n + adds + n
    return per_sample * c.samples


def flow(ready: np.ndarray, duration: int) -> np.ndarray:
    """Start times of jobs served in order by one server that holds each for ``duration``:
    start[k] = max(ready[k], start[k-1] + duration), in closed vector form (max-plus scan)."""
    ready = np.asarray(ready, dtype=np.int64)
    shift = np.arange(ready.size, dtype=np.int64) * duration
    return shift + np.maximum.accumulate(ready - shift)


def tree_adds(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A binary adder tree over k values: (level from 1, adder index, first leaf of its left
    operand) of each of its k - 1 adds, and the number of levels. An odd value passes a level
    unchanged."""
    nodes = np.arange(k, dtype=np.int64)
    levels, leaves = [], []
    level = 0
    while nodes.size > 1:
        level += 1
        pairs = nodes.size // 2
        left = nodes[0:2 * pairs:2]
        levels.append(np.full(pairs, level, dtype=np.int64))
        leaves.append(left)
        nodes = np.concatenate([left, nodes[2 * pairs:]])
    if not levels:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, 0
    level_arr = np.concatenate(levels)
    return level_arr, np.arange(level_arr.size, dtype=np.int64), np.concatenate(leaves), level


class _Ops:
    """Fills preallocated columns block by block (each block broadcast to its shape), so the
    builders never concatenate or copy the full arrays."""

    def __init__(self, count: int):
        self.columns = {c: np.empty(count, dtype=DTYPES[c]) for c in COLUMNS}
        self.filled = 0

    def add(self, kind: int, layer: int, sample, neuron, input_, unit, start, duration) -> None:
        start = np.asarray(start, dtype=np.int64)
        shape = np.broadcast_shapes(start.shape, np.shape(neuron), np.shape(unit),
                                    np.shape(sample), np.shape(input_))
        size = int(np.prod(shape))
        if size == 0:
            return
        at = slice(self.filled, self.filled + size)
        values = {"kind": kind, "layer": layer, "sample": sample, "neuron": neuron,
                  "input": input_, "unit": unit, "start": start}
        for column, value in values.items():
            self.columns[column][at].reshape(shape)[...] = value
        np.add(self.columns["start"][at], duration, out=self.columns["end"][at])
        self.filled += size

    def arrays(self) -> dict[str, np.ndarray]:
        return {c: v[:self.filled] for c, v in self.columns.items()}


# -- per-neuron units --------------------------------------------------------------------------
def _neuron_template(c: PipelineConfig, m: int):
    """Start cycles of one neuron's multiplies, adds and nonlinearity, from its start."""
    inputs = np.arange(m, dtype=np.int64)
    if c.overlap:
        mul_start = inputs * c.t_m                    # the multiplier runs ahead
        add_start = flow(mul_start + c.t_m, c.t_a)    # the adder takes products in order
    else:
        mul_start = inputs * (c.t_m + c.t_a)          # multiply waits for the last add
        add_start = mul_start + c.t_m
    sigma_start = int(add_start[-1]) + c.t_a
    return mul_start, add_start, sigma_start, sigma_start + c.t_sigma


def _per_neuron(c: PipelineConfig, ops: _Ops, spans: list) -> None:
    samples = np.arange(c.samples, dtype=np.int64)
    templates = [_neuron_template(c, m) for m, _n in c.layers]
    # A sample enters when every layer will be free for it: no queues between layers.
    interval = max(t[3] for t in templates)
    ready = samples * interval
    unit_offset = 0
    for layer, (m, n) in enumerate(c.layers):
        mul_start, add_start, sigma_start, duration = templates[layer]
        begin = flow(ready, duration)                 # the layer's units take samples in order
        ready = begin + duration
        spans.append((int(begin[0]), int(ready[-1]), begin))
        inputs = np.arange(m, dtype=np.int64)
        neurons = np.arange(n, dtype=np.int64)
        # shapes: sample × neuron × input
        s3, j3, i3 = samples[:, None, None], neurons[None, :, None], inputs[None, None, :]
        b3 = begin[:, None, None]
        ops.add(MUL, layer, s3, j3, i3, unit_offset + j3, b3 + mul_start[None, None, :], c.t_m)
        ops.add(ADD, layer, s3, j3, i3, unit_offset + j3, b3 + add_start[None, None, :], c.t_a)
        ops.add(NONLINEAR, layer, samples[:, None], neurons[None, :], -1,
                unit_offset + neurons[None, :], begin[:, None] + sigma_start, c.t_sigma)
        unit_offset += n


# -- idealised NFU -----------------------------------------------------------------------------
def _nfu(c: PipelineConfig, ops: _Ops, spans: list) -> None:
    samples = np.arange(c.samples, dtype=np.int64)
    barrier = 0
    for layer, (m, n) in enumerate(c.layers):
        neurons, inputs = np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
        if c.arch == "nfu-tree":
            level, adder, leaf, depth = tree_adds(m)
            add_offset = (level - 1) * c.t_a               # one level after the other
            add_unit = neurons[:, None] * (m - 1) + adder[None, :]
            add_input = np.broadcast_to(leaf[None, :], add_unit.shape)
            stage2 = depth * c.t_a
        else:
            add_offset = inputs * c.t_a                   # one product after the other
            add_unit = np.broadcast_to(neurons[:, None], (n, m))
            add_input = np.broadcast_to(inputs[None, :], (n, m))
            stage2 = m * c.t_a
        # A sample enters NFU-1 when every stage will be free for it (no queues between them).
        interval = max(c.t_m, stage2, c.t_sigma)
        start1 = flow(barrier + samples * interval, c.t_m)
        start2 = flow(start1 + c.t_m, stage2)
        start3 = flow(start2 + stage2, c.t_sigma)
        end = int((start3 + c.t_sigma).max())
        spans.append((int(start1[0]), end, start1))
        s3 = samples[:, None, None]
        ops.add(MUL, layer, s3, neurons[None, :, None], inputs[None, None, :],
                neurons[None, :, None] * m + inputs[None, None, :], start1[:, None, None], c.t_m)
        ops.add(ADD, layer, s3, neurons[None, :, None], add_input[None], add_unit[None],
                start2[:, None, None] + add_offset[None, None, :], c.t_a)
        ops.add(NONLINEAR, layer, samples[:, None], neurons[None, :], -1, neurons[None, :],
                start3[:, None], c.t_sigma)
        barrier = end  # the NFU drains before the next layer's weights come in


# -- DianNao -----------------------------------------------------------------------------------
def _diannao(c: PipelineConfig, ops: _Ops, spans: list) -> None:
    tn, ti = c.tn, c.ti
    depth = (ti - 1).bit_length()
    stage2 = (depth + 1) * c.t_a
    barrier = 0
    for layer, (m, n) in enumerate(c.layers):
        t_in, t_out = -(-m // ti), -(-n // tn)
        per_sample = t_in * t_out
        chunks = per_sample * c.samples
        # A chunk enters NFU-1 when every stage will be free for it (no queues between them):
        # every P cycles within an output tile, and an output tile every Q cycles, so that
        # its finished sums find NFU-3 free.
        chunk_interval = max(c.t_m, stage2)
        tile_interval = max(t_in * chunk_interval, c.t_sigma)
        index = np.arange(chunks, dtype=np.int64)
        entry = barrier + (index // t_in) * tile_interval + (index % t_in) * chunk_interval
        start1 = flow(entry, c.t_m)
        start2 = flow(start1 + c.t_m, stage2)
        finals = np.arange(t_in - 1, chunks, t_in)       # the last input tile of an output tile
        start3 = flow(start2[finals] + stage2, c.t_sigma)
        end = int(start3[-1]) + c.t_sigma
        spans.append((barrier, end, start1[::per_sample]))
        samples = np.arange(c.samples, dtype=np.int64)[:, None, None]
        neurons = np.arange(n, dtype=np.int64)
        inputs = np.arange(m, dtype=np.int64)
        chunk = samples * per_sample + (neurons // tn)[None, :, None] * t_in + \
            (inputs // ti)[None, None, :]
        ops.add(MUL, layer, samples, neurons[None, :, None], inputs[None, None, :],
                (neurons % tn)[None, :, None] * ti + (inputs % ti)[None, None, :],
                start1[chunk], c.t_m)
        for tiles, k in _tiles_by_size(m, ti):
            level, adder, leaf, _levels = tree_adds(k)
            # sample × neuron × tile × add
            ch = samples[..., None] * per_sample + (neurons // tn)[None, :, None, None] * t_in + \
                tiles[None, None, :, None]
            unit = (neurons % tn)[None, :, None, None] * ti + adder[None, None, None, :]
            first = tiles[None, None, :, None] * ti
            ops.add(ADD, layer, samples[..., None], neurons[None, :, None, None],
                    first + leaf[None, None, None, :], unit,
                    start2[ch] + (level[None, None, None, :] - 1) * c.t_a, c.t_a)
            # the partial-sum add (adds the bias on the first tile) after the full tree depth
            ops.add(ADD, layer, samples[..., None], neurons[None, :, None, None], first,
                    (neurons % tn)[None, :, None, None] * ti + ti - 1, start2[ch] + depth * c.t_a,
                    c.t_a)
        tile_of = samples[:, :, 0] * t_out + (neurons // tn)[None, :]
        ops.add(NONLINEAR, layer, samples[:, :, 0], neurons[None, :], -1, (neurons % tn)[None, :],
                start3[tile_of], c.t_sigma)
        barrier = end


def _tiles_by_size(m: int, ti: int):
    """Input tiles grouped by how many inputs they hold (all full but perhaps the last)."""
    full = m // ti
    groups = []
    if full:
        groups.append((np.arange(full, dtype=np.int64), ti))
    if m % ti:
        groups.append((np.array([full], dtype=np.int64), m % ti))
    return groups


_BUILDERS = {"per-neuron": _per_neuron, "nfu": _nfu, "nfu-tree": _nfu, "diannao": _diannao}


def build_schedule(c: PipelineConfig) -> Schedule:
    """Every operation of ``c`` placed in time. Raises LimitError above the
    SCHEDULE_OPERATIONS limit (the closed forms need no schedule)."""
    count = operation_count(c)
    SCHEDULE_OPERATIONS.check(count, "the pipeline schedule (fewer samples or narrower "
                                     "layers need less; the cycle counts need none)")
    ops, spans = _Ops(count), []
    _BUILDERS[c.arch](c, ops, spans)
    arrays = ops.arrays()
    return Schedule(c, **arrays, units=hardware_units(c),
                    layer_start=np.array([sp[0] for sp in spans], dtype=np.int64),
                    layer_end=np.array([sp[1] for sp in spans], dtype=np.int64),
                    sample_layer_start=np.array([sp[2] for sp in spans], dtype=np.int64))
