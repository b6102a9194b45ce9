"""Exact LRU buffer misses of one operand's access stream, fast enough for billion-MAC layers.

The stream is the sequence of tiles the loop nest asks for (elements in address order).
A fully associative LRU buffer of capacity B always holds the B most recently used
distinct elements. Instead of visiting every access, three exact shortcuts apply:

* fits: a sub-nest whose E distinct elements fit (|E| <= B) misses exactly the elements
  of E not resident at its start, provided the evictions it causes (resident + new - B)
  only consume residents older than the oldest resident element of E; its end state is
  E in last-use order, which follows from the loop structure. A sub-nest touching each
  of its elements once, none resident, misses each once whatever its size.
* skip-ahead: consecutive iterations of a loop whose streams are translates of each other
  (equal signatures) have equal miss counts once the buffer content is determined by the
  run itself, i.e. once the iterations since the run's second one touched >= B distinct
  elements; the buffer is then the earlier one shifted.
* repeat: an iteration that touches the same elements as the previous one (a loop the
  operand does not depend on) and fits the buffer misses nothing.

Everything else is simulated element by element (OrderedDict). The trace module's
element-level simulation is the reference; tests check the two agree on random layers.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from core.common.limits import SIMULATION_BYTES
from core.dataflow.loopnest import OperandGeometry

# Peak memory of a count per element of the operand (residency flags, marks, cache entries,
# tile coordinates), measured: 2.7 GB for a layer whose input and output hold 67 M each.
BYTES_PER_ELEMENT = 40


class LruCounter:
    """Misses and evictions of one operand's buffer over the whole nest (optionally per iteration).

    ``record_level`` R (0 <= R <= the operand's fill depth) also records misses and evictions
    per iteration of the R outermost loops, flattened row-major.
    """

    def __init__(self, geom: OperandGeometry, capacity: int, record_level: int = 0):
        if not 0 <= record_level <= geom.depth:
            raise ValueError("record_level must lie between 0 and the operand's fill depth")
        size = geom.layer.operand_size(geom.operand)
        SIMULATION_BYTES.check(size * BYTES_PER_ELEMENT + n_recorded(geom, record_level) * 16,
                               f"the LRU count of the {geom.operand} buffer ({size:,} elements)")
        self.g = geom
        self.cap = capacity
        self.record_level = record_level
        self.depth = geom.depth
        self.counts = [loop.count for loop in geom.nest.loops]
        self.cache: OrderedDict[int, None] = OrderedDict()
        # One residency flag per element: bytearray for fast scalar use, numpy view for bulk use.
        self._present_bytes = bytearray(geom.layer.operand_size(geom.operand))
        self._present = np.frombuffer(self._present_bytes, dtype=np.uint8)
        self._mark = np.zeros(len(self._present), dtype=bool)
        self.misses = 0
        self.evictions = 0
        self._resident_extra = 0  # elements counted resident without being materialised (root shortcut)
        n_rec = n_recorded(geom, record_level)
        self.rec_misses = np.zeros(n_rec, dtype=np.int64)
        self.rec_evictions = np.zeros(n_rec, dtype=np.int64)
        self._prepare_levels()

    # -- public -------------------------------------------------------------------------
    def run(self) -> LruCounter:
        self._node(0, ())
        return self

    @property
    def resident(self) -> int:
        """Elements left in the buffer at the end (outputs still to be flushed)."""
        return len(self.cache) + self._resident_extra

    # -- per-level tables ---------------------------------------------------------------
    def _prepare_levels(self) -> None:
        g = self.g
        self._runs, self._sig_id, self._factor, self._factor_sum, self._overlap_len = [], [], [], [], []
        for level in range(self.depth):
            n = self.counts[level]
            ids: dict[bytes, int] = {}
            sig_id = [ids.setdefault(g.signature(level, i), len(ids)) for i in range(n)]
            runs, start = [], 0
            for i in range(1, n + 1):
                if i == n or sig_id[i] != sig_id[start]:
                    runs.append((start, i))
                    start = i
            self._runs.append(runs)
            self._sig_id.append(sig_id)
            factor = g.loop_factor(level).tolist()
            self._factor.append(factor)
            self._factor_sum.append(sum(factor))
            self._overlap_len.append(self._overlapping_axis_len(level))
        self._shift = [g.shift(level) for level in range(self.depth)]
        self._tile_cache: dict[tuple[int, ...], np.ndarray] = {}

    def _overlapping_axis_len(self, level: int) -> int | None:
        """Length of the driven axis when the loop's tiles overlap (input halos), else None."""
        coords = self.g.loop_coords[level]
        if coords is None or sum(len(c) for c in coords) == len(np.unique(np.concatenate(coords))):
            return None
        return int(self.g.full[self.g.loop_axis[level]].max()) + 1

    def _stream_length(self, prefix: tuple[int, ...]) -> int:
        total = self.g.uncovered_size
        for level, i in enumerate(prefix):
            total *= self._factor[level][i]
        for level in range(len(prefix), self.depth):
            total *= self._factor_sum[level]
        return total

    def _tile(self, prefix: tuple[int, ...]) -> list[int]:
        """Tile addresses: the cached tile of the same signatures, shifted."""
        key = tuple(self._sig_id[level][i] for level, i in enumerate(prefix))
        base = self._tile_cache.get(key)
        offset = sum(i * self._shift[level] for level, i in enumerate(prefix))
        if base is None:
            base = self.g.tile(prefix) - offset
            self._tile_cache[key] = base
        return (base + offset).tolist()

    # -- recursion ----------------------------------------------------------------------
    def _node(self, level: int, prefix: tuple[int, ...]) -> None:
        if level == self.depth:
            self._access(self._tile(prefix), prefix)
            return
        if self._fits(level, prefix):
            return
        for start, end in self._runs[level]:
            self._run(level, prefix, start, end)

    def _run(self, level: int, prefix: tuple[int, ...], start: int, end: int) -> None:
        """Iterations start..end-1 are translates: simulate them until the rest is known, then skip."""
        g = self.g
        lens = [len(s) for s in g.axis_sets(prefix)]
        axis = g.loop_axis[level]
        if axis is not None:
            lens[axis] = 1
        other = math.prod(lens)  # elements per driven-axis coordinate (whole iteration if irrelevant)
        distinct = _DistinctCoords(g.loop_coords[level], self._overlap_len[level])  # iterations start+1 .. i-1
        last = self._iterate(level, prefix, start)
        for i in range(start + 1, end):
            if axis is None and other <= self.cap:
                # Same elements again, all resident after the first pass: no misses, no change.
                self._skip(level, prefix, i, end - i, (0, 0), 0)
                return
            if i >= start + 2 and (axis is None or distinct.count * other >= self.cap):
                # The buffer now holds only elements of this run: it repeats, shifted.
                self._skip(level, prefix, i, end - i, last, self._shift[level])
                return
            distinct.add(i)
            last = self._iterate(level, prefix, i)

    def _iterate(self, level: int, prefix: tuple[int, ...], i: int) -> tuple[int, int]:
        m0, e0 = self.misses, self.evictions
        self._node(level + 1, prefix + (i,))
        return self.misses - m0, self.evictions - e0

    def _skip(self, level, prefix, i, count, stats, shift) -> None:
        """Account ``count`` iterations from ``i`` on, each equal to ``stats``, and shift the buffer."""
        misses, evictions = stats
        self.misses += count * misses
        self.evictions += count * evictions
        if level < self.record_level:
            block = math.prod(self.counts[level + 1:self.record_level])
            base = self._flat(prefix + (i,)) * block
            if misses or evictions:
                src_m = self.rec_misses[base - block:base]
                src_e = self.rec_evictions[base - block:base]
                self.rec_misses[base:base + count * block] = np.tile(src_m, count)
                self.rec_evictions[base:base + count * block] = np.tile(src_e, count)
        else:
            idx = self._flat(prefix[: self.record_level])
            self.rec_misses[idx] += count * misses
            self.rec_evictions[idx] += count * evictions
        if shift and count:
            self._translate(count * shift)

    def _flat(self, prefix: tuple[int, ...]) -> int:
        idx = 0
        for level, i in enumerate(prefix):
            idx = idx * self.counts[level] + i
        return idx

    def _translate(self, delta: int) -> None:
        keys = np.fromiter(self.cache.keys(), dtype=np.int64, count=len(self.cache))
        self._present[keys] = 0
        keys += delta
        self._present[keys] = 1
        self.cache = OrderedDict.fromkeys(keys.tolist())

    # -- the "fits" shortcut ------------------------------------------------------------
    def _fits(self, level: int, prefix: tuple[int, ...]) -> bool:
        g = self.g
        sets = g.axis_sets(prefix)
        size = math.prod(len(s) for s in sets)
        stream = self._stream_length(prefix)
        once_each = stream == size
        if size > self.cap and not once_each:
            return False
        # Cheap refusals first: a resident corner element means residents are involved.
        lo = sum(int(s[0]) * st for s, st in zip(sets, g.strides) if len(s))
        hi = sum(int(s[-1]) * st for s, st in zip(sets, g.strides) if len(s))
        corner_resident = size and (self._present[lo] or self._present[hi])
        if corner_resident and (size > self.cap or 16 * stream < len(self.cache)):
            return False
        coords = [grid.ravel() for grid in np.meshgrid(*sets, indexing="ij")]
        addr = sum(c * st for c, st in zip(coords, g.strides)) if sets else np.zeros(0, dtype=np.int64)
        resident = self._present[addr].astype(bool)
        n_resident = int(np.count_nonzero(resident))
        if n_resident and size > self.cap:
            return False
        before = len(self.cache)
        new = size - n_resident
        evict = max(0, before + new - self.cap)
        if n_resident and evict:
            if 16 * stream < before:
                return False  # checking the order would cost more than simulating
            # Evictions must only take residents older than E's oldest resident element.
            self._mark[addr] = True
            keys = np.fromiter(self.cache.keys(), dtype=np.int64, count=before)
            older = int(np.argmax(self._mark[keys]))
            self._mark[addr] = False
            if evict > older:
                return False
        self._apply_fits(level, prefix, coords, addr, resident, before, evict)
        return True

    def _apply_fits(self, level, prefix, coords, addr, resident, before, evict) -> None:
        size = len(addr)
        new = size - int(np.count_nonzero(resident))
        self.misses += new
        self.evictions += evict
        self._record_fits(level, prefix, coords, addr, resident, before)
        if level == 0 and before == 0:
            # Nothing follows the root: count what stays without building the buffer.
            self._resident_extra = min(size, self.cap)
            return
        last = self._tile_keys(level, coords, which=1)
        order = np.lexsort([addr] + last[::-1])
        keep = addr[order[max(0, size - self.cap):]]  # with size > cap the earliest newcomers are gone too
        if 4 * size < before:
            self._update_in_place(keep, min(evict, before))
            return
        # Rebuild: residents outside E minus the oldest evicted, then E in last-use order.
        old = np.fromiter(self.cache.keys(), dtype=np.int64, count=before)
        self._mark[addr] = True
        old = old[~self._mark[old]]
        self._mark[addr] = False
        gone = old[: min(evict, before)]
        self._present[gone] = 0
        self._present[keep] = 1
        self.cache = OrderedDict.fromkeys(old[len(gone):].tolist() + keep.tolist())

    def _update_in_place(self, keep: np.ndarray, evict_old: int) -> None:
        cache, present = self.cache, self._present_bytes
        for _ in range(evict_old):
            old, _ = cache.popitem(last=False)
            present[old] = 0
        for a in keep.tolist():
            if a in cache:
                cache.move_to_end(a)
            else:
                cache[a] = None
        self._present[keep] = 1

    def _tile_keys(self, level: int, coords: list[np.ndarray], which: int) -> list[np.ndarray]:
        """Per loop from ``level``: first (which=0) or last (which=1) tile index holding each element."""
        g = self.g
        keys = []
        for m in range(level, self.depth):
            axis = g.loop_axis[m]
            if axis is None:
                fill = 0 if which == 0 else self.counts[m] - 1
                keys.append(np.full(len(coords[0]), fill, dtype=np.int64))
            else:
                keys.append(g.tile_index_bounds[m][which][coords[axis]])
        return keys

    def _record_fits(self, level, prefix, coords, addr, resident, before) -> None:
        new_mask = ~resident
        new = int(np.count_nonzero(new_mask))
        if level >= self.record_level:
            idx = self._flat(prefix[: self.record_level])
            self.rec_misses[idx] += new
            self.rec_evictions[idx] += max(0, before + new - self.cap)
            return
        first = self._tile_keys(level, coords, which=0)
        sub = np.zeros(len(addr), dtype=np.int64)
        for m, key in zip(range(level, self.record_level), first):
            sub = sub * self.counts[m] + key
        block = math.prod(self.counts[level:self.record_level])
        base = self._flat(prefix) * block
        self.rec_misses[base:base + block] += np.bincount(sub[new_mask], minlength=block)
        # Misses happen at first uses of new elements; the k-th evicts once the buffer is full.
        order = np.lexsort([addr] + first[::-1])
        order = order[new_mask[order]]
        evicting = np.arange(1, new + 1) + before > self.cap
        self.rec_evictions[base:base + block] += np.bincount(sub[order][evicting], minlength=block)

    # -- element-level simulation -------------------------------------------------------
    def _access(self, addresses: list[int], prefix: tuple[int, ...]) -> None:
        cache, present, cap = self.cache, self._present_bytes, self.cap
        misses = evictions = 0
        for a in addresses:
            if present[a]:
                cache.move_to_end(a)
                continue
            misses += 1
            cache[a] = None
            present[a] = 1
            if len(cache) > cap:
                old, _ = cache.popitem(last=False)
                present[old] = 0
                evictions += 1
        self.misses += misses
        self.evictions += evictions
        idx = self._flat(prefix[: self.record_level]) if self.record_level else 0
        self.rec_misses[idx] += misses
        self.rec_evictions[idx] += evictions


class _DistinctCoords:
    """Distinct coordinates of a loop's driven axis over the iterations added so far."""

    def __init__(self, coords: list[np.ndarray] | None, axis_len: int | None):
        self.coords = coords
        self.count = 0
        # Overlapping tiles (input halos) need a mask; disjoint ones just add up.
        self._seen = None if axis_len is None else np.zeros(axis_len, dtype=bool)

    def add(self, i: int) -> None:
        if self.coords is None:
            return
        c = self.coords[i]
        if self._seen is None:  # disjoint tiles
            self.count += len(c)
        else:
            self.count += int(np.count_nonzero(~self._seen[c]))
            self._seen[c] = True


def n_recorded(geom: OperandGeometry, record_level: int) -> int:
    """How many iterations a count recording at ``record_level`` keeps figures for."""
    return math.prod(loop.count for loop in geom.nest.loops[:record_level])


def lru_misses(geom: OperandGeometry, capacity: int) -> tuple[int, int, int]:
    """(misses, evictions, resident at the end) of one operand's buffer under LRU."""
    counter = LruCounter(geom, capacity).run()
    return counter.misses, counter.evictions, counter.resident
