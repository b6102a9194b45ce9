"""A grid of the test images a trained model gets wrong, filterable by true and predicted
digit (the Training panel calls ``filter_to`` when a confusion-matrix cell is clicked).

Thumbnails are made in one numpy step for the (at most ``MAX_SHOWN``) images shown: ink
inverted to dark on white and each pixel repeated ``THUMB_SCALE`` times (nearest), then one
QImage copy and one QPixmap per image. No torch here.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QListView,
                               QListWidget, QListWidgetItem, QStackedWidget, QVBoxLayout,
                               QWidget)

MAX_SHOWN = 200
IMAGE_SIZE = 28
NUM_CLASSES = 10
THUMB_SCALE = 2
THUMB = IMAGE_SIZE * THUMB_SCALE  # 56 px
FRAME_GRAY = 200  # a 1-px frame separates the white thumbnails on the white grid
CELL = QSize(THUMB + 20, THUMB + 26)  # grid cell: thumbnail and a one-line caption
NO_RESULTS = "Train a model to see the test images it gets wrong."
NO_ERRORS = "No misclassified test images."
INDEX_ROLE = Qt.UserRole
EMPTY_STYLE = "color: #808080; font-size: 11pt;"


def thumbnail_pixmaps(images_u8: np.ndarray) -> list[QPixmap]:
    """K×28×28 uint8 (0 background, 255 ink) → K pixmaps of THUMB×THUMB, dark ink on
    white, scaled by pixel repetition, with a light gray 1-px frame."""
    inverted = np.subtract(255, images_u8, dtype=np.uint8)
    big = np.ascontiguousarray(inverted.repeat(THUMB_SCALE, 1).repeat(THUMB_SCALE, 2))
    for edge in (big[:, 0, :], big[:, -1, :], big[:, :, 0], big[:, :, -1]):
        np.minimum(edge, FRAME_GRAY, out=edge)
    pixmaps = []
    for tile in big:
        image = QImage(tile.data, THUMB, THUMB, THUMB, QImage.Format_Grayscale8)
        pixmaps.append(QPixmap.fromImage(image.copy()))  # the copy owns its pixels
    return pixmaps


def _as_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images of shape {images.shape} are not allowed: use "
                         f"N×{IMAGE_SIZE}×{IMAGE_SIZE}")
    if images.dtype == np.uint8:
        return images
    scale = 255.0 if images.size and float(images.max()) <= 1.0 else 1.0
    return np.clip(np.rint(images * scale), 0, 255).astype(np.uint8)


def _labels(values, n: int, name: str) -> np.ndarray:
    array = np.asarray(values).reshape(-1).astype(np.int64)
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} values for {n} images")
    return array


def _digit_combo(tip: str) -> QComboBox:
    combo = QComboBox()
    combo.addItem("all", None)
    for digit in range(NUM_CLASSES):
        combo.addItem(str(digit), digit)
    combo.setToolTip(tip)
    return combo


def _check_digit(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 <= int(value) < NUM_CLASSES:
        raise ValueError(f"{name} {value!r} is not allowed: use None or a digit 0..9")
    return int(value)


class MisclassifiedGallery(QWidget):
    """Misclassified test images as captioned thumbnails ("7 → 2": true → predicted)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._images: np.ndarray | None = None  # the whole split, kept by reference
        self._truth = np.zeros(0, np.int64)
        self._predicted = np.zeros(0, np.int64)
        self._probabilities: np.ndarray | None = None
        self._wrong = np.zeros(0, np.int64)  # indices of all misclassified images
        self._shown = np.zeros(0, np.int64)  # indices of the thumbnails on screen
        self._matches = 0  # misclassified images passing the filter
        self._build()
        self._show_state()

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.true_combo = _digit_combo("Show only images whose true digit is this")
        self.predicted_combo = _digit_combo("Show only images predicted as this digit")
        self.true_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.predicted_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.list = self._make_list()
        self.empty_label = QLabel(NO_RESULTS)
        self.empty_label.setAlignment(Qt.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet(EMPTY_STYLE)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.list)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("true digit:"))
        filters.addWidget(self.true_combo)
        filters.addSpacing(12)
        filters.addWidget(QLabel("predicted:"))
        filters.addWidget(self.predicted_combo)
        filters.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)

    @staticmethod
    def _make_list() -> QListWidget:
        view = QListWidget()
        view.setViewMode(QListView.IconMode)
        view.setIconSize(QSize(THUMB, THUMB))
        view.setGridSize(CELL)
        view.setResizeMode(QListView.Adjust)
        view.setMovement(QListView.Static)
        view.setUniformItemSizes(True)
        view.setWordWrap(False)
        view.setSelectionMode(QAbstractItemView.SingleSelection)
        view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        view.setStyleSheet("QListWidget { background: white; color: black; }")
        return view

    # -- data --------------------------------------------------------------------------
    def set_results(self, images_u8: np.ndarray, truth: np.ndarray, predicted: np.ndarray,
                    probabilities: np.ndarray | None = None) -> None:
        """Show the images with truth != predicted (the filter in force is kept)."""
        images = _as_uint8(images_u8)
        n = len(images)
        truth, predicted = _labels(truth, n, "truth"), _labels(predicted, n, "predicted")
        if probabilities is not None:
            probabilities = np.asarray(probabilities)
            if probabilities.shape != (n, NUM_CLASSES):
                raise ValueError(f"probabilities of shape {probabilities.shape} do not fit "
                                 f"{n} images: use {n}×{NUM_CLASSES}")
        self._images, self._truth, self._predicted = images, truth, predicted
        self._probabilities = probabilities
        self._wrong = np.flatnonzero(truth != predicted)
        self._refresh()

    @Slot()
    def clear(self) -> None:
        """Forget the results (filters back to all) and show the "train a model" state."""
        self._images = None
        self._truth = self._predicted = np.zeros(0, np.int64)
        self._probabilities = None
        self._wrong = np.zeros(0, np.int64)
        self._set_combos(None, None)
        self._refresh()

    def has_results(self) -> bool:
        return self._images is not None

    def shown_indices(self) -> np.ndarray:
        """Test-set indices of the thumbnails on screen, in order."""
        return self._shown.copy()

    def misclassified_count(self) -> int:
        return int(len(self._wrong))

    # -- filter ------------------------------------------------------------------------
    def filter_to(self, true_digit: int | None, predicted: int | None) -> None:
        """Show only images of ``true_digit`` predicted as ``predicted`` (None: any)."""
        true_digit = _check_digit(true_digit, "true_digit")
        predicted = _check_digit(predicted, "predicted")
        self._set_combos(true_digit, predicted)
        self._refresh()

    def current_filter(self) -> tuple[int | None, int | None]:
        return self.true_combo.currentData(), self.predicted_combo.currentData()

    def _set_combos(self, true_digit: int | None, predicted: int | None) -> None:
        for combo, value in ((self.true_combo, true_digit), (self.predicted_combo, predicted)):
            combo.blockSignals(True)
            combo.setCurrentIndex(0 if value is None else value + 1)
            combo.blockSignals(False)

    @Slot(int)
    def _on_filter_changed(self, _index: int) -> None:
        self._refresh()

    def _filtered(self) -> np.ndarray:
        index = self._wrong
        true_digit, predicted = self.current_filter()
        if true_digit is not None:
            index = index[self._truth[index] == true_digit]
        if predicted is not None:
            index = index[self._predicted[index] == predicted]
        return index

    def _filter_text(self) -> str:
        true_digit, predicted = self.current_filter()
        parts = ([] if true_digit is None else [f"true {true_digit}"]) + \
            ([] if predicted is None else [f"predicted {predicted}"])
        return " → ".join(parts)

    # -- drawing -----------------------------------------------------------------------
    def _refresh(self) -> None:
        matches = self._filtered() if self.has_results() else np.zeros(0, np.int64)
        self._matches = len(matches)
        self._shown = matches[:MAX_SHOWN]
        self.list.setUpdatesEnabled(False)
        try:
            self.list.clear()
            if len(self._shown):
                pixmaps = thumbnail_pixmaps(self._images[self._shown])
                for index, pixmap in zip(self._shown.tolist(), pixmaps):
                    self.list.addItem(self._make_item(index, pixmap))
        finally:
            self.list.setUpdatesEnabled(True)
        self._show_state()

    def _make_item(self, index: int, pixmap: QPixmap) -> QListWidgetItem:
        truth, predicted = int(self._truth[index]), int(self._predicted[index])
        item = QListWidgetItem(QIcon(pixmap), f"{truth} → {predicted}")
        item.setData(INDEX_ROLE, index)
        item.setToolTip(self._tooltip(index, truth, predicted))
        item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
        return item

    def _tooltip(self, index: int, truth: int, predicted: int) -> str:
        lines = [f"Test image #{index:,}", f"True digit: {truth}", f"Predicted: {predicted}"]
        if self._probabilities is not None:
            row = self._probabilities[index]
            lines[1] += f" (probability {100 * float(row[truth]):.1f} %)"
            lines[2] += f" (confidence {100 * float(row[predicted]):.1f} %)"
        return "\n".join(lines)

    def _show_state(self) -> None:
        self.header.setText(self._header_text())
        self.header.setVisible(self.has_results())
        self.true_combo.setEnabled(self.has_results())
        self.predicted_combo.setEnabled(self.has_results())
        if len(self._shown):
            self.stack.setCurrentWidget(self.list)
            return
        if not self.has_results():
            text = NO_RESULTS
        elif len(self._wrong) == 0:
            text = NO_ERRORS
        else:
            text = f"No misclassified test images with {self._filter_text()}."
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _header_text(self) -> str:
        if not self.has_results():
            return ""
        total, n = len(self._wrong), len(self._truth)
        share = f"{100 * total / max(n, 1):.1f} % of {n:,} test images"
        where = self._filter_text()
        if not where:
            return (f"Showing {len(self._shown):,} of {total:,} misclassified ({share})"
                    if total else f"All {n:,} test images classified correctly")
        count = (f"Showing {len(self._shown):,} of {self._matches:,}" if self._matches
                 else "None")
        return f"{count} with {where} ({total:,} misclassified, {share})"
