"""Convolution / pooling configuration solver: which (kernel, stride, padding, dilation)
turn an input size into a given output size.

out = floor((in + 2·p − d·(k − 1) − 1) / s) + 1. A solution is *exact* when the division
has no remainder (the stride tiles the padded input), otherwise it relies on flooring.
Padding is at most k − 1 (more would only add windows of pure padding); kernels are at
most the input size, and the dilated kernel must fit the padded input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import product

from core.common.errors import InputError

MAX_SOLUTIONS = 5000


@dataclass(frozen=True)
class Solution1D:
    kernel: int
    stride: int
    padding: int
    dilation: int
    exact: bool


@dataclass(frozen=True)
class Solution:
    """A 2-D configuration; each field is an int when both dimensions agree."""

    kernel: int | tuple[int, int]
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    dilation: int | tuple[int, int]
    exact: bool

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def describe(self) -> str:
        def t(v):
            return f"{v[0]}×{v[1]}" if isinstance(v, tuple) else f"{v}"
        k = self.kernel if isinstance(self.kernel, tuple) else (self.kernel, self.kernel)
        return (f"{k[0]}×{k[1]} stride {t(self.stride)} padding {t(self.padding)} dilation "
                f"{t(self.dilation)} — {'exact' if self.exact else 'floored'}")


def solve_1d(n_in: int, n_out: int, kernel: int | None = None, max_dilation: int | None = None,
             exact_only: bool = False) -> list[Solution1D]:
    """Every configuration of one dimension with output ``n_out`` for input ``n_in``."""
    _check_size("input", n_in)
    _check_size("output", n_out)
    if kernel is not None:
        _check_size("kernel", kernel)
    kernels = [kernel] if kernel else range(1, n_in + 1)
    dilations = range(1, (max_dilation or n_in) + 1)
    found = []
    for k in kernels:
        for d in dilations:
            span = d * (k - 1) + 1
            if k == 1 and d > 1:
                continue  # dilation does nothing to a 1-tap kernel
            for p in range(0, k):
                padded = n_in + 2 * p
                if span > padded:
                    continue
                found.extend(_strides(padded - span, n_out, k, p, d, exact_only))
    found.sort(key=lambda s: (not s.exact, s.kernel, s.dilation, s.stride, s.padding))
    return found


def _strides(reach: int, n_out: int, k: int, p: int, d: int, exact_only: bool):
    """Strides s with floor(reach / s) + 1 == n_out."""
    target = n_out - 1
    if target == 0:
        # One window: any stride larger than the reach works; report the smallest.
        s = reach + 1
        return [Solution1D(k, s, p, d, reach % s == 0)] if not exact_only or reach == 0 else []
    results = []
    for s in range(max(1, reach // (target + 1) + 1), reach // target + 1):
        if reach // s == target:
            exact = reach % s == 0
            if exact or not exact_only:
                results.append(Solution1D(k, s, p, d, exact))
    return results


def solve(size_in: tuple[int, int], size_out: tuple[int, int], kernel=None,
          max_dilation: int | None = 1, exact_only: bool = False) -> list[Solution]:
    """2-D solutions: per-dimension solutions combined (square ones first when H = W)."""
    kernel = _pair(kernel) if kernel is not None else (None, None)
    per_dim = [solve_1d(size_in[i], size_out[i], kernel[i], max_dilation, exact_only)
               for i in (0, 1)]
    if size_in[0] == size_in[1] and size_out[0] == size_out[1] and kernel[0] == kernel[1]:
        return [Solution(s.kernel, s.stride, s.padding, s.dilation, s.exact) for s in per_dim[0]]
    solutions = []
    for a, b in product(*per_dim):
        solutions.append(Solution(_merge(a.kernel, b.kernel), _merge(a.stride, b.stride),
                                  _merge(a.padding, b.padding), _merge(a.dilation, b.dilation),
                                  a.exact and b.exact))
        if len(solutions) >= MAX_SOLUTIONS:
            break
    solutions.sort(key=lambda s: not s.exact)
    return solutions


def _merge(a: int, b: int):
    return a if a == b else (a, b)


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _check_size(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{what} size {value!r} is not allowed: use a whole number ≥ 1")


def parse_size(text: str, what: str) -> tuple[int, int]:
    """'8' → (8, 8); '8,6' → (8, 6); anything else raises InputError naming ``what``."""
    parts = [p.strip() for p in str(text).replace("×", ",").replace("x", ",").split(",")]
    try:
        values = [int(p) for p in parts if p]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        raise InputError(f"{what} {text!r} is not allowed: use H or H,W with whole numbers ≥ 1")
    return (values[0], values[-1])
