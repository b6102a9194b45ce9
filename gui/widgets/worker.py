"""Run a core event generator in a QThread and hand its events to the GUI thread as signals.

The worker is generic: it runs whatever ``make_events(should_stop, should_pause)`` returns.
Batch events are coalesced and sent as lists at most ``BATCH_FLUSH_S`` apart, so a fast
model cannot flood the GUI's event loop; every other event is sent at once (after any
batches still held, so order is kept). Only signals cross threads; the stop and pause flags
are ``threading.Event``s, safe to set from the GUI thread.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

BATCH_FLUSH_S = 0.05  # at most ~20 progress updates a second (DESIGN convention 5)
JOIN_TIMEOUT_MS = 5000

EventSource = Callable[[Callable[[], bool], Callable[[], bool]], Iterator[object]]


def _is_batch(event) -> bool:
    return type(event).__name__ == "BatchEvent"  # no core import needed here


class GeneratorWorker(QObject):
    """Lives in a QThread; ``run`` drives the generator to its end."""

    sig_event = Signal(object)  # one non-batch event
    sig_batches = Signal(object)  # list of BatchEvents, coalesced
    sig_error = Signal(str)  # an exception escaped the generator: its message
    sig_finished = Signal(object)  # the last event (None after an error); always emitted

    def __init__(self, make_events: EventSource, parent=None):
        super().__init__(parent)
        self._make_events = make_events
        self._stop = threading.Event()
        self._pause = threading.Event()

    # thread-safe, callable from any thread
    def stop(self) -> None:
        self._stop.set()

    def pause(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def should_pause(self) -> bool:
        return self._pause.is_set()

    @Slot()
    def run(self) -> None:
        last = None
        held: list = []
        flushed = 0.0
        try:
            for event in self._make_events(self.should_stop, self.should_pause):
                last = event
                if _is_batch(event):
                    held.append(event)
                    now = time.monotonic()
                    if now - flushed >= BATCH_FLUSH_S:
                        self.sig_batches.emit(held)
                        held, flushed = [], now
                    continue
                if held:
                    self.sig_batches.emit(held)
                    held = []
                self.sig_event.emit(event)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            if held:
                self.sig_batches.emit(held)
            last = None
            self.sig_error.emit(str(exc) or type(exc).__name__)
        finally:
            self.sig_finished.emit(last)


class JobController(QObject):
    """Owns at most one worker thread: start, pause, stop, join. Re-emits the worker's
    signals in the GUI thread, so views connect here once and never to a worker."""

    sig_event = Signal(object)
    sig_batches = Signal(object)
    sig_error = Signal(str)
    sig_finished = Signal(object)
    sig_running = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: GeneratorWorker | None = None

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    @property
    def thread(self) -> QThread | None:
        return self._thread

    def start(self, make_events: EventSource) -> bool:
        """Start a run; False (nothing done) if one is still running."""
        if self._thread is not None:
            if self._thread.isRunning():
                return False
            self._release()
        thread = QThread()
        thread.setObjectName(self.objectName() or "job")
        worker = GeneratorWorker(make_events)
        worker.moveToThread(thread)
        # Worker → controller: queued (different threads), delivered in order.
        worker.sig_event.connect(self._on_event)
        worker.sig_batches.connect(self._on_batches)
        worker.sig_error.connect(self._on_error)
        worker.sig_finished.connect(self._on_worker_finished)
        # Direct: quit from the worker thread itself, so a GUI thread blocked in join()
        # (closing the window) does not wait for its own event loop to deliver it.
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

    def pause(self, paused: bool) -> None:
        if self._worker is not None:
            self._worker.pause(paused)

    def join(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Wait for the thread to end; True if no thread is running afterwards."""
        if self._thread is None:
            return True
        return self._thread.wait(max(0, int(timeout_ms)))

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> bool:
        """Stop and join (closing the window); True if the thread ended in time."""
        self.stop()
        if self._worker is not None:
            self._worker.pause(False)
        ended = self.join(timeout_ms)
        if ended:
            self._release()
        return ended

    # -- slots (GUI thread) --------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event) -> None:
        self.sig_event.emit(event)

    @Slot(object)
    def _on_batches(self, batch) -> None:
        self.sig_batches.emit(batch)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.sig_error.emit(message)

    @Slot(object)
    def _on_worker_finished(self, last) -> None:
        self.sig_finished.emit(last)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None and self.sender() is self._thread:
            self._thread.wait(JOIN_TIMEOUT_MS)  # finished is sent just before run() returns
            self._release()
            self.sig_running.emit(False)

    def _release(self) -> None:
        # Only after the thread has ended: Python then deletes the worker (whose affinity
        # is that dead thread) and the QThread here, in the GUI thread, which is safe.
        # deleteLater would never run for the worker, its thread has no event loop left.
        self._thread = self._worker = None
