"""The ``experiment`` sub-command: train a model at every point of a grid (batch size,
width, depth, kernel, learning rate; several ``--sweep`` options multiply), ``--repeats``
times over seeds, on an executor (inline, a local process pool, or Ray), and print one row
per grid point with the mean ± standard deviation over the repeats (JSON: every repeat too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.common.errors import InputError

DEFAULT_EPOCHS = 1
FORMATS = ("table", "json", "csv", "md", "latex")


def register(subparsers) -> None:
    """Add ``experiment`` to an argparse subparsers object (sets ``func``)."""
    from core.training.executors import DEFAULT_EXECUTOR, DEFAULT_RETRIES, EXECUTORS
    p = subparsers.add_parser(
        "experiment", help="train a network over a grid of batch sizes, widths, depths, "
                           "kernels and learning rates, with repeats over seeds, and tabulate "
                           "accuracy (mean ± std), time, parameters and MACs",
        description="Trains MODEL (a preset name or a design .json) at every combination of "
                    "the --sweep values on MNIST from --data, $MLSYS_MNIST_DIR or the bundled "
                    "sample, --repeats times with seeds SEED, SEED+1, ... Points run on "
                    "--executor (default: a local process pool, each worker on --threads "
                    "torch threads) and are recorded in the run store; running the same "
                    "sweep again (same model, settings and data) takes the points already "
                    "finished from the store (--fresh to train them again). Progress goes to "
                    "stderr, the table to stdout (or --output). Example: experiment lenet5 "
                    "--sweep batch_size=32,128 --sweep lr=0.001,0.01 --repeats 3")
    p.add_argument("model", help="preset name or design .json")
    p.add_argument("--sweep", required=True, action="append", metavar="NAME=V1,V2,...",
                   help="a grid dimension: batch_size=1,32,64 (whole 1..65536), width=0.5,1,2 "
                        "(multiplier > 0, ≤ 16), depth=0,1,2 (extra hidden layers, 0..8), "
                        "kernel=3,5,7 (odd 1..11) or lr=0.001,0.01 (> 0, ≤ 10); at most 12 "
                        "values each; repeat --sweep for a grid")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per grid point, with seeds SEED, SEED+1, ... (default 1, at "
                        "most 20)")
    p.add_argument("--executor", choices=EXECUTORS, default=DEFAULT_EXECUTOR,
                   help=f"where points train (default {DEFAULT_EXECUTOR}: a local process pool)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="with --executor ray: ray://HOST:PORT, HOST:PORT, or local (start one "
                        "here; the default)")
    p.add_argument("--workers", type=int, default=None,
                   help="pool processes (default: cores // --threads)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per point, on every executor (default 1; the numbers "
                        "depend on it, not on the executor)")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help=f"attempts after a point's process fails (default {DEFAULT_RETRIES})")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"epochs per run (default {DEFAULT_EPOCHS})")
    p.add_argument("--train-images", type=int, default=None, metavar="N",
                   help="train on the first N training images (default: all)")
    p.add_argument("--batch-size", type=int, default=128,
                   help="batch size of runs that do not sweep it (default 128)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of runs that do not sweep it (default: adam 1e-3, "
                        "sgd 0.05)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="MNIST folder (default: $MLSYS_MNIST_DIR, else the bundled sample)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first repeat (default 0)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", metavar="FILE", help="write the result here instead of stdout")
    p.add_argument("--store", metavar="PATH", help="record each point in this run store "
                                                   "(default: $MLSYS_RUN_STORE or the user's "
                                                   "data folder)")
    p.add_argument("--no-store", action="store_true",
                   help="do not record the points (and do not resume from the store)")
    p.add_argument("--fresh", action="store_true",
                   help="train every point even if the store has it from an earlier run")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also write each point's scalars under DIR/sweep-<id>/<point>-seed<S>")
    p.set_defaults(func=run_experiment_command)


def run_experiment_command(args: argparse.Namespace) -> int:
    from core.torchbridge.resolve import resolve_model
    from core.training.executors import make_executor
    from core.training.sweeps import SweepDone, parse_grid, run_sweep
    from core.training.trainer import TrainConfig
    grid = parse_grid(args.sweep)
    config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                         epochs=args.epochs, seed=args.seed)
    if args.tensorboard:
        from core.training.tensorboard_log import tensorboard_missing
        if tensorboard_missing():
            raise InputError("--tensorboard needs the tensorboard package: install with "
                             "`pip install tensorboard` (or leave out --tensorboard)")
    network = resolve_model(args.model)
    data = training_subset(args.data, args.train_images)
    executor = make_executor(args.executor, args.cluster, args.workers, args.threads,
                             args.retries)
    store = None
    if not args.no_store:
        from core.training.run_store import RunStore
        store = RunStore(args.store)
    done = None
    try:
        for event in run_sweep(network, data, grid, config, args.repeats, executor, store,
                               args.threads, resume=not args.fresh,
                               tensorboard=args.tensorboard):
            _progress(event, sys.stderr)
            if isinstance(event, SweepDone):
                done = event
    finally:
        if hasattr(executor, "close"):
            executor.close()
    text = _render(done, network.name, grid, args, config, data.description, executor.name)
    _write(text, args.output)
    return 0


def training_subset(directory, train_images: int | None):
    """MNIST (or the sample) with only its first ``train_images`` training images."""
    from core.training.data import MnistData, load_mnist
    data = load_mnist(directory)
    if train_images is None:
        return data
    if isinstance(train_images, bool) or not 1 <= train_images <= data.train_size:
        raise InputError(f"train-images {train_images} is not allowed: use a whole number from "
                         f"1 to {data.train_size:,} (the training images of "
                         f"{data.description})")
    return MnistData(data.train_images[:train_images], data.train_labels[:train_images],
                     data.test_images, data.test_labels, data.source, "custom")


def _progress(event, stream) -> None:
    """One stderr line when the sweep starts, per point done and per retry."""
    from core.training.sweeps import PointDone, PointRetry, SweepStarted
    if isinstance(event, SweepStarted):
        stored = f", {event.from_store} from the store" if event.from_store else ""
        print(f"sweep {event.sweep_id}: {event.grid_points} grid points × {event.repeats} "
              f"repeats = {event.runs} runs on {event.executor} ({event.workers} "
              f"worker{'s' if event.workers != 1 else ''}){stored}", file=stream, flush=True)
    elif isinstance(event, PointRetry):
        print(f"run {event.index}: {event.label} seed {event.seed} failed (attempt "
              f"{event.attempt}: {event.message}); retrying", file=stream, flush=True)
    elif isinstance(event, PointDone):
        row = event.row
        head = f"run {event.done}/{event.total}: {row.label} seed {row.seed}"
        if row.status == "failed":
            print(f"{head} failed: {row.message}", file=stream, flush=True)
            return
        acc = f"{row.test_acc:.2%}" if row.test_acc is not None else "n/a"
        where = " (from the store)" if row.source == "store" else \
            f" ({row.train_seconds:.2f} s training)"
        print(f"{head} done: test acc {acc}{where}", file=stream, flush=True)


def _render(done, name: str, grid, args, config, dataset: str, executor: str) -> str:
    from core.common.tables import render
    from core.training.sweeps import aggregates_table
    if args.format == "json":
        return json.dumps({"model": name, "sweep_id": done.sweep_id,
                           "grid": {d.kind: list(d.values) for d in grid.dims},
                           "repeats": args.repeats, "seeds": [config.seed + i for i in
                                                              range(args.repeats)],
                           "executor": executor, "threads": args.threads,
                           "status": done.status, "dataset": dataset,
                           "config": config.as_dict(),
                           "points": [a.as_dict() for a in done.aggregates],
                           "rows": [r.as_dict() for r in done.rows]}, indent=1) + "\n"
    repeats = f", {args.repeats} repeats (mean ± std)" if args.repeats > 1 else ""
    title = (f"{name}: {' × '.join(grid.kinds)} sweep on {dataset}, {config.optimizer} lr "
             f"{config.learning_rate:g}, {config.epochs} epoch{'s' if config.epochs > 1 else ''}"
             f", seed {config.seed}{repeats}")
    if done.status != "finished":
        title += f" [{done.status}]"
    return render(aggregates_table(done.aggregates, grid, title), args.format)


def _write(text: str, output: str | None) -> None:
    if not output:
        sys.stdout.write(text)
        return
    from core.common.files import write_atomic
    try:
        write_atomic(Path(output), text)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}", file=sys.stderr)
