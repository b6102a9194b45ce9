"""The Network: a DAG of named layer nodes, with reversible edits and change events.

Edges are stored as each node's ordered list of input names (order matters for Concat,
cross-attention and losses). Every edit method returns what is needed to undo it, so the
GUI's undo commands can store plain data (names, indices, tuples) only.
"""

from __future__ import annotations

import copy
import heapq
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from core.graph.catalog import layer_type
from core.common.errors import LayerParamError, NetworkError

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def plain(value: Any, kind: str = "pair") -> Any:
    """A parameter value in JSON-friendly form: square pairs as one int, tuples as lists
    (only a ``pair`` parameter collapses: a 7×7 shape stays [7, 7])."""
    if isinstance(value, tuple):
        if kind == "pair" and len(value) == 2 and value[0] == value[1] and all(
                isinstance(v, int) for v in value):
            return value[0]
        return list(value)
    return value


@dataclass
class Node:
    name: str
    type: str
    params: dict = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    position: tuple[float, float] | None = None


@dataclass(frozen=True)
class RemovedNode:
    """What remove_node took away, enough to put it back exactly."""

    node: Node
    index: int
    consumer_slots: tuple[tuple[str, int], ...]


class Network:
    """A directed acyclic graph of layers. Sequential networks are the simple case."""

    def __init__(self, name: str = "untitled", description: str = "",
                 defaults: dict | None = None):
        self.name = name
        self.description = description
        self.defaults: dict = {"batch": 1, "precision": "fp32"}
        self.defaults.update(defaults or {})
        self.nodes: dict[str, Node] = {}
        self._listeners: list[Callable[[str, dict], None]] = []

    # -- events -------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str, dict], None]) -> None:
        """Call ``listener(kind, data)`` after every edit (kind: added, removed, ...)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, kind: str, **data) -> None:
        for listener in list(self._listeners):
            listener(kind, data)

    # -- queries ------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise NetworkError(f"there is no node called {name!r}") from None

    def consumers(self, name: str) -> list[str]:
        """Nodes that read ``name`` as an input (once each, in network order)."""
        return [n.name for n in self.nodes.values() if name in n.inputs]

    def input_names(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.type == "Input"]

    def output_names(self) -> list[str]:
        """Nodes nobody reads: the network's outputs (losses included)."""
        used = {i for n in self.nodes.values() for i in n.inputs}
        return [n.name for n in self.nodes.values() if n.name not in used and n.type != "Input"]

    def loss_names(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.type == "Loss"]

    def dependencies(self, name: str) -> list[str]:
        """Inputs plus the nodes a layer reads for other reasons (paired pool, like)."""
        node = self.nodes[name]
        extra = layer_type(node.type).dependencies(node.params)
        return list(node.inputs) + [d for d in extra if d not in node.inputs]

    def topological_order(self) -> list[str]:
        """Node names so that each comes after what it depends on (stable: insertion order
        breaks ties). A cycle raises NetworkError naming its nodes."""
        deps = {name: [d for d in self.dependencies(name) if d in self.nodes]
                for name in self.nodes}
        indegree = {name: len(set(d)) for name, d in deps.items()}
        users: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name, d in deps.items():
            for dep in set(d):
                users[dep].append(name)
        position = {name: i for i, name in enumerate(self.nodes)}
        ready = [(position[n], n) for n, k in indegree.items() if k == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, current = heapq.heappop(ready)
            order.append(current)
            for user in users[current]:
                indegree[user] -= 1
                if indegree[user] == 0:
                    heapq.heappush(ready, (position[user], user))
        if len(order) != len(self.nodes):
            placed = set(order)
            stuck = [n for n in self.nodes if n not in placed]
            raise NetworkError("the network has a cycle through " + ", ".join(stuck))
        return order

    def ancestors(self, name: str) -> set[str]:
        """Every node whose output flows (through inputs) into ``name``, itself included."""
        seen, stack = set(), [name]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.nodes:
                continue
            seen.add(current)
            stack.extend(self.nodes[current].inputs)
        return seen

    def unique_name(self, base: str) -> str:
        """``base`` with the smallest number that makes it new (conv1, conv2, ...)."""
        stem = re.sub(r"\d+$", "", base) or "node"
        stem = re.sub(r"[^A-Za-z0-9_]", "_", stem)
        if not stem[0].isalpha() and stem[0] != "_":
            stem = "n_" + stem
        i = 1
        while f"{stem}{i}" in self.nodes:
            i += 1
        return f"{stem}{i}"

    # -- edits --------------------------------------------------------------------------
    def add_node(self, type_name: str, name: str | None = None, params: dict | None = None,
                 inputs: list[str] | tuple = (), position=None, index: int | None = None) -> Node:
        """Add a layer; parameters are checked now (shape checks happen in analysis)."""
        kind = layer_type(type_name)
        name = name or self.unique_name(_default_stem(type_name))
        self._check_new_name(name)
        for src in inputs:
            self.node(src)
        values = {k: plain(v, kind.spec(k).kind)
                  for k, v in kind.normalize(name, params or {}).items()}
        node = Node(name, type_name, values, list(inputs),
                    tuple(position) if position is not None else None)
        self._insert(node, index)
        self._emit("added", name=name)
        return node

    def remove_node(self, name: str) -> RemovedNode:
        """Remove a node and every edge from it; returns what restore_node needs."""
        node = self.node(name)
        index = list(self.nodes).index(name)
        slots = []
        for other in self.nodes.values():
            for slot, src in enumerate(other.inputs):
                if src == name:
                    slots.append((other.name, slot))
        for consumer, _ in slots:
            self.nodes[consumer].inputs = [s for s in self.nodes[consumer].inputs if s != name]
        del self.nodes[name]
        self._emit("removed", name=name)
        return RemovedNode(copy.deepcopy(node), index, tuple(slots))

    def restore_node(self, removed: RemovedNode) -> None:
        """Undo remove_node: the node comes back at its place with all its edges."""
        node = copy.deepcopy(removed.node)
        self._check_new_name(node.name)
        self._insert(node, removed.index)
        for consumer, slot in sorted(removed.consumer_slots, key=lambda s: s[1]):
            self.nodes[consumer].inputs.insert(slot, node.name)
        self._emit("added", name=node.name)

    def set_param(self, name: str, key: str, value: Any) -> Any:
        """Set one parameter (checked against its spec); returns the old value."""
        node = self.node(name)
        kind = layer_type(node.type)
        spec = kind.spec(key)
        if spec is None:
            raise LayerParamError(name, key, f"{node.type} has no parameter {key!r}")
        new = plain(spec.normalize(name, value), spec.kind)
        old = node.params.get(key)
        node.params[key] = new
        self._emit("param", name=name, key=key)
        return old

    def change_type(self, name: str, type_name: str, params: dict) -> tuple[str, dict]:
        """Give a node another layer type (e.g. Conv2d → its depthwise-separable unit);
        returns the old (type, params)."""
        node = self.node(name)
        kind = layer_type(type_name)
        values = {k: plain(v, kind.spec(k).kind) for k, v in kind.normalize(name, params).items()}
        old = (node.type, dict(node.params))
        node.type, node.params = type_name, values
        self._emit("type", name=name)
        return old

    def set_inputs(self, name: str, inputs: list[str]) -> list[str]:
        """Replace a node's ordered inputs; returns the old list."""
        node = self.node(name)
        for src in inputs:
            self.node(src)
            if src == name or name in self.ancestors(src):
                raise NetworkError(f"connecting {src} → {name} would make a cycle")
        old = list(node.inputs)
        node.inputs = list(inputs)
        self._emit("inputs", name=name)
        return old

    def connect(self, src: str, dst: str, slot: int | None = None) -> None:
        """Feed ``src`` into ``dst`` (appended, or at input position ``slot``)."""
        inputs = list(self.node(dst).inputs)
        inputs.insert(len(inputs) if slot is None else slot, src)
        kind = layer_type(self.nodes[dst].type)
        if kind.max_inputs is not None and len(inputs) > kind.max_inputs:
            raise NetworkError(f"{dst}: a {kind.name} takes at most {kind.max_inputs} "
                               f"input{'s' if kind.max_inputs != 1 else ''}")
        self.set_inputs(dst, inputs)

    def disconnect(self, src: str, dst: str) -> None:
        inputs = list(self.node(dst).inputs)
        if src not in inputs:
            raise NetworkError(f"{src} does not feed {dst}")
        inputs.remove(src)
        self.set_inputs(dst, inputs)

    def insert_on_edge(self, src: str, dst: str, type_name: str, name: str | None = None,
                       params: dict | None = None, position=None) -> Node:
        """Put a new layer between ``src`` and ``dst`` (keeping dst's input slot)."""
        target = self.node(dst)
        if src not in target.inputs:
            raise NetworkError(f"{src} does not feed {dst}")
        node = self.add_node(type_name, name, params, [src], position)
        target.inputs = [node.name if s == src else s for s in target.inputs]
        self._emit("inputs", name=dst)
        return node

    def rename(self, old: str, new: str) -> None:
        """Rename a node and every reference to it (inputs, paired pools, like)."""
        node = self.node(old)
        if new == old:
            return
        self._check_new_name(new)
        self.nodes = {(new if k == old else k): v for k, v in self.nodes.items()}
        node.name = new
        for other in self.nodes.values():
            other.inputs = [new if s == old else s for s in other.inputs]
            for key, value in other.params.items():
                spec = layer_type(other.type).spec(key)
                if spec is not None and spec.kind == "node" and value == old:
                    other.params[key] = new
        self._emit("renamed", old=old, new=new)

    def move(self, name: str, position) -> tuple | None:
        node = self.node(name)
        old = node.position
        node.position = tuple(position) if position is not None else None
        self._emit("moved", name=name)
        return old

    def copy(self) -> "Network":
        clone = Network(self.name, self.description, dict(self.defaults))
        clone.nodes = copy.deepcopy(self.nodes)
        return clone

    # -- internals ----------------------------------------------------------------------
    def _check_new_name(self, name: str) -> None:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise NetworkError(f"node name {name!r} is not allowed: use letters, digits and "
                               f"_ (not starting with a digit, at most 64 characters)")
        if name in self.nodes:
            raise NetworkError(f"there is already a node called {name!r}")

    def _insert(self, node: Node, index: int | None) -> None:
        if index is None or index >= len(self.nodes):
            self.nodes[node.name] = node  # appending keeps building a network linear
            return
        items = list(self.nodes.items())
        items.insert(index, (node.name, node))
        self.nodes = dict(items)


_STEMS = {
    "Input": "input", "Conv2d": "conv", "DepthwiseSeparableConv2d": "dsconv",
    "ConvTranspose2d": "deconv", "MaxPool2d": "pool", "AvgPool2d": "avgpool",
    "AdaptiveAvgPool2d": "gap", "MaxUnpool2d": "unpool", "Linear": "fc", "Flatten": "flatten",
    "BatchNorm2d": "bn", "LayerNorm": "ln", "MultiHeadAttention": "attn", "Embedding": "embed",
    "PositionalEmbedding": "pos", "Loss": "loss", "TokenSelect": "select",
}


def _default_stem(type_name: str) -> str:
    return _STEMS.get(type_name, type_name.lower())
