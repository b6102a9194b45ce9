"""The profiling generator: machine peaks, latency and throughput per batch size, per-layer
times and the roofline, as typed events (DESIGN convention 4).

``profile(network, config, should_stop)`` checks ``should_stop()`` before every timed run,
so a stop takes effect after at most one run of the model. The thread count is fixed for
the run and restored afterwards (also when the consumer abandons the generator). Torch is
imported lazily, when the generator starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from core.common.errors import InputError, MlsysError
from core.graph.analysis import Analysis, AnalysisOptions, analyze
from core.graph.network import Network
from core.profiling.config import ProfileConfig
from core.profiling.layers import LayerTimes, time_layers
from core.profiling.machine import MachinePeaks, device_sync, measure_peaks, torch_dtype
from core.profiling.roofline import LayerProfile, layer_costs, predicted_seconds, \
    profile_layers
from core.profiling.timing import Timing, measure, never

GIB = 2 ** 30
TRAINING_LR = 1e-4  # plain SGD; the step's cost, not the learning, is what is measured


class ProfileError(MlsysError, ValueError):
    """A profile cannot run (no GPU, a dtype the device lacks, out of memory)."""


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchResult:
    batch: int
    timing: Timing
    predicted_ms: float | None = None  # the roofline's whole-model time (with peaks)
    predicted_memory_bytes: int = 0

    @property
    def latency_ms(self) -> float:
        return self.timing.median_ms

    @property
    def latency_iqr_ms(self) -> float:
        return self.timing.iqr_ms

    @property
    def throughput_per_s(self) -> float:
        """Items per second: batch / median latency."""
        return self.batch / (self.latency_ms / 1e3)

    @property
    def per_item_ms(self) -> float:
        return self.latency_ms / self.batch


@dataclass
class ProfileResult:
    """Everything measured so far (complete when ``status`` is "finished")."""

    model: str
    config: ProfileConfig
    device: str
    threads: int
    params: int
    macs: int  # per sample (batch 1)
    status: str = "running"  # running, finished, stopped, failed
    batches: list[BatchResult] = field(default_factory=list)
    peaks: MachinePeaks | None = None
    layer_batch: int | None = None
    layer_times: LayerTimes | None = None
    layers: list[LayerProfile] = field(default_factory=list)
    whole_ms: float | None = None  # whole model without hooks at the layer batch
    measured_memory_bytes: int | None = None  # at the layer batch
    predicted_memory_bytes: int | None = None
    message: str = ""
    network: Network | None = None  # what was profiled (for ONNX export)

    @property
    def mode(self) -> str:
        return self.config.mode

    def batch_result(self, batch: int) -> BatchResult | None:
        return next((b for b in self.batches if b.batch == batch), None)


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileEvent:
    """Base of every event the profiler yields; ``step`` of ``steps`` measurements done."""


@dataclass(frozen=True)
class Started(ProfileEvent):
    model: str
    device: str
    threads: int
    steps: int
    params: int


@dataclass(frozen=True)
class PeaksMeasured(ProfileEvent):
    peaks: MachinePeaks
    step: int
    steps: int


@dataclass(frozen=True)
class BatchMeasured(ProfileEvent):
    result: BatchResult
    step: int
    steps: int


@dataclass(frozen=True)
class LayersMeasured(ProfileEvent):
    layers: tuple[LayerProfile, ...]
    times: LayerTimes
    step: int
    steps: int


@dataclass(frozen=True)
class Finished(ProfileEvent):
    result: ProfileResult


@dataclass(frozen=True)
class Stopped(ProfileEvent):
    result: ProfileResult


@dataclass(frozen=True)
class Failed(ProfileEvent):
    message: str
    result: ProfileResult


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------
def profile(network: Network, config: ProfileConfig | None = None,
            should_stop: Callable[[], bool] = never) -> Iterator[ProfileEvent]:
    """Measure ``network``; yields Started, then an event after every measurement, then
    Finished, Stopped or Failed (each carrying the ProfileResult). Bad settings raise
    InputError before anything is built."""
    config = config or ProfileConfig()
    analyses = _analyses(network, config)
    _check_memory(analyses, config)
    import torch
    if config.device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' is not available: torch sees no GPU here (use cpu)")
    from core.torchbridge.build import build_model
    model = build_model(network).to(device=config.device, dtype=torch_dtype(config.precision))
    previous = torch.get_num_threads()
    if config.threads is not None and config.threads != previous:
        torch.set_num_threads(config.threads)
    try:
        yield from _run(network, model, analyses, config, should_stop)
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _run(network, model, analyses, config, should_stop):
    import torch
    first = analyses[1]
    result = ProfileResult(network.name, config, config.device, torch.get_num_threads(),
                           first.totals.params, first.totals.macs, network=network)
    yield Started(network.name, config.device, result.threads, config.steps, result.params)
    step = 0
    sync = device_sync(config.device)
    try:
        if config.roofline:
            result.peaks = measure_peaks(config.device, config.precision, result.threads,
                                         config.gemm_size, config.copy_mib, should_stop)
            if result.peaks is None:
                yield _stopped(result)
                return
            step += 1
            yield PeaksMeasured(result.peaks, step, config.steps)
        for batch in config.batches:
            inputs = _inputs(model, batch, config)
            timing = time_model(model, inputs, config, sync, should_stop)
            if timing is None:
                yield _stopped(result)
                return
            predicted = _predicted_ms(analyses[batch], result.peaks) \
                if config.mode == "inference" else None  # the roofline counts a forward
            row = BatchResult(batch, timing, predicted, analyses[batch].memory.inference)
            result.batches.append(row)
            step += 1
            yield BatchMeasured(row, step, config.steps)
        if config.times_layers:
            done = yield from _measure_layers(model, analyses, config, result, sync,
                                              should_stop, step)
            if not done:
                yield _stopped(result)
                return
    except RuntimeError as exc:  # torch: out of memory, an op the device or dtype lacks
        result.status = "failed"
        result.message = _first_line(exc)
        yield Failed(result.message, result)
        return
    result.status = "finished"
    yield Finished(result)


def _measure_layers(model, analyses, config, result, sync, should_stop, step):
    """Per-layer times at the layer batch (and its roofline); False when stopped."""
    import torch
    batch = config.chosen_layer_batch
    inputs = _inputs(model, batch, config)
    model.eval()
    run = lambda: model(*inputs)  # noqa: E731
    with torch.inference_mode():
        times = time_layers(model, run, config.warmup, config.repeats, config.budget_s, sync,
                            should_stop)
        if times is None:
            return False
        measured = result.batch_result(batch)
        if measured is None or config.mode != "inference":
            whole = measure(run, config.warmup, config.repeats, config.budget_s, sync,
                            should_stop)
            if whole is None:
                return False
            result.whole_ms = whole.median_ms
        else:
            result.whole_ms = measured.latency_ms
        if config.memory:
            from core.profiling.memory import peak_memory_bytes
            result.measured_memory_bytes = peak_memory_bytes(model, inputs, run, config.device)
    result.layer_batch, result.layer_times = batch, times
    result.predicted_memory_bytes = analyses[batch].memory.inference
    result.layers = profile_layers(layer_costs(analyses[batch]), times.per_layer_ms,
                                   result.peaks)
    yield LayersMeasured(tuple(result.layers), times, step + 1, config.steps)
    return True


def time_model(model, inputs, config, sync, should_stop) -> Timing | None:
    """Median-ready timings of one inference (or one training step) at this batch."""
    import torch
    if config.mode == "inference":
        model.eval()
        with torch.inference_mode():
            return measure(lambda: model(*inputs), config.warmup, config.repeats,
                           config.budget_s, sync, should_stop)
    model.train()
    step = training_step(model, inputs)
    try:
        return measure(step, config.warmup, config.repeats, config.budget_s, sync,
                       should_stop)
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def training_step(model, inputs) -> Callable[[], None]:
    """Forward, the loss (the Loss nodes' sum; without one, the mean of the outputs),
    backward and a plain SGD step."""
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=TRAINING_LR) if params else None
    loss_names = [n for n in model.order if model.types[n] == "Loss"]

    def step():
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
        values = model.run(*inputs)
        names = loss_names or model.output_names
        loss = sum(values[n].float().mean() for n in names)
        if loss.requires_grad:
            loss.backward()
        if optimizer is not None:
            optimizer.step()
    return step


def _inputs(model, batch: int, config: ProfileConfig):
    import torch
    dtype = torch_dtype(config.precision)
    torch.manual_seed(0)
    return [t.to(dtype) if t.is_floating_point() else t
            for t in model.example_inputs(batch, config.device)]


def _analyses(network: Network, config: ProfileConfig) -> dict[int, Analysis]:
    """The engine's analysis at batch 1, every profiled batch and the layer batch."""
    wanted = {1, *config.batches}
    if config.times_layers:
        wanted.add(config.chosen_layer_batch)
    analyses = {b: analyze(network, AnalysisOptions(batch=b, precision=config.precision))
                for b in sorted(wanted)}
    error = analyses[1].first_error()
    if error:
        raise InputError(f"{network.name} cannot be profiled: {error}")
    return analyses


def _check_memory(analyses: dict[int, Analysis], config: ProfileConfig) -> None:
    """Refuse a batch whose predicted memory is over the stated limit, before allocating."""
    limit = config.memory_limit_gib * GIB
    measured = set(config.batches) | ({config.chosen_layer_batch} if config.times_layers
                                      else set())
    for batch in sorted(measured):
        memory = analyses[batch].memory
        need = memory.training if config.mode == "training" else memory.inference
        if need > limit:
            raise InputError(f"batch {batch} needs about {need / GIB:,.1f} GiB by the engine's "
                             f"count ({config.mode}), over the memory limit of "
                             f"{config.memory_limit_gib:g} GiB: use smaller batches or raise "
                             f"the memory limit")


def _predicted_ms(analysis: Analysis, peaks: MachinePeaks | None) -> float | None:
    if peaks is None:
        return None
    return sum(predicted_seconds(c.flops, c.bytes, peaks.peak_flops, peaks.bandwidth)
               for c in layer_costs(analysis)) * 1e3


def _stopped(result: ProfileResult) -> Stopped:
    result.status = "stopped"
    return Stopped(result)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def run_to_end(events: Iterator[ProfileEvent],
               on_event: Callable[[ProfileEvent], object] | None = None) -> ProfileResult:
    """Drain a profile() generator (headless use); returns its ProfileResult."""
    result = None
    for event in events:
        if on_event is not None:
            on_event(event)
        if isinstance(event, (Finished, Stopped, Failed)):
            result = event.result
    if result is None:
        raise ProfileError("the profile ended without a result")
    return result
