"""The machine's measured peaks: compute from a large square GEMM and memory bandwidth from
a large copy, in the profile's device, dtype and thread count, cached per those (and the
kernel sizes) for the life of the process.

Method, as shown to the user: peak FLOP/s = 2·n³ / (fastest of the timed n×n @ n×n
matmuls); bandwidth = 2 × bytes / (fastest copy of a ``copy_mib`` MiB tensor into another
one), counting the read and the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from core.profiling.timing import measure, never

GEMM_SIZE = {"cpu": 1024, "cuda": 8192}
COPY_MIB = {"cpu": 256, "cuda": 1024}
PEAK_REPEATS = 10
PEAK_BUDGET_S = 1.5
_CACHE: dict[tuple, "MachinePeaks"] = {}


@dataclass(frozen=True)
class MachinePeaks:
    device: str
    dtype: str
    threads: int
    peak_flops: float  # FLOP/s
    bandwidth: float  # bytes/s
    gemm_size: int
    copy_bytes: int
    method: str

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline's two limits meet."""
        return self.peak_flops / self.bandwidth


def torch_dtype(precision: str):
    import torch
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def device_sync(device: str) -> Callable[[], object]:
    """What to call before reading the clock: CUDA runs kernels asynchronously."""
    if device == "cuda":
        import torch
        return torch.cuda.synchronize
    return lambda: None


def measure_peaks(device: str, precision: str, threads: int, gemm_size: int | None = None,
                  copy_mib: int | None = None,
                  should_stop: Callable[[], bool] = never) -> MachinePeaks | None:
    """The peaks of ``device`` (cached); None when stopped. The caller sets the threads."""
    n = gemm_size or GEMM_SIZE[device]
    mib = copy_mib or COPY_MIB[device]
    key = (device, precision, threads, n, mib)
    if key in _CACHE:
        return _CACHE[key]
    import torch
    dtype = torch_dtype(precision)
    sync = device_sync(device)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    gemm = measure(lambda: torch.mm(a, b), 2, PEAK_REPEATS, PEAK_BUDGET_S, sync, should_stop)
    del a, b
    if gemm is None:
        return None
    elements = mib * 2 ** 20 // torch.empty((), dtype=dtype).element_size()
    src = torch.empty(elements, dtype=dtype, device=device).fill_(1)
    dst = torch.empty_like(src)
    copy = measure(lambda: dst.copy_(src), 2, PEAK_REPEATS, PEAK_BUDGET_S, sync, should_stop)
    copy_bytes = elements * src.element_size()
    del src, dst
    if copy is None:
        return None
    peaks = MachinePeaks(
        device, precision, threads, 2 * n ** 3 / (gemm.best_ms / 1e3),
        2 * copy_bytes / (copy.best_ms / 1e3), n, copy_bytes,
        f"peak compute: fastest of {gemm.count} {precision} {n}×{n}·{n}×{n} matmuls "
        f"(2·n³ FLOPs each); bandwidth: fastest of {copy.count} copies of "
        f"{copy_bytes / 2 ** 20:,.0f} MiB (read + write = 2 × bytes); {device}, "
        f"{threads} thread{'s' if threads != 1 else ''}")
    _CACHE[key] = peaks
    return peaks


def clear_cache() -> None:
    _CACHE.clear()
