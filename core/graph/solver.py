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
from math import gcd

from core.common.errors import InputError
from core.common.limits import SOLVER_WORK

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
    """The configurations of one dimension with output ``n_out`` for input ``n_in``, exact
    ones first, then by kernel, dilation, stride and padding; at most MAX_SOLUTIONS of them.
    The search stops once it has that many, and refuses (LimitError) a space that would
    take more than the SOLVER_WORK limit to search."""
    _check_size("input", n_in)
    _check_size("output", n_out)
    if kernel is not None:
        _check_size("kernel", kernel)
    if max_dilation is not None:
        _check_size("maximum dilation", max_dilation)
    budget = _Budget(n_in, n_out)
    found = list(_search(n_in, n_out, kernel, max_dilation or n_in, exact=True, budget=budget))
    if not exact_only and len(found) < MAX_SOLUTIONS:
        found += _search(n_in, n_out, kernel, max_dilation or n_in, exact=False, budget=budget,
                         wanted=MAX_SOLUTIONS - len(found))
    return found[:MAX_SOLUTIONS]


class _Budget:
    """Counts the (kernel, dilation, padding) candidates tried against SOLVER_WORK."""

    def __init__(self, n_in: int, n_out: int):
        self.used, self.subject = 0, f"solving {n_in} → {n_out}"

    def spend(self, amount: int) -> None:
        self.used += amount
        if self.used > SOLVER_WORK.value:
            SOLVER_WORK.check(self.used, f"{self.subject} (give --kernel or a smaller "
                                         f"--max-dilation to narrow the search)")


def _search(n_in: int, n_out: int, kernel: int | None, max_dilation: int, exact: bool,
            budget: _Budget, wanted: int = MAX_SOLUTIONS) -> list[Solution1D]:
    """Solutions of one kind (exact or floored) in (kernel, dilation, stride, padding)
    order, stopping at ``wanted``."""
    found: list[Solution1D] = []
    for k in ([kernel] if kernel else range(1, n_in + 1)):
        for d in range(1, (1 if k == 1 else max_dilation) + 1):  # 1 tap: dilation is moot
            span = d * (k - 1) + 1
            if span > n_in + 2 * (k - 1):
                break  # larger dilations only widen the span further
            budget.spend(1)
            group = (_exact_group(n_in, n_out, k, d, span) if exact
                     else _floored_group(n_in, n_out, k, d, span, budget))
            found += group[:wanted - len(found)]
            if len(found) >= wanted:
                return found
    return found


def _exact_group(n_in: int, n_out: int, k: int, d: int, span: int) -> list[Solution1D]:
    """Exact solutions for one kernel and dilation, by padding (and so by stride): the
    reach n + 2p − span must be a multiple of n_out − 1 (zero for one window), solved as a
    congruence in p rather than by trying every padding."""
    target = n_out - 1
    if target == 0:
        twice = span - n_in
        return [Solution1D(k, 1, twice // 2, d, True)] if twice % 2 == 0 and \
            0 <= twice // 2 < k else []
    first = max(0, -(-(span + target - n_in) // 2))  # reach ≥ target
    g = gcd(2, target)
    if (span - n_in) % g:
        return []
    step = target // g
    residue = ((span - n_in) // g) * pow(2 // g, -1, step) % step if step > 1 else 0
    start = first + (residue - first) % step
    return [Solution1D(k, (n_in + 2 * p - span) // target, p, d, True)
            for p in range(start, k, step)]


def _floored_group(n_in: int, n_out: int, k: int, d: int, span: int,
                   budget: _Budget) -> list[Solution1D]:
    """Floored (not exact) solutions for one kernel and dilation, by stride and padding."""
    paddings = range(max(0, -(-(span - n_in) // 2)), k)  # the span must fit
    budget.spend(len(paddings))
    group = [sol for p in paddings for sol in _strides(n_in + 2 * p - span, n_out, k, p, d)]
    group.sort(key=lambda sol: (sol.stride, sol.padding))
    return group


def _strides(reach: int, n_out: int, k: int, p: int, d: int) -> list[Solution1D]:
    """Strides s with floor(reach / s) + 1 == n_out that do not divide the reach."""
    target = n_out - 1
    if target == 0:
        # One window: any stride larger than the reach works; report the smallest.
        return [Solution1D(k, reach + 1, p, d, False)] if reach > 0 else []
    return [Solution1D(k, s, p, d, False)
            for s in range(max(1, reach // (target + 1) + 1), reach // target + 1)
            if reach // s == target and reach % s]


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
