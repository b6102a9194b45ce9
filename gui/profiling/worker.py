"""Run the core profiling generator in a QThread; its events reach the GUI thread as
signals (the pattern of gui/training/worker.py: only signals cross threads, the stop flag
is a threading.Event).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

JOIN_TIMEOUT_MS = 5000

EventSource = Callable[[Callable[[], bool]], Iterator[object]]


class ProfileWorker(QObject):
    """Lives in a QThread; ``run`` drives the generator to its end."""

    sig_event = Signal(object)
    sig_error = Signal(str)  # an exception escaped the generator: its message
    sig_finished = Signal()  # always emitted, last

    def __init__(self, make_events: EventSource):
        super().__init__()
        self._make_events = make_events
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        try:
            for event in self._make_events(self.should_stop):
                self.sig_event.emit(event)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            self.sig_error.emit(str(exc) or type(exc).__name__)
        finally:
            self.sig_finished.emit()


class ProfileController(QObject):
    """Owns at most one worker thread; re-emits its signals in the GUI thread."""

    sig_event = Signal(object)
    sig_error = Signal(str)
    sig_running = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: ProfileWorker | None = None

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, make_events: EventSource) -> bool:
        """Start a profile; False (nothing done) if one is still running."""
        if self._thread is not None:
            if self._thread.isRunning():
                return False
            self._release()
        thread = QThread()
        thread.setObjectName("profiling")
        worker = ProfileWorker(make_events)
        worker.moveToThread(thread)
        worker.sig_event.connect(self.sig_event)
        worker.sig_error.connect(self.sig_error)
        worker.sig_finished.connect(thread.quit, Qt.DirectConnection)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.sig_running.emit(True)
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Stop and join (closing the window); True if the thread ended in time."""
        self.stop()
        if self._thread is None:
            return True
        ended = self._thread.wait(max(0, int(timeout_ms)))
        if ended:
            self._release()
        return ended

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None and self.sender() is self._thread:
            self._thread.wait(JOIN_TIMEOUT_MS)
            self._release()
            self.sig_running.emit(False)

    def _release(self) -> None:
        self._thread = self._worker = None
