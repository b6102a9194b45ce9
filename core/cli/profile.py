"""The ``profile`` sub-command: latency and throughput against batch size, and optionally
per-layer times and the measured roofline, as tables or JSON (core.profiling)."""

from __future__ import annotations

import argparse
import json
import sys

from core.profiling.config import DEVICES, PRECISIONS, ProfileConfig

FORMATS = ("table", "json", "csv", "md", "latex")


def register(subparsers) -> None:
    """Add ``profile`` to an argparse subparsers object (sets ``func``)."""
    defaults = ProfileConfig()
    p = subparsers.add_parser(
        "profile", help="latency and throughput against batch size; per-layer time and the "
                        "measured roofline",
        description="Times MODEL (a preset, a design .json, torchvision:NAME or "
                    "file.py:factory) at each batch size: warm-up, then repeats until "
                    "--repeats or --budget seconds, median and inter-quartile range, under "
                    "torch.inference_mode (or one training step with --training). "
                    "--per-layer times every layer with forward hooks; --roofline measures "
                    "the machine's peak compute (a large GEMM) and memory bandwidth (a large "
                    "copy) and sets each layer's measured time beside max(FLOPs / peak, "
                    "bytes / bandwidth) from the engine's counts. Progress goes to stderr "
                    "when it is a terminal.")
    p.add_argument("model", help="preset name, design .json, torchvision:NAME or file.py:factory")
    p.add_argument("--input", metavar="C,H,W | L", default=None,
                   help="per-sample input shape (default: the model's own)")
    p.add_argument("--batches", default=",".join(map(str, defaults.batches)),
                   help="batch sizes, comma-separated (default %(default)s)")
    p.add_argument("--repeats", type=int, default=defaults.repeats,
                   help="timed runs per batch at most (default %(default)s)")
    p.add_argument("--warmup", type=int, default=defaults.warmup,
                   help="untimed runs first (default %(default)s)")
    p.add_argument("--budget", type=float, default=defaults.budget_s, metavar="SECONDS",
                   help="seconds of timed runs per measurement, warm-up not counted "
                        "(default %(default)s)")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="default cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads during the profile (default: torch's current)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="dtype of weights and inputs, and of the byte counts (default fp32)")
    p.add_argument("--training", action="store_true",
                   help="time one training step (forward + backward + SGD step) instead of "
                        "inference")
    p.add_argument("--per-layer", action="store_true",
                   help="per-layer forward times at the largest batch")
    p.add_argument("--memory", action="store_true",
                   help="measured peak memory of one forward at the layer batch (CUDA: max "
                        "allocated; CPU: the torch profiler's memory records)")
    p.add_argument("--roofline", action="store_true",
                   help="measure the machine's peaks and predict every layer's time")
    p.add_argument("--layer-batch", type=int, default=None,
                   help="batch for --per-layer/--roofline (default: the largest of --batches)")
    p.add_argument("--memory-limit", type=float, default=defaults.memory_limit_gib,
                   metavar="GIB", help="refuse batches the engine predicts to need more "
                                       "(default %(default)s GiB)")
    p.add_argument("--executor", choices=("inline", "pool", "ray"), default="inline",
                   help="inline only (the default): timings taken at once on the same cores "
                        "distort each other, so pool is refused with the reason and ray is not "
                        "built (see the README's Profiling section)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--store", metavar="PATH", help="record the result in this run store "
                                                   "(default: $MLSYS_RUN_STORE or the user's "
                                                   "data folder)")
    p.add_argument("--no-store", action="store_true", help="do not record the result")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also write the latency and throughput by batch size (and per-layer "
                        "times) as TensorBoard scalars under DIR/<model>-profile-<time>")
    p.set_defaults(func=run_profile)


def config_from_args(args: argparse.Namespace) -> ProfileConfig:
    from core.profiling.config import parse_batches
    return ProfileConfig(batches=parse_batches(args.batches), repeats=args.repeats,
                         warmup=args.warmup, budget_s=args.budget, device=args.device,
                         threads=args.threads, precision=args.precision,
                         mode="training" if args.training else "inference",
                         per_layer=args.per_layer, roofline=args.roofline, memory=args.memory,
                         layer_batch=args.layer_batch, memory_limit_gib=args.memory_limit)


def run_profile(args: argparse.Namespace) -> int:
    from core.profiling.profiler import ProfileError, profile, run_to_end
    from core.torchbridge.resolve import parse_shape, resolve_model
    from core.profiling.config import check_executor
    check_executor(getattr(args, "executor", "inline"))
    config = config_from_args(args)
    if args.tensorboard:
        from core.common.errors import InputError
        from core.training.tensorboard_log import tensorboard_missing
        if tensorboard_missing():
            raise InputError("--tensorboard needs the tensorboard package: install with "
                             "`pip install tensorboard` (or leave out --tensorboard)")
    shape = parse_shape(args.input) if args.input else None
    network = resolve_model(args.model, shape)
    progress = _progress(sys.stderr) if _is_tty(sys.stderr) else None
    result = run_to_end(profile(network, config), progress)
    if progress is not None:
        sys.stderr.write("\n")
    if not args.no_store:
        _record(args.store, network.name, config, result)
    if args.tensorboard and result.batches:
        import time

        from core.training.tensorboard_log import write_profile_scalars
        folder = write_profile_scalars(args.tensorboard, f"{network.name}-profile-"
                                       f"{time.strftime('%Y%m%d-%H%M%S')}", result)
        print(f"TensorBoard scalars in {folder}", file=sys.stderr)
    if result.status == "failed":
        raise ProfileError(f"profiling {network.name} failed: {result.message}")
    print(render(result, args.format), end="")
    return 0


def _record(path, model: str, config: ProfileConfig, result) -> int:
    """Keep the profile in the run store (kind "profile"; its JSON report as the summary)."""
    import dataclasses

    from core.profiling.report import as_json
    from core.training.run_store import RunStore
    store = RunStore(path)
    run_id = store.start_run("profile", model, dataclasses.asdict(config), device=config.device)
    store.finish_run(run_id, result.status if result.status != "running" else "stopped",
                     as_json(result))
    return run_id


def render(result, fmt: str) -> str:
    """The result in one of FORMATS."""
    from core.common.tables import render as render_table
    from core.profiling.report import as_json, batch_table, group_table, layer_table
    from core.profiling.summary import summary_lines
    if fmt == "json":
        return json.dumps(as_json(result), indent=1) + "\n"
    tables = [batch_table(result)]
    if result.layers:
        tables += [layer_table(result), group_table(result)]
    text = "\n".join(render_table(t, fmt) for t in tables)
    if fmt == "table":
        text += "\n" + "\n".join(summary_lines(result)) + "\n"
    return text


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _progress(stream):
    from core.profiling.profiler import BatchMeasured, LayersMeasured, PeaksMeasured

    def show(event):
        if isinstance(event, BatchMeasured):
            text = f"batch {event.result.batch}: {event.result.latency_ms:,.3g} ms"
        elif isinstance(event, PeaksMeasured):
            text = f"peaks: {event.peaks.peak_flops / 1e9:,.1f} GFLOP/s"
        elif isinstance(event, LayersMeasured):
            text = f"{len(event.layers)} layers timed"
        else:
            return
        stream.write(f"\r[{event.step}/{event.steps}] {text}".ljust(60))
        stream.flush()
    return show
