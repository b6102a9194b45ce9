"""The ``experiment`` sub-command: train a model once per value of a sweep (batch size,
width, depth or kernel) and print one row per run: times, accuracy, parameters, MACs."""

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
    p = subparsers.add_parser(
        "experiment", help="train a network at several batch sizes, widths, depths or kernels "
                           "and tabulate time, accuracy, parameters and MACs",
        description="Trains one variant of MODEL (a preset name or a design .json) per sweep "
                    "value on MNIST from --data, $MLSYS_MNIST_DIR or the bundled sample, all "
                    "from the same seed. Progress goes to stderr, the table to stdout (or "
                    "--output). Example: experiment lenet5 --sweep batch_size=32,64,128")
    p.add_argument("model", help="preset name or design .json")
    p.add_argument("--sweep", required=True, metavar="KIND=V1,V2,...",
                   help="batch_size=1,32,64 (whole 1..65536), width=0.5,1,2 (multiplier > 0, "
                        "≤ 16), depth=0,1,2 (extra hidden layers, 0..8) or kernel=3,5,7 (odd "
                        "1..11); at most 12 values")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help=f"epochs per run (default {DEFAULT_EPOCHS})")
    p.add_argument("--batch-size", type=int, default=128,
                   help="batch size of runs that do not sweep it (default 128)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: adam 1e-3, sgd 0.05)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="MNIST folder (default: $MLSYS_MNIST_DIR, else the bundled sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", metavar="FILE", help="write the result here instead of stdout")
    p.add_argument("--store", metavar="PATH", help="record each point in this run store "
                                                   "(default: $MLSYS_RUN_STORE or the user's "
                                                   "data folder)")
    p.add_argument("--no-store", action="store_true", help="do not record the points")
    p.set_defaults(func=run_experiment_command)


def run_experiment_command(args: argparse.Namespace) -> int:
    from core.training.data import load_mnist
    from core.training.experiments import ExperimentDone, parse_sweep, run_experiment
    from core.torchbridge.resolve import resolve_model
    from core.training.trainer import TrainConfig
    sweep = parse_sweep(args.sweep)
    config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                         epochs=args.epochs, seed=args.seed)
    network = resolve_model(args.model)
    data = load_mnist(args.data)
    done = None
    store = None
    if not args.no_store:
        from core.training.run_store import RunStore
        store = RunStore(args.store)
    for event in run_experiment(network, data, sweep, config, store=store):
        _progress(event, sys.stderr)
        if isinstance(event, ExperimentDone):
            done = event
    text = _render(done, network.name, sweep, config, data.description, args.format)
    _write(text, args.output)
    return 0


def _progress(event, stream) -> None:
    """One stderr line per run started and per run done."""
    from core.training.experiments import RunDone, RunStarted
    if isinstance(event, RunStarted):
        print(f"run {event.index}/{event.total}: {event.label} ...", file=stream, flush=True)
    elif isinstance(event, RunDone):
        row = event.row
        if row.status == "failed":
            print(f"run {event.index}: {row.label} failed: {row.message}", file=stream,
                  flush=True)
            return
        acc = f"{row.test_acc:.2%}" if row.test_acc is not None else "n/a"
        print(f"run {event.index}: {row.label} done: test acc {acc}, "
              f"{row.train_seconds:.2f} s training", file=stream, flush=True)


def _render(done, name: str, sweep, config, dataset: str, fmt: str) -> str:
    from core.common.tables import render
    from core.training.experiments import rows_table
    if fmt == "json":
        return json.dumps({"model": name, "kind": sweep.kind, "values": list(sweep.values),
                           "status": done.status, "dataset": dataset,
                           "config": config.as_dict(),
                           "rows": [r.as_dict() for r in done.rows]}, indent=1) + "\n"
    title = (f"{name}: {sweep.kind} sweep on {dataset}, {config.optimizer} lr "
             f"{config.learning_rate:g}, {config.epochs} epoch{'s' if config.epochs > 1 else ''}"
             f", seed {config.seed}")
    return render(rows_table(done.rows, title), fmt)


def _write(text: str, output: str | None) -> None:
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}", file=sys.stderr)
