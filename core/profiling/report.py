"""A ProfileResult as tables (core.common.tables: text, CSV, Markdown, LaTeX) and as the
JSON document of ``mlsys-studio profile --format json``."""

from __future__ import annotations

from core.common.tables import Table
from core.profiling.roofline import bound, group_shares


def batch_table(result) -> Table:
    rows = [[b.batch, _f(b.latency_ms), _f(b.latency_iqr_ms), _f(b.throughput_per_s),
             _f(b.per_item_ms), _f(b.predicted_ms), round(b.predicted_memory_bytes / 2 ** 20, 2),
             b.timing.count]
            for b in result.batches]
    title = (f"{result.model}: {result.mode} on {result.device}, {result.threads} thread(s), "
             f"{result.config.precision}")
    return Table(["batch", "latency ms (median)", "IQR ms", "throughput /s", "ms per item",
                  "roofline ms", "predicted MiB", "runs"], rows, title,
                 numeric=set(range(8)))


LAYER_HEADERS = ["layer", "type", "group", "GEMM (M×K)·(K×N)", "MACs", "FLOPs", "bytes",
                 "intensity FLOP/B", "measured ms", "share", "predicted ms", "attained GFLOP/s",
                 "bound", "error"]
LAYER_NUMERIC = {4, 5, 6, 7, 8, 9, 10, 11, 13}


def layer_rows(result) -> list[list]:
    """One row per layer: the engine's counts beside the measured and predicted times."""
    peaks = result.peaks
    rows = []
    for l in result.layers:
        c = l.cost
        attained = l.attained_flops
        rows.append([c.name, c.type, c.group, c.gemm, c.macs, c.flops, c.bytes,
                     _f(c.intensity), _f(l.measured_ms), l.share, _f(l.predicted_ms),
                     None if attained is None else _f(attained / 1e9),
                     "" if peaks is None else bound(c, peaks.peak_flops, peaks.bandwidth),
                     l.error])
    return rows


def layer_table(result) -> Table:
    return Table(list(LAYER_HEADERS), layer_rows(result),
                 f"{result.model}: per-layer forward time at batch {result.layer_batch}",
                 numeric=set(LAYER_NUMERIC), percent={9, 13})


def group_table(result) -> Table:
    shares = group_shares(result.layers)
    total = sum(l.measured_ms or 0.0 for l in result.layers)
    rows = [[g, _f(s * total), s] for g, s in shares.items()]
    return Table(["layer type", "measured ms", "share"], rows,
                 f"{result.model}: time by layer type at batch {result.layer_batch}",
                 numeric={1, 2}, percent={2})


def as_json(result) -> dict:
    """The documented JSON (layers and machine figures only when measured)."""
    out = {"model": result.model, "device": result.device, "threads": result.threads,
           "mode": result.mode, "precision": result.config.precision, "status": result.status,
           "params": result.params, "macs": result.macs,
           "batches": [{"batch": b.batch, "latency_ms": b.latency_ms,
                        "latency_iqr_ms": b.latency_iqr_ms,
                        "throughput_per_s": b.throughput_per_s, "runs": b.timing.count,
                        "predicted_ms": b.predicted_ms,
                        "predicted_memory_bytes": b.predicted_memory_bytes}
                       for b in result.batches]}
    if result.config.roofline and result.peaks is not None:
        out["peak_flops"] = result.peaks.peak_flops
        out["memory_bandwidth_bytes_per_s"] = result.peaks.bandwidth
        out["ridge_flops_per_byte"] = result.peaks.ridge
        out["peak_method"] = result.peaks.method
    if (result.config.per_layer or result.config.roofline) and result.layer_times is not None:
        out["layer_batch"] = result.layer_batch
        out["layers"] = [{"name": l.name, "type": l.cost.type, "group": l.cost.group,
                          "gemm": l.cost.gemm, "macs": l.cost.macs, "flops": l.cost.flops,
                          "bytes": l.cost.bytes, "measured_ms": l.measured_ms,
                          "predicted_ms": l.predicted_ms, "intensity": l.cost.intensity,
                          "attained_flops": l.attained_flops, "error": l.error}
                         for l in result.layers]
        out["layer_sum_ms"] = result.layer_times.layer_sum_ms
        out["hooked_ms"] = result.layer_times.hooked_ms
        out["whole_ms"] = result.whole_ms
    if result.measured_memory_bytes is not None:
        out["measured_memory_bytes"] = result.measured_memory_bytes
        out["predicted_memory_bytes"] = result.predicted_memory_bytes
    return out


def _f(value: float | None) -> float | None:
    """Four significant figures for tables (JSON keeps full precision)."""
    return None if value is None else float(f"{value:.4g}")
