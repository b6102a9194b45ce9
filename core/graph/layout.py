"""Top-to-bottom layered layout of a Network's DAG for the canvas (no Qt).

Designs up to ``limits.LAYOUT_NODES`` get a Sugiyama layout from ``grandalf`` (layers,
crossing reduction, long edges given their own dummy column so that a skip connection runs
beside the nodes it bypasses, not through them). Larger designs, or a missing ``grandalf``,
get the simple layering: layer = longest path from a source, nodes ordered inside a layer
by the mean position of their inputs (one barycentre sweep).
"""

from __future__ import annotations

from core.common.limits import LAYOUT_NODES
from core.graph.network import Network

NODE_W = 184.0  # the canvas's node size (gui/design/canvas.py)
NODE_H = 62.0
X_GAP = 210.0  # simple layering: centre-to-centre distance of neighbours in a layer
Y_GAP = 96.0   # top-to-top distance of consecutive layers
X_SPACE = 44.0  # Sugiyama: free space between neighbours (and beside a long edge)
COMPONENT_GAP = 120.0


def layered_positions(network: Network) -> dict[str, tuple[float, float]]:
    """Canvas positions (centre x, top y) for every node. A design whose every edge joins
    consecutive layers (a chain, a tree) needs no long-edge routing: the simple layering
    is already right for it, and skipping grandalf (which imports numpy) keeps the first
    window quick."""
    if 0 < len(network) <= LAYOUT_NODES.value and has_long_edges(network):
        try:
            return sugiyama_positions(network)
        except ImportError:
            pass
    return simple_positions(network)


def has_long_edges(network: Network) -> bool:
    """True when some edge skips a layer of the longest-path layering (or on a cycle)."""
    depth = _depths(network)
    if depth is None:
        return True
    return any(depth[name] - depth[src] > 1 for name, node in network.nodes.items()
               for src in node.inputs if src in depth)


def _depths(network: Network) -> dict[str, int] | None:
    try:
        order = network.topological_order()
    except Exception:
        return None
    depth: dict[str, int] = {}
    for name in order:
        inputs = [i for i in network.nodes[name].inputs if i in depth]
        depth[name] = 1 + max((depth[i] for i in inputs), default=-1)
    return depth


def sugiyama_positions(network: Network) -> dict[str, tuple[float, float]]:
    """grandalf's Sugiyama layout, one connected component beside the other (in the
    network's order), each starting at the top; ImportError without grandalf."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    class _Box:  # grandalf's view protocol: size in, centre position out
        w, h, xy = NODE_W, NODE_H, (0.0, 0.0)

    vertices = {name: Vertex(name) for name in network.nodes}
    for vertex in vertices.values():
        vertex.view = _Box()
    edges = [Edge(vertices[src], vertices[name]) for name, node in network.nodes.items()
             for src in dict.fromkeys(node.inputs) if src in vertices and src != name]
    graph = Graph(list(vertices.values()), edges)
    order = {name: i for i, name in enumerate(network.nodes)}
    positions: dict[str, tuple[float, float]] = {}
    left = 0.0
    for component in sorted(graph.C, key=lambda c: min(order[v.data] for v in c.sV)):
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = X_SPACE, Y_GAP - NODE_H
        layout.init_all()
        layout.draw(2)
        members = list(component.sV)
        xs = [v.view.xy[0] for v in members]
        top = min(v.view.xy[1] for v in members)
        shift = left - (min(xs) - NODE_W / 2) if positions else -(min(xs) + max(xs)) / 2
        for v in members:
            x, y = v.view.xy
            positions[v.data] = (round(x + shift, 1), round(y - top, 1))
        left = max(p[0] for p in positions.values()) + NODE_W / 2 + COMPONENT_GAP
    return {name: positions[name] for name in network.nodes}


def simple_positions(network: Network) -> dict[str, tuple[float, float]]:
    """Longest-path layering with one barycentre sweep (linear time, any size)."""
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
