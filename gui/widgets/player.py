"""The one animation player: play/pause, step, step back, seek, speed and "jump to next marker"
over frames 0..n-1, driven by a QTimer capped at ~30 updates a second.

Views never keep their own clocks: they connect ``sig_frame`` to ``render_frame(i)`` and draw
frame i from i alone, so seeking, stepping and playing all end in the same picture.
"""

from __future__ import annotations

import bisect

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton,
                               QWidget)

MAX_FPS = 30  # repaints per second at most, whatever the speed (DESIGN convention 5)
SPEEDS = (1, 2, 5, 10, 30, 100, 300, 1000, 10000)  # frames per second
DEFAULT_SPEED = 5


class PlayerWidget(QWidget):
    """Transport controls over ``frame_count`` frames; emits ``sig_frame(i)`` whenever i changes."""

    sig_frame = Signal(int)
    sig_playing = Signal(bool)

    def __init__(self, parent=None, unit: str = "step", marker_name: str = "reload", zero_based: bool = False):
        super().__init__(parent)
        self.unit = unit
        self.zero_based = zero_based  # label frames 0..n-1 (e.g. cycles) rather than 1..n
        self._count = 0
        self._frame = 0
        self._speed = float(DEFAULT_SPEED)
        self._markers: list[int] = []
        self._credit = 0.0  # fractional frames owed by the clock (speeds below the tick rate)
        self._clock = QElapsedTimer()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        # Dragging the slider redraws at most MAX_FPS times a second; the last position always wins.
        self._seek_timer = QTimer(self)
        self._seek_timer.setSingleShot(True)
        self._seek_timer.setInterval(int(1000 / MAX_FPS))
        self._seek_timer.timeout.connect(self._flush_seek)
        self._pending_seek: int | None = None
        self._build(marker_name)
        self._set_speed_interval()
        self._sync_controls()

    # -- construction ---------------------------------------------------------------------
    def _button(self, icon, tip: str, slot, text: str = "") -> QToolButton:
        button = QToolButton()
        if icon is not None:
            button.setIcon(self.style().standardIcon(icon))
        if text:
            button.setText(text)
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon if icon is not None
                                      else Qt.ToolButtonTextOnly)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _build(self, marker_name: str) -> None:
        sp = QStyle.StandardPixmap
        self.btn_start = self._button(sp.SP_MediaSkipBackward, "Go to the first frame (Home)",
                                      self.go_to_start)
        self.btn_back = self._button(sp.SP_MediaSeekBackward,
                                     f"Step back one {self.unit} (Left)", self.step_back)
        self.btn_play = self._button(sp.SP_MediaPlay, "Play / pause (Space)", self.toggle_play)
        self.btn_step = self._button(sp.SP_MediaSeekForward,
                                     f"Step forward one {self.unit} (Right)", self.step_forward)
        self.btn_end = self._button(sp.SP_MediaSkipForward, "Go to the last frame (End)",
                                    self.go_to_end)
        self.btn_marker = self._button(None, f"Jump to the next {marker_name}", self.jump_to_next_marker,
                                       text=f"next {marker_name} ⤓")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip(f"Seek: drag to any {self.unit}")
        self.slider.setMinimum(0)
        self.slider.valueChanged.connect(self._slider_moved)
        self.position = QLabel()
        self.position.setToolTip(f"Current {self.unit} / number of {self.unit}s")
        self.position.setMinimumWidth(110)
        self.position.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.speed_box = QComboBox()
        for fps in SPEEDS:
            self.speed_box.addItem(f"{fps:,} {self.unit}s/s", fps)
        self.speed_box.setCurrentIndex(SPEEDS.index(DEFAULT_SPEED))
        self.speed_box.setToolTip(f"Playback speed in {self.unit}s per second (the screen is "
                                  f"redrawn at most {MAX_FPS} times a second; faster speeds skip "
                                  f"{self.unit}s between redraws)")
        self.speed_box.currentIndexChanged.connect(self._speed_chosen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        for w in (self.btn_start, self.btn_back, self.btn_play, self.btn_step, self.btn_end):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.speed_box)
        layout.addWidget(self.btn_marker)

    # -- state ----------------------------------------------------------------------------
    @property
    def frame(self) -> int:
        return self._frame

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def speed(self) -> float:
        return self._speed

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def set_frame_count(self, n: int, frame: int = 0) -> None:
        """New animation of ``n`` frames; shows ``frame`` (clamped) and always emits it."""
        self.pause()
        self._count = max(0, int(n))
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, self._count - 1))
        self.slider.blockSignals(False)
        self._frame = -1
        self.set_frame(frame, force=True)

    def set_markers(self, frames) -> None:
        """Frames that "jump to next" stops at (e.g. buffer reloads), any order."""
        self._markers = sorted({int(f) for f in frames})
        self._sync_controls()

    def next_marker(self) -> int | None:
        i = bisect.bisect_right(self._markers, self._frame)
        return self._markers[i] if i < len(self._markers) else None

    def set_frame(self, i: int, force: bool = False) -> None:
        """Seek. Emits ``sig_frame`` when the frame changes (or ``force``)."""
        self._pending_seek = None
        if self._count == 0:
            changed, self._frame = self._frame != 0, 0
        else:
            i = min(max(int(i), 0), self._count - 1)
            changed, self._frame = i != self._frame, i
        self.slider.blockSignals(True)
        self.slider.setValue(self._frame)
        self.slider.blockSignals(False)
        self._sync_controls()
        if (changed or force) and self._count:
            self.sig_frame.emit(self._frame)

    def _slider_moved(self, value: int) -> None:
        if self._seek_timer.isActive():
            self._pending_seek = value
            return
        self.set_frame(value)
        self._seek_timer.start()

    def _flush_seek(self) -> None:
        if self._pending_seek is not None:
            value, self._pending_seek = self._pending_seek, None
            self.set_frame(value)
            self._seek_timer.start()

    def step(self, delta: int = 1) -> None:
        self.set_frame(self._frame + int(delta))

    def step_forward(self) -> None:
        self.step(1)

    def step_back(self) -> None:
        self.set_frame(self._frame - 1)

    def go_to_start(self) -> None:
        self.set_frame(0)

    def go_to_end(self) -> None:
        self.set_frame(self._count - 1)

    def jump_to_next_marker(self) -> None:
        target = self.next_marker()
        if target is not None:
            self.set_frame(target)

    # -- playing --------------------------------------------------------------------------
    def play(self) -> None:
        if self._count <= 1 or self.is_playing():
            return
        if self._frame >= self._count - 1:
            self.set_frame(0)  # play at the end starts over
        self._credit = 0.0
        self._clock.start()
        self.timer.start()
        self._sync_controls()
        self.sig_playing.emit(True)

    def pause(self) -> None:
        if not self.timer.isActive():
            return
        self.timer.stop()
        self._sync_controls()
        self.sig_playing.emit(False)

    def add_shortcuts(self, page) -> None:
        """Space plays/pauses, ←/→ step, Home/End jump, while focus is inside ``page``."""
        from PySide6.QtGui import QKeySequence, QShortcut
        for key, slot in ((Qt.Key_Space, self.toggle_play), (Qt.Key_Right, self.step_forward),
                          (Qt.Key_Left, self.step_back), (Qt.Key_Home, self.go_to_start),
                          (Qt.Key_End, self.go_to_end)):
            shortcut = QShortcut(QKeySequence(key), page)
            shortcut.setContext(Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def toggle_play(self) -> None:
        self.pause() if self.is_playing() else self.play()

    def set_speed(self, frames_per_second: float) -> None:
        self._speed = max(0.1, float(frames_per_second))
        index = self.speed_box.findData(int(self._speed)) if float(self._speed).is_integer() else -1
        if index >= 0 and index != self.speed_box.currentIndex():
            self.speed_box.blockSignals(True)
            self.speed_box.setCurrentIndex(index)
            self.speed_box.blockSignals(False)
        self._set_speed_interval()

    def _speed_chosen(self, index: int) -> None:
        self.set_speed(self.speed_box.itemData(index))

    def _set_speed_interval(self) -> None:
        self.timer.setInterval(int(max(1000 / MAX_FPS, 1000 / self._speed)))

    def _tick(self) -> None:
        # Advance by elapsed time, not by ticks: a slow repaint then skips frames instead of
        # slowing the animation down, and the redraw rate stays at most MAX_FPS.
        elapsed = self._clock.restart() / 1000.0
        self._credit += elapsed * self._speed
        advance = int(self._credit)
        if advance < 1:
            return
        self._credit -= advance
        target = self._frame + advance
        if target >= self._count - 1:
            self.set_frame(self._count - 1)
            self.pause()
            return
        self.set_frame(target)

    def _sync_controls(self) -> None:
        has = self._count > 0
        for w in (self.btn_start, self.btn_back, self.slider):
            w.setEnabled(has)
        self.btn_back.setEnabled(has and self._frame > 0)
        self.btn_step.setEnabled(has and self._frame < self._count - 1)
        self.btn_end.setEnabled(has and self._frame < self._count - 1)
        self.btn_play.setEnabled(self._count > 1)
        self.btn_marker.setEnabled(self.next_marker() is not None)
        icon = QStyle.StandardPixmap.SP_MediaPause if self.is_playing() else QStyle.StandardPixmap.SP_MediaPlay
        self.btn_play.setIcon(self.style().standardIcon(icon))
        if not has:
            self.position.setText(f"no {self.unit}s")
        elif self.zero_based:
            self.position.setText(f"{self.unit} {self._frame:,} (0–{self._count - 1:,})")
        else:
            self.position.setText(f"{self.unit} {self._frame + 1:,} / {self._count:,}")
