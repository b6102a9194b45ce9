"""Draw a digit with the mouse and let the trained model classify it.

``DrawingPad`` keeps the drawing in a white QImage with black round-capped strokes about as
wide, relative to the canvas, as MNIST pen strokes; ``image()`` gives it as floats (1 =
ink). ``DigitClassifier`` shows the pad, what the model sees (core.training.mnist_style:
cropped, scaled to 20×20, centred by mass on 28×28), the ten class probabilities and the
prediction, updated on every stroke release. Prediction of one image is quick, so it runs
in the GUI thread; core.training.trainer (and with it torch) is imported only when a model is set
and something is drawn, never at import time.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QImage, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from gui.training.plots import styled_plot

CANVAS = 280
PEN_WIDTH = 20
NUM_CLASSES = 10
PREVIEW_SCALE = 4
NO_MODEL = "Train a model first"
DRAW_PROMPT = "Draw a digit"
ERROR_STYLE = "color: #c0392b;"
BAR_COLOR = (160, 180, 210)
TOP_COLOR = (31, 119, 180)
HINT = "Draw with the mouse · right-click, Delete or Clear erases · Ctrl+Z undoes a stroke"


def gray_pixmap(image01: np.ndarray, scale: int = 1) -> QPixmap:
    """H×W floats in [0, 1] (1 = ink) as a dark-on-white pixmap, pixels repeated ``scale``
    times (nearest)."""
    gray = np.rint(255 * (1 - np.clip(image01, 0, 1))).astype(np.uint8)
    gray = np.ascontiguousarray(gray.repeat(scale, 0).repeat(scale, 1))
    h, w = gray.shape
    return QPixmap.fromImage(QImage(gray.data, w, h, w, QImage.Format_Grayscale8).copy())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DrawingPad(QWidget):
    """A square canvas drawn on with the left mouse button (black on white)."""

    sig_changed = Signal()  # a stroke ended, or the drawing was cleared, undone or set

    def __init__(self, parent=None, size: int = CANVAS, pen_width: float = PEN_WIDTH):
        super().__init__(parent)
        self.canvas_size = int(size)
        self.pen_width = float(pen_width)
        self._canvas = QImage(self.canvas_size, self.canvas_size, QImage.Format_RGB32)
        self._base: QImage | None = None  # content given by set_image, under the strokes
        self._strokes: list[list[QPointF]] = []
        self._current: list[QPointF] | None = None  # the stroke being drawn
        self._canvas.fill(Qt.white)
        self.setFixedSize(self.canvas_size, self.canvas_size)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip(HINT)

    # -- state -------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self._base is None and not self._strokes and self._current is None

    def stroke_count(self) -> int:
        return len(self._strokes)

    def image(self) -> np.ndarray:
        """The drawing as float32 H×W in [0, 1] (1 = ink), at canvas resolution."""
        c = self._canvas
        raw = np.frombuffer(c.constBits(), np.uint8, count=c.sizeInBytes())
        rows = raw.reshape(c.height(), c.bytesPerLine())[:, :4 * c.width()]
        green = rows.reshape(c.height(), c.width(), 4)[:, :, 1]  # gray: any colour channel
        return 1.0 - green.astype(np.float32) / 255.0

    def set_image(self, image01: np.ndarray) -> None:
        """Replace the drawing with an image (H×W floats in [0, 1], 1 = ink; any size,
        scaled smoothly to the canvas). Strokes drawn afterwards go on top."""
        array = np.asarray(image01, dtype=np.float32)
        if array.ndim != 2 or min(array.shape) < 1:
            raise ValueError(f"image of shape {array.shape} is not allowed: use a 2-D array")
        self._strokes, self._current = [], None
        self._base = None
        if float(array.max()) > 0:
            image = gray_pixmap(array).toImage().convertToFormat(QImage.Format_RGB32)
            self._base = image.scaled(self.canvas_size, self.canvas_size,
                                      Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
        self._redraw()
        self.sig_changed.emit()

    @Slot()
    def clear(self) -> None:
        self._base, self._strokes, self._current = None, [], None
        self._redraw()
        self.sig_changed.emit()

    @Slot()
    def undo(self) -> bool:
        """Remove the last stroke; False if there was none."""
        if not self._strokes:
            return False
        self._strokes.pop()
        self._redraw()
        self.sig_changed.emit()
        return True

    def draw_strokes(self, strokes: list[list[tuple[float, float]]]) -> None:
        """Draw strokes of canvas points through the mouse's code path (``sig_changed``
        once per stroke)."""
        for stroke in strokes:
            points = [QPointF(float(x), float(y)) for x, y in stroke]
            if not points:
                continue
            self._begin_stroke(points[0])
            for point in points[1:]:
                self._extend_stroke(point)
            self._end_stroke()

    # -- strokes -----------------------------------------------------------------------
    def _painter(self) -> QPainter:
        painter = QPainter(self._canvas)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(Qt.black, self.pen_width, Qt.SolidLine, Qt.RoundCap,
                            Qt.RoundJoin))
        return painter

    def _begin_stroke(self, point: QPointF) -> None:
        self._current = [QPointF(point)]
        painter = self._painter()
        painter.drawPoint(point)
        painter.end()
        self._update_around(point, point)

    def _extend_stroke(self, point: QPointF) -> None:
        last = self._current[-1]
        if point == last:
            return
        self._current.append(QPointF(point))
        painter = self._painter()
        painter.drawLine(last, point)
        painter.end()
        self._update_around(last, point)

    def _end_stroke(self) -> None:
        self._strokes.append(self._current)
        self._current = None
        self.sig_changed.emit()

    def _redraw(self) -> None:
        if self._base is not None:
            self._canvas = self._base.copy()
        else:
            self._canvas.fill(Qt.white)
        painter = self._painter()
        for stroke in self._strokes:
            if len(stroke) == 1:
                painter.drawPoint(stroke[0])
            else:
                painter.drawPolyline(stroke)
        painter.end()
        self.update()

    def _update_around(self, a: QPointF, b: QPointF) -> None:
        margin = self.pen_width / 2 + 2
        rect = QRectF(a, b).normalized().adjusted(-margin, -margin, margin, margin)
        self.update(rect.toAlignedRect())

    # -- Qt events ---------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            if self._current is not None:  # a release was lost: keep that stroke
                self._end_stroke()
            self._begin_stroke(event.position())
            event.accept()
        elif event.button() == Qt.RightButton and self._current is None:
            self.clear()
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._current is not None:
            self._extend_stroke(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self._current is not None:
            self._extend_stroke(event.position())
            self._end_stroke()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.Undo):
            self.undo()
        elif event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.clear()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(self.rect(), self._canvas)
        if self.is_empty():
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignCenter, "draw a digit here")
        painter.setPen(QColor(150, 150, 150))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()


class DigitClassifier(QWidget):
    """A DrawingPad, the 28×28 image the model sees, its class probabilities and the
    predicted digit, updated on every stroke. ``set_model`` takes anything with
    ``predict(image28) -> Prediction`` (core.training.TrainedModel), or None."""

    sig_classified = Signal(object)  # the Prediction, or None (no model, empty, error)

    def __init__(self, model=None, parent=None):
        super().__init__(parent)
        self._model = None
        self.prediction = None  # the last Prediction (label, probabilities) or None
        self.model_input: np.ndarray | None = None  # the last 28×28 image given to predict
        self._build()
        self.pad.sig_changed.connect(self.classify)
        self.set_model(model)

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        self.pad = DrawingPad()
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Erase the drawing (also: right-click, Delete)")
        self.clear_button.clicked.connect(self.pad.clear)
        self.undo_button = QPushButton("Undo stroke")
        self.undo_button.setToolTip("Remove the last stroke (also: Ctrl+Z)")
        self.undo_button.clicked.connect(self.pad.undo)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #808080;")
        hint.setMaximumWidth(CANVAS)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.pad)
        left.addLayout(buttons)
        left.addWidget(hint)
        left.addStretch(1)

        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addLayout(self._build_results(), 1)

    def _build_results(self) -> QVBoxLayout:
        self.result_label = QLabel()
        font = QFont(self.result_label.font())
        font.setPointSize(max(16, font.pointSize() + 8))
        font.setBold(True)
        self.result_label.setFont(font)
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.preview = QLabel()
        side = 28 * PREVIEW_SCALE
        self.preview.setFixedSize(side + 2, side + 2)
        self.preview.setFrameShape(QFrame.Box)
        self.preview.setToolTip("What the model sees: the drawing cropped, scaled to 20×20 "
                                "and centred on 28×28 by its centre of mass, as MNIST")
        preview_box = QVBoxLayout()
        preview_box.addWidget(QLabel("Model input (28×28)"))
        preview_box.addWidget(self.preview)
        preview_box.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(preview_box)
        top.addWidget(self._build_chart(), 1)
        column = QVBoxLayout()
        column.addWidget(self.result_label)
        column.addLayout(top, 1)
        return column

    def _build_chart(self) -> pg.PlotWidget:
        self.chart = styled_plot("Class probabilities", "probability (%)", legend=False)
        self.chart.setLabel("bottom", "digit")
        self.chart.getAxis("bottom").setTicks([[(d, str(d)) for d in range(NUM_CLASSES)]])
        self.chart.setXRange(-0.6, NUM_CLASSES - 0.4, padding=0)
        self.chart.setYRange(0, 100, padding=0.02)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.setMenuEnabled(False)
        self.chart.hideButtons()
        self.chart.showGrid(x=False, y=True, alpha=0.25)
        self.chart.setMinimumSize(240, 180)
        self.chart.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.bars = pg.BarGraphItem(x=np.arange(NUM_CLASSES), height=np.zeros(NUM_CLASSES),
                                    width=0.7, brush=BAR_COLOR, pen=None)
        self.chart.addItem(self.bars)
        return self.chart

    # -- model -------------------------------------------------------------------------
    def set_model(self, model) -> None:
        """Use ``model`` (None: nothing to classify with) and classify the drawing."""
        self._model = model
        self.classify()

    def model(self):
        return self._model

    @Slot()
    def classify(self):
        """Classify the drawing now; returns the Prediction or None."""
        self.prediction, self.model_input = None, None
        if self._model is None:
            self._show(NO_MODEL)
        elif self.pad.is_empty():
            self._show(DRAW_PROMPT)
        else:
            self._predict()
        self.sig_classified.emit(self.prediction)
        return self.prediction

    def _predict(self) -> None:
        try:
            from core.training.trainer import mnist_style
            self.model_input = mnist_style(self.pad.image())
            prediction = self._model.predict(self.model_input)
            digit = int(prediction.label)
            probabilities = np.asarray(prediction.probabilities, dtype=np.float64).ravel()
            if probabilities.shape != (NUM_CLASSES,):
                raise ValueError(f"the model gave {probabilities.size} probabilities, not "
                                 f"{NUM_CLASSES}")
        except Exception as exc:  # shown in the label, never as a dialog
            self._show(f"Could not classify the drawing: {_one_line(exc)}", error=True)
            return
        self.prediction = prediction
        self._show(f"Prediction: {digit} ({100 * probabilities[digit]:.1f} %)",
                   probabilities, digit)

    def _show(self, text: str, probabilities: np.ndarray | None = None,
              digit: int | None = None, error: bool = False) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet(ERROR_STYLE if error else "")
        heights = np.zeros(NUM_CLASSES) if probabilities is None else 100 * probabilities
        brushes = [pg.mkBrush(TOP_COLOR if d == digit else BAR_COLOR)
                   for d in range(NUM_CLASSES)]
        self.bars.setOpts(height=heights, brushes=brushes)
        if self.model_input is None:
            self.preview.clear()
        else:
            self.preview.setPixmap(gray_pixmap(self.model_input, PREVIEW_SCALE))
