"""Crash recovery: each running window autosaves into a file of its own, guarded by a lock
file, so a second instance neither deletes the first one's autosave nor offers it back
while the first still runs. Only autosaves whose owner is gone (its lock is stale) are
offered; the file the design came from travels with it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QStandardPaths

from core.common.files import read_text_bounded, write_atomic
from core.graph import io
from core.graph.network import Network

PREFIX = "autosave-"


def recovery_folder() -> Path:
    base = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home())
    return base / "recovery"


@dataclass
class Recovered:
    network: Network
    source: Path | None  # the file the design was opened from or saved to, if any
    autosave: Path


class RecoveryStore:
    """This instance's autosave file and lock, and the autosaves other instances left."""

    def __init__(self, folder: Path | None = None, tag: str | None = None):
        self.folder = folder or recovery_folder()
        self.tag = tag or str(os.getpid())
        self.path = self.folder / f"{PREFIX}{self.tag}.json"
        self._lock: QLockFile | None = None

    def _lock_path(self, autosave: Path) -> Path:
        return autosave.with_suffix(".lock")

    def _hold_lock(self) -> None:
        if self._lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = QLockFile(str(self._lock_path(self.path)))
            lock.setStaleLockTime(0)  # stale only when the owning process is gone
            if lock.tryLock(0):
                self._lock = lock

    def save(self, network: Network, source: Path | None) -> None:
        """Write this instance's autosave (atomic); OSError is the caller's to ignore."""
        self._hold_lock()
        data = io.network_to_dict(network)
        data["autosave_source"] = str(source) if source else ""
        write_atomic(self.path, json.dumps(data, indent=1))

    def discard(self) -> None:
        """A clean exit: remove this instance's autosave and release its lock."""
        self.path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def orphans(self) -> list[Path]:
        """Autosaves of instances that are no longer running, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"{PREFIX}*.json"):
            if path == self.path:
                continue
            probe = QLockFile(str(self._lock_path(path)))
            probe.setStaleLockTime(0)
            if probe.tryLock(0):  # nobody holds it: its owner exited or crashed
                probe.unlock()
                found.append(path)
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def load(self, autosave: Path) -> Recovered:
        """The design in an orphaned autosave, with the path it came from."""
        text = read_text_bounded(autosave, what="autosave")
        data = io.parse_json(text, str(autosave))
        network = io.network_from_dict(data, str(autosave))
        source = data.get("autosave_source") if isinstance(data, dict) else ""
        return Recovered(network, Path(source) if isinstance(source, str) and source else None,
                         autosave)

    def forget(self, autosave: Path) -> None:
        """Remove an orphaned autosave once it was restored or declined."""
        autosave.unlink(missing_ok=True)
        self._lock_path(autosave).unlink(missing_ok=True)
