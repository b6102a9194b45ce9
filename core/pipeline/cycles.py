"""Closed-form cycle counts of an MLP on each architecture, every figure an Expr carrying its
formula; plus the stream figures (initiation interval, throughput, utilisation) and the
assumptions the formulas rest on.

Model (DESIGN "Pipeline"): cycles are integers; a unit is busy from an operation's start to
its end and is not itself pipelined; the first add of a neuron adds its bias (except in
nfu-tree, whose course formula sums the m products only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from core.common.explain import Expr, V, total
from core.pipeline.config import ARCH_NAMES, KINDS, PipelineConfig

_ATOM = 3


def maximum(*items: Expr) -> Expr:
    """max(a, b, …) as one atom."""
    if len(items) == 1:
        return items[0]
    return Expr(max(i.value for i in items), "max(" + ", ".join(i.symbolic for i in items) + ")",
                "max(" + ", ".join(i.substituted for i in items) + ")", _ATOM)


def ceil_log2(x: Expr) -> Expr:
    """⌈log2 x⌉ (0 for x = 1)."""
    return Expr((x.value - 1).bit_length(), f"⌈log2 {x.symbolic}⌉", f"⌈log2 {x.substituted}⌉",
                _ATOM)


def ceil_div(a: Expr, b: Expr) -> Expr:
    return Expr(-(-a.value // b.value), f"⌈{a.symbolic}/{b.symbolic}⌉",
                f"⌈{a.substituted}/{b.substituted}⌉", _ATOM)


@dataclass(frozen=True)
class LayerCycles:
    """One layer's cycles for one sample (``cycles``) and what it adds to the initiation
    interval of a stream (``period``); ``steps`` are named sub-formulas shown beside it."""

    index: int
    inputs: int
    outputs: int
    cycles: Expr
    period: Expr
    steps: tuple[Expr, ...] = ()

    @property
    def name(self) -> str:
        return f"layer {self.index + 1} ({self.inputs}→{self.outputs})"


@dataclass
class PipelineResult:
    config: PipelineConfig
    layers: list[LayerCycles]
    latency: Expr                 # one sample, cycles
    initiation_interval: Expr     # cycles between samples of a stream in steady state
    total: Expr                   # the whole stream of N samples
    units: dict[str, int]         # units of each kind in the hardware
    busy: dict[str, int]          # busy unit-cycles of each kind for the whole stream
    notes: list[str] = field(default_factory=list)

    @property
    def arch(self) -> str:
        return self.config.arch

    @property
    def utilization(self) -> dict[str, float]:
        return {k: float(self.utilization_exact(k)) for k in KINDS}

    def utilization_exact(self, kind: str) -> Fraction:
        units = self.units[kind]
        return Fraction(self.busy[kind], units * self.total.value) if units else Fraction(0)

    def utilization_formula(self, kind: str) -> str:
        return (f"busy unit-cycles / (units × cycles) = {self.busy[kind]:,} / "
                f"({self.units[kind]:,} × {self.total.value:,}) = "
                f"{float(self.utilization_exact(kind)):.2%}")

    @property
    def throughput_per_cycle(self) -> float:
        return 1.0 / self.initiation_interval.value

    @property
    def operations_per_sample(self) -> int:
        """2 × MACs (a multiply and an add per weight); nonlinearities not counted."""
        return 2 * sum(m * n for m, n in self.config.layers)

    def throughput_per_second(self) -> float | None:
        clock = self.config.clock_mhz
        return None if clock is None else clock * 1e6 * self.throughput_per_cycle

    def gops(self) -> float | None:
        per_second = self.throughput_per_second()
        return None if per_second is None else per_second * self.operations_per_sample / 1e9

    def as_dict(self) -> dict:
        """The command line's JSON object."""
        c = self.config
        return {
            "arch": c.arch,
            "name": ARCH_NAMES[c.arch],
            "widths": list(c.widths),
            "latencies": {"multiply": c.t_m, "add": c.t_a, "nonlinear": c.t_sigma},
            "options": {"overlap": c.overlap, "tn": c.tn, "ti": c.ti, "samples": c.samples,
                        "clock_mhz": c.clock_mhz},
            "layers": [{"inputs": l.inputs, "outputs": l.outputs, "cycles": l.cycles.value,
                        "formula": l.cycles.explain(), "period": l.period.value,
                        "steps": [s.explain() for s in l.steps]} for l in self.layers],
            "latency_cycles": self.latency.value,
            "latency_formula": self.latency.explain(),
            "total_cycles": self.total.value,
            "total_formula": self.total.explain(),
            "initiation_interval": self.initiation_interval.value,
            "initiation_interval_formula": self.initiation_interval.explain(),
            "throughput_samples_per_cycle": self.throughput_per_cycle,
            "throughput_samples_per_second": self.throughput_per_second(),
            "gops": self.gops(),
            "operations_per_sample": self.operations_per_sample,
            "units": dict(self.units),
            "utilization": self.utilization,
            "utilization_formula": {k: self.utilization_formula(k) for k in KINDS},
            "assumptions": assumptions(c),
        }


# -- per-layer closed forms --------------------------------------------------------------
def _symbols(c: PipelineConfig, m: int, n: int):
    return V("m", m), V("n", n), V("t_m", c.t_m), V("t_a", c.t_a), V("t_σ", c.t_sigma)


def per_neuron_layer(c: PipelineConfig, m: int, n: int) -> tuple[Expr, Expr, tuple]:
    vm, _vn, tm, ta, ts = _symbols(c, m, n)
    if c.overlap:
        cycles = tm + ta + (vm - 1) * maximum(tm, ta) + ts
    else:
        cycles = vm * (tm + ta) + ts
    return cycles, cycles, ()


def nfu_layer(c: PipelineConfig, m: int, n: int) -> tuple[Expr, Expr, tuple]:
    vm, _vn, tm, ta, ts = _symbols(c, m, n)
    stage2 = (ceil_log2(vm) if c.arch == "nfu-tree" else vm) * ta
    cycles = tm + stage2 + ts
    period = maximum(tm, stage2, ts)
    return cycles, period, (period,)


def diannao_layer(c: PipelineConfig, m: int, n: int) -> tuple[Expr, Expr, tuple]:
    vm, vn, tm, ta, ts = _symbols(c, m, n)
    tn, ti = V("Tn", c.tn), V("Ti", c.ti)
    tiles_in, tiles_out = ceil_div(vm, ti), ceil_div(vn, tn)
    stage2 = (ceil_log2(ti) + 1) * ta            # tree levels + the partial-sum add
    t2, big_t, big_j = stage2.named("t₂"), tiles_in.named("T"), tiles_out.named("J")
    chunk = maximum(tm, t2)                       # a new chunk enters NFU-1/2 every P cycles
    p = chunk.named("P")
    tile = maximum(big_t * p, ts)                 # an output tile leaves NFU-3 every Q cycles
    q = tile.named("Q")
    cycles = tm + t2 + (big_t - 1) * p + ts + (big_j - 1) * q
    period = big_j * q
    steps = (stage2, tiles_in, tiles_out, chunk, tile)
    return cycles, period, steps


def layer_cycles(c: PipelineConfig) -> list[LayerCycles]:
    model = {"per-neuron": per_neuron_layer, "nfu": nfu_layer, "nfu-tree": nfu_layer,
             "diannao": diannao_layer}[c.arch]
    out = []
    for k, (m, n) in enumerate(c.layers):
        cycles, period, steps = model(c, m, n)
        out.append(LayerCycles(k, m, n, cycles, period, steps))
    return out


# -- hardware and busy time ----------------------------------------------------------------
def hardware_units(c: PipelineConfig) -> dict[str, int]:
    layers = c.layers
    if c.arch == "per-neuron":
        neurons = sum(n for _m, n in layers)
        return dict.fromkeys(KINDS, neurons)
    if c.arch == "diannao":
        return {"multiplier": c.tn * c.ti, "adder": c.tn * c.ti, "nonlinear": c.tn}
    adders = max(n * (m - 1) for m, n in layers) if c.arch == "nfu-tree" else \
        max(n for _m, n in layers)
    return {"multiplier": max(m * n for m, n in layers), "adder": adders,
            "nonlinear": max(n for _m, n in layers)}


def busy_per_sample(c: PipelineConfig) -> dict[str, int]:
    """Unit-cycles of each kind one sample keeps busy (each operation's duration)."""
    macs = sum(m * n for m, n in c.layers)
    adds = sum(n * (m - 1) for m, n in c.layers) if c.arch == "nfu-tree" else macs
    return {"multiplier": macs * c.t_m, "adder": adds * c.t_a,
            "nonlinear": sum(n for _m, n in c.layers) * c.t_sigma}


def analyse(c: PipelineConfig) -> PipelineResult:
    layers = layer_cycles(c)
    named = [l.cycles.named(f"L{l.index + 1}") for l in layers]
    latency = total(named)
    if c.arch == "per-neuron":
        ii = maximum(*named)  # each layer has its own units: the slowest layer sets the pace
    else:
        ii = total(l.period.named(f"II{l.index + 1}") for l in layers)
    stream = latency
    if c.samples > 1:
        stream = latency.named("latency") + (V("N", c.samples) - 1) * ii.named("II")
    busy = {k: v * c.samples for k, v in busy_per_sample(c).items()}
    return PipelineResult(c, layers, latency, ii, stream, hardware_units(c), busy)


# -- assumptions -----------------------------------------------------------------------------
COMMON = (
    "Cycles are whole numbers; an operation occupies its unit from its start to its end "
    "(units are not themselves pipelined: a unit takes its next operation only when the "
    "last one has ended).",
    "Within a sample the layers run one after another: a layer starts when every output of "
    "the previous layer is ready.",
    "Reading inputs and weights and writing outputs cost no cycles (buffers are ideal).",
)
PER_ARCH = {
    "per-neuron": (
        "Every neuron of every layer has its own multiplier, adder and nonlinear unit (units = "
        "Σ n over the layers, for each kind).",
        "A neuron takes its m inputs one at a time: multiply, then add into its accumulator; "
        "the first add adds the bias, so a neuron makes m multiplies and m adds.",
        "Stream: each layer is a pipeline stage with its own units; a layer takes the next "
        "sample only when it has finished the current one (layer outputs are double-buffered) "
        "and a new sample enters every initiation interval = the slowest layer, so no sample "
        "waits in a queue between layers.",
    ),
    "nfu": (
        "NFU-1 forms all m·n products of a layer at once (m·n multipliers); NFU-2 accumulates "
        "each neuron's m products one after another, all neurons in parallel (one adder per "
        "neuron; the first add adds the bias); NFU-3 applies all n nonlinearities at once.",
        "One NFU, sized for the largest layer, serves every layer in turn.",
        "Stream: the samples flow through a layer's three stages, a new sample entering NFU-1 "
        "every max(t_m, NFU-2 time, t_σ) cycles so that no sample waits between stages; the "
        "NFU drains between layers (its weights change), so the initiation interval is Σ over "
        "layers of the slowest stage.",
    ),
    "nfu-tree": (
        "As nfu, but NFU-2 is an adder tree per neuron: m − 1 adders in ⌈log2 m⌉ levels of t_a "
        "(an odd value passes a level unchanged). The bias is not added, as in the course's "
        "formula t_m + ⌈log2 m⌉·t_a + t_σ.",
        "One NFU, sized for the largest layer, serves every layer in turn.",
        "Stream: as nfu (stages overlap across samples, the NFU drains between layers).",
    ),
    "diannao": (
        "NFU-1 has Tn·Ti multipliers, NFU-2 Tn adder trees of Ti inputs (Ti − 1 adders in "
        "⌈log2 Ti⌉ levels) each followed by one adder that accumulates the partial sum (the "
        "first input tile adds the bias), NFU-3 Tn nonlinear units.",
        "A layer is ⌈n/Tn⌉ output tiles × ⌈m/Ti⌉ input tiles = chunks, output tile by output "
        "tile; each chunk holds NFU-1 for t_m and NFU-2 for (⌈log2 Ti⌉ + 1)·t_a whether or not "
        "the tile is full; a new chunk enters every P = max(t_m, t₂) cycles.",
        "NFU-3 takes an output tile once its last input tile has left NFU-2 and holds it for "
        "t_σ; partial sums of other chunks go back to the output buffer at no cost. An output "
        "tile starts every Q = max(T·P, t_σ) cycles, so no chunk waits between stages.",
        "Stream: the chunks of all samples flow layer by layer (the NFU drains between layers), "
        "each sample adding J·Q cycles to a layer.",
    ),
}


def assumptions(c: PipelineConfig) -> list[str]:
    out = list(COMMON) + list(PER_ARCH[c.arch])
    if c.arch == "per-neuron":
        if c.overlap:
            out.append("Overlap: the multiplier starts the next product while the adder "
                       "accumulates the last; a product waits in a register until the adder is "
                       "free: t_m + t_a + (m − 1)·max(t_m, t_a) + t_σ per layer.")
        else:
            out.append("No overlap: a neuron's multiply and add alternate (m·(t_m + t_a) + t_σ "
                       "per layer); --overlap lets them overlap.")
    else:
        out.append("The overlap option applies to per-neuron units only.")
    out.append("Throughput = 1 / initiation interval (steady state); GOP/s counts 2 operations "
               "per weight (multiply and add), not the nonlinearities.")
    return out
