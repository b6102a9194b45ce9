"""Versioned JSON save/load of designs (a Network plus its analysis defaults).

Format::

    {"format": "mlsys-studio-design", "version": 1, "name": ..., "description": ...,
     "defaults": {"batch": 1, "precision": "fp32"},
     "nodes": [{"name", "type", "params": {...}, "inputs": [...], "position": [x, y]}]}

Reading never crashes on bad input: anything wrong raises DesignFileError naming the
file, the node and what is wrong.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from core.common.errors import DesignFileError, MlsysError, brief
from core.common.files import FileReadError, read_text_bounded, write_atomic
from core.common.limits import JSON_DEPTH, NODES, LimitError
from core.graph.analysis import PRECISION_BYTES
from core.graph.network import Network

FORMAT = "mlsys-studio-design"
VERSION = 1
MAX_BATCH = 1_000_000  # the batch field's range in the app
MAX_COORDINATE = 1e7  # canvas positions beyond this are dropped (laid out anew)


def network_to_dict(network: Network) -> dict:
    nodes = []
    for node in network.nodes.values():
        entry = {"name": node.name, "type": node.type, "params": dict(node.params),
                 "inputs": list(node.inputs)}
        if node.position is not None:
            entry["position"] = [round(float(v), 1) for v in node.position]
        nodes.append(entry)
    return {"format": FORMAT, "version": VERSION, "name": network.name,
            "description": network.description, "defaults": dict(network.defaults),
            "nodes": nodes}


def network_from_dict(data, source: str = "design") -> Network:
    """Build a Network from parsed JSON, checking structure, version, types and params."""
    if not isinstance(data, dict):
        raise DesignFileError(f"{source}: expected a JSON object, found {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise DesignFileError(f"{source}: not an MLSys Studio design (format is "
                              f"{data.get('format')!r}, expected {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise DesignFileError(f"{source}: version {version!r} is not a positive whole number")
    if version > VERSION:
        raise DesignFileError(f"{source}: made by a newer MLSys Studio (format version "
                              f"{version}; this one reads up to {VERSION})")
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise DesignFileError(f"{source}: 'nodes' must be a list")
    try:
        NODES.check(len(nodes), f"{source}")
    except LimitError as exc:
        raise DesignFileError(str(exc)) from None
    defaults = _checked_defaults(data.get("defaults", {}), source)
    network = Network(str(data.get("name", "untitled")), str(data.get("description", "")),
                      defaults)
    for i, entry in enumerate(nodes):
        _add_entry(network, entry, i, source)
    for entry in nodes:
        for src in entry.get("inputs", []):
            if src not in network:
                raise DesignFileError(f"{source}: node {entry['name']!r} reads {src!r}, which "
                                      f"is not in the design")
    try:
        network.topological_order()
    except MlsysError as exc:
        raise DesignFileError(f"{source}: {exc}") from None
    return network


def _checked_defaults(defaults, source: str) -> dict:
    """The analysis defaults (batch, precision), each checked as the analysis will use it."""
    if not isinstance(defaults, dict):
        raise DesignFileError(f"{source}: 'defaults' must be an object")
    batch = defaults.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise DesignFileError(f"{source}: defaults.batch {brief(batch)} is not allowed: use a "
                              f"whole number from 1 to {MAX_BATCH:,}")
    precision = defaults.get("precision", "fp32")
    if precision not in PRECISION_BYTES:
        raise DesignFileError(f"{source}: defaults.precision {brief(precision)} is not "
                              f"allowed: use one of {', '.join(PRECISION_BYTES)}")
    return dict(defaults)


def _add_entry(network: Network, entry, index: int, source: str) -> None:
    if not isinstance(entry, dict):
        raise DesignFileError(f"{source}: node #{index + 1} is not an object")
    for key, kind in (("name", str), ("type", str)):
        if not isinstance(entry.get(key), kind):
            raise DesignFileError(f"{source}: node #{index + 1} has no valid {key!r}")
    params, inputs = entry.get("params", {}), entry.get("inputs", [])
    if not isinstance(params, dict) or not isinstance(inputs, list) or not all(
            isinstance(s, str) for s in inputs):
        raise DesignFileError(f"{source}: node {entry['name']!r}: 'params' must be an object "
                              f"and 'inputs' a list of node names")
    position = entry.get("position")
    if position is not None and not (isinstance(position, list) and len(position) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and abs(v) <= MAX_COORDINATE for v in position)):
        position = None  # the canvas lays such a node out anew
    try:
        network.add_node(entry["type"], entry["name"], params, [], position)
    except MlsysError as exc:
        raise DesignFileError(f"{source}: {exc}") from None
    network.nodes[entry["name"]].inputs = list(inputs)


def dumps(network: Network) -> str:
    return json.dumps(network_to_dict(network), indent=1)


def loads(text: str, source: str = "design") -> Network:
    data = parse_json(text, source)
    return network_from_dict(data, source)


def parse_json(text: str, source: str):
    """JSON within the JSON_DEPTH limit; numbers Python cannot hold as such are errors."""
    _check_depth(text, source)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DesignFileError(f"{source}: not valid JSON (line {exc.lineno}, column "
                              f"{exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        reason = ("holds a number of more than 4,300 digits" if "digits" in str(exc)
                  else f"is not a readable design ({brief(str(exc), 120)})")
        raise DesignFileError(f"{source}: {reason}") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a design may hold")


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than JSON_DEPTH before the parser recurses into it (brackets
    inside strings count too, which can only make the check stricter than needed)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > JSON_DEPTH.value:
                    raise DesignFileError(f"{source}: nested deeper than {JSON_DEPTH.value} "
                                          f"levels (set {JSON_DEPTH.variable} to raise the "
                                          f"limit)")
        elif ch in "]}":
            depth -= 1


def save(network: Network, path: str | Path) -> None:
    """Write atomically and durably, so a crash never leaves half a design."""
    write_atomic(path, dumps(network))


def load(path: str | Path) -> Network:
    """Read a design file: a regular file within the FILE_BYTES limit, UTF-8 JSON."""
    try:
        text = read_text_bounded(path, what="design file")
    except (FileReadError, LimitError) as exc:
        raise DesignFileError(str(exc)) from None
    return loads(text, str(path))
