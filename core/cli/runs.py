"""The ``runs`` command: list, show, export and delete the runs kept in the run store."""

from __future__ import annotations

import json

from core.common.errors import InputError

FORMATS = ("table", "json", "csv", "md", "latex")


def register(subparsers) -> None:
    """Add ``runs`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "runs", help="the runs kept in the run store: list, show, export, delete",
        description="Training runs are recorded in a SQLite store ($MLSYS_RUN_STORE, else "
                    "runs.sqlite in the user's data folder; --store to choose).")
    p.add_argument("action", choices=("list", "show", "export", "delete"))
    p.add_argument("id", nargs="?", type=int, help="the run (show, export, delete)")
    p.add_argument("--store", metavar="PATH", help="the run store (SQLite file)")
    p.add_argument("--kind", help="list only runs of this kind (train, sweep, ...)")
    p.add_argument("--status", help="list only runs with this status")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args) -> int:
    from core.training.run_store import RunStore
    store = RunStore(args.store)
    store.mark_interrupted()
    if args.action == "list":
        runs = store.list_runs(kind=args.kind, status=args.status)
        if args.format == "json":
            print(json.dumps([r.as_dict() for r in runs], indent=1))
        else:
            print(_render(_list_table(runs, store), args.format), end="")
        return 0
    if args.id is None:
        raise InputError(f"runs {args.action} needs the id of a run (see `runs list`)")
    if args.action == "delete":
        store.delete(args.id)
        print(f"deleted run {args.id}")
        return 0
    run = store.get(args.id)
    if args.format == "json" or args.action == "export" and args.format == "table":
        print(json.dumps(run.as_dict(full=True), indent=1))
    else:
        print(_render(_epochs_table(run), args.format), end="")
    return 0


def _render(table, fmt: str) -> str:
    from core.common.tables import render
    return render(table, fmt)


def _list_table(runs, store):
    from core.common.tables import Table
    rows = [[r.id, r.kind, r.name or r.model, r.status, _when(r.started), r.dataset,
             _last(r, "test_acc"), r.summary.get("params"), r.summary.get("train_seconds")]
            for r in runs]
    return Table(["id", "kind", "run", "status", "started", "dataset", "test acc", "params",
                  "train s"], rows, f"{len(runs)} runs in {store.path}",
                 numeric={0, 6, 7, 8}, percent={6})


def _epochs_table(run):
    from core.common.tables import Table
    keys = ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")
    rows = [[e.get("epoch")] + [e.get(k) for k in keys] for e in run.epochs]
    return Table(["epoch", "train loss", "train acc", "test loss", "test acc", "seconds"], rows,
                 f"run {run.id}: {run.name or run.model} ({run.status}) on {run.dataset}",
                 numeric={0, 1, 2, 3, 4, 5}, percent={2, 4})


def _last(run, key: str):
    """The last epoch's ``key`` (from the summary, which list_runs reads)."""
    epochs = run.summary.get("epochs") or run.epochs
    return epochs[-1].get(key) if epochs else None


def _when(timestamp: float) -> str:
    import time
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
