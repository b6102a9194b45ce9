"""Typed errors of the engine, each naming the thing at fault and what is allowed, and the
helpers that make user text safe to put in a message (brief, printable)."""

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


def brief(value, width: int = 60) -> str:
    """``repr(value)`` safe for messages: shortened, and never failing (huge integers)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = f"<a number of about {value.bit_length() * 3 // 10:,} digits>"
    text = printable(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def printable(text: str) -> str:
    """``text`` with control, format (e.g. right-to-left overrides), surrogate and unassigned
    characters written as escapes, so that a name can neither drive a terminal nor reorder
    the line it is printed on, nor break an encoder."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"
