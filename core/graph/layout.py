"""Top-to-bottom layered layout of a Network's DAG for the canvas (no Qt).

Layer = longest path from a source; inside a layer, nodes are ordered by the mean position
of their inputs (one barycentre sweep), which keeps chains straight and branches apart.
"""

from __future__ import annotations

from core.graph.network import Network

X_GAP = 210.0
Y_GAP = 96.0


def layered_positions(network: Network) -> dict[str, tuple[float, float]]:
    """Canvas positions (centre x, top y) for every node."""
    try:
        order = network.topological_order()
    except Exception:  # a cycle cannot be layered; fall back to insertion order
        order = list(network.nodes)
    depth: dict[str, int] = {}
    for name in order:
        inputs = [i for i in network.nodes[name].inputs if i in depth]
        depth[name] = 1 + max((depth[i] for i in inputs), default=-1)
    layers: dict[int, list[str]] = {}
    for name in order:
        layers.setdefault(depth[name], []).append(name)
    slot: dict[str, float] = {}
    positions = {}
    for level in sorted(layers):
        members = layers[level]
        members.sort(key=lambda n: _barycentre(network, n, slot))
        offset = (len(members) - 1) / 2.0
        for i, name in enumerate(members):
            positions[name] = ((i - offset) * X_GAP, level * Y_GAP)
            slot[name] = i - offset
    return positions


def _barycentre(network: Network, name: str, slot: dict[str, float]) -> float:
    parents = [slot[i] for i in network.nodes[name].inputs if i in slot]
    return sum(parents) / len(parents) if parents else 0.0
