"""The app's drag-and-drop MIME types: drag data carries names only, encoded here."""

from __future__ import annotations

from PySide6.QtCore import QMimeData

LAYER_TYPE = "application/x-mlsys-layer-type"
NODE_OUTPUT = "application/x-mlsys-node-output"


def layer_type_mime(type_name: str) -> QMimeData:
    data = QMimeData()
    data.setData(LAYER_TYPE, type_name.encode("utf-8"))
    data.setText(type_name)
    return data


def decode_layer_type(data: QMimeData) -> str | None:
    if data is None or not data.hasFormat(LAYER_TYPE):
        return None
    return bytes(data.data(LAYER_TYPE)).decode("utf-8") or None


def node_output_mime(node: str) -> QMimeData:
    data = QMimeData()
    data.setData(NODE_OUTPUT, node.encode("utf-8"))
    return data


def decode_node_output(data: QMimeData) -> str | None:
    if data is None or not data.hasFormat(NODE_OUTPUT):
        return None
    return bytes(data.data(NODE_OUTPUT)).decode("utf-8") or None
