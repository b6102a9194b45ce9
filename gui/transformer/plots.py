"""The three plots: bits per edge kind against d_model (log axes available), bits per
sending block stacked for each d_model, and bits per edge kind against the sequence length
with the crossover of the s² edges marked."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.common.errors import InputError
from core.transformer.config import TransformerConfig
from core.transformer.ledger import KINDS, build_ledger, crossover

from gui.transformer.diagram import KIND_COLORS

D_MODELS = (64, 128, 256, 512, 1024, 2048, 4096)
SEQ_LENS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
# Sending blocks grouped for the stacked bars, with their colours.
BLOCK_GROUPS = (
    ("embeddings", ("embed", "pos"), "#868e96"),
    ("Q/K/V projections", ("q_proj", "k_proj", "v_proj"), "#1c7ed6"),
    ("scores, mask, softmax", ("scores", "mask", "softmax"), "#e03131"),
    ("weighted sum, out proj", ("weighted_sum", "out_proj"), "#f08c00"),
    ("add & norm", ("add_norm", "add", "norm"), "#74c0fc"),
    ("FFN up, act, down", ("up", "act", "down"), "#2f9e44"),
    ("final projection", ("generator",), "#9c36b5"),
)


def sweep_configs(cfg: TransformerConfig, auto_ffn: bool):
    """(d_model, config) for the d_model axis, skipping sizes the heads do not divide."""
    out = []
    for d in D_MODELS:
        try:
            out.append((d, cfg.with_(d_model=d, ffn=4 * d if auto_ffn else cfg.ffn)))
        except InputError:
            continue
    return out


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(title, color="#212529", size="10pt")
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.showGrid(x=True, y=True, alpha=0.25)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    plot.addLegend(offset=(8, 8), labelTextSize="8pt")
    return plot


class LedgerPlots(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.log_axes = QCheckBox("log axes")
        self.log_axes.setChecked(True)
        self.log_axes.setToolTip("Logarithmic axes for the two line plots (the stacked bars "
                                 "stay linear so the stacks add up visibly)")
        self.log_axes.toggled.connect(self._apply_log)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.plot_area = QWidget()
        grid = QGridLayout(self.plot_area)
        grid.setContentsMargins(0, 0, 0, 0)
        self.vs_d = _plot("bits per edge kind vs d_model", "bits", "d_model")
        self.stacked = _plot("bits sent per block vs d_model (stacked)", "Mbit (10⁶ bits)",
                             "d_model")
        self.vs_s = _plot("bits per edge kind vs sequence length (s = t)", "bits", "s")
        grid.addWidget(self.vs_d, 0, 0)
        grid.addWidget(self.stacked, 0, 1)
        grid.addWidget(self.vs_s, 1, 0, 1, 2)
        top = QHBoxLayout()
        top.addWidget(self.log_axes)
        top.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot_area, 1)
        self.vlines: list[tuple[pg.InfiniteLine, float]] = []   # (line, x in data units)

    def set_config(self, cfg: TransformerConfig, auto_ffn: bool) -> None:
        self.vlines = []
        points = [(d, build_ledger(c)) for d, c in sweep_configs(cfg, auto_ffn)]
        self._lines(self.vs_d, [(d, l.bits_by_kind()) for d, l in points], cfg.d_model)
        self.ticks = {self.vs_d: [d for d, _ in points], self.vs_s: list(SEQ_LENS)}
        self._stack(points)
        seq = [(s, build_ledger(cfg.with_(src_len=s, tgt_len=s)).bits_by_kind())
               for s in SEQ_LENS]
        cross = crossover(cfg)
        self._lines(self.vs_s, seq, None)
        self.crossover_line = self._vline(
            self.vs_s, cross.total, f"s² edges overtake d_model edges: s = {cross.total}",
            pg.mkPen("#e03131", width=2, style=pg.QtCore.Qt.DashLine), "#c92a2a")
        self.crossover_line.setToolTip(cross.explain())
        ffn = "4 × d_model" if auto_ffn else str(cfg.ffn)
        self.caption.setText(f"Sweeps keep the form's configuration (FFN = {ffn}); the "
                             f"dashed line marks s = {cross.total}: {cross.explain()}.")
        self._apply_log(self.log_axes.isChecked())

    def _lines(self, plot: pg.PlotWidget, series, mark) -> None:
        plot.clear()
        xs = [x for x, _ in series]
        for kind in KINDS:
            ys = [kinds[kind] for _, kinds in series]
            plot.plot(xs, ys, pen=pg.mkPen(KIND_COLORS[kind], width=2), symbol="o",
                      symbolSize=5, symbolBrush=KIND_COLORS[kind], name=kind)
        if mark is not None:
            self._vline(plot, mark, "this configuration",
                        pg.mkPen("#868e96", width=1, style=pg.QtCore.Qt.DotLine), "#495057")

    def _vline(self, plot, x: float, label: str, pen, color: str) -> pg.InfiniteLine:
        line = pg.InfiniteLine(x, angle=90, pen=pen, label=label,
                               labelOpts={"position": 0.06, "color": color, "anchors":
                                          [(0, 1), (0, 1)]})
        plot.addItem(line)
        self.vlines.append((line, x))
        return line

    def _stack(self, points) -> None:
        plot = self.stacked
        plot.clear()
        xs = list(range(len(points)))
        bottom = [0] * len(points)
        for name, roles, color in BLOCK_GROUPS:
            heights = [sum(bits for role, bits in ledger.bits_by_role().items()
                           if role in roles) / 1e6 for _, ledger in points]
            plot.addItem(pg.BarGraphItem(x=xs, y0=list(bottom), height=heights, width=0.6,
                                         brush=color, pen=pg.mkPen("w", width=0.5), name=name))
            bottom = [b + h for b, h in zip(bottom, heights)]
        plot.getAxis("bottom").setTicks([[(i, str(d)) for i, (d, _) in enumerate(points)]])

    def _apply_log(self, on: bool) -> None:
        for plot in (self.vs_d, self.vs_s):
            plot.setLogMode(x=on, y=on)
        # An InfiniteLine sits in view coordinates: log10 of its x when log mode is on.
        for line, x in self.vlines:
            line.setValue(math.log10(x) if on else x)
        for plot, values in getattr(self, "ticks", {}).items():
            # In log mode, ticks at the swept values themselves (pyqtgraph's own log ticks
            # crowd a short range); linear axes keep their automatic ticks.
            ticks = [(math.log10(v), f"{v:,}") for v in values]
            plot.getAxis("bottom").setTicks([ticks, []] if on else None)

    def export_image(self, path: str) -> None:
        from gui.widgets.files import export_widget
        export_widget(self.plot_area, path, "MLSys Studio transformer plots")
