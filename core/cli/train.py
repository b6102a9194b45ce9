"""The ``train`` sub-command: train a model on MNIST headless and report per-epoch loss and
accuracy, training time, inference time, parameters and MACs (table or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_EPOCHS = 2


def register(subparsers) -> None:
    """Add ``train`` to an argparse subparsers object (sets ``func``)."""
    p = subparsers.add_parser(
        "train", help="train a network on MNIST: loss, accuracy, time, inference latency",
        description="Trains MODEL (a preset name or a design .json) on MNIST from --data, "
                    "$MLSYS_MNIST_DIR or the bundled sample, and prints one row per epoch. "
                    "A progress bar goes to stderr when it is a terminal.")
    p.add_argument("model", help="preset name or design .json")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=None,
                        help=f"epochs to train (default {DEFAULT_EPOCHS})")
    length.add_argument("--until-converged", action="store_true",
                        help="stop when test accuracy has not improved for --patience epochs")
    p.add_argument("--patience", type=int, default=2, help="with --until-converged (default 2)")
    p.add_argument("--max-epochs", type=int, default=30,
                   help="cap with --until-converged (default 30)")
    p.add_argument("--batch-size", type=int, default=128, help="default 128")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: adam 1e-3, sgd 0.05)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam",
                   help="sgd uses momentum 0.9 (default adam)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="cosine: lr decays to 0 over the run (default constant)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="MNIST folder (default: $MLSYS_MNIST_DIR, else the bundled sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where available")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--save", metavar="FILE.pt", help="save a checkpoint after training")
    p.add_argument("--onnx", metavar="FILE.onnx", help="export ONNX after training")
    p.add_argument("--store", metavar="PATH", help="record the run in this run store "
                                                   "(default: $MLSYS_RUN_STORE or the user's "
                                                   "data folder)")
    p.add_argument("--no-store", action="store_true", help="do not record the run")
    p.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard scalars under "
                                                        "DIR/<model>-<time>")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from core.training.data import load_mnist
    from core.torchbridge.resolve import resolve_model
    from core.training.trainer import (Failed, TrainConfig, TrainingError, as_trained_model, onnx_missing,
                           run_to_end, train)
    if args.onnx and onnx_missing():
        missing = onnx_missing()
        raise TrainingError(f"--onnx needs the {' and '.join(missing)} package"
                            f"{'s' if len(missing) > 1 else ''}: install with "
                            f"`pip install {' '.join(missing)}` (or leave out --onnx)")
    config = TrainConfig(optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                         epochs=args.epochs if args.epochs is not None else DEFAULT_EPOCHS,
                         until_converged=args.until_converged, patience=args.patience,
                         max_epochs=args.max_epochs, seed=args.seed, device=args.device,
                         schedule=args.schedule)
    network = resolve_model(args.model)
    data = load_mnist(args.data)
    model = as_trained_model(network, config.seed)
    bar = _ProgressBar(sys.stderr) if _is_tty(sys.stderr) else None
    failure = []

    def on_event(event):
        if bar is not None:
            bar.update(event)
        if isinstance(event, Failed):
            failure.append(event.message)

    events = train(model, data, config)
    if args.tensorboard:
        from core.training.tensorboard_log import TensorBoardRecorder
        board = TensorBoardRecorder(args.tensorboard,
                                    f"{network.name}-{time.strftime('%Y%m%d-%H%M%S')}")
        events = board.wrap(events)
    recorder = None
    if not args.no_store:
        from core.training.run_store import TrainingRecorder
        recorder = TrainingRecorder(_open_store(args.store), network.name, config.as_dict())
        events = recorder.wrap(events)
    try:
        result = run_to_end(events, on_event)
    finally:
        if bar is not None:
            bar.close()
    if failure:
        raise TrainingError(failure[0])
    if args.save:
        model.save_checkpoint(args.save, {"config": config.as_dict(),
                                          "history": [e.as_dict() for e in result.epochs],
                                          "dataset": result.dataset})
    if args.onnx:
        model.export_onnx(args.onnx)
    if recorder is not None and recorder.run_id is not None:
        for kind, path in (("checkpoint", args.save), ("onnx", args.onnx)):
            if path:
                recorder.store.add_artifact(recorder.run_id, kind, Path(path).resolve())
    summary = result.summary()
    if args.format == "json":
        print(json.dumps(summary, indent=1))
        return 0
    print(_table(summary, network.name, config), end="")
    return 0


def _open_store(path):
    from core.training.run_store import RunStore
    store = RunStore(path)
    store.mark_interrupted()
    return store


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _table(summary: dict, name: str, config) -> str:
    from core.common.tables import Table, to_text
    rows = [[e["epoch"], e["train_loss"], e["train_acc"], e["test_loss"], e["test_acc"],
             e["seconds"]] for e in summary["epochs"]]
    table = Table(["epoch", "train loss", "train acc", "test loss", "test acc", "seconds"],
                  [[r[0], f"{r[1]:.4f}", r[2], f"{r[3]:.4f}", r[4], f"{r[5]:.2f}"]
                   for r in rows],
                  f"{name} on {summary['dataset']}: {config.optimizer}, lr "
                  f"{config.learning_rate:g} ({config.schedule}), batch {config.batch_size}, "
                  f"seed {config.seed}", numeric={0, 1, 2, 3, 4, 5}, percent={2, 4})
    macs = f"{summary['macs']:,}" if summary["macs"] is not None else "n/a"
    lines = [to_text(table).rstrip("\n"), "",
             f"status: {summary['status']}",
             f"training time: {summary['train_seconds']:.2f} s",
             f"inference: {summary['inference_ms_per_batch']:.3f} ms per batch of "
             f"{summary['inference_batch_size']} ({summary['inference_ms_per_image'] * 1e3:.1f} "
             f"µs per image)",
             f"params: {summary['params']:,}   MACs per image: {macs}"]
    return "\n".join(lines) + "\n"


class _ProgressBar:
    """One self-rewriting stderr line, redrawn at most 10 times a second."""

    WIDTH = 24

    def __init__(self, stream):
        self.stream = stream
        self.last = 0.0
        self.epochs = 1
        self.shown = False

    def update(self, event) -> None:
        from core.training.trainer import BatchEvent, EpochEvent, Started
        if isinstance(event, Started):
            self.epochs = event.epochs
            return
        if isinstance(event, EpochEvent):
            self._write(f"epoch {event.epoch}/{self.epochs}: test acc {event.test_acc:.2%}, "
                        f"{event.seconds:.1f} s")
            self.stream.write("\n")
            self.shown = False
            return
        if not isinstance(event, BatchEvent):
            return
        now = time.monotonic()
        if now - self.last < 0.1 and event.step != event.steps_per_epoch:
            return
        self.last = now
        done = event.step / event.steps_per_epoch
        filled = int(done * self.WIDTH)
        self._write(f"epoch {event.epoch}/{self.epochs} [{'#' * filled}"
                    f"{'.' * (self.WIDTH - filled)}] {done:4.0%}  loss {event.loss:.4f}  "
                    f"acc {event.acc:.1%}  {event.images_per_sec:,.0f} img/s")

    def _write(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(79)[:120])
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
        self.shown = False

