"""The convolution layer and buffer sizes a dataflow is evaluated on, validated with typed errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.common.errors import InputError

OPERANDS = ("input", "weight", "output")


def require_int(field: str, value, minimum: int) -> int:
    """Return ``value`` as an int, or raise InputError naming ``field`` and the allowed range."""
    # bool is an int subclass; True as a size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{field}: {value!r} is not a whole number (allowed: integers >= {minimum})")
    if value < minimum:
        raise InputError(f"{field}: {value} is not allowed (must be >= {minimum})")
    return int(value)


@dataclass(frozen=True)
class ConvLayer:
    """Input H×W×C, F filters of K×K×C, stride and zero padding; output Ho×Wo×F (floored, as PyTorch)."""

    height: int
    width: int
    channels: int
    kernel: int
    filters: int
    stride: int = 1
    padding: int = 0

    def __post_init__(self):
        for name in ("height", "width", "channels", "kernel", "filters", "stride"):
            object.__setattr__(self, name, require_int(name, getattr(self, name), 1))
        object.__setattr__(self, "padding", require_int("padding", self.padding, 0))
        for name, size in (("height", self.height), ("width", self.width)):
            padded = size + 2 * self.padding
            if self.kernel > padded:
                raise InputError(
                    f"kernel: {self.kernel} is larger than the padded input {name} {padded} "
                    f"({name} {size} + 2×padding {self.padding}); allowed: kernel <= {padded}"
                )

    @property
    def out_height(self) -> int:
        return (self.height + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def out_width(self) -> int:
        return (self.width + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def macs(self) -> int:
        """Every multiply-accumulate PyTorch performs, padded zeros included (DESIGN's MAC convention)."""
        return self.filters * self.channels * self.out_height * self.out_width * self.kernel**2

    @property
    def window(self) -> int:
        """Elements of one K×K window of one channel."""
        return self.kernel * self.kernel

    def operand_size(self, operand: str) -> int:
        """Elements stored in memory for an operand (padding is never stored)."""
        if operand == "input":
            return self.channels * self.height * self.width
        if operand == "weight":
            return self.filters * self.channels * self.window
        return self.filters * self.out_height * self.out_width

    def input_rows(self, out_rows: np.ndarray) -> np.ndarray:
        """Real input rows (sorted, unique) that the windows of the given output rows touch."""
        return _window_span(out_rows, self.stride, self.padding, self.kernel, self.height)

    def input_cols(self, out_cols: np.ndarray) -> np.ndarray:
        """Real input columns that the windows of the given output columns touch."""
        return _window_span(out_cols, self.stride, self.padding, self.kernel, self.width)

    def describe(self) -> str:
        return (
            f"{self.height}×{self.width}×{self.channels} input, {self.filters} filter{'s' if self.filters > 1 else ''} of "
            f"{self.kernel}×{self.kernel}×{self.channels}, stride {self.stride}, padding {self.padding} "
            f"→ {self.out_height}×{self.out_width}×{self.filters} output"
        )


def _window_span(out_idx: np.ndarray, stride: int, padding: int, kernel: int, size: int) -> np.ndarray:
    starts = np.asarray(out_idx, dtype=np.int64) * stride - padding
    span = (starts[:, None] + np.arange(kernel, dtype=np.int64)[None, :]).ravel()
    span = span[(span >= 0) & (span < size)]
    return np.unique(span)


@dataclass(frozen=True)
class Buffers:
    """Capacities, in elements, of the input, weight and output (partial-sum) buffers."""

    input: int
    weight: int
    output: int

    def __post_init__(self):
        for name in OPERANDS:
            object.__setattr__(self, name, require_int(f"{name} buffer", getattr(self, name), 1))

    def capacity(self, operand: str) -> int:
        return getattr(self, operand)


@dataclass(frozen=True)
class PEArray:
    """Rows × columns of processing elements for row-stationary (Eyeriss has 12 × 14)."""

    rows: int = 12
    cols: int = 14

    def __post_init__(self):
        object.__setattr__(self, "rows", require_int("PE array rows", self.rows, 1))
        object.__setattr__(self, "cols", require_int("PE array columns", self.cols, 1))
