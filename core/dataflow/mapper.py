"""The mapper: searches loop orders × tile factorisations × spatial unrollings of one layer on a
hierarchy, under a dataflow's constraint or none, for the fewest memory accesses, the least
energy or the fewest cycles; keeps the energy–cycles Pareto front.

Exhaustive when the space is small (every order of every level, every factorisation, every
unrolling, every register bypass); otherwise pruned (see SEARCH_ASSUMPTIONS). Long searches
run as a generator (search_steps) that yields SearchProgress and ends with a SearchResult,
checking a stop callback between evaluations.
"""

from __future__ import annotations

import itertools
import math
import time
from functools import lru_cache
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from core.common.errors import InputError
from core.dataflow.dataflows import check_dataflow
from core.dataflow.hierarchy import BUFFER, REGISTERS, Hierarchy
from core.dataflow.layer import OPERANDS, ConvLayer
from core.dataflow.mapping import LOOP_DIMS, MapLevel, MapLoop, Mapping, dim_extents
from core.dataflow.mapping_eval import MappingCost, evaluate, is_valid
from core.dataflow.mapping_tiles import largest_tile

OBJECTIVES = ("accesses", "energy", "cycles")
EXHAUSTIVE_LIMIT = 20_000      # mappings: at most this many → every one is evaluated
EVALUATION_BUDGET = 6_000      # pruned search: evaluations before refinement (about a second)
SPATIAL_CANDIDATES = 64        # pruned search: unrollings tried at most, most PEs used first
PROGRESS_SECONDS = 0.1

SEARCH_ASSUMPTIONS = (
    "The mapper searches loop orders × tile factorisations × spatial unrollings (at most two loops "
    "per PE-array axis, over different dimensions) and, with registers, which operands bypass them; "
    "the buffer and memory hold every operand. Mappings whose tiles overflow are skipped before "
    "their orders are enumerated.",
    "Exhaustive when the space (every order of every level's loops, every factorisation, every "
    "unrolling) has at most 20,000 mappings: the best is the true minimum.",
    "Pruned otherwise: loops that every operand treats alike (f; c, r, s; n, y, x) keep a fixed order "
    "among themselves, only the orders of these groups are tried (reuse depends only on which loops "
    "an operand does not depend on lie inside the ones it does), and the innermost level's order is "
    "fixed (the MACs keep nothing, so it changes no count); only factorisations whose tiles cannot "
    "grow by one prime factor without overflowing are kept; unrollings using the most PEs are tried "
    "first. The best mapping found is then improved by local moves (swapping adjacent loops, moving "
    "a prime factor between adjacent levels) until none helps. The space size reported is the full "
    "space's.",
    "Objectives: memory accesses (DRAM reads + writes), energy, or cycles; ties are broken by the "
    "other two. The Pareto front holds the evaluated mappings no other beats on both energy and "
    "cycles.",
)

_DIM_INDEX = {d: i for i, d in enumerate(LOOP_DIMS)}
_GROUPS = (("f",), ("c", "r", "s"), ("n", "y", "x"))  # dims every operand treats alike


@dataclass(frozen=True)
class SearchProgress:
    evaluated: int
    total: int | None
    best: float | None


@dataclass(frozen=True)
class SearchResult:
    best: Mapping
    cost: MappingCost
    pareto: tuple[tuple[Mapping, MappingCost], ...]
    evaluated: int
    space_size: int | None
    objective: str
    seconds: float
    exhaustive: bool = False
    stopped: bool = False
    dataflow: str | None = None

    def to_dict(self) -> dict:
        return {
            "objective": self.objective, "dataflow": self.dataflow, "evaluated": self.evaluated,
            "space_size": self.space_size, "exhaustive": self.exhaustive, "stopped": self.stopped,
            "seconds": self.seconds, "mapping": self.best.to_dict(), "cost": self.cost.to_dict(),
            "pareto": [{"mapping": m.to_dict(), "energy": c.energy.total, "cycles": c.cycles}
                       for m, c in self.pareto],
        }


def check_objective(objective: str) -> str:
    if objective not in OBJECTIVES:
        raise InputError(f"objective: {objective!r} is not known (allowed: {', '.join(OBJECTIVES)})")
    return objective


def objective_key(cost: MappingCost, objective: str) -> tuple:
    """Sort key: the objective first, then the other two."""
    energy, cycles, accesses = cost.energy.total, cost.cycles, cost.memory_accesses
    if objective == "accesses":
        return (accesses, energy, cycles)
    if objective == "cycles":
        return (cycles, energy, accesses)
    return (energy, cycles, accesses)


# -- the space ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Space:
    layer: ConvLayer
    hierarchy: Hierarchy
    levels: tuple[str, ...]
    extents: dict[str, int]
    fit_cache: dict = field(default_factory=dict, compare=False, hash=False)  # (level, inner, bypass) → fits

    @property
    def buffer(self) -> int:
        return self.levels.index(BUFFER)


@lru_cache(maxsize=4096)
def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@lru_cache(maxsize=4096)
def _splits(n: int, parts: int) -> list[tuple[int, ...]]:
    """Ordered factorisations of n into ``parts`` factors."""
    if parts == 1:
        return [(n,)]
    return [(d,) + rest for d in _divisors(n) for rest in _splits(n // d, parts - 1)]


def _axis_options(space: _Space, limit: int, exhaustive: bool) -> list[tuple[tuple[str, int], ...]]:
    """Loops one PE-array axis can unroll: none, one dim, or two dims (factor product ≤ limit)."""
    dims = [d for d in LOOP_DIMS if space.extents[d] > 1]
    singles = []
    for d in dims:
        options = [f for f in _divisors(space.extents[d]) if 1 < f <= limit]
        singles.append([(d, f) for f in (options if exhaustive else options[-1:])])
    out: list[tuple[tuple[str, int], ...]] = [()]
    for group in singles:
        out.extend((loop,) for loop in group)
    for a, b in itertools.combinations(range(len(dims)), 2):
        for la in singles[a]:
            for lb in singles[b]:
                if la[1] * lb[1] <= limit:
                    out.append((la, lb))
        if not exhaustive:  # the largest first factor, the second filling what is left
            for first, second in ((a, b), (b, a)):
                if not singles[first]:
                    continue
                d1, f1 = singles[first][-1]
                d2 = dims[second]
                fill = [f for f in _divisors(space.extents[d2]) if 1 < f <= limit // f1]
                if fill:
                    pair = tuple(sorted(((d1, f1), (d2, fill[-1])), key=lambda l: LOOP_DIMS.index(l[0])))
                    if pair not in out:
                        out.append(pair)
    return out


def spatial_choices(space: _Space, exhaustive: bool) -> list[tuple[tuple[str, int, str], ...]]:
    """Unrollings over rows and cols (different dims on the two axes), most PEs used first."""
    pe = space.hierarchy.pe
    out = []
    for rows in _axis_options(space, pe.rows, exhaustive):
        for cols in _axis_options(space, pe.cols, exhaustive):
            used = {d for d, _ in rows} | {d for d, _ in cols}
            if len(used) != len(rows) + len(cols):
                continue
            out.append(tuple((d, f, "rows") for d, f in rows) + tuple((d, f, "cols") for d, f in cols))
    out.sort(key=lambda s: -math.prod(f for _, f, _ in s))
    return out


def _bypass_choices(space: _Space) -> list[frozenset[str]]:
    if REGISTERS not in space.levels:
        return [frozenset()]
    return [frozenset(c) for k in range(len(OPERANDS) + 1) for c in itertools.combinations(OPERANDS, k)]


def _spatial_extent(spatial, dim: str) -> int:
    return math.prod(f for d, f, _ in spatial if d == dim)


def _fits(space: _Space, spatial, split, bypass, level: int) -> bool:
    """Whether every stored operand's tile at ``level`` fits (split: per level, dim → factor)."""
    inner = []
    for d in LOOP_DIMS:
        value = 1
        for j in range(level, len(split)):
            value *= split[j][d]
        inner.append(value)
    if level <= space.buffer:
        for d, f, _axis in spatial:
            inner[_DIM_INDEX[d]] *= f
    name = space.levels[level]
    key = (name, tuple(inner), bypass if name == REGISTERS else frozenset())
    fits = space.fit_cache.get(key)
    if fits is None:
        extents = dict(zip(LOOP_DIMS, inner))
        fits = all(largest_tile(space.layer, op, extents) <= space.hierarchy.capacity(name, op)
                   for op in OPERANDS if op not in key[2])
        space.fit_cache[key] = fits
    return fits


def _all_fit(space: _Space, spatial, split, bypass) -> bool:
    return all(_fits(space, spatial, split, bypass, i) for i in range(1, len(space.levels)))


def factorisations(space: _Space, spatial, bypass) -> Iterator[tuple[dict[str, int], ...]]:
    """Every temporal factorisation (per level: dim → factor) whose tiles fit, overflowing branches
    cut as soon as a partial assignment overflows (tiles only grow with more factors inside)."""
    levels = len(space.levels)
    dims = list(LOOP_DIMS)

    def extend(k: int, split: list[dict[str, int]]):
        if k == len(dims):
            yield tuple(dict(s) for s in split)
            return
        d = dims[k]
        for parts in _splits(space.extents[d] // _spatial_extent(spatial, d), levels):
            for i, p in enumerate(parts):
                split[i][d] = p
            if _all_fit(space, spatial, split, bypass):
                yield from extend(k + 1, split)
        for i in range(levels):
            split[i][d] = 1

    yield from extend(0, [dict.fromkeys(dims, 1) for _ in range(levels)])


def _grows(space: _Space, spatial, split, bypass) -> Iterator[tuple[dict[str, int], ...]]:
    """Splits with one prime factor of one dim moved one level inwards."""
    for level in range(1, len(space.levels)):
        for d in LOOP_DIMS:
            above = split[level - 1][d]
            for p in _primes(above):
                grown = [dict(s) for s in split]
                grown[level - 1][d] = above // p
                grown[level][d] *= p
                yield tuple(grown)


def _is_maximal(space: _Space, spatial, split, bypass) -> bool:
    return not any(_all_fit(space, spatial, g, bypass) for g in _grows(space, spatial, split, bypass))


def _primes(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        if n % p == 0:
            out.append(p)
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


def _group_orders(dims: list[str]) -> list[tuple[str, ...]]:
    groups = [[d for d in g if d in dims] for g in _GROUPS]
    groups = [g for g in groups if g]
    return [tuple(d for g in perm for d in g) for perm in itertools.permutations(groups)]


def _orders(space: _Space, split, exhaustive: bool) -> Iterator[tuple[tuple[str, ...], ...]]:
    """Loop orders of every level (outermost first) over its loops of factor > 1."""
    per_level = []
    last = len(space.levels) - 1
    for i, factors in enumerate(split):
        dims = [d for d in LOOP_DIMS if factors[d] > 1]
        if exhaustive:
            per_level.append(list(itertools.permutations(dims)))
        elif i == last:
            per_level.append([tuple(dims)])
        else:
            per_level.append(_group_orders(dims))
    return itertools.product(*per_level)


def build_mapping(space: _Space, spatial, split, orders, bypass, name: str = "") -> Mapping:
    levels = []
    for i, level in enumerate(space.levels):
        loops = tuple(MapLoop(d, split[i][d]) for d in orders[i])
        if i == space.buffer:
            loops += tuple(MapLoop(d, f, axis) for d, f, axis in spatial)
        levels.append(MapLevel(level, loops, bypass if level == REGISTERS else frozenset()))
    return Mapping(tuple(levels), name)


def space_size(layer: ConvLayer, hierarchy: Hierarchy) -> int:
    """Mappings in the full space (valid or not): unrollings × factorisations × every order of
    every level × register bypasses, counted level by level without enumerating them."""
    return _space_size(layer, hierarchy.level_names, hierarchy.pe.rows, hierarchy.pe.cols)


@lru_cache(maxsize=256)
def _space_size(layer: ConvLayer, levels: tuple[str, ...], rows: int, cols: int, limit: int | None = None) -> int | None:
    """The size, or None as soon as it exceeds ``limit`` (a quick "is it small?")."""
    from core.dataflow.layer import Buffers, PEArray
    hierarchy = Hierarchy(Buffers(1, 1, 1), PEArray(rows, cols), Buffers(1, 1, 1) if REGISTERS in levels else None)
    space = _make_space(layer, hierarchy)
    bypasses = len(_bypass_choices(space))
    total = 0
    for spatial in spatial_choices(space, exhaustive=True):
        remaining = tuple(space.extents[d] // _spatial_extent(spatial, d) for d in LOOP_DIMS)
        total += _ordered_count(remaining, len(space.levels))
        if limit is not None and total * bypasses > limit:
            return None
    return total * bypasses


def _small_space(layer: ConvLayer, hierarchy: Hierarchy) -> bool:
    levels, pe = hierarchy.level_names, hierarchy.pe
    return _space_size(layer, levels, pe.rows, pe.cols, EXHAUSTIVE_LIMIT) is not None


@lru_cache(maxsize=4096)
def _ordered_count(remaining: tuple[int, ...], levels: int) -> int:
    """Σ over factorisations of ``remaining`` into ``levels`` parts of Π_level (loops of factor > 1)!."""
    ways: dict[tuple[int, ...], int] = {(0,) * levels: 1}  # loops of factor > 1 per level → count
    for extent in remaining:
        patterns = _split_patterns(extent, levels)
        nxt: dict[tuple[int, ...], int] = {}
        for state, count in ways.items():
            for pattern, n in patterns.items():
                key = tuple(s + p for s, p in zip(state, pattern))
                nxt[key] = nxt.get(key, 0) + count * n
        ways = nxt
    return sum(count * math.prod(math.factorial(k) for k in state) for state, count in ways.items())


@lru_cache(maxsize=4096)
def _split_patterns(extent: int, levels: int) -> dict[tuple[int, ...], int]:
    """How many factorisations of ``extent`` put a factor > 1 at each pattern of levels."""
    out: dict[tuple[int, ...], int] = {}
    for parts in _splits(extent, levels):
        key = tuple(int(p > 1) for p in parts)
        out[key] = out.get(key, 0) + 1
    return out


def _make_space(layer: ConvLayer, hierarchy: Hierarchy) -> _Space:
    return _Space(layer, hierarchy, hierarchy.level_names, dim_extents(layer))


# -- the search -----------------------------------------------------------------------------
@dataclass
class _State:
    objective: str
    dataflow: str | None
    layer: ConvLayer
    hierarchy: Hierarchy
    stop: Callable[[], bool]
    best_key: tuple | None = None
    best: tuple[Mapping, MappingCost] | None = None
    pareto: list[tuple[Mapping, MappingCost]] = field(default_factory=list)
    evaluated: int = 0
    seen: set = field(default_factory=set)
    stopped: bool = False
    last_report: float = field(default_factory=time.perf_counter)

    def offer(self, mapping: Mapping) -> MappingCost | None:
        """Evaluate a (valid) mapping that the dataflow allows; keep it if it is best or on the front."""
        if self.dataflow is not None:
            from core.dataflow.textbook import dataflow_allows
            if not dataflow_allows(self.dataflow, mapping):
                return None
        cost = evaluate(mapping, self.layer, self.hierarchy, checked=False)
        self.evaluated += 1
        key = objective_key(cost, self.objective)
        if self.best_key is None or key < self.best_key:
            self.best_key, self.best = key, (mapping, cost)
        self._front(mapping, cost)
        return cost

    def _front(self, mapping: Mapping, cost: MappingCost) -> None:
        e, c = cost.energy.total, cost.cycles
        for _m, other in self.pareto:
            if other.energy.total <= e and other.cycles <= c:
                return
        self.pareto = [(m, o) for m, o in self.pareto if not (e <= o.energy.total and c <= o.cycles)]
        self.pareto.append((mapping, cost))

    def progress_due(self) -> bool:
        now = time.perf_counter()
        if now - self.last_report >= PROGRESS_SECONDS:
            self.last_report = now
            return True
        return False

    def best_value(self) -> float | None:
        return None if self.best_key is None else float(self.best_key[0])


def search_steps(layer: ConvLayer, hierarchy: Hierarchy, dataflow: str | None = None,
                 objective: str = "energy", stop: Callable[[], bool] = lambda: False,
                 exhaustive: bool | None = None) -> Iterator[SearchProgress | SearchResult]:
    """Yield SearchProgress about every 0.1 s and end with the SearchResult; ``exhaustive``
    None decides by the space size. Raises InputError when no mapping fits (or none the
    dataflow allows); a stop before any mapping was found raises too."""
    check_objective(objective)
    if dataflow is not None:
        check_dataflow(dataflow)
    start = time.perf_counter()
    space = _make_space(layer, hierarchy)
    if exhaustive is None:
        exhaustive = _small_space(layer, hierarchy)
    state = _State(objective, dataflow, layer, hierarchy, stop)
    total = space_size(layer, hierarchy) if exhaustive else None
    walk = _exhaustive(space, state) if exhaustive else _pruned(space, state)
    if _tick(state):
        walk = iter(())
    for _ in walk:
        if state.stopped:
            break
        if state.progress_due():
            yield SearchProgress(state.evaluated, total, state.best_value())
    if state.best is None:
        raise InputError(_nothing_found(layer, hierarchy, dataflow, state.stopped))
    best, cost = state.best
    label = f"best ({objective}{', ' + dataflow if dataflow else ''})"
    pareto = tuple(sorted(state.pareto, key=lambda mc: (mc[1].cycles, mc[1].energy.total)))
    size = total if total is not None else (None if state.stopped else space_size(layer, hierarchy))
    yield SearchResult(best.with_name(label), cost, pareto, state.evaluated, size, objective,
                       time.perf_counter() - start, exhaustive, state.stopped, dataflow)


def search(layer: ConvLayer, hierarchy: Hierarchy, dataflow: str | None = None,
           objective: str = "energy", exhaustive: bool | None = None) -> SearchResult:
    """Run search_steps to the end and return its SearchResult."""
    result = None
    for item in search_steps(layer, hierarchy, dataflow, objective, exhaustive=exhaustive):
        result = item
    return result


def _nothing_found(layer, hierarchy, dataflow, stopped) -> str:
    if stopped:
        return "search stopped before any valid mapping was found"
    where = f" that {dataflow} allows" if dataflow else ""
    return (f"no mapping{where} fits these buffers for {layer.describe()}: buffers (input, weight, "
            f"output) {hierarchy.buffers.input}, {hierarchy.buffers.weight}, {hierarchy.buffers.output} "
            f"elements; enlarge the buffers")


def _tick(state: _State) -> bool:
    """Check the stop callback; True when the search must end."""
    if state.stop():
        state.stopped = True
    return state.stopped


def _exhaustive(space: _Space, state: _State) -> Iterator[None]:
    for bypass in _bypass_choices(space):
        for spatial in spatial_choices(space, exhaustive=True):
            for split in factorisations(space, spatial, bypass):
                for orders in _orders(space, split, exhaustive=True):
                    state.offer(build_mapping(space, spatial, split, orders, bypass))
                    if _tick(state):
                        return
                    yield


def _pruned(space: _Space, state: _State) -> Iterator[None]:
    spatials = spatial_choices(space, exhaustive=False)
    if state.dataflow is not None:  # keep unrollings the dataflow allows (rs constrains them)
        spatials = [s for s in spatials if _spatial_allowed(space, s, state.dataflow)]
    for bypass in _bypass_choices(space):
        for spatial in spatials[:SPATIAL_CANDIDATES]:
            maximal = []
            for k, split in enumerate(factorisations(space, spatial, bypass)):
                if _is_maximal(space, spatial, split, bypass):
                    maximal.append(split)
                if k % 64 == 63:  # enumerating can take a while: stay stoppable and report
                    if _tick(state):
                        return
                    yield
            for split in maximal:
                for orders in _orders(space, split, exhaustive=False):
                    state.offer(build_mapping(space, spatial, split, orders, bypass))
                    if _tick(state):
                        return
                    yield
                if state.evaluated >= EVALUATION_BUDGET:
                    break
            if state.evaluated >= EVALUATION_BUDGET:
                break
    _textbook_seed(space, state)
    yield from _refine(space, state)


def _spatial_allowed(space: _Space, spatial, dataflow: str) -> bool:
    if dataflow != "rs":
        return True
    from core.dataflow.textbook import dataflow_allows
    probe = build_mapping(space, spatial, tuple(dict.fromkeys(LOOP_DIMS, 1) for _ in space.levels),
                          tuple(() for _ in space.levels), frozenset())
    return dataflow_allows(dataflow, probe)


def _textbook_seed(space: _Space, state: _State) -> None:
    """Offer the dataflow's textbook mapping too (so the best is never worse than it)."""
    if state.dataflow is None:
        return []
    from core.dataflow.textbook import textbook_mapping
    try:
        mapping = textbook_mapping(state.dataflow, space.layer, space.hierarchy)
    except InputError:
        return
    if is_valid(mapping, space.layer, space.hierarchy):
        state.offer(mapping)


def _refine(space: _Space, state: _State) -> Iterator[None]:
    """Local moves from the best mapping until none improves it."""
    improved = True
    while improved and state.best is not None and not state.stopped:
        improved = False
        current = state.best_key
        for neighbour in _neighbours(space, state.best[0]):
            key = _mapping_key(neighbour)
            if key in state.seen:
                continue
            state.seen.add(key)
            if not is_valid(neighbour, space.layer, space.hierarchy):
                continue
            state.offer(neighbour)
            if _tick(state):
                return
            yield
        improved = state.best_key < current


def _mapping_key(mapping: Mapping) -> tuple:
    return tuple((level.name, tuple((l.dim, l.factor, l.spatial) for l in level.loops), tuple(sorted(level.bypass)))
                 for level in mapping.levels)


def _neighbours(space: _Space, mapping: Mapping) -> Iterator[Mapping]:
    levels = list(mapping.levels)
    # swap two adjacent temporal loops of a level
    for i, level in enumerate(levels):
        temporal, spatial = list(level.temporal), list(level.spatial)
        for k in range(len(temporal) - 1):
            swapped = temporal[:]
            swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
            yield _replace(levels, i, MapLevel(level.name, tuple(swapped + spatial), level.bypass))
    # move a prime factor of a dim between adjacent levels (temporal loops)
    for i in range(len(levels) - 1):
        for src, dst in ((i, i + 1), (i + 1, i)):
            for loop in levels[src].temporal:
                for p in _primes(loop.factor):
                    moved = _move_factor(levels, src, dst, loop.dim, p)
                    if moved is not None:
                        yield moved


def _replace(levels, index, level) -> Mapping:
    out = list(levels)
    out[index] = level
    return Mapping(tuple(out))


def _move_factor(levels, src, dst, dim, p) -> Mapping | None:
    def scaled(level, scale_up: bool):
        temporal = list(level.temporal)
        for k, loop in enumerate(temporal):
            if loop.dim == dim:
                factor = loop.factor * p if scale_up else loop.factor // p
                temporal[k] = MapLoop(dim, factor)
                break
        else:
            if not scale_up:
                return None
            temporal.append(MapLoop(dim, p))
        temporal = [l for l in temporal if l.factor > 1]
        return MapLevel(level.name, tuple(temporal) + level.spatial, level.bypass)

    shrunk = scaled(levels[src], False)
    grown = scaled(levels[dst], True)
    if shrunk is None or grown is None:
        return None
    out = list(levels)
    out[src], out[dst] = shrunk, grown
    return Mapping(tuple(out))
