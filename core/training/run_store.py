"""The run store: every training run kept in a SQLite database that outlives the window.

A run is written as it goes (its settings when it starts, each epoch's metrics and batch
losses as they arrive, the summary when it ends), each write its own transaction, so a
process killed at any point leaves a readable store in which that run is still "running";
``mark_interrupted`` turns such runs whose process is gone into "interrupted", keeping what
they had reached. WAL mode and a busy timeout let several windows and commands write at
once. The schema is versioned; ``MIGRATIONS[i]`` takes a store from version i to i + 1.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from core.common.errors import InputError, printable

STORE_VARIABLE = "MLSYS_RUN_STORE"
BUSY_TIMEOUT_MS = 10_000
STATUSES = ("running", "finished", "converged", "stopped", "failed", "interrupted")

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: runs, their epochs and batch losses
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        settings TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}',
        device TEXT NOT NULL DEFAULT '',
        dataset TEXT NOT NULL DEFAULT '',
        code_version TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE TABLE batch_losses (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        loss REAL NOT NULL,
        PRIMARY KEY (run_id, step)
    );
    CREATE TABLE artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        path TEXT NOT NULL
    );
    CREATE INDEX runs_started ON runs(started);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class RunStoreError(InputError):
    """The store cannot be opened or does not hold what was asked for."""


def default_store_path() -> Path:
    """$MLSYS_RUN_STORE, else runs.sqlite in the user's data folder."""
    configured = os.environ.get(STORE_VARIABLE, "").strip()
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(base) / "mlsys-studio" / "runs.sqlite"


def code_version() -> str:
    from core import __version__
    return __version__


@dataclass
class StoredRun:
    id: int
    kind: str
    name: str
    model: str
    status: str
    started: float
    ended: float | None
    settings: dict
    summary: dict
    device: str
    dataset: str
    code_version: str
    tags: list[str]
    epochs: list[dict] = field(default_factory=list)
    batch_steps: list[int] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    artifacts: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self, full: bool = False) -> dict:
        out = {"id": self.id, "kind": self.kind, "name": self.name, "model": self.model,
               "status": self.status, "started": self.started, "ended": self.ended,
               "settings": self.settings, "summary": self.summary, "device": self.device,
               "dataset": self.dataset, "code_version": self.code_version, "tags": self.tags}
        if full:
            out.update(epochs=self.epochs, batch_steps=self.batch_steps,
                       batch_losses=self.batch_losses,
                       artifacts=[{"kind": k, "path": p} for k, p in self.artifacts])
        return out


class RunStore:
    """One SQLite file of runs. Every method opens its own short connection, so a store can
    be used from any thread and by several processes."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise RunStoreError(f"run store {printable(str(self.path))} cannot be used "
                                f"({exc})") from None
        except OSError as exc:
            raise RunStoreError(f"run store {printable(str(self.path))} cannot be created "
                                f"({exc.strerror or exc})") from None

    # -- connection and schema -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RunStoreError(f"run store {printable(str(self.path))} was written by a newer "
                                f"MLSys Studio (schema {version}; this one knows up to "
                                f"{SCHEMA_VERSION})")
        for step in range(version, SCHEMA_VERSION):
            db.executescript(f"BEGIN; {MIGRATIONS[step]} PRAGMA user_version = {step + 1}; "
                             f"COMMIT;")

    def schema_version(self) -> int:
        with closing(self._connect()) as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

    def _write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with closing(self._connect()) as db, db:
            return db.execute(sql, tuple(params))

    # -- recording -----------------------------------------------------------------------
    def start_run(self, kind: str, model: str, settings: dict | None = None, name: str = "",
                  device: str = "", dataset: str = "") -> int:
        cursor = self._write(
            "INSERT INTO runs (kind, name, model, status, started, settings, device, dataset,"
            " code_version, host, pid) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
            (kind, name, model, time.time(), _json(settings or {}), device, dataset,
             code_version(), socket.gethostname(), os.getpid()))
        return int(cursor.lastrowid)

    def add_epoch(self, run_id: int, epoch: int, metrics: dict) -> None:
        self._write("INSERT OR REPLACE INTO epochs (run_id, epoch, metrics) VALUES (?, ?, ?)",
                    (run_id, epoch, _json(metrics)))

    def add_batch_losses(self, run_id: int, points: Iterable[tuple[int, float]]) -> None:
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO batch_losses (run_id, step, loss) "
                           "VALUES (?, ?, ?)", [(run_id, int(s), float(v)) for s, v in points])

    def add_artifact(self, run_id: int, kind: str, path: str | Path) -> None:
        self._write("INSERT INTO artifacts (run_id, kind, path) VALUES (?, ?, ?)",
                    (run_id, kind, str(path)))

    def finish_run(self, run_id: int, status: str, summary: dict | None = None) -> None:
        if status not in STATUSES:
            raise RunStoreError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        self._write("UPDATE runs SET status = ?, ended = ?, summary = ? WHERE id = ?",
                    (status, time.time(), _json(summary or {}), run_id))

    def mark_interrupted(self) -> list[int]:
        """Runs still "running" whose process on this host is gone become "interrupted"
        (what they reached stays); returns their ids."""
        host = socket.gethostname()
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?",
                              (host,)).fetchall()
            gone = [run_id for run_id, pid in rows if not _alive(pid)]
            db.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?",
                           [(i,) for i in gone])
        return gone

    # -- reading and editing ---------------------------------------------------------------
    def list_runs(self, kind: str | None = None, status: str | None = None,
                  model: str | None = None) -> list[StoredRun]:
        where, params = [], []
        for column, value in (("kind", kind), ("status", status), ("model", model)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            return [_run(row) for row in db.execute(sql + " ORDER BY id", params)]

    def get(self, run_id: int) -> StoredRun:
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunStoreError(f"run {run_id} is not in {printable(str(self.path))}")
            run = _run(row)
            run.epochs = [json.loads(m) for (m,) in db.execute(
                "SELECT metrics FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))]
            points = db.execute("SELECT step, loss FROM batch_losses WHERE run_id = ? "
                                "ORDER BY step", (run_id,)).fetchall()
            run.batch_steps = [s for s, _ in points]
            run.batch_losses = [v for _, v in points]
            run.artifacts = list(db.execute("SELECT kind, path FROM artifacts WHERE run_id = ?",
                                            (run_id,)))
        return run

    def rename(self, run_id: int, name: str) -> None:
        self._require(run_id)
        self._write("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))

    def set_tags(self, run_id: int, tags: Iterable[str]) -> None:
        self._require(run_id)
        self._write("UPDATE runs SET tags = ? WHERE id = ?",
                    (",".join(sorted({t.strip() for t in tags if t.strip()})), run_id))

    def delete(self, run_id: int) -> None:
        self._require(run_id)
        self._write("DELETE FROM runs WHERE id = ?", (run_id,))

    def _require(self, run_id: int) -> None:
        with closing(self._connect()) as db:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunStoreError(f"run {run_id} is not in {printable(str(self.path))}")


class TrainingRecorder:
    """Writes a training run to a store as its events pass: the run when it starts, each
    epoch's metrics and batch losses at the epoch's end, the summary at the end.
    ``run_id`` is known once Started has passed (to attach artifacts)."""

    def __init__(self, store: RunStore, model: str, settings: dict, kind: str = "train"):
        self.store, self.model, self.settings, self.kind = store, model, settings, kind
        self.run_id: int | None = None
        self._losses: list[tuple[int, float]] = []

    def wrap(self, events: Iterator) -> Iterator:
        """Pass ``events`` through, recording them."""
        for event in events:
            self.record(event)
            yield event

    def record(self, event) -> None:
        name = type(event).__name__
        if name == "Started":
            self.run_id = self.store.start_run(self.kind, self.model, self.settings,
                                               device=event.device, dataset=event.dataset)
        elif self.run_id is None:
            return
        elif name == "BatchEvent":
            self._losses.append(((event.epoch - 1) * event.steps_per_epoch + event.step,
                                 event.loss))
        elif name == "EpochEvent":
            self._flush_losses()
            self.store.add_epoch(self.run_id, event.epoch, event.as_dict())
        elif name in ("Finished", "Stopped", "Failed"):
            self._flush_losses()
            summary = event.result.summary(time_inference=False)
            if name == "Failed":
                summary["message"] = event.message
            self.store.finish_run(self.run_id, event.result.status, summary)

    def _flush_losses(self) -> None:
        if self._losses:
            self.store.add_batch_losses(self.run_id, self._losses)
            self._losses = []


def _run(row: sqlite3.Row) -> StoredRun:
    return StoredRun(row["id"], row["kind"], row["name"], row["model"], row["status"],
                     row["started"], row["ended"], json.loads(row["settings"]),
                     json.loads(row["summary"]), row["device"], row["dataset"],
                     row["code_version"], [t for t in row["tags"].split(",") if t])


def _json(value) -> str:
    return json.dumps(value, default=str)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
