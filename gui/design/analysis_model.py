"""Qt table model over an Analysis: one row per layer (plus its visible parts) and a totals
row; every numeric cell knows the formula it came from (ToolTipRole and ``explain``).
Grouped (``set_grouped``), each run of repeated blocks (core.graph.blocks) is one row ×N
whose numbers are the sums over its members, and opens to list them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from core.graph.analysis import Analysis
from core.graph.blocks import RULE, Fold, find_folds, summed
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
    name: str | None  # None: the totals row, or a folded run's row (``block`` set)
    part: int | None = None
    block: str | None = None  # a folded run's id: this row sums its members
    member_of: str | None = None  # a layer listed under its open run

    @property
    def is_total(self) -> bool:
        return self.name is None and self.block is None


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
        self.grouped = False
        self.folds: list[Fold] = []  # while grouped
        self.expanded: set[str] = set()  # ids of the runs listed member by member

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
        self.folds = find_folds(analysis) if (self.grouped and analysis is not None) else []
        self.expanded &= {f.id for f in self.folds}
        self.rows = self._build_rows()
        self.endResetModel()

    def _build_rows(self) -> list[RowRef]:
        analysis = self.analysis
        if analysis is None:
            return []
        rows = []
        first_of = {f.nodes[0]: f for f in self.folds}
        inside = {n for f in self.folds for n in f.nodes}
        for name in analysis.order:
            fold = first_of.get(name)
            if fold is not None:
                rows.append(RowRef(None, block=fold.id))
                if fold.id in self.expanded:
                    for member in fold.nodes:
                        rows.extend(self._layer_rows(member, fold.id))
            if name not in inside:
                rows.extend(self._layer_rows(name))
        rows.append(RowRef(None))
        return rows

    def _layer_rows(self, name: str, member_of: str | None = None) -> list[RowRef]:
        rows = [RowRef(name, member_of=member_of)]
        parts = self.analysis.nodes[name].parts
        if len(parts) > 1:
            rows.extend(RowRef(name, i, member_of=member_of) for i in range(len(parts)))
        return rows

    def set_grouped(self, on: bool) -> None:
        """One row per run of repeated blocks (or every layer on its own row)."""
        self.grouped = bool(on)
        self.expanded.clear()
        self.set_analysis(self.analysis)

    def fold(self, fold_id: str) -> Fold | None:
        return next((f for f in self.folds if f.id == fold_id), None)

    def toggle_block(self, row: int) -> bool:
        """Open or close the run on ``row``; False when the row is not a run."""
        if not (0 <= row < len(self.rows)) or self.rows[row].block is None:
            return False
        fold_id = self.rows[row].block
        self.beginResetModel()
        self._cache = {}
        self.expanded ^= {fold_id}
        self.rows = self._build_rows()
        self.endResetModel()
        return True

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
            self._cache[key] = (self._total(col) if ref.is_total else
                                self._block_cell(self.fold(ref.block), col)
                                if ref.block is not None else self._layer_cell(ref, col))
        return self._cache[key]

    def _layer_cell(self, ref: RowRef, col: Column):
        raw = col.getter(ref, self.analysis)
        if col.key == "name" and ref.member_of is not None:
            return "    " + str(raw)
        return raw

    def _block_cell(self, fold: Fold, col: Column):
        """A run's cell: Σ over its member layers for numbers (the formula names each
        member), the run's name, size and outer shapes for the rest."""
        nodes = self.analysis.nodes
        if col.key == "name":
            mark = "▾" if fold.id in self.expanded else "▸"
            return f"{mark} {fold.label()}"
        if col.key == "type":
            return f"{len(fold.members[0])} layers ×{fold.count}"
        if col.key == "input":
            return col.getter(RowRef(fold.nodes[0]), self.analysis)
        if col.key == "output":
            return col.getter(RowRef(fold.nodes[-1]), self.analysis)
        if col.key == "losses":
            return ", ".join(dict.fromkeys(l for n in fold.nodes for l in nodes[n].losses))
        if not col.numeric:
            return ""
        values = [(n, self._value(col.getter(RowRef(n), self.analysis))) for n in fold.nodes]
        if all(v is None for _, v in values):
            return None
        return summed((n, v) for n, v in values if v)

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
            return _bold_font() if ref.name is None else None  # totals and folded runs
        if role == _FOREGROUND:
            if ref.name is not None and not self.analysis.nodes[ref.name].ok:
                return QColor("#d63031")
            return QColor("#7f8c8d") if ref.part is not None else None
        if role == _TOOLTIP and ref.block is not None and col.key in ("name", "type"):
            fold = self.fold(ref.block)
            return (f"{fold.span}: {fold.count} identical blocks of {len(fold.members[0])} "
                    f"layers. {RULE} Double-click to list its layers.")
        raw = self.cell(row, column)
        value = self._value(raw)
        if role == _SORT:
            if ref.is_total:  # the totals row sorts last either way
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
        if ref.block is not None:
            fold = self.fold(ref.block)
            who = (f"{fold.label()}: {fold.count} identical blocks, the sum over their "
                   f"{len(fold.nodes)} layers")
        else:
            who = "all layers" if ref.name is None else ref.name + (
                f" ({self.analysis.nodes[ref.name].parts[ref.part].part})"
                if ref.part is not None else "")
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

