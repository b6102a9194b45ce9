"""What a profile measures (ProfileConfig) and the limits every field is checked against.

Every bad value raises InputError naming the field and what is allowed, before anything
is built or allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.common.errors import InputError
from core.common.limits import TRAINING_BYTES

MAX_BATCH = 4096
MAX_REPEATS = 100_000
MAX_WARMUP = 10_000
MAX_BUDGET_S = 3600.0
MAX_THREADS = 256
# predicted weights + activations (+ training state) per batch: the engine-wide limit
DEFAULT_MEMORY_LIMIT_GIB = TRAINING_BYTES.value / (1 << 30)
MODES = ("inference", "training")
DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")  # core.graph.analysis.PRECISION_BYTES names
DEFAULT_BATCHES = (1, 8, 32)


@dataclass(frozen=True)
class ProfileConfig:
    """One profile: the batches to time, how long, where, and what else to measure.

    ``warmup`` untimed runs come first; then ``repeats`` and ``budget_s`` (seconds of
    timed runs) bound each measurement: the first reached ends it, and at least one timed
    run is always made. ``threads`` None keeps torch's current count.
    ``layer_batch`` None times the layers at the largest batch; ``memory`` measures the
    peak memory of one forward there (on a CPU through the torch profiler, which costs a
    few seconds the first time). ``gemm_size`` and
    ``copy_mib`` size the machine-peak kernels (None: the device's default).
    """

    batches: tuple[int, ...] = DEFAULT_BATCHES
    repeats: int = 50
    warmup: int = 5
    budget_s: float = 2.0
    device: str = "cpu"
    threads: int | None = None
    mode: str = "inference"
    precision: str = "fp32"
    per_layer: bool = False
    roofline: bool = False
    layer_batch: int | None = None
    memory: bool = False  # measured peak memory of a forward at the layer batch
    memory_limit_gib: float = DEFAULT_MEMORY_LIMIT_GIB
    gemm_size: int | None = None
    copy_mib: int | None = None

    def __post_init__(self):
        batches = tuple(self.batches)
        if not batches:
            raise InputError("batches is empty: give at least one batch size, e.g. 1,8,32")
        for b in batches:
            _whole("batch", b, 1, MAX_BATCH)
        if len(set(batches)) != len(batches):
            raise InputError(f"batches {','.join(map(str, batches))} repeat a size: give each "
                             f"batch size once")
        object.__setattr__(self, "batches", batches)
        _whole("repeats", self.repeats, 1, MAX_REPEATS)
        _whole("warmup", self.warmup, 0, MAX_WARMUP)
        if isinstance(self.budget_s, bool) or not isinstance(self.budget_s, (int, float)) or \
                not 0 < self.budget_s <= MAX_BUDGET_S:
            raise InputError(f"budget {self.budget_s!r} is not allowed: use seconds above 0 "
                             f"and at most {MAX_BUDGET_S:g}")
        _choice("device", self.device, DEVICES)
        _choice("mode", self.mode, MODES)
        _choice("precision", self.precision, PRECISIONS)
        if self.threads is not None:
            _whole("threads", self.threads, 1, MAX_THREADS)
        if self.layer_batch is not None:
            _whole("layer batch", self.layer_batch, 1, MAX_BATCH)
        if isinstance(self.memory_limit_gib, bool) or \
                not isinstance(self.memory_limit_gib, (int, float)) or \
                not 0 < self.memory_limit_gib <= 4096:
            raise InputError(f"memory limit {self.memory_limit_gib!r} GiB is not allowed: use "
                             f"a number above 0 and at most 4096")
        if self.gemm_size is not None:
            _whole("GEMM size", self.gemm_size, 16, 32768)
        if self.copy_mib is not None:
            _whole("copy size (MiB)", self.copy_mib, 1, 16384)

    @property
    def times_layers(self) -> bool:
        """Per-layer times are needed for the per-layer table and for the roofline (and
        the layer batch for the memory measurement)."""
        return self.per_layer or self.roofline or self.memory

    @property
    def chosen_layer_batch(self) -> int:
        return self.layer_batch if self.layer_batch is not None else max(self.batches)

    @property
    def steps(self) -> int:
        """Measurements the profile makes (for progress): each batch, peaks, layers."""
        return len(self.batches) + int(self.roofline) + int(self.times_layers)


def parse_batches(text: str) -> tuple[int, ...]:
    """'1,8,32' → (1, 8, 32); anything else raises InputError naming the field."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or min(values) < 1 or max(values) > MAX_BATCH:
        raise InputError(f"batches {text!r} is not allowed: use whole numbers from 1 to "
                         f"{MAX_BATCH:,} separated by commas, e.g. 1,8,32")
    return values


def _whole(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} {value!r} is not allowed: use a whole number from {low:,} "
                         f"to {high:,}")


def _choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name} {value!r} is not allowed: use one of {', '.join(allowed)}")


# Where a profile's measurements run. Only "inline": latencies measured at the same time on
# the same machine's cores compete for those cores, their caches and the memory bandwidth, so
# a pool (or a local Ray instance) would inflate every figure by its neighbours' load.
PROFILE_EXECUTORS = ("inline",)
EXECUTOR_REFUSALS = {
    "pool": "profile --executor pool is refused: batch sizes timed at once in parallel "
            "processes on this machine's cores compete for the cores, caches and memory "
            "bandwidth and inflate each other's latency; profiles run one measurement at a time "
            "(--executor inline, the default)",
    "ray": "profile --executor ray is not supported: a sound one would time each batch size "
           "alone on one node of a remote cluster (and report that node), which is not built; "
           "profiles run one measurement at a time here (--executor inline, the default)",
}


def check_executor(name: str) -> None:
    """InputError saying why for any executor but inline (see EXECUTOR_REFUSALS)."""
    if name in PROFILE_EXECUTORS:
        return
    raise InputError(EXECUTOR_REFUSALS.get(
        name, f"executor {name!r} is not allowed for profiles: use inline"))
