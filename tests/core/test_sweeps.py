"""Sweeps over a grid with repeats (issue 16, second part): the grid and its statistics,
the same numbers whichever executor ran a point (inline, process pool, Ray), retries, a
killed worker, a stop, resuming from the run store, and the ``experiment`` command."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import statistics
import threading
import time

import pytest

from core.cli.parser import main
from core.common.errors import InputError
from core.graph.presets import load_preset
from core.training import executors as executors_module
from core.training import sweep_points
from core.training import sweeps as sweeps_module
from core.training.data import SAMPLE_DIR, MnistData, load_sample
from core.training.executors import (InlineExecutor, Outcome, PoolExecutor, Retry,
                                     make_executor)
from core.training.experiments import variant
from core.training.run_store import RunStore
from core.training.sweeps import (Grid, PointDone, PointRetry, SweepDone, SweepPaused,
                                  SweepResumed, SweepStarted, aggregate, make_tasks, mean_std, parse_grid, run_sweep)
from core.training.trainer import EpochEvent, TrainConfig, train

CONFIG = TrainConfig(epochs=1, batch_size=64, seed=0)
GRID4 = ["batch_size=32,64", "lr=0.001,0.01"]


def tiny(train: int = 200, test: int = 200) -> MnistData:
    """The first images of the bundled sample: quick points."""
    data = load_sample()
    return MnistData(data.train_images[:train], data.train_labels[:train],
                     data.test_images[:test], data.test_labels[:test], kind="custom")


def numbers(rows) -> list:
    """What must not depend on the executor: per point, its settings, seed and results."""
    return [(r.index, r.settings, r.seed, r.status, r.test_acc, r.test_loss) for r in rows]


def sweep(executor, grid=GRID4, repeats=1, data=None, store=None, **kw) -> list:
    return list(run_sweep(load_preset("lenet5"), data or tiny(), parse_grid(grid), CONFIG,
                          repeats, executor, store, **kw))


@pytest.fixture(scope="module")
def inline_events():
    return sweep(InlineExecutor())


# -- the grid ------------------------------------------------------------------------------
def test_the_grid_is_the_product_of_its_dimensions_last_fastest():
    grid = parse_grid(["batch_size=32,64", "lr=0.001,0.01,0.1"])
    assert grid.size() == 6
    assert grid.points()[:3] == [{"batch_size": 32, "lr": 0.001}, {"batch_size": 32, "lr": 0.01},
                                 {"batch_size": 32, "lr": 0.1}]
    assert grid.points()[-1] == {"batch_size": 64, "lr": 0.1}


@pytest.mark.parametrize("texts, fragment", [
    (["lr=0"], "lr value 0 is not allowed: use numbers > 0 and ≤ 10"),
    (["lr=0.1", "lr=0.2"], "sweep dimension lr is given more than once"),
    (["colour=1"], "use one of batch_size, width, depth, kernel, lr"),
    ([], "at least one --sweep"),
])
def test_bad_grids_are_refused_with_one_line(texts, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_grid(texts)


def test_tasks_carry_seeds_settings_and_a_fixed_thread_count():
    tasks = make_tasks(load_preset("lenet5"), parse_grid(["width=1,2", "lr=0.01"]),
                       TrainConfig(seed=7), repeats=3, threads=1)
    assert [t.seed for t in tasks] == [7, 8, 9, 7, 8, 9]
    assert [t.index for t in tasks] == list(range(1, 7))
    assert all(t.config.threads == 1 and t.config.lr == 0.01 for t in tasks)
    assert [t.config.seed for t in tasks] == [t.seed for t in tasks]
    wide = variant(load_preset("lenet5"), "width", 2)
    assert tasks[3].design["nodes"] != tasks[0].design["nodes"]
    assert [n["params"] for n in tasks[3].design["nodes"]] == \
        [wide.nodes[n].params for n in wide.nodes]


def test_too_many_points_are_refused_before_any_training():
    grid = parse_grid(["batch_size=" + ",".join(str(i) for i in range(1, 13)),
                       "lr=" + ",".join(f"0.00{i}" for i in range(1, 10))])
    with pytest.raises(InputError, match="use at most 256"):
        make_tasks(load_preset("lenet5"), grid, CONFIG, repeats=3)


def test_mean_and_std_are_the_sample_statistics():
    values = [0.91, 0.87, 0.95, 0.9]
    mean, std = mean_std(values)
    assert mean == pytest.approx(statistics.mean(values))
    assert std == pytest.approx(statistics.stdev(values))
    assert mean_std([0.5]) == (0.5, 0.0) and mean_std([]) == (None, None)


# -- one point equals plain training -------------------------------------------------------
def test_a_point_equals_training_its_variant_directly(inline_events):
    """The oracle: core.training.trainer.train on the variant with the point's settings."""
    rows = inline_events[-1].rows
    row = rows[3]  # batch 64, lr 0.01
    assert row.settings == {"batch_size": 64, "lr": 0.01}
    config = TrainConfig(epochs=1, batch_size=64, lr=0.01, seed=0, threads=1)
    epochs = [e for e in train(load_preset("lenet5"), tiny(), config)
              if isinstance(e, EpochEvent)]
    assert (row.test_acc, row.test_loss) == (epochs[-1].test_acc, epochs[-1].test_loss)


def test_events_stream_and_end_with_every_row(inline_events):
    started, done = inline_events[0], inline_events[-1]
    assert isinstance(started, SweepStarted) and started.runs == 4 and started.from_store == 0
    assert isinstance(done, SweepDone) and done.status == "finished"
    points = [e for e in inline_events if isinstance(e, PointDone)]
    assert [p.done for p in points] == [1, 2, 3, 4] and points[-1].aggregates == done.aggregates
    assert [r.params for r in done.rows] == [61_706] * 4
    assert all(r.inference_ms_per_batch > 0 for r in done.rows)


def test_repeats_use_consecutive_seeds_and_aggregate_them():
    events = sweep(InlineExecutor(), grid=["lr=0.01"], repeats=3)
    rows = events[-1].rows
    assert [r.seed for r in rows] == [0, 1, 2]
    assert len({r.test_loss for r in rows}) > 1  # the seeds do change the runs
    (agg,) = events[-1].aggregates
    assert agg.n == 3 and agg.mean["test_acc"] == pytest.approx(
        statistics.mean(r.test_acc for r in rows))
    assert agg.std["test_loss"] == pytest.approx(statistics.stdev(r.test_loss for r in rows))


# -- executors give the same numbers -------------------------------------------------------
def test_the_pool_gives_the_inline_numbers_bit_for_bit(inline_events):
    events = sweep(PoolExecutor(workers=2, threads=1))
    assert numbers(events[-1].rows) == numbers(inline_events[-1].rows)
    assert events[0].executor == "pool" and events[0].workers == 2


def test_a_killed_pool_worker_is_replaced_and_its_point_retried(inline_events):
    executor = PoolExecutor(workers=2, threads=1)
    events, killed = [], []
    for event in run_sweep(load_preset("lenet5"), tiny(), parse_grid(GRID4), CONFIG, 1,
                           executor):
        events.append(event)
        if isinstance(event, PointDone) and not killed:
            victim = executor.processes()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)
    assert killed
    assert any(isinstance(e, PointRetry) for e in events)
    assert numbers(events[-1].rows) == numbers(inline_events[-1].rows)
    assert events[-1].status == "finished"


def test_a_stop_ends_the_pool_and_its_workers():
    executor = PoolExecutor(workers=2, threads=1)
    stop = threading.Event()
    seen = []
    for event in run_sweep(load_preset("lenet5"), tiny(600), parse_grid(["lr=0.001,0.01,0.1"]),
                           CONFIG, 2, executor, should_stop=stop.is_set):
        seen.append(event)
        if isinstance(event, PointDone):
            stop.set()
    assert isinstance(seen[-1], SweepDone) and seen[-1].status == "stopped"
    assert len(seen[-1].rows) < 6
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("Spawn")]


# -- pause ---------------------------------------------------------------------------------
def paused_sweep(executor) -> tuple[list, list]:
    """A GRID4 sweep paused at its first finished point and resumed at SweepPaused; returns
    the events and the number of PointDone events seen when the pause was asked for."""
    pause = threading.Event()
    events, asked_at = [], []
    for event in run_sweep(load_preset("lenet5"), tiny(), parse_grid(GRID4), CONFIG, 1,
                           executor, should_pause=pause.is_set):
        events.append(event)
        if isinstance(event, PointDone) and not asked_at:
            pause.set()
            asked_at.append(event.done)
        elif isinstance(event, SweepPaused):
            time.sleep(0.5)  # a worker given a point would finish it meanwhile: none is
            pause.clear()
    return events, asked_at


def _between(events, first, last) -> list:
    i = next(k for k, e in enumerate(events) if isinstance(e, first))
    j = next(k for k, e in enumerate(events) if isinstance(e, last))
    return events[i + 1:j]


def test_a_paused_inline_sweep_starts_no_point_until_resumed(inline_events):
    events, asked_at = paused_sweep(InlineExecutor())
    paused = [e for e in events if isinstance(e, SweepPaused)]
    assert len(paused) == 1 and paused[0].done == asked_at[0] == 1 and paused[0].total == 4
    assert _between(events, SweepPaused, SweepResumed) == []
    resumed = next(e for e in events if isinstance(e, SweepResumed))
    assert resumed.done == 1
    assert events[-1].status == "finished"
    assert numbers(events[-1].rows) == numbers(inline_events[-1].rows)


def test_a_paused_pool_lets_running_points_finish_then_holds(inline_events):
    executor = PoolExecutor(workers=2, threads=1)
    events, asked_at = paused_sweep(executor)
    paused = next(e for e in events if isinstance(e, SweepPaused))
    # only the point(s) in flight when the pause came (≤ one per worker) finish before it
    in_flight = [e for e in _between(events, PointDone, SweepPaused) if isinstance(e, PointDone)]
    assert len(in_flight) <= 1 and paused.done == asked_at[0] + len(in_flight) < 4
    assert _between(events, SweepPaused, SweepResumed) == []
    assert events[-1].status == "finished"
    assert numbers(events[-1].rows) == numbers(inline_events[-1].rows)


def test_point_done_carries_the_epochs_the_store_records(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    events = list(run_sweep(load_preset("lenet5"), tiny(), parse_grid(["lr=0.001,0.01"]),
                            TrainConfig(epochs=2, batch_size=64, seed=0), 1,
                            InlineExecutor(), store))
    done = [e for e in events if isinstance(e, PointDone)]
    assert len(done) == 2
    for event in done:
        stored = store.get(event.row.run_id).epochs
        assert [e["test_loss"] for e in event.epochs] == [e["test_loss"] for e in stored]
        assert len(event.epochs) == 2


# -- failures and retries ------------------------------------------------------------------
def test_a_failing_point_is_retried_then_reported_without_losing_the_others(monkeypatch):
    real = sweep_points.run_point
    calls = {}

    def flaky(task, data, should_stop=lambda: False):
        calls[task.index] = calls.get(task.index, 0) + 1
        if task.index == 2:
            raise RuntimeError("worker lost")
        if task.index == 3 and calls[3] == 1:
            raise RuntimeError("transient")
        return real(task, data, should_stop)

    monkeypatch.setattr(sweep_points, "run_point", flaky)
    events = sweep(InlineExecutor(retries=2))
    retries = [(e.index, e.attempt) for e in events if isinstance(e, PointRetry)]
    assert retries == [(2, 1), (2, 2), (3, 1)]
    rows = {r.index: r for r in events[-1].rows}
    assert rows[2].status == "failed" and rows[2].attempts == 3
    assert "RuntimeError: worker lost" in rows[2].message
    assert rows[3].status == "finished" and rows[3].attempts == 2
    assert [rows[i].status for i in (1, 4)] == ["finished", "finished"]
    assert [a.n for a in events[-1].aggregates] == [1, 0, 1, 1]


def test_the_inline_executor_yields_outcomes_and_retries(monkeypatch):
    monkeypatch.setattr(sweep_points, "run_point",
                        lambda task, data, should_stop=None: (_ for _ in ()).throw(
                            ValueError("bad")))
    tasks = make_tasks(load_preset("lenet5"), parse_grid(["lr=0.01"]), CONFIG)
    out = list(InlineExecutor(retries=1).run(tasks, tiny()))
    assert out == [Retry(1, 1, "ValueError: bad"), Outcome(1, "ValueError: bad", 2)]


# -- resuming from the store ---------------------------------------------------------------
def test_an_interrupted_sweep_resumes_from_the_store(tmp_path, inline_events):
    store = RunStore(tmp_path / "runs.sqlite")
    stop = threading.Event()
    first = []
    for event in run_sweep(load_preset("lenet5"), tiny(), parse_grid(GRID4), CONFIG, 1,
                           InlineExecutor(), store, should_stop=stop.is_set):
        first.append(event)
        if isinstance(event, PointDone) and event.done == 2:
            stop.set()
    assert first[-1].status == "stopped" and len(first[-1].rows) == 2
    stored = store.list_runs(kind="sweep")
    assert len(stored) == 2 and all(r.settings["sweep_id"] == first[0].sweep_id for r in stored)
    again = sweep(InlineExecutor(), store=store)
    assert again[0].sweep_id == first[0].sweep_id and again[0].from_store == 2
    assert [r.source for r in again[-1].rows] == ["store", "store", "run", "run"]
    assert numbers(again[-1].rows) == numbers(inline_events[-1].rows)
    assert len(store.list_runs(kind="sweep")) == 4
    fresh = sweep(InlineExecutor(), store=store, resume=False)
    assert fresh[0].from_store == 0


def test_other_settings_make_another_sweep(tmp_path):
    grid = parse_grid(GRID4)
    a = sweeps_module.sweep_id(load_preset("lenet5"), CONFIG, grid, "d", 1)
    assert a == sweeps_module.sweep_id(load_preset("lenet5"), CONFIG, grid, "d", 1)
    assert a != sweeps_module.sweep_id(load_preset("lenet5"), CONFIG, grid, "d", 2)
    assert a != sweeps_module.sweep_id(load_preset("mlp"), CONFIG, grid, "d", 1)
    other = TrainConfig(epochs=2, batch_size=64, seed=0)
    assert a != sweeps_module.sweep_id(load_preset("lenet5"), other, grid, "d", 1)
    reseeded = TrainConfig(epochs=1, batch_size=64, seed=5)  # repeats match on their seed
    assert a == sweeps_module.sweep_id(load_preset("lenet5"), reseeded, grid, "d", 1)


# -- the command ---------------------------------------------------------------------------
def test_cli_grid_with_repeats_in_json(capsys, tmp_path):
    store = tmp_path / "runs.sqlite"
    argv = ["experiment", "lenet5", "--sweep", "lr=0.001,0.01", "--sweep", "batch_size=64",
            "--repeats", "2", "--train-images", "200", "--executor", "inline", "--store",
            str(store), "--data", str(SAMPLE_DIR), "--format", "json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["grid"] == {"lr": [0.001, 0.01], "batch_size": [64]}
    assert payload["seeds"] == [0, 1] and len(payload["rows"]) == 4
    assert [p["n"] for p in payload["points"]] == [2, 2]
    accs = [r["test_acc"] for r in payload["rows"][:2]]
    assert payload["points"][0]["mean"]["test_acc"] == pytest.approx(statistics.mean(accs))
    assert payload["points"][0]["std"]["test_acc"] == pytest.approx(statistics.stdev(accs))
    assert "4 runs on inline" in err
    assert main(argv) == 0  # the same sweep again: every point from the store
    again = json.loads(capsys.readouterr().out)
    assert [r["source"] for r in again["rows"]] == ["store"] * 4
    assert [r["test_acc"] for r in again["rows"]] == [r["test_acc"] for r in payload["rows"]]


def test_cli_table_shows_mean_and_std(capsys):
    assert main(["experiment", "mlp", "--sweep", "width=0.5,1", "--repeats", "2",
                 "--train-images", "200", "--executor", "inline", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "2 repeats (mean ± std)" in out and "± acc" in out
    assert out.count(" 2/2 ") == 2


@pytest.mark.parametrize("argv, fragment", [
    (["--sweep", "lr=fast"], "lr value 'fast' is not allowed"),
    (["--sweep", "lr=0.1", "--repeats", "0"], "repeats 0 is not allowed"),
    (["--sweep", "lr=0.1", "--train-images", "0"], "train-images 0 is not allowed"),
    (["--sweep", "lr=0.1", "--executor", "pool", "--cluster", "local"],
     "--cluster needs --executor ray"),
    (["--sweep", "lr=0.1", "--retries", "-1"], "retries -1 is not allowed"),
])
def test_cli_errors_exit_2_with_one_line(capsys, argv, fragment):
    code = main(["experiment", "lenet5", "--no-store", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_cli_without_ray_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setattr(executors_module, "ray_missing", lambda: True)
    code = main(["experiment", "lenet5", "--sweep", "lr=0.1", "--executor", "ray",
                 "--no-store"])
    err = capsys.readouterr().err
    assert code == 2 and "needs Ray: install with" in err and len(err.splitlines()) == 1


def test_make_executor_refuses_unknown_names():
    with pytest.raises(InputError, match="use one of inline, pool, ray"):
        make_executor("cloud")
    assert make_executor("pool", threads=1).workers >= 1


def test_aggregate_skips_points_not_run_yet(inline_events):
    rows = inline_events[-1].rows[:1]
    (only,) = aggregate(rows, Grid(parse_grid(GRID4).dims), 1)
    assert only.settings == {"batch_size": 32, "lr": 0.001} and only.n == 1


# -- TensorBoard ---------------------------------------------------------------------------
def _scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    logs = EventAccumulator(str(folder))
    logs.Reload()
    return [(s.step, s.value) for s in logs.Scalars(tag)]


def test_cli_sweep_points_open_in_tensorboard(tmp_path, capsys):
    """TensorBoard's own reader gives back each point's test accuracy and batch losses."""
    pytest.importorskip("tensorboard")
    assert main(["experiment", "lenet5", "--sweep", "lr=0.001,0.01", "--train-images", "200",
                 "--executor", "inline", "--no-store", "--format", "json", "--tensorboard",
                 str(tmp_path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    (sweep_folder,) = tmp_path.iterdir()
    assert sweep_folder.name == f"sweep-{payload['sweep_id']}"
    for row in payload["rows"]:
        folder = sweep_folder / f"lr_{row['settings']['lr']:g}-seed{row['seed']}"
        assert _scalars(folder, "accuracy/test") == [(1, pytest.approx(row["test_acc"]))]
        assert len(_scalars(folder, "batch/loss")) == 2  # 200 images / 128 per batch


def test_cli_profile_writes_tensorboard_scalars(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    assert main(["profile", "mlp", "--batches", "1,8", "--repeats", "3", "--budget", "0.05",
                 "--no-store", "--format", "json", "--tensorboard", str(tmp_path)]) == 0
    payload = json.loads(capsys.readouterr().out)
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("mlp-profile-")
    latency = _scalars(folder, "profile/latency_ms")
    assert [step for step, _ in latency] == [1, 8]
    assert [v for _, v in latency] == pytest.approx(
        [b["latency_ms"] for b in payload["batches"]], rel=1e-6)
