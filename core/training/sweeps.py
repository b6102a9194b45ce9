"""Sweeps over a grid: train one network at every combination of several dimensions
(batch size, width, depth, kernel, learning rate), each ``repeats`` times with seeds
seed, seed + 1, ..., on an executor (core.training.executors), and summarise each grid
point as mean ± sample standard deviation over its repeats.

``run_sweep`` is a generator of typed events: SweepStarted, then one PointDone per
(grid point, seed) in the order they finish (PointRetry when an executor retries one;
SweepPaused / SweepResumed around a pause, once the points in flight have finished), and
SweepDone with every row and the per-grid-point aggregates. A point's numbers depend only
on its task (network, config with seed and thread count, data), never on the executor.

Resuming: a sweep's ``sweep_id`` is a hash of what every point shares (the design, the
training settings other than the swept ones and the seed, the data and the thread count).
With a run store, every finished point is recorded as a run of kind "sweep" whose settings
hold the sweep id, the point's grid settings and its seed; a later sweep with the same id
takes those points from the store instead of training them again (so an interrupted sweep
resumes where it stopped, and a grid that grows re-trains only the new points).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from core.common.errors import InputError
from core.graph.network import Network
from core.training.experiments import (CONFIG_KINDS, check_variant, network_facts,
                                       value_label, variant)
from core.training.sweep_points import PointResult, PointTask, cores  # noqa: F401 (cores: re-exported)

if TYPE_CHECKING:
    from core.training.data import MnistData
    from core.training.trainer import TrainConfig

MAX_POINTS = 256  # grid points × repeats
MAX_REPEATS = 20
DONE_STATUSES = ("finished", "converged")
METRICS = ("test_acc", "test_loss", "train_seconds", "seconds_per_epoch", "images_per_sec",
           "inference_ms_per_batch")


# ---------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """Several sweep dimensions (each a checked Sweep, kinds distinct); the grid is their
    Cartesian product in the order given (the last dimension varies fastest)."""

    dims: tuple

    def __post_init__(self):
        dims = tuple(self.dims)
        if not dims:
            raise InputError("a sweep needs at least one --sweep NAME=V1,V2,...")
        kinds = [d.kind for d in dims]
        for kind in kinds:
            if kinds.count(kind) > 1:
                raise InputError(f"sweep dimension {kind} is given more than once: give each "
                                 f"dimension once, with all its values")
        object.__setattr__(self, "dims", dims)

    @property
    def kinds(self) -> tuple:
        return tuple(d.kind for d in self.dims)

    def points(self) -> list[dict]:
        """Every grid point as {kind: value}, in order."""
        return [dict(zip(self.kinds, values))
                for values in itertools.product(*(d.values for d in self.dims))]

    def size(self) -> int:
        return math.prod(len(d.values) for d in self.dims)


def parse_grid(texts) -> Grid:
    """['batch_size=32,64', 'lr=0.001,0.01'] → Grid of two Sweeps (each checked)."""
    from core.training.experiments import parse_sweep
    return Grid(tuple(parse_sweep(t) for t in texts))


def point_label(settings: dict) -> str:
    """"batch 32, lr 0.001"."""
    return ", ".join(value_label(k, v) for k, v in settings.items())


# ---------------------------------------------------------------------------------------
# Tasks: what one worker trains
# ---------------------------------------------------------------------------------------
def make_tasks(network: Network, grid: Grid, config: "TrainConfig", repeats: int = 1,
               threads: int = 1) -> list[PointTask]:
    """Every task of the sweep, each variant shape-checked now (InputError naming the value
    and the layer) before any training; checks the grid size against MAX_POINTS."""
    from core.graph.io import network_to_dict
    _check_whole("repeats", repeats, 1, MAX_REPEATS)
    _check_whole("threads", threads, 1, 1024)
    total = grid.size() * repeats
    if total > MAX_POINTS:
        raise InputError(f"the sweep has {grid.size()} grid points × {repeats} repeats = "
                         f"{total} runs: use at most {MAX_POINTS}")
    tasks = []
    for settings in grid.points():
        net = point_network(network, settings)
        label = point_label(settings)
        check_variant(net, label, network.name)
        design = network_to_dict(net)
        base = dataclasses.replace(config, threads=threads,
                                   **{k: v for k, v in settings.items() if k in CONFIG_KINDS})
        for repeat in range(1, repeats + 1):
            seed = config.seed + repeat - 1
            tasks.append(PointTask(len(tasks) + 1, dict(settings), seed, repeat, label, design,
                                   dataclasses.replace(base, seed=seed)))
    return tasks


def point_network(network: Network, settings: dict) -> Network:
    """``network`` with every network dimension of ``settings`` applied in turn."""
    net = network
    for kind, value in settings.items():
        if kind not in CONFIG_KINDS:
            net = variant(net, kind, value)
    if net is network:
        net = network.copy()
    label = point_label(settings)
    net.name = f"{network.name} ({label})" if label else network.name
    return net


def _check_whole(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} {value!r} is not allowed: use a whole number from {low} to "
                         f"{high}")


# ---------------------------------------------------------------------------------------
# Rows and aggregates
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointRow:
    """One (grid point, seed) as tabulated; ``source`` is "run" or "store" (resumed)."""

    index: int
    settings: dict
    label: str
    seed: int
    repeat: int
    status: str
    params: int
    macs: int
    epochs: int
    train_seconds: float | None
    seconds_per_epoch: float | None
    images_per_sec: float | None
    test_acc: float | None
    test_loss: float | None
    inference_ms_per_batch: float | None = None
    attempts: int = 1
    source: str = "run"
    run_id: int | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_point_row(task: PointTask, result: PointResult, facts: dict, attempts: int = 1,
                   source: str = "run", run_id: int | None = None) -> PointRow:
    epochs = result.epochs
    last = epochs[-1] if epochs else {}
    return PointRow(task.index, dict(task.settings), task.label, task.seed, task.repeat,
                    result.status, facts["params"], facts["macs"], len(epochs),
                    result.train_seconds,
                    sum(e["seconds"] for e in epochs) / len(epochs) if epochs else None,
                    result.images_per_sec, last.get("test_acc"), last.get("test_loss"),
                    result.inference_ms_per_batch, attempts, source, run_id, result.message)


def failed_row(task: PointTask, facts: dict, message: str, attempts: int) -> PointRow:
    return make_point_row(task, PointResult("failed", message, [], [], None, None), facts,
                          attempts)


@dataclass(frozen=True)
class Aggregate:
    """A grid point over its repeats: mean and sample standard deviation (n − 1; 0 for one
    repeat) of each metric over the repeats that finished; ``n`` of ``repeats``."""

    settings: dict
    label: str
    n: int
    repeats: int
    params: int
    macs: int
    mean: dict
    std: dict

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def aggregate(rows, grid: Grid, repeats: int) -> list[Aggregate]:
    """One Aggregate per grid point (grid order) over the rows given so far."""
    out = []
    for settings in grid.points():
        mine = [r for r in rows if r.settings == settings]
        done = [r for r in mine if r.status in DONE_STATUSES]
        if not mine:
            continue
        mean, std = {}, {}
        for metric in METRICS:
            values = [getattr(r, metric) for r in done if getattr(r, metric) is not None]
            mean[metric], std[metric] = mean_std(values)
        out.append(Aggregate(dict(settings), point_label(settings), len(done), repeats,
                             mine[0].params, mine[0].macs, mean, std))
    return out


def mean_std(values) -> tuple[float | None, float | None]:
    """(mean, sample standard deviation with n − 1) of ``values``; std 0 for one value,
    (None, None) for none."""
    values = list(values)
    if not values:
        return None, None
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregates_table(aggs, grid: Grid, title: str = ""):
    """Per grid point: its settings, runs done, params, MACs, and mean ± std per metric."""
    from core.common.tables import Table
    headers = list(grid.kinds) + ["runs", "params", "MACs", "test acc", "± acc",
                                  "test loss", "± loss", "train s", "± train s",
                                  "train img/s", "± img/s", "infer ms/batch", "± ms"]
    rows = []
    for a in aggs:
        row = [f"{a.settings[k]:g}" for k in grid.kinds] + [f"{a.n}/{a.repeats}", a.params,
                                                            a.macs]
        for metric in ("test_acc", "test_loss", "train_seconds", "images_per_sec",
                       "inference_ms_per_batch"):
            row += [a.mean[metric], a.std[metric]]
        rows.append(row)
    numeric = set(range(len(grid.kinds) + 1, len(headers)))  # settings as given: 0.001
    return Table(headers, rows, title, numeric=numeric,
                 percent={headers.index("test acc"), headers.index("± acc")})


def rows_table(rows, grid: Grid, title: str = ""):
    """Every (grid point, seed) run, one row each."""
    from core.common.tables import Table
    headers = list(grid.kinds) + ["seed", "status", "params", "MACs", "epochs", "train s",
                                  "train img/s", "test acc", "test loss", "infer ms/batch",
                                  "attempts", "from"]
    body = [[f"{r.settings[k]:g}" for k in grid.kinds] + [r.seed, r.status, r.params, r.macs,
                                                    r.epochs, r.train_seconds,
                                                    r.images_per_sec, r.test_acc,
                                                    r.test_loss, r.inference_ms_per_batch,
                                                    r.attempts, r.source]
            for r in sorted(rows, key=lambda r: r.index)]
    text = set(range(len(grid.kinds))) | {headers.index("status"), headers.index("from")}
    return Table(headers, body, title, numeric=set(range(len(headers))) - text,
                 percent={headers.index("test acc")})


# ---------------------------------------------------------------------------------------
# Sweep identity and the run store
# ---------------------------------------------------------------------------------------
def sweep_id(network: Network, config: "TrainConfig", grid: Grid, dataset: str,
             threads: int) -> str:
    """A short hash of what every point of the sweep shares: the design, the training
    settings other than the seed and the swept ones, the data and the threads."""
    from core.graph.io import network_to_dict
    shared = {k: v for k, v in config.as_dict().items()
              if k not in ("seed", "threads") and k not in grid.kinds}
    blob = json.dumps({"design": network_to_dict(network), "config": shared,
                       "dims": sorted(grid.kinds), "data": dataset, "threads": threads},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def point_settings(task: PointTask, sid: str) -> dict:
    """The settings a point is stored with (what resuming matches on)."""
    return dict(task.config.as_dict(), sweep_id=sid, point=task.settings, seed=task.seed,
                repeat=task.repeat, label=task.label)


def stored_points(store, sid: str) -> dict:
    """{(point settings as JSON, seed): StoredRun} of the finished points of sweep ``sid``."""
    found = {}
    for run in store.list_runs(kind="sweep"):
        settings = run.settings
        if settings.get("sweep_id") == sid and run.status in DONE_STATUSES:
            found[(_key(settings.get("point", {})), settings.get("seed"))] = run
    return found


def _key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def record_point(store, task: PointTask, sid: str, model: str, result: PointResult) -> int:
    """Write a finished point to the store as a run of kind "sweep"; returns its id."""
    run_id = store.start_run("sweep", model, point_settings(task, sid), device=result.device,
                             dataset=result.dataset)
    for epoch in result.epochs:
        store.add_epoch(run_id, epoch["epoch"], epoch)
    store.add_batch_losses(run_id, enumerate(result.batch_losses, 1))
    store.finish_run(run_id, result.status,
                     {"train_seconds": result.train_seconds, "message": result.message,
                      "images_per_sec": result.images_per_sec, "threads": result.threads,
                      "inference_ms_per_batch": result.inference_ms_per_batch,
                      "epochs": result.epochs})
    return run_id


def result_from_store(run) -> PointResult:
    summary = run.summary
    return PointResult(run.status, summary.get("message", ""), list(run.epochs or
                                                                    summary.get("epochs", [])),
                       [], summary.get("train_seconds"), summary.get("images_per_sec"),
                       run.device, run.dataset, summary.get("threads", 1),
                       summary.get("inference_ms_per_batch"))


# ---------------------------------------------------------------------------------------
# Events and the runner
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepEvent:
    """Base of run_sweep's events."""


@dataclass(frozen=True)
class SweepStarted(SweepEvent):
    sweep_id: str
    model: str
    kinds: tuple
    grid_points: int
    repeats: int
    runs: int  # grid points × repeats
    from_store: int  # of those, taken from the store
    executor: str
    workers: int


@dataclass(frozen=True)
class PointRetry(SweepEvent):
    index: int
    label: str
    seed: int
    attempt: int  # the attempt that failed, 1-based
    message: str


@dataclass(frozen=True)
class PointDone(SweepEvent):
    row: PointRow
    done: int  # rows so far
    total: int
    aggregates: list = field(default_factory=list)  # per grid point so far
    epochs: list = field(default_factory=list)  # the point's per-epoch dicts (as stored)


@dataclass(frozen=True)
class SweepPaused(SweepEvent):
    """Paused: no new point starts and none is training; ``done`` of ``total`` finished."""

    done: int
    total: int


@dataclass(frozen=True)
class SweepResumed(SweepEvent):
    done: int
    total: int


@dataclass(frozen=True)
class SweepDone(SweepEvent):
    sweep_id: str
    rows: list  # PointRow, in task order
    aggregates: list
    status: str  # finished or stopped


def run_sweep(network: Network, data: "MnistData", grid: Grid, config: "TrainConfig",
              repeats: int = 1, executor=None, store=None, threads: int = 1,
              resume: bool = True, should_stop: Callable[[], bool] = lambda: False,
              tensorboard: str | None = None,
              should_pause: Callable[[], bool] | None = None) -> Iterator[SweepEvent]:
    """Train every (grid point, seed) on ``executor`` (default: inline) and yield events as
    points finish. Finished points of the same sweep already in ``store`` are reused when
    ``resume``; new ones are recorded there. A point that still fails after the executor's
    retries gives a "failed" row; the others go on. A stop ends with status "stopped".
    While ``should_pause()`` no new point starts (inline and pool executors)."""
    from core.training.executors import Held, InlineExecutor, Outcome, Retry
    executor = executor or InlineExecutor()
    tasks = make_tasks(network, grid, config, repeats, threads)
    facts = {t.label: None for t in tasks}
    sid = sweep_id(network, config, grid, data.description, threads)
    earlier = stored_points(store, sid) if store is not None and resume else {}
    rows, pending, curves = [], [], {}
    for task in tasks:
        run = earlier.get((_key(task.settings), task.seed))
        if run is None:
            pending.append(task)
        else:
            result = result_from_store(run)
            curves[task.index] = result.epochs
            rows.append(make_point_row(task, result, _facts(task, facts),
                                       source="store", run_id=run.id))
    yield SweepStarted(sid, network.name, grid.kinds, grid.size(), repeats, len(tasks),
                       len(rows), executor.name, executor.workers_for(len(pending)))
    for done, row in enumerate(sorted(rows, key=lambda r: r.index), 1):
        yield PointDone(row, done, len(tasks), aggregate(rows[:done], grid, repeats),
                        curves.get(row.index, []))
    by_index = {t.index: t for t in pending}
    stopped = False
    outcomes = executor.run(pending, data, should_stop, should_pause) if should_pause \
        else executor.run(pending, data, should_stop)
    for outcome in outcomes:
        if isinstance(outcome, Held):
            yield (SweepPaused if outcome.held else SweepResumed)(len(rows), len(tasks))
            continue
        if isinstance(outcome, Retry):
            task = by_index[outcome.index]
            yield PointRetry(task.index, task.label, task.seed, outcome.attempt,
                             outcome.message)
            continue
        assert isinstance(outcome, Outcome)
        task = by_index[outcome.index]
        if outcome.result is None:  # stopped
            stopped = True
            continue
        row = _outcome_row(task, outcome, _facts(task, facts), store, sid, network.name,
                           tensorboard)
        rows.append(row)
        epochs = outcome.result.epochs if hasattr(outcome.result, "epochs") else []
        yield PointDone(row, len(rows), len(tasks), aggregate(rows, grid, repeats), epochs)
    stopped = stopped or should_stop() or len(rows) < len(tasks)
    rows.sort(key=lambda r: r.index)
    yield SweepDone(sid, rows, aggregate(rows, grid, repeats),
                    "stopped" if stopped else "finished")


def _outcome_row(task, outcome, facts, store, sid, model, tensorboard) -> PointRow:
    result = outcome.result
    if isinstance(result, str):  # gave up after the retries
        return failed_row(task, facts, result, outcome.attempts)
    run_id = record_point(store, task, sid, model, result) if store is not None else None
    if tensorboard:
        from core.training.tensorboard_log import write_scalars
        write_scalars(tensorboard, f"sweep-{sid}/{_safe(task.label)}-seed{task.seed}",
                      result.epochs, result.batch_losses)
    return make_point_row(task, result, facts, outcome.attempts, run_id=run_id)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text.replace(", ", "_"))


def _facts(task: PointTask, cache: dict) -> dict:
    """params and MACs per image of the task's network (computed once per grid point)."""
    if cache.get(task.label) is None:
        from core.graph.io import network_from_dict
        cache[task.label] = network_facts(network_from_dict(task.design))
    return cache[task.label]
