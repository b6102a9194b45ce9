"""Typed errors of the engine: each names the thing at fault and what is allowed."""

from __future__ import annotations


class MlsysError(Exception):
    """Base of every error the engine raises on purpose (shown to users as one line)."""


class LayerParamError(MlsysError, ValueError):
    """A layer parameter (or the shape reaching the layer) is not allowed.

    ``node`` is the layer's name, ``param`` the parameter at fault (or ``"input"`` when the
    incoming shape is the problem); the message starts with the node name.
    """

    def __init__(self, node: str, param: str, message: str):
        self.node = node
        self.param = param
        self.detail = message
        super().__init__(f"{node}: {message}")


class NetworkError(MlsysError, ValueError):
    """The graph itself is wrong: unknown node, cycle, missing connection, bad name."""


class DesignFileError(MlsysError):
    """A design file cannot be read: malformed JSON, wrong structure or a newer version."""


class ModelImportError(MlsysError):
    """A PyTorch model cannot be turned into a Network (lists what is unsupported)."""


class InputError(MlsysError, ValueError):
    """A command-line or form value is not allowed (names the field and the range)."""
