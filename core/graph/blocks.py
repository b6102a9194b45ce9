"""Repeated blocks of a Network (a ResNet basic block, a BERT encoder layer), found so that
the canvas and the analysis table can fold each run of them into one ×N entry.

The rule, in full (the canvas and the table show it as a tooltip, ``RULE``):

1. The graph is cut into *segments* along its main path. Walking a topological order
   (``demand_order``: each node as late as its first reader needs it), node ``v`` is a
   cut when every edge from the nodes up to ``v`` to the nodes after it (inputs and
   parameter references such as a paired pool alike; an Input's ``like``, a borrowed
   shape, is no edge) leaves from ``v`` itself. A segment is the nodes after one cut up
   to and including the next: one way in (the previous cut) and one way out (its last
   node). A residual block is one segment up to its Add; the ReLU after the Add is a
   segment of its own. A block that reads a tensor from outside itself besides its
   entry (a decoder layer's cross-attention reads the encoder's output) is no segment,
   so such blocks are not folded.
2. Each segment gets a canonical key: every node is keyed by its layer type, its
   parameters, its input and output shapes, and the keys of its inputs in order (the
   segment's entry counts as "the entry", wherever it is). Two segments are *identical*
   when their keys are equal: same layers, same hyper-parameters, same internal wiring and
   same tensor sizes, hence the same per-block figures. Node names do not count.
3. A *fold* is a maximal run of ≥ 2 consecutive identical windows of segments (a window
   of p segments: p = 2 for a ResNet block and its ReLU, 4 for a BERT layer). Scanning
   left to right, at each position the window that covers the most segments wins; among
   windows covering as many, the shorter period (more repeats), then the phase whose first
   segment holds a layer with weights (a block starts at a conv, not at the previous
   ReLU), then the earlier one. Folds never overlap and never nest.

"Same structure, different sizes" is not folded: the first block of a ResNet stage
(strided, with its projection shortcut) stays on its own, because a ×N entry promises N
equal copies and its figures would lie otherwise. Aggregated figures are sums over the
member nodes of the existing analysis (``fold_figures``); folding changes no total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.common.explain import ZERO, Expr, V
from core.graph.catalog import layer_type
from core.graph.network import Network

RULE = ("Folded: a run of ≥ 2 consecutive blocks that are identical — same layers, "
        "hyper-parameters, wiring and tensor sizes — between single-entry, single-exit "
        "points of the graph. A block that differs in size (e.g. the strided first block "
        "of a ResNet stage) stays unfolded.")
MAX_PERIOD = 64  # segments in one repeated window (a BERT layer is 4)


@dataclass(frozen=True)
class Fold:
    """N consecutive identical blocks; ``members[i]`` are block i's node names in
    topological order. ``id`` is the first node's name (stable while that block is)."""

    members: tuple[tuple[str, ...], ...]

    @property
    def id(self) -> str:
        return self.members[0][0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(n for block in self.members for n in block)

    @property
    def title(self) -> str:
        """A reader's name for the run: "layer3 blocks 1–5" where the blocks are named
        <prefix><separator?><number> (layer3_1 … layer3_5, enc0 … enc5), else the blocks'
        name stems first … last."""
        first, last = _stem(self.members[0]), _stem(self.members[-1])
        numbered = _numbered_range(first, last)
        if numbered:
            return numbered
        if first != last:
            return f"{first} … {last}"
        return f"{self.members[0][0]} … {self.members[-1][-1]}"

    @property
    def span(self) -> str:
        """First block's stem … last block's (the names as the design has them)."""
        return f"{_stem(self.members[0])} … {_stem(self.members[-1])}"

    def label(self) -> str:
        return f"{self.title} ×{self.count}"


def _numbered_range(first: str, last: str) -> str | None:
    """ "layer3 blocks 1–5" for stems layer3_1 and layer3_5 (or enc0 and enc5): one
    prefix of at least two characters, then the block numbers; None otherwise."""
    a, b = _PREFIX_NUMBER.fullmatch(first), _PREFIX_NUMBER.fullmatch(last)
    if not (a and b) or a["prefix"] != b["prefix"] or int(a["n"]) >= int(b["n"]):
        return None
    prefix = a["prefix"].rstrip("_.-")
    if len(prefix) < 2:
        return None
    return f"{prefix} blocks {int(a['n'])}–{int(b['n'])}"


_PREFIX_NUMBER = re.compile(r"(?P<prefix>.*?[^\d])(?P<n>\d+)")


def _stem(names) -> str:
    """The common prefix of a block's node names cut at a separator ("layer1_0" of
    layer1_0_conv1 … layer1_0_relu2); without one, the first name less its last part."""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    while prefix and not all(len(n) == len(prefix) or n[len(prefix)] in "_.-" for n in names):
        prefix = prefix[:-1]
    prefix = prefix.rstrip("_.-")
    return prefix or names[0].rsplit("_", 1)[0]


# ---------------------------------------------------------------------------------------
def find_folds(analysis) -> list[Fold]:
    """The runs of identical blocks of an analysed network (see the module's rule)."""
    network = analysis.network
    order = demand_order(network, analysis.order)
    segments = cut_segments(network, order)
    keys = segment_keys(network, analysis, segments)
    weighted = [any(analysis.nodes[n].param_shapes for n in seg) for seg in segments]
    folds = []
    i = 0
    while i < len(segments):
        best = _best_window(keys, weighted, i)
        if best is None:
            i += 1
            continue
        start, period, repeats = best
        members = tuple(tuple(n for seg in segments[start + r * period:
                                                    start + (r + 1) * period] for n in seg)
                        for r in range(repeats))
        folds.append(Fold(members))
        i = start + period * repeats
    return folds


def _best_window(keys: list, weighted: list[bool], i: int):
    """(start, period, repeats) of the best fold starting at ``i`` or shortly after it
    (within one period: the phase choice), or None when none starts at ``i``."""
    best, best_rank = None, None
    n = len(keys)
    for period in range(1, min(MAX_PERIOD, (n - i) // 2) + 1):
        if keys[i:i + period] != keys[i + period:i + 2 * period]:
            continue
        # the periodic stretch from i: s[j] == s[j + period] for as long as it holds
        end = i
        while end + period < n and keys[end] == keys[end + period]:
            end += 1
        length = end + period - i
        for phase in range(0, min(period, length - 2 * period + 1)):
            repeats = (length - phase) // period
            if repeats < 2:
                continue
            rank = (repeats * period, -period, weighted[i + phase], -phase)
            if best_rank is None or rank > best_rank:
                best_rank, best = rank, (i + phase, period, repeats)
    return best


def _reads(network: Network, name: str) -> list[str]:
    """What a node reads: its inputs and the nodes its parameters point at (a paired
    pool's indices), except an Input's ``like`` (it only borrows a shape)."""
    node = network.nodes[name]
    return list(node.inputs) if node.type == "Input" else network.dependencies(name)


def demand_order(network: Network, order: list[str]) -> list[str]:
    """A topological order in which every node comes as late as its first reader needs it
    (depth-first from the outputs, the deepest input first): a second Input read only
    deep in the graph (a decoder's target ids) then no longer spans the encoder, so the
    encoder's layers still have single entries."""
    depth: dict[str, int] = {}
    for name in order:
        depth[name] = 1 + max((depth[d] for d in _reads(network, name) if d in depth),
                              default=-1)

    def deps_of(name):
        return iter(sorted((d for d in _reads(network, name) if d in depth),
                           key=lambda d: -depth[d]))
    emitted: set[str] = set()
    result: list[str] = []
    readers = {d for n in order for d in _reads(network, n)}
    roots = [n for n in order if n not in readers] + order  # outputs first, then the rest
    for root in roots:
        if root in emitted:
            continue
        stack = [(root, deps_of(root))]
        emitted.add(root)
        while stack:
            name, deps = stack[-1]
            dep = next((d for d in deps if d not in emitted), None)
            if dep is None:
                stack.pop()
                result.append(name)
            else:
                emitted.add(dep)
                stack.append((dep, deps_of(dep)))
    return result


def cut_segments(network: Network, order: list[str]) -> list[list[str]]:
    """The order split after every cut node (rule 1): each segment is entered only from
    the previous segment's last node."""
    position = {name: i for i, name in enumerate(order)}
    last_use: dict[str, int] = {}
    for name in order:
        for dep in _reads(network, name):
            if dep in position:
                last_use[dep] = max(last_use.get(dep, -1), position[name])
    segments, current = [], []
    open_until = -1  # the furthest position that reads a node before the current one
    for i, name in enumerate(order):
        current.append(name)
        if open_until <= i:  # nothing earlier is read after i: only ``name`` crosses
            segments.append(current)
            current = []
        open_until = max(open_until, last_use.get(name, -1))
    if current:
        segments.append(current)
    return segments


def segment_keys(network: Network, analysis, segments: list[list[str]]) -> list[int]:
    """A small integer per segment, equal for identical segments (rule 2)."""
    interned: dict = {}
    keys = []
    for index, segment in enumerate(segments):
        entry = segments[index - 1][-1] if index else None
        local: dict[str, int] = {}
        for name in segment:
            refs = tuple(local.get(d, "entry" if d == entry else ("outside", d))
                         for d in _reads(network, name))
            key = (_node_signature(network, analysis, name), refs)
            local[name] = interned.setdefault(key, len(interned))
        whole = (tuple(local[n] for n in segment),)
        keys.append(interned.setdefault(whole, len(interned)))
    return keys


def _node_signature(network: Network, analysis, name: str) -> tuple:
    node = network.nodes[name]
    kind = layer_type(node.type)
    params = []
    for key, value in sorted(node.params.items()):
        spec = kind.spec(key)
        if spec is not None and spec.kind == "node":
            continue  # a reference: counted as wiring by the dependency keys
        params.append((key, _frozen(value)))
    result = analysis.nodes.get(name)
    shapes = ((tuple(map(tuple, result.input_shapes)), result.output_shape, result.kind)
              if result is not None else None)
    return node.type, tuple(params), shapes


def _frozen(value):
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


# ---------------------------------------------------------------------------------------
@dataclass
class FoldFigures:
    """A fold's figures: each an Expr whose formula is the sum over its member nodes."""

    params: Expr = ZERO
    macs: Expr = ZERO
    weight_bytes: Expr = ZERO
    activation_bytes: Expr = ZERO
    backward_mul: Expr = ZERO
    backward_add: Expr = ZERO


def summed(items) -> Expr:
    """Σ over (name, value) pairs, written with each member's name and value; zero terms
    are left out of the formula."""
    result = ZERO
    for name, value in items:
        if value:
            result = result + V(name, int(value))
    return result


def fold_figures(analysis, fold: Fold) -> FoldFigures:
    """Params, MACs, bytes and backward counts of a fold: sums over its member nodes."""
    from core.graph.analysis import grad_total
    rows = [analysis.nodes[n] for n in fold.nodes if analysis.nodes[n].ok]

    def over(get):
        return summed((r.name, get(r)) for r in rows)
    figures = FoldFigures(
        params=over(lambda r: r.weight_elements + r.bias_elements),
        macs=over(lambda r: r.forward.macs.value),
        weight_bytes=over(lambda r: r.weight_bytes.value + r.bias_bytes.value),
        activation_bytes=over(lambda r: r.activation_bytes.value),
        backward_mul=over(lambda r: grad_total(r.backward).mul.value),
        backward_add=over(lambda r: grad_total(r.backward).add.value))
    return figures


# ---------------------------------------------------------------------------------------
@dataclass
class ViewNode:
    inputs: list[str]


class FoldedGraph:
    """The graph as the canvas shows it with some folds closed: each closed fold is one
    node (named by the fold's id), every edge into or out of its members redirected to
    it. Shaped like a Network for core.graph.layout (nodes with ``inputs``, ``len``,
    ``topological_order``)."""

    def __init__(self, network: Network, order: list[str], closed: list[Fold]):
        self.owner = {n: f.id for f in closed for n in f.nodes}
        self.nodes: dict[str, ViewNode] = {}
        for name in order:
            shown = self.owner.get(name, name)
            view = self.nodes.setdefault(shown, ViewNode([]))
            for src in network.nodes[name].inputs:
                src = self.owner.get(src, src)
                if src != shown and src not in view.inputs:
                    view.inputs.append(src)
        self._order = list(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def topological_order(self) -> list[str]:
        return list(self._order)  # built in the network's order, runs kept contiguous
