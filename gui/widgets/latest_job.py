"""Recompute in the background, newest request wins: a form edit starts ``compute(*args)``
on the thread pool; edits made meanwhile leave one pending request (the newest), and only
the result of the newest request is delivered, in the GUI thread.

Results travel through one relay object that lives as long as the application, so a job
finishing after its owner was deleted emits on a live object (Qt has already cut the dead
owner's connections); a token per owner keeps owners from taking each other's results.
"""

from __future__ import annotations

import itertools
from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.common.errors import InputError


class _ResultRelay(QObject):
    """Carries a job's result to the GUI thread (queued: the relay lives in the GUI thread)."""

    sig_done = Signal(int, int, object)   # owner token, generation, result
    sig_failed = Signal(int, int, str)    # owner token, generation, message


_RELAY: _ResultRelay | None = None
_TOKENS = itertools.count(1)


def _relay() -> _ResultRelay:
    global _RELAY
    if _RELAY is None:
        _RELAY = _ResultRelay()
    return _RELAY


def _run(compute: Callable, relay: _ResultRelay, token: int, generation: int, args) -> None:
    try:
        result = compute(*args)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
        message = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        signal, payload = relay.sig_failed, message
    else:
        signal, payload = relay.sig_done, result
    try:
        signal.emit(token, generation, payload)
    except RuntimeError:
        pass  # the application is shutting down: nobody is left to show it


class LatestJob(QObject):
    """Runs ``compute`` off the GUI thread for the newest request only.

    Signals: ``sig_done(result)`` and ``sig_failed(message)`` for the newest request,
    ``sig_busy(bool)`` when work starts and when nothing is left to do."""

    sig_done = Signal(object)
    sig_failed = Signal(str)
    sig_busy = Signal(bool)

    def __init__(self, compute: Callable, parent=None):
        super().__init__(parent)
        self._compute = compute
        self._generation = 0
        self._busy = False
        self._pending: tuple | None = None
        self._token = next(_TOKENS)
        relay = _relay()
        relay.sig_done.connect(self._done)
        relay.sig_failed.connect(self._failed)

    def request(self, *args) -> None:
        """Compute for ``args``; supersedes every earlier request."""
        self._generation += 1
        job = (self._generation, args)
        if self._busy:
            self._pending = job
        else:
            self._start(job)

    def is_busy(self) -> bool:
        return self._busy

    def drop_pending(self) -> None:
        """Forget the request waiting behind the running one (closing)."""
        self._pending = None

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block (processing events) until nothing is computing: for scripts and tests."""
        from PySide6.QtCore import QDeadlineTimer, QEventLoop
        from PySide6.QtWidgets import QApplication
        deadline = QDeadlineTimer(timeout_ms)
        while self._busy and not deadline.hasExpired():
            QThreadPool.globalInstance().waitForDone(20)
            QApplication.processEvents(QEventLoop.AllEvents, 20)
        return not self._busy

    def _start(self, job: tuple) -> None:
        if not self._busy:
            self._busy = True
            self.sig_busy.emit(True)
        generation, args = job
        compute, relay, token = self._compute, _relay(), self._token
        QThreadPool.globalInstance().start(lambda: _run(compute, relay, token, generation, args))

    def _next(self) -> bool:
        """Start the pending request if any; True when one was started."""
        if self._pending is not None:
            job, self._pending = self._pending, None
            self._start(job)
            return True
        self._busy = False
        self.sig_busy.emit(False)
        return False

    def _done(self, token: int, generation: int, result) -> None:
        if token != self._token:
            return  # another owner's result
        if self._next() or generation != self._generation:
            return  # a newer request is on its way
        self.sig_done.emit(result)

    def _failed(self, token: int, generation: int, message: str) -> None:
        if token != self._token:
            return
        if self._next() or generation != self._generation:
            return
        self.sig_failed.emit(message)
