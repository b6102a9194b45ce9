"""Counts over the integer positions that sliding windows touch, in closed form.

A convolution along one dimension reads input positions ``o·s − p + t·d`` (output o,
kernel tap t). How many distinct positions in range are read, how many products land in
range, and how long adaptive-pooling windows are in total are all counted here without a
step per position, so that the analysis costs the same for a 28-pixel and a 10⁹-pixel
input. The rare stride/dilation pairs whose count is not O(1) are bounded by the
COUNT_WORK limit.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd

from core.common.limits import COUNT_WORK


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Σ_{i=0}^{n−1} ⌊(a·i + b) / m⌋ for n ≥ 0, m ≥ 1, a ≥ 0, b ≥ 0 (Euclid-like, O(log))."""
    total = 0
    while n > 0:
        if a >= m:
            total += (n - 1) * n // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        top = a * n + b
        if top < m:
            break
        n, b = divmod(top, m)
        m, a = a, m
    return total


def covered(size: int, start: int, count: int, step: int, length: int) -> int:
    """How many of the positions 0 … size−1 lie in the union of ``count`` windows of
    ``length`` positions starting at start, start + step, start + 2·step, …"""
    if size <= 0 or count <= 0 or length <= 0:
        return 0
    if length >= step:  # the windows touch or overlap: one interval
        low, high = max(start, 0), min(start + (count - 1) * step + length, size)
        return max(0, high - low)
    return _covered_below(size, start, count, step, length) - _covered_below(
        0, start, count, step, length)


def _covered_below(x: int, start: int, count: int, step: int, length: int) -> int:
    """Positions below x covered by disjoint windows (length < step)."""
    if x <= start:
        return 0
    started = min(count, (x - start - 1) // step + 1)  # windows that begin below x
    last = start + (started - 1) * step
    return (started - 1) * length + min(length, x - last)


@lru_cache(maxsize=4096)
def touched_inputs(n: int, k: int, s: int, p: int, d: int, out: int) -> int:
    """How many of the n input positions some window reads (the rest get no gradient):
    the distinct ``o·s − p + t·d`` in [0, n) for o < out, t < k."""
    if out <= 0 or k <= 0:
        return 0
    if d == 1 or k == 1:  # each output's taps are one run of k positions
        return covered(n, -p, out, s, k if d == 1 else 1)
    if s == 1 or out == 1:  # each tap's positions over the outputs are one run
        return covered(n, -p, k, d, out if s == 1 else 1)
    return _touched_by_classes(n, k, s, p, d, out)


def _touched_by_classes(n: int, k: int, s: int, p: int, d: int, out: int) -> int:
    """General stride and dilation. With g = gcd(s, d), a = d/g, b = s/g and L = s·a, write
    o = o1·a + o2 and t = t1·b + t2 (o2 < a, t2 < b): the value is (o1 + t1)·L + o2·s + t2·d,
    each (o2, t2) is its own residue class modulo L, and within a class o1 + t1 takes every
    value from 0 to A + B − 2, so each class is one run of multiples of L."""
    g = gcd(s, d)
    a, b = d // g, s // g
    period = s * a
    classes = min(a, out) * min(b, k)
    COUNT_WORK.check(classes, f"counting the positions a stride-{s}, dilation-{d} window "
                              f"touches")
    total = 0
    for o2 in range(min(a, out)):
        runs_o = -(-(out - o2) // a)
        for t2 in range(min(b, k)):
            runs = runs_o + -(-(k - t2) // b) - 1
            offset = o2 * s + t2 * d - p
            first = max(0, -(offset // period))  # ⌈−offset / L⌉, not below 0
            last = min(runs - 1, (n - 1 - offset) // period)
            total += max(0, last - first + 1)
    return total


def _positions_at_most(x: int, s: int, n: int) -> int:
    """#{i in [0, n): i·s ≤ x}."""
    return min(max(x // s + 1, 0), n)


def _sum_positions_at_most(c: int, d: int, s: int, n: int, k: int) -> int:
    """Σ_{t=0}^{k−1} #{i in [0, n): i·s ≤ c − t·d}, each term clamped to [0, n]."""
    if k <= 0 or n <= 0:
        return 0
    # t ≤ full: every i counts (c − t·d ≥ (n − 1)·s); t > last: none does (c − t·d < 0).
    full = min(k - 1, (c - (n - 1) * s) // d)
    last = min(k - 1, c // d)
    total = n * max(0, full + 1)
    low = max(full + 1, 0)
    if last >= low:  # middle: ⌊(c − t·d)/s⌋ + 1 with c − t·d ≥ 0; run t downwards from last
        count = last - low + 1
        total += floor_sum(count, s, d, c - d * last) + count
    return total


@lru_cache(maxsize=4096)
def transposed_coverage(n: int, k: int, s: int, p: int, d: int, out: int) -> tuple[int, int]:
    """(products landing inside the output, output positions reached) along one dimension
    of a transposed convolution: input i and tap t land on i·s − p + t·d."""
    # products with 0 ≤ i·s − p + t·d ≤ out − 1, i.e. p − t·d ≤ i·s ≤ p − t·d + out − 1
    landed = (_sum_positions_at_most(p + out - 1, d, s, n, k)
              - _sum_positions_at_most(p - 1, d, s, n, k))
    return landed, touched_inputs(out, k, s, p, d, n)


def adaptive_window_total(n: int, out: int) -> int:
    """Σ over the out windows of PyTorch's adaptive pooling of their lengths:
    Σ_i ⌈(i + 1)·n / out⌉ − ⌊i·n / out⌋."""
    return floor_sum(out, out, n, n + out - 1) - floor_sum(out, out, n, 0)
