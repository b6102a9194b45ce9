"""The run store (issue 16, first part): runs recorded as they go, readable after a kill -9
with the run marked interrupted, several writers at once, a versioned schema, and the
``runs`` command."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.cli.parser import main
from core.graph.presets import load_preset
from core.training.data import SAMPLE_DIR, MnistData, load_sample
from core.training.run_store import (SCHEMA_VERSION, RunStore, RunStoreError,
                                     TrainingRecorder)
from core.training.trainer import BatchEvent, EpochEvent, TrainConfig, run_to_end, train

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ["--data", str(SAMPLE_DIR)]  # the bundled 3,000/1,000 images, also where CI has MNIST


def small_sample(images: int = 300) -> MnistData:
    data = load_sample()
    return MnistData(data.train_images[:images], data.train_labels[:images],
                     data.test_images[:200], data.test_labels[:200], kind="custom")


def test_a_recorded_run_equals_the_events_it_came_from(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    config = TrainConfig(epochs=2, batch_size=100, seed=3)
    recorder = TrainingRecorder(store, "mlp", config.as_dict())
    seen = []
    result = run_to_end(recorder.wrap(train(load_preset("mlp"), small_sample(), config)),
                        seen.append)
    run = store.get(recorder.run_id)
    assert run.status == "finished" and run.model == "mlp" and run.kind == "train"
    assert run.epochs == [e.as_dict() for e in seen if isinstance(e, EpochEvent)]
    batches = [e for e in seen if isinstance(e, BatchEvent)]
    assert run.batch_losses == [e.loss for e in batches]
    assert run.batch_steps == list(range(1, len(batches) + 1))
    assert run.summary["params"] == result.summary(time_inference=False)["params"]
    assert run.settings == json.loads(json.dumps(config.as_dict(), default=str))
    assert [r.id for r in store.list_runs(kind="train")] == [recorder.run_id]


KILLED = textwrap.dedent("""
    import sys
    from core.graph.presets import load_preset
    from core.training.data import SAMPLE_DIR, MnistData, load_sample
    from core.training.run_store import RunStore, TrainingRecorder
    from core.training.trainer import EpochEvent, TrainConfig, train
    data = load_sample()
    data = MnistData(data.train_images[:200], data.train_labels[:200],
                     data.test_images[:100], data.test_labels[:100], kind="custom")
    config = TrainConfig(epochs=1000, batch_size=50)
    recorder = TrainingRecorder(RunStore(sys.argv[1]), "mlp", config.as_dict())
    for event in recorder.wrap(train(load_preset("mlp"), data, config)):
        if isinstance(event, EpochEvent):
            print("epoch", event.epoch, flush=True)
""")


def test_a_killed_run_leaves_a_readable_store_and_is_marked_interrupted(tmp_path):
    path = tmp_path / "runs.sqlite"
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(2):
            assert child.stdout.readline().startswith("epoch")
        store = RunStore(path)
        assert store.mark_interrupted() == []  # alive: still running
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (run_id,) = store.mark_interrupted()
    run = store.get(run_id)
    assert run.status == "interrupted" and len(run.epochs) >= 2
    assert len(run.batch_losses) >= 2 * 4  # the epochs' batches survived


WRITER = textwrap.dedent("""
    import sys
    from core.training.run_store import RunStore
    store = RunStore(sys.argv[1])
    for i in range(int(sys.argv[2])):
        run = store.start_run("train", f"writer{sys.argv[3]}", {"i": i})
        store.add_epoch(run, 1, {"epoch": 1, "test_acc": i / 100})
        store.finish_run(run, "finished", {"i": i})
""")


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "60", str(n)],
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stderr=subprocess.PIPE, text=True) for n in range(3)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    runs = RunStore(path).list_runs()
    assert len(runs) == 180 and all(r.status == "finished" for r in runs)
    assert sorted({r.model for r in runs}) == ["writer0", "writer1", "writer2"]


def test_schema_is_versioned_and_a_newer_store_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RunStoreError, match="newer"):
        RunStore(path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(RunStoreError, match="cannot be used"):
        RunStore(garbage)


def test_rename_tag_and_delete_cascade(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    run = store.start_run("train", "lenet5", {})
    store.add_epoch(run, 1, {"epoch": 1})
    store.add_batch_losses(run, [(1, 0.5), (2, 0.4)])
    store.rename(run, "baseline")
    store.set_tags(run, ["course", " lab2 ", "course"])
    got = store.get(run)
    assert got.name == "baseline" and got.tags == ["course", "lab2"]
    store.delete(run)
    with pytest.raises(RunStoreError, match=f"run {run} is not in"):
        store.get(run)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM batch_losses").fetchone()[0] == 0


def test_runs_command(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(["train", "mlp", "--epochs", "1", "--batch-size", "500", "--store", str(path),
                 "--format", "json"] + SAMPLE) == 0
    trained = json.loads(capsys.readouterr().out)
    assert main(["runs", "list", "--store", str(path), "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert {"id", "kind", "model", "status", "started", "settings", "summary"} <= set(listed)
    assert listed["status"] == "finished" and listed["summary"]["params"] == trained["params"]
    assert listed["summary"]["epochs"] == trained["epochs"]
    assert main(["runs", "show", str(listed["id"]), "--store", str(path), "--format",
                 "csv"]) == 0
    assert capsys.readouterr().out.startswith("epoch,train loss")
    assert main(["runs", "delete", str(listed["id"]), "--store", str(path)]) == 0
    capsys.readouterr()
    assert main(["runs", "show", str(listed["id"]), "--store", str(path)]) == 2
    assert "is not in" in capsys.readouterr().err
    assert main(["runs", "show", "--store", str(path)]) == 2


def test_train_records_by_default_and_not_with_no_store(tmp_path, capsys, monkeypatch):
    path = tmp_path / "default.sqlite"
    monkeypatch.setenv("MLSYS_RUN_STORE", str(path))
    base = ["train", "mlp", "--epochs", "1", "--batch-size", "500", "--format", "json"] + SAMPLE
    assert main(base) == 0 and main(base + ["--no-store"]) == 0
    capsys.readouterr()
    assert len(RunStore(path).list_runs()) == 1


def test_tensorboard_logs_hold_the_runs_figures(tmp_path, capsys):
    """The scalars, read back by TensorBoard's own reader, equal the run's epochs."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert main(["train", "mlp", "--epochs", "2", "--batch-size", "500", "--no-store",
                 "--tensorboard", str(tmp_path), "--format", "json"] + SAMPLE) == 0
    epochs = json.loads(capsys.readouterr().out)["epochs"]
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("mlp-")]
    logs = EventAccumulator(str(folder))
    logs.Reload()
    for tag, key in (("loss/test", "test_loss"), ("accuracy/train", "train_acc")):
        scalars = logs.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2]
        assert [s.value for s in scalars] == pytest.approx([e[key] for e in epochs], rel=1e-6)
    assert len(logs.Scalars("batch/loss")) == 2 * 6  # 3,000 images / 500 per batch


def test_sweep_points_are_recorded(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(["experiment", "mlp", "--sweep", "batch_size=500,1000", "--epochs", "1",
                 "--store", str(path), "--format", "json", "--executor", "inline"]
                + SAMPLE) == 0
    rows = json.loads(capsys.readouterr().out)
    runs = RunStore(path).list_runs(kind="sweep")
    assert [r.settings["point"] for r in runs] == [{"batch_size": 500}, {"batch_size": 1000}]
    assert [r.summary["epochs"][-1]["test_acc"] for r in runs] == \
        [row["test_acc"] for row in rows["rows"]]


def test_profiles_are_recorded(tmp_path, capsys):
    path = tmp_path / "runs.sqlite"
    assert main(["profile", "lenet5", "--batches", "1,4", "--repeats", "2", "--warmup", "1",
                 "--threads", "1", "--store", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (run,) = RunStore(path).list_runs(kind="profile")
    assert run.status == "finished" and run.model == "lenet5"
    assert run.summary["batches"] == report["batches"]
    assert run.settings["batches"] == [1, 4]
