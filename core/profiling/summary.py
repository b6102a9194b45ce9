"""The profile's answer in words: what a bigger batch buys, where the time goes, and how
far the measurement is from the roofline. Every number comes from the ProfileResult."""

from __future__ import annotations

from core.profiling.roofline import bound, group_shares


def fraction_text(ratio: float) -> str:
    """0.11 → '1/9', 0.7 → '70%', 1.3 → '1.3×'."""
    if ratio <= 0:
        return "0"
    if ratio < 0.5:
        return f"1/{1 / ratio:.0f}"
    if ratio < 1:
        return f"{ratio:.0%}"
    return f"{ratio:.1f}×"


def ms(value: float) -> str:
    """Milliseconds in three significant figures without exponents: 0.0913, 5.84, 1,430."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def summary_lines(result) -> list[str]:
    lines = batch_lines(result)
    lines += layer_lines(result)
    lines += roofline_lines(result)
    if result.measured_memory_bytes is not None:
        lines.append(
            f"Peak memory of one forward pass at batch {result.layer_batch}: measured "
            f"{_mib(result.measured_memory_bytes)}; the engine predicts "
            f"{_mib(result.predicted_memory_bytes)} (weights + every activation kept at once; the "
            f"measurement drops activations freed during the pass and adds the kernels' "
            f"workspaces).")
    return lines


def batch_lines(result) -> list[str]:
    rows = sorted(result.batches, key=lambda b: b.batch)
    if not rows:
        return []
    what = "an item" if result.mode == "inference" else "an item's training"
    best = max(rows, key=lambda b: b.throughput_per_s)
    out = [f"Highest throughput: {best.throughput_per_s:,.1f} items/s at batch {best.batch} "
           f"({ms(best.latency_ms)} ms per batch, median of {best.timing.count})."]
    small = rows[0]
    other = best if best.batch != small.batch else rows[-1]
    if other.batch != small.batch:
        per_item = other.per_item_ms / small.per_item_ms
        wait = other.latency_ms / small.latency_ms
        how = (f"processes {what} in {fraction_text(per_item)} of" if per_item < 1 else
               f"takes {per_item:,.1f}× as long for {what} as")
        verdict = "but each batch waits" if per_item < 1 else "and each batch waits"
        out.append(f"Batch {other.batch} {how} batch {small.batch} ({ms(other.per_item_ms)} "
                   f"ms per item against {ms(small.per_item_ms)} ms), {verdict} "
                   f"{wait:,.1f}× longer ({ms(other.latency_ms)} ms against "
                   f"{ms(small.latency_ms)} ms).")
        if per_item >= 1:
            out.append(f"A bigger batch does not improve the time per item on "
                       f"{result.device} with {result.threads} thread(s).")
    if best.batch != rows[-1].batch:
        out.append(f"Beyond batch {best.batch} throughput falls: batch {rows[-1].batch} "
                   f"reaches {rows[-1].throughput_per_s:,.1f} items/s.")
    return out


def layer_lines(result) -> list[str]:
    timed = [l for l in result.layers if l.measured_ms]
    times = result.layer_times
    if not timed or times is None:
        return []
    slowest = max(timed, key=lambda l: l.measured_ms)
    shares = ", ".join(f"{g} {s:.0%}" for g, s in
                       sorted(group_shares(result.layers).items(), key=lambda kv: -kv[1]))
    out = [f"At batch {result.layer_batch} the slowest layer is {slowest.name} "
           f"({slowest.cost.type}, {ms(slowest.measured_ms)} ms, {slowest.share:.0%} of the "
           f"layers' time). By layer type: {shares}.",
           f"The per-layer times add up to {times.layer_sum_ms / times.hooked_ms:.0%} of a "
           f"hooked pass ({ms(times.layer_sum_ms)} of {ms(times.hooked_ms)} ms); the rest "
           f"is the graph's Python between layers and the hooks' cost."
           + (f" Without hooks a pass takes {ms(result.whole_ms)} ms." if result.whole_ms
              else "")]
    return out


def roofline_lines(result) -> list[str]:
    peaks = result.peaks
    if peaks is None:
        return []
    out = [f"Machine: {peaks.peak_flops / 1e9:,.1f} GFLOP/s peak, {peaks.bandwidth / 1e9:,.1f} "
           f"GB/s; ridge point {peaks.ridge:,.1f} FLOP/byte ({peaks.method})."]
    counted = [l for l in result.layers if l.cost.flops and l.measured_ms]
    if counted:
        memory_bound = sum(bound(l.cost, peaks.peak_flops, peaks.bandwidth) == "memory"
                           for l in counted)
        predicted = sum(l.predicted_ms for l in result.layers if l.predicted_ms is not None)
        measured = sum(l.measured_ms for l in result.layers if l.measured_ms)
        out.append(f"{memory_bound} of {len(counted)} layers with arithmetic sit below the "
                   f"ridge (memory-bound by the roofline). Summed over layers the roofline "
                   f"predicts {ms(predicted)} ms against {ms(measured)} ms measured: the "
                   f"model runs at {predicted / measured:.0%} of its roofline speed.")
    return out


def _mib(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 2 ** 20:,.1f} MiB"
