"""The document: one Network, its undo stack, its file, its analysis options and results.

Every user edit goes through a method here and becomes a QUndoCommand whose redo/undo
call reversible Network methods; commands keep names and plain values only. Any change of
the undo stack's index re-runs the analysis and emits ``sig_analysis``.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.graph import io
from core.graph.analysis import Analysis, AnalysisOptions, analyze
from core.graph.catalog import layer_type
from core.common.errors import MlsysError, printable
from core.graph.network import Network, RemovedNode

MERGE_PARAM = 1001
MERGE_MOVE = 1002


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------
class AddNodeCommand(QUndoCommand):
    def __init__(self, doc: "Document", type_name: str, name: str, params: dict,
                 inputs: list[str], position):
        super().__init__(f"Add {name}")
        self.doc, self.type_name, self.name = doc, type_name, name
        self.params, self.inputs = dict(params), list(inputs)
        self.position = tuple(position) if position is not None else None

    def redo(self):
        self.doc.network.add_node(self.type_name, self.name, self.params, self.inputs,
                                  self.position)

    def undo(self):
        self.doc.network.remove_node(self.name)


class RemoveNodeCommand(QUndoCommand):
    def __init__(self, doc: "Document", name: str):
        super().__init__(f"Delete {name}")
        self.doc, self.name = doc, name
        self.removed: RemovedNode | None = None

    def redo(self):
        self.removed = self.doc.network.remove_node(self.name)

    def undo(self):
        self.doc.network.restore_node(self.removed)


class SetParamCommand(QUndoCommand):
    """Parameter edits of the same field of the same node merge into one undo step."""

    def __init__(self, doc: "Document", name: str, key: str, old, new):
        super().__init__(f"Set {name}.{key}")
        self.doc, self.name, self.key, self.old, self.new = doc, name, key, old, new

    def id(self):
        return MERGE_PARAM

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetParamCommand) or (other.name, other.key) != (self.name,
                                                                                   self.key):
            return False
        self.new = other.new
        return True

    def redo(self):
        self.doc.network.set_param(self.name, self.key, self.new)

    def undo(self):
        self.doc.network.set_param(self.name, self.key, self.old)


class SetInputsCommand(QUndoCommand):
    def __init__(self, doc: "Document", name: str, old: list[str], new: list[str], text: str):
        super().__init__(text)
        self.doc, self.name, self.old, self.new = doc, name, list(old), list(new)

    def redo(self):
        self.doc.network.set_inputs(self.name, self.new)

    def undo(self):
        self.doc.network.set_inputs(self.name, self.old)


class MoveNodesCommand(QUndoCommand):
    """One drag of one or more nodes; consecutive drags of the same nodes do not merge."""

    def __init__(self, doc: "Document", moves: dict):
        super().__init__("Move " + ", ".join(sorted(moves))[:60])
        self.doc, self.moves = doc, dict(moves)  # name -> (old, new)

    def redo(self):
        for name, (_, new) in self.moves.items():
            self.doc.network.move(name, new)

    def undo(self):
        for name, (old, _) in self.moves.items():
            self.doc.network.move(name, old)


class RenameCommand(QUndoCommand):
    def __init__(self, doc: "Document", old: str, new: str):
        super().__init__(f"Rename {old} → {new}")
        self.doc, self.old, self.new = doc, old, new

    def redo(self):
        self.doc.network.rename(self.old, self.new)

    def undo(self):
        self.doc.network.rename(self.new, self.old)


class ChangeTypeCommand(QUndoCommand):
    def __init__(self, doc: "Document", name: str, type_name: str, params: dict):
        super().__init__(f"Make {name} a {type_name}")
        self.doc, self.name, self.type_name, self.params = doc, name, type_name, dict(params)
        self.old: tuple[str, dict] | None = None

    def redo(self):
        self.old = self.doc.network.change_type(self.name, self.type_name, self.params)

    def undo(self):
        self.doc.network.change_type(self.name, *self.old)


class SetDefaultsCommand(QUndoCommand):
    """Analysis settings stored with the design (batch, precision)."""

    def __init__(self, doc: "Document", key: str, old, new):
        super().__init__(f"Set {key}")
        self.doc, self.key, self.old, self.new = doc, key, old, new

    def redo(self):
        self.doc.network.defaults[self.key] = self.new

    def undo(self):
        self.doc.network.defaults[self.key] = self.old


# ---------------------------------------------------------------------------------------
# Document
# ---------------------------------------------------------------------------------------
def _analysed(network: Network, bias_adds: bool, optimizer: str) -> Analysis:
    """The analysis of a design about to be opened. Per-node errors are part of a design
    (shown in red); anything else the analysis raises means it cannot be opened."""
    try:
        return analyze(network, _options(network, bias_adds, optimizer))
    except MlsysError as exc:
        raise MlsysError(f"{network.name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a bug must not leave a half-loaded design
        raise MlsysError(f"{network.name}: cannot be analysed ({type(exc).__name__}: "
                         f"{printable(str(exc))})") from exc


@contextlib.contextmanager
def _slot_errors():
    """Collect the exceptions that slots raise while the block runs (PySide6 hands them to
    sys.excepthook instead of the code that emitted the signal)."""
    errors: list[BaseException] = []
    previous = sys.excepthook
    sys.excepthook = lambda kind, error, tb: errors.append(error)
    try:
        yield errors
    finally:
        sys.excepthook = previous


def _options(network: Network, bias_adds: bool, optimizer: str) -> AnalysisOptions:
    d = network.defaults
    return AnalysisOptions(batch=int(d.get("batch", 1)), precision=d.get("precision", "fp32"),
                           bias_adds=bias_adds, optimizer=optimizer)


class Document(QObject):
    """A design being edited. Signals: sig_analysis(Analysis) after every change,
    sig_reset() when a whole new network is loaded, sig_path_changed()."""

    sig_analysis = Signal(object)
    sig_reset = Signal()
    sig_path_changed = Signal()

    def __init__(self, network: Network | None = None, parent=None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.network = network or Network()
        self.path: Path | None = None
        self.bias_adds = True
        self.optimizer = "adam"
        self.analysis: Analysis | None = None
        self.undo_stack.indexChanged.connect(self._index_changed)
        self.refresh()

    def _index_changed(self, _index: int) -> None:
        # A bound slot (not a lambda) so that Qt drops the connection with the document.
        self.refresh()

    # -- state ----------------------------------------------------------------------------
    @property
    def options(self) -> AnalysisOptions:
        return _options(self.network, self.bias_adds, self.optimizer)

    def refresh(self, analysis: Analysis | None = None) -> Analysis:
        """Re-run the analysis (a few ms even for ResNet-50; ``analysis`` when it was just
        computed) and tell the views."""
        if analysis is None:
            try:
                analysis = analyze(self.network, self.options)
            except MlsysError:
                analysis = None
        self.analysis = analysis
        self.sig_analysis.emit(self.analysis)
        return self.analysis

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def display_name(self) -> str:
        return self.path.name if self.path else (self.network.name or "untitled")

    # -- whole-document operations (not undoable) -----------------------------------------
    def load_network(self, network: Network, path: Path | None = None) -> None:
        """Replace the design. It is analysed before anything changes, and if the views
        fail to show it, the previous design, path and undo history come back and the
        failure is raised as one MlsysError: never a half-loaded document."""
        analysis = _analysed(network, self.bias_adds, self.optimizer)
        previous = (self.network, self.path)
        self.network = network
        self.path = Path(path) if path else None
        with _slot_errors() as errors:  # a slot's exception does not reach the emitter
            self.sig_reset.emit()
            self.refresh(analysis)
        if errors:
            self.network, self.path = previous
            self.sig_reset.emit()
            self.refresh()
            exc = errors[0]
            raise MlsysError(f"{printable(network.name)}: cannot be shown "
                             f"({type(exc).__name__}: {printable(str(exc))})") from exc
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.sig_path_changed.emit()

    def open(self, path) -> None:
        self.load_network(io.load(path), path)

    def save(self, path=None) -> None:
        target = Path(path) if path else self.path
        if target is None:
            raise MlsysError("choose a file name first (Save As)")
        io.save(self.network, target)
        self.path = target
        self.undo_stack.setClean()
        self.sig_path_changed.emit()

    # -- edits (each one undoable) --------------------------------------------------------
    def add_node(self, type_name: str, position=None, inputs=(), name=None,
                 params=None) -> str:
        kind = layer_type(type_name)
        name = name or self.network.unique_name(_stem(type_name))
        values = kind.normalize(name, params or {})
        self.undo_stack.push(AddNodeCommand(self, type_name, name, values, list(inputs),
                                            position))
        return name

    def remove_nodes(self, names) -> None:
        names = [n for n in names if n in self.network]
        if not names:
            return
        self.undo_stack.beginMacro(f"Delete {', '.join(names)}"[:80])
        for name in names:
            self.undo_stack.push(RemoveNodeCommand(self, name))
        self.undo_stack.endMacro()

    def duplicate_nodes(self, names, offset=(30.0, 30.0)) -> list[str]:
        """Copies of the nodes with their parameters; edges among the copies are kept."""
        names = [n for n in names if n in self.network]
        if not names:
            return []
        mapping = {n: self.network.unique_name(n) for n in names}
        taken = set(self.network.nodes)
        for old in names:  # unique_name is per call; keep the new names distinct
            candidate = mapping[old]
            while candidate in taken:
                candidate = self.network.unique_name(candidate + "_")
            mapping[old] = candidate
            taken.add(candidate)
        self.undo_stack.beginMacro(f"Duplicate {', '.join(names)}"[:80])
        for old in names:
            node = self.network.nodes[old]
            inputs = [mapping.get(i, i) for i in node.inputs]
            pos = node.position
            new_pos = (pos[0] + offset[0], pos[1] + offset[1]) if pos else None
            self.undo_stack.push(AddNodeCommand(self, node.type, mapping[old], node.params,
                                                inputs, new_pos))
        self.undo_stack.endMacro()
        return [mapping[n] for n in names]

    def validate_param(self, name: str, key: str, value) -> str | None:
        """The error message a value would give (None when allowed)."""
        node = self.network.node(name)
        spec = layer_type(node.type).spec(key)
        try:
            spec.normalize(name, value)
        except MlsysError as exc:
            return str(exc)
        return None

    def set_param(self, name: str, key: str, value) -> str | None:
        """Set a parameter; returns an error message instead of changing anything."""
        error = self.validate_param(name, key, value)
        if error:
            return error
        from core.graph.network import plain
        spec = layer_type(self.network.node(name).type).spec(key)
        new = plain(spec.normalize(name, value), spec.kind)
        old = self.network.node(name).params.get(key)
        if new != old:
            self.undo_stack.push(SetParamCommand(self, name, key, old, new))
        return None

    def set_default(self, key: str, value) -> None:
        old = self.network.defaults.get(key)
        if old != value:
            self.undo_stack.push(SetDefaultsCommand(self, key, old, value))

    def set_analysis_switches(self, bias_adds: bool | None = None,
                              optimizer: str | None = None) -> None:
        """View switches that are not part of the design (not undoable)."""
        if bias_adds is not None:
            self.bias_adds = bias_adds
        if optimizer is not None:
            self.optimizer = optimizer
        self.refresh()

    def connect_nodes(self, src: str, dst: str) -> str | None:
        """Feed src into dst; returns an error message when not allowed."""
        node = self.network.node(dst)
        kind = layer_type(node.type)
        new = list(node.inputs) + [src]
        if kind.max_inputs is not None and len(new) > kind.max_inputs:
            if kind.max_inputs == 1:
                new = [src]  # replacing the single input is what a drag means
            else:
                return f"{dst}: a {kind.name} takes at most {kind.max_inputs} inputs"
        if src == dst or dst in self.network.ancestors(src):
            return f"connecting {src} → {dst} would make a cycle"
        if src in node.inputs and kind.max_inputs == 1:
            return None
        self.undo_stack.push(SetInputsCommand(self, dst, node.inputs, new,
                                              f"Connect {src} → {dst}"))
        return None

    def disconnect_nodes(self, src: str, dst: str) -> None:
        node = self.network.node(dst)
        if src in node.inputs:
            new = list(node.inputs)
            new.remove(src)
            self.undo_stack.push(SetInputsCommand(self, dst, node.inputs, new,
                                                  f"Disconnect {src} → {dst}"))

    def insert_on_edge(self, src: str, dst: str, type_name: str, position=None) -> str:
        """A new layer between src and dst, as one undo step."""
        name = self.network.unique_name(_stem(type_name))
        node = self.network.node(dst)
        self.undo_stack.beginMacro(f"Insert {name} between {src} and {dst}")
        self.undo_stack.push(AddNodeCommand(self, type_name, name,
                                            layer_type(type_name).normalize(name, {}), [src],
                                            position))
        new = [name if s == src else s for s in node.inputs]
        self.undo_stack.push(SetInputsCommand(self, dst, node.inputs, new, "rewire"))
        self.undo_stack.endMacro()
        return name

    def move_nodes(self, moves: dict) -> None:
        moves = {n: (o, p) for n, (o, p) in moves.items() if n in self.network and o != p}
        if moves:
            self.undo_stack.push(MoveNodesCommand(self, moves))

    def rename_node(self, old: str, new: str) -> str | None:
        if old == new:
            return None
        try:
            self.network.copy().rename(old, new)  # dry run for the message
        except MlsysError as exc:
            return str(exc)
        self.undo_stack.push(RenameCommand(self, old, new))
        return None

    def convert_to_depthwise_separable(self) -> list[str]:
        """Every plain Conv2d becomes its depthwise-separable unit, as one undo step."""
        from core.graph.dsconv import CONVERTED_PARAMS, convertible  # not at start-up
        names = [n for n in self.network.nodes if convertible(self.network, n) is None]
        if not names:
            return []
        self.undo_stack.beginMacro("Convert to depthwise-separable")
        for name in names:
            params = {k: v for k, v in self.network.nodes[name].params.items()
                      if k in CONVERTED_PARAMS}
            self.undo_stack.push(ChangeTypeCommand(self, name, "DepthwiseSeparableConv2d",
                                                   params))
        self.undo_stack.endMacro()
        return names


def _stem(type_name: str) -> str:
    from core.graph.network import _default_stem
    return _default_stem(type_name)
