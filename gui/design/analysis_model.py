"""Qt table model over an Analysis: one row per layer (plus its visible parts) and a totals
row; every numeric cell knows the formula it came from (ToolTipRole and ``explain``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from core.graph.analysis import Analysis
from core.common.explain import V, Expr, shape_text

SORT_ROLE = Qt.UserRole + 10
_DISPLAY, _ALIGN, _FONT, _FOREGROUND, _TOOLTIP, _SORT = (
    int(Qt.DisplayRole), int(Qt.TextAlignmentRole), int(Qt.FontRole), int(Qt.ForegroundRole),
    int(Qt.ToolTipRole), int(SORT_ROLE))
_ROLES = frozenset((_DISPLAY, _ALIGN, _FONT, _FOREGROUND, _TOOLTIP, _SORT))
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_LEFT = int(Qt.AlignLeft | Qt.AlignVCenter)
_HORIZONTAL = Qt.Horizontal

CONVENTIONS = {
    "macs": "MAC = one multiply + one accumulate; bias is not a MAC.",
    "mul": "Unit multiplies (divisions count as multiplies).",
    "add": "Unit adds (subtractions count as adds); a dot product of n terms needs n − 1 "
           "adds, plus one for the bias when bias adds are on.",
    "logic": "Comparisons and selections (ReLU, max-pool, masks).",
    "special": "exp, log, tanh, erf, square root: one each.",
    "params": "Elements of the layer's weight and bias tensors.",
    "weight_bytes": "Parameters × bytes per element at the chosen precision.",
    "activation_bytes": "Batch × output elements × bytes per element (ids are int64).",
    "grad": "Backward at batch B; the first layer needs no input gradient.",
    "torch": "PyTorch FlopCounterMode: 2 × MACs of conv/linear/matmul only.",
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    numeric: bool
    group: str  # "info", "forward", "backward"
    getter: Callable  # (RowRef, Analysis) -> Expr | str | None


@dataclass(frozen=True)
class RowRef:
    name: str | None  # None: the totals row
    part: int | None = None


def _fwd(key):
    def get(row, analysis):
        r = analysis.nodes[row.name]
        if row.part is None:
            return getattr(r.forward, key) if r.ok else None
        expr = getattr(r.parts[row.part], key)
        b = analysis.options.batch
        return expr if b == 1 or not expr.value else V("B", b) * expr.bracketed()
    return get


def _shape(attr):
    def get(row, analysis):
        r = analysis.nodes[row.name]
        if row.part is not None:
            shape = getattr(r.parts[row.part], attr, None)
            return shape_text(shape) if shape else ""
        if attr == "input":
            return ", ".join(shape_text(s) for s in r.input_shapes)
        if attr == "output_shape":
            return shape_text(r.output_shape) if r.ok else r.status()
        shape = r.weight_shape if attr == "weight_shape" else r.bias_shape
        if shape is None and attr == "weight_shape" and len(r.param_shapes) > 1:
            return f"{len(r.param_shapes)} tensors"
        return shape_text(shape) if shape else ""
    return get


def _node(getter):
    def get(row, analysis):
        if row.part is not None:
            return None
        r = analysis.nodes[row.name]
        return getter(r) if r.ok else None
    return get


def _grad(which, key):
    def get(row, analysis):
        if row.part is not None:
            return None
        r = analysis.nodes[row.name]
        if r.backward is None:
            return None
        return getattr(getattr(r.backward, which), key)
    return get


COLUMNS = [
    Column("name", "layer", False, "info",
           lambda row, a: (a.nodes[row.name].parts[row.part].part and
                           "  ↳ " + a.nodes[row.name].parts[row.part].part)
           if row.part is not None else row.name),
    Column("type", "type", False, "info",
           lambda row, a: "" if row.part is not None else a.nodes[row.name].type),
    Column("input", "input", False, "info", _shape("input")),
    Column("output", "output", False, "info", _shape("output_shape")),
    Column("weight_shape", "weight", False, "info", _shape("weight_shape")),
    Column("bias_shape", "bias", False, "info", _shape("bias_shape")),
    Column("params", "params", True, "info", _node(lambda r: r.params_count)),
    Column("macs", "MACs", True, "forward", _fwd("macs")),
    Column("mul", "mul", True, "forward", _fwd("mul")),
    Column("add", "add", True, "forward", _fwd("add")),
    Column("logic", "logic", True, "forward", _fwd("logic")),
    Column("special", "special", True, "forward", _fwd("special")),
    Column("weight_bytes", "weight bytes", True, "info",
           _node(lambda r: r.weight_bytes + r.bias_bytes)),
    Column("activation_bytes", "activation bytes", True, "info",
           _node(lambda r: r.activation_bytes)),
    Column("w_mul", "∇W mul", True, "backward", _grad("weight_grad", "mul")),
    Column("w_add", "∇W add", True, "backward", _grad("weight_grad", "add")),
    Column("b_add", "∇b add", True, "backward", _grad("bias_grad", "add")),
    Column("x_mul", "∇x mul", True, "backward", _grad("input_grad", "mul")),
    Column("x_add", "∇x add", True, "backward", _grad("input_grad", "add")),
    Column("x_logic", "∇x logic", True, "backward", _grad("input_grad", "logic")),
    Column("losses", "losses", False, "backward",
           lambda row, a: "" if row.part is not None else ", ".join(a.nodes[row.name].losses)),
    Column("torch_fwd", "torch FLOPs fwd", True, "forward",
           _node(lambda r: r.torch_forward)),
    Column("torch_bwd", "torch FLOPs bwd", True, "backward",
           _node(lambda r: r.torch_backward)),
]

TOTALS = {"params": "params", "macs": "macs", "mul": "mul", "add": "add", "logic": "logic",
          "special": "special", "activation_bytes": "activation_bytes",
          "torch_fwd": "flops_torch_forward", "torch_bwd": "flops_torch_backward"}


class AnalysisTableModel(QAbstractTableModel):
    """Rows: each node and its parts, then totals. ``set_mode`` picks the column groups."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysis: Analysis | None = None
        self.rows: list[RowRef] = []
        self.mode = "forward"
        self.columns = self._columns_for(self.mode)
        self._cache: dict = {}

    @staticmethod
    def _columns_for(mode: str) -> list[Column]:
        groups = {"forward": ("info", "forward"), "backward": ("info", "backward"),
                  "both": ("info", "forward", "backward")}[mode]
        return [c for c in COLUMNS if c.group in groups]

    def set_mode(self, mode: str) -> None:
        self.beginResetModel()
        self._cache = {}
        self.mode = mode
        self.columns = self._columns_for(mode)
        self.endResetModel()

    def set_analysis(self, analysis: Analysis | None) -> None:
        self.beginResetModel()
        self._cache = {}
        self.analysis = analysis
        self.rows = []
        if analysis is not None:
            for name in analysis.order:
                self.rows.append(RowRef(name))
                parts = analysis.nodes[name].parts
                if len(parts) > 1:
                    self.rows.extend(RowRef(name, i) for i in range(len(parts)))
            self.rows.append(RowRef(None))
        self.endResetModel()

    # -- Qt model API -------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        role = int(role)
        if role not in (_DISPLAY, _TOOLTIP):
            return None
        if orientation == _HORIZONTAL and 0 <= section < len(self.columns):
            column = self.columns[section]
            if role == _DISPLAY:
                return column.header
            return CONVENTIONS.get(column.key, CONVENTIONS.get(
                "grad" if column.group == "backward" else "", column.header))
        if orientation != _HORIZONTAL and role == _DISPLAY:
            return section + 1
        return None

    def cell(self, row: int, column: int):
        """The raw cell: an Expr, a string, an int (totals) or None (cached per reset:
        views ask for the same cell many times per paint)."""
        key = (row, column)
        if key not in self._cache:
            ref, col = self.rows[row], self.columns[column]
            self._cache[key] = self._total(col) if ref.name is None else col.getter(
                ref, self.analysis)
        return self._cache[key]

    def _total(self, col: Column):
        if col.key == "name":
            return "total"
        key = TOTALS.get(col.key)
        t = self.analysis.totals
        if key:
            return getattr(t, key)
        if col.key == "weight_bytes":
            return t.weight_bytes + t.bias_bytes
        if col.group == "backward" and col.numeric:
            return sum((self.cell_value(RowRef(n), col) or 0) for n in self.analysis.order)
        return ""

    @staticmethod
    def _value(raw):
        return raw.value if isinstance(raw, Expr) else raw

    def cell_value(self, ref: RowRef, col: Column):
        raw = col.getter(ref, self.analysis)
        return self._value(raw)

    def data(self, index, role=Qt.DisplayRole):
        # Plain ints and an early exit for the roles this model does not answer: a view
        # asks each cell for about ten roles, and sizing the columns asks every cell of
        # the first rows (this was most of the first window's build time).
        role = int(role)
        if role not in _ROLES or not index.isValid() or self.analysis is None:
            return None
        row, column = index.row(), index.column()
        if role == _DISPLAY:
            value = self._value(self.cell(row, column))
            if value is None:
                return ""
            return f"{value:,}" if isinstance(value, int) else str(value)
        col, ref = self.columns[column], self.rows[row]
        if role == _ALIGN:
            return _RIGHT if col.numeric else _LEFT
        if role == _FONT:
            return _bold_font() if ref.name is None else None
        if role == _FOREGROUND:
            if ref.name is not None and not self.analysis.nodes[ref.name].ok:
                return QColor("#d63031")
            return QColor("#7f8c8d") if ref.part is not None else None
        raw = self.cell(row, column)
        value = self._value(raw)
        if role == _SORT:
            if ref.name is None:  # the totals row sorts last either way
                return float("inf") if col.numeric else "\uffff"
            return value if value is not None else (-1 if col.numeric else "")
        if isinstance(raw, Expr) and raw.value:  # the tooltip
            return raw.explain()
        if ref.name is not None and not self.analysis.nodes[ref.name].ok:
            return self.analysis.nodes[ref.name].status()
        return None

    def explain(self, row: int, column: int) -> str:
        """HTML explaining a cell: the quantity, its formula with values, the convention."""
        if self.analysis is None or not (0 <= row < len(self.rows)):
            return ""
        ref, col = self.rows[row], self.columns[column]
        raw = self.cell(row, column)
        who = "all layers" if ref.name is None else ref.name + (
            f" ({self.analysis.nodes[ref.name].parts[ref.part].part})" if ref.part is not None
            else "")
        lines = [f"<b>{col.header}</b> of <b>{who}</b>"]
        if isinstance(raw, Expr):
            lines.append(f"<p style='font-family:monospace'>{_html(raw.symbolic)}<br>= "
                         f"{_html(raw.substituted)}<br>= {raw.value:,}</p>")
        elif raw not in (None, ""):
            lines.append(f"<p>{_html(str(raw if not isinstance(raw, int) else f'{raw:,}'))}</p>")
        if ref.name is not None:
            result = self.analysis.nodes[ref.name]
            notes = ([result.parts[ref.part].notes] if ref.part is not None
                     else [p.notes for p in result.parts if p.notes])
            if col.group == "backward" and result.backward is not None and \
                    result.backward.notes:
                notes = [result.backward.notes]
            for note in notes:
                if note:
                    lines.append(f"<p><i>{_html(note)}</i></p>")
        convention = CONVENTIONS.get(col.key) or (CONVENTIONS["grad"]
                                                   if col.group == "backward" else "")
        if col.key.startswith("torch"):
            convention = CONVENTIONS["torch"]
        if convention:
            opts = self.analysis.options
            lines.append(f"<p style='color:gray'>{_html(convention)} Batch {opts.batch}, "
                         f"{opts.precision}, bias adds {'on' if opts.bias_adds else 'off'}.</p>")
        return "".join(lines)


_BOLD = []


def _bold_font():
    """One shared bold font: returning a fresh QFont from data() on every call made
    PySide6 6.12 lose references to None (measured: it crashed long sessions)."""
    if not _BOLD:
        from PySide6.QtGui import QFont
        font = QFont()
        font.setBold(True)
        _BOLD.append(font)
    return _BOLD[0]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

