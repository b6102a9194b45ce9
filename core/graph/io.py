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
import os
import tempfile
from pathlib import Path

from core.common.errors import DesignFileError, MlsysError
from core.graph.network import Network

FORMAT = "mlsys-studio-design"
VERSION = 1


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
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise DesignFileError(f"{source}: 'defaults' must be an object")
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
            isinstance(v, (int, float)) for v in position)):
        position = None
    try:
        network.add_node(entry["type"], entry["name"], params, [], position)
    except MlsysError as exc:
        raise DesignFileError(f"{source}: {exc}") from None
    network.nodes[entry["name"]].inputs = list(inputs)


def dumps(network: Network) -> str:
    return json.dumps(network_to_dict(network), indent=1)


def loads(text: str, source: str = "design") -> Network:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DesignFileError(f"{source}: not valid JSON (line {exc.lineno}, column "
                              f"{exc.colno}: {exc.msg})") from None
    return network_from_dict(data, source)


def save(network: Network, path: str | Path) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a design."""
    path = Path(path)
    text = dumps(network)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent or "."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a design is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> Network:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DesignFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DesignFileError(f"{path}: cannot be read ({exc})") from None
    return loads(text, str(path))
