"""Measured peak memory of one forward pass beside the engine's prediction.

CUDA: ``torch.cuda.max_memory_allocated`` after a pass (peak stats reset first), which
includes the weights and inputs already on the device. CPU: the torch profiler's memory
records (every allocation and free during one pass, in time order); the peak of their
running sum is what the pass adds on top of the weights, buffers and inputs it starts
with, which are added to it. The engine's prediction (weights + every activation) keeps
every activation at once and knows nothing of the kernels' workspaces (im2col buffers),
so the two differ in both directions.
"""

from __future__ import annotations

from typing import Callable


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def resident_bytes(model, inputs) -> int:
    """Bytes of the model's parameters and buffers and of the inputs."""
    return tensor_bytes(list(model.parameters()) + list(model.buffers())) + tensor_bytes(inputs)


def peak_memory_bytes(model, inputs, run: Callable[[], object], device: str) -> int:
    """The most memory one call of ``run`` holds at once (see the module docstring)."""
    import torch
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return int(torch.cuda.max_memory_allocated())
    return resident_bytes(model, inputs) + transient_peak(run)


def transient_peak(run: Callable[[], object]) -> int:
    """Peak of the running sum of the allocations (+) and frees (−) that ``run`` makes, from
    the torch profiler's memory records."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    records = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    current = peak = 0
    for event in sorted(records, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak
