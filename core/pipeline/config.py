"""What the pipeline models take: the MLP's widths, the unit latencies, the architecture and
its options, checked once so that every model can trust them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.common.errors import InputError

ARCHS = ("per-neuron", "nfu", "nfu-tree", "diannao")
ARCH_NAMES = {
    "per-neuron": "per-neuron units",
    "nfu": "idealised NFU (serial accumulation)",
    "nfu-tree": "idealised NFU (adder tree)",
    "diannao": "DianNao NFU (Tn × Ti tiles)",
}
KINDS = ("multiplier", "adder", "nonlinear")  # unit kinds; kind codes 0, 1, 2 in schedules
MAX_WIDTH = 1_000_000
MAX_LATENCY = 1_000_000
MAX_SAMPLES = 1_000_000


def parse_widths(text) -> tuple[int, ...]:
    """'10,8,6,5' (commas, spaces, x or dashes between) → (10, 8, 6, 5)."""
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [p for p in re.split(r"[\s,;x×→>]+|(?<=\d)-(?=\d)", str(text).strip()) if p]
    widths = []
    for part in parts:
        try:
            value = int(str(part))
        except ValueError:
            raise InputError(f"layer widths: {part!r} is not a whole number (give at least two "
                             f"widths ≥ 1 separated by commas, e.g. 10,8,6,5)") from None
        widths.append(value)
    return tuple(widths)


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} must be a whole number from {low:,} to {high:,}, got {value!r}")
    return value


@dataclass(frozen=True)
class PipelineConfig:
    """One MLP on one architecture. Latencies are in cycles; ``clock_mhz`` only scales the
    per-second figures (None: not reported)."""

    widths: tuple[int, ...]
    arch: str = "per-neuron"
    t_m: int = 8
    t_a: int = 2
    t_sigma: int = 1
    overlap: bool = False
    tn: int = 16
    ti: int = 16
    samples: int = 1
    clock_mhz: float | None = None

    def __post_init__(self):
        widths = tuple(self.widths)
        object.__setattr__(self, "widths", widths)
        if len(widths) < 2:
            raise InputError(f"layer widths: give at least two widths (inputs and outputs of "
                             f"one layer), got {len(widths)}")
        for i, w in enumerate(widths):
            _whole(f"layer width {i + 1}", w, 1, MAX_WIDTH)
        if self.arch not in ARCHS:
            raise InputError(f"architecture must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        _whole("multiply latency t_m", self.t_m, 1, MAX_LATENCY)
        _whole("add latency t_a", self.t_a, 1, MAX_LATENCY)
        _whole("nonlinear latency t_σ", self.t_sigma, 1, MAX_LATENCY)
        _whole("Tn (neurons per DianNao tile)", self.tn, 1, 4096)
        _whole("Ti (inputs per DianNao tile)", self.ti, 1, 4096)
        _whole("samples", self.samples, 1, MAX_SAMPLES)
        if self.clock_mhz is not None and not (isinstance(self.clock_mhz, (int, float))
                                               and math.isfinite(self.clock_mhz)
                                               and self.clock_mhz > 0):
            raise InputError(f"clock must be a number of MHz > 0, got {self.clock_mhz!r}")

    @property
    def layers(self) -> list[tuple[int, int]]:
        """(inputs m, outputs n) of each layer."""
        return list(zip(self.widths[:-1], self.widths[1:]))

    def with_arch(self, arch: str) -> PipelineConfig:
        from dataclasses import replace
        return replace(self, arch=arch)
