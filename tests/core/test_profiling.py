"""core.profiling: timing statistics, the sweep generator, per-layer times and the roofline.

Timing assertions only on relations that hold on a noisy machine: throughput is batch /
latency from the same numbers, quartiles are ordered, the layers' times fit inside the
hooked pass. Counts are checked against torch itself (tensor sizes seen by forward hooks).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.common.errors import InputError
from core.graph.analysis import AnalysisOptions, analyze
from core.graph.presets import load_preset
from core.profiling.config import ProfileConfig, parse_batches
from core.profiling.machine import MachinePeaks, measure_peaks
from core.profiling.profiler import (BatchMeasured, Finished, LayersMeasured, PeaksMeasured,
                                     Started, Stopped, profile, run_to_end, training_step)
from core.profiling.roofline import (bound, group_shares, layer_costs, predicted_seconds,
                                     profile_layers)
from core.profiling.timing import Timing, measure

TINY = dict(repeats=5, warmup=1, budget_s=0.05, threads=1, gemm_size=64, copy_mib=1)


def tiny(**kwargs) -> ProfileConfig:
    return ProfileConfig(**{**TINY, **kwargs})


# -- timing ---------------------------------------------------------------------------
def test_median_and_quartiles_match_numpy():
    samples = (0.004, 0.001, 0.003, 0.010, 0.002, 0.0025)
    timing = Timing(samples)
    ms = np.array(samples) * 1e3
    assert timing.median_ms == pytest.approx(np.median(ms))
    q1, q3 = np.percentile(ms, [25, 75])  # numpy's default is the inclusive method
    assert timing.quartiles_ms == pytest.approx((q1, q3))
    assert timing.iqr_ms == pytest.approx(q3 - q1)
    assert Timing((0.002,)).iqr_ms == 0


def test_measure_runs_warmup_then_repeats():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=3, repeats=7, budget_s=60)
    assert len(calls) == 10 and timing.count == 7


def test_measure_budget_ends_after_at_least_one_run():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=2, repeats=1000, budget_s=1e-9)
    assert timing.count == 1 and len(calls) == 3


def test_measure_honours_stop_before_the_next_run():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=2, repeats=1000, budget_s=60,
                     should_stop=lambda: len(calls) >= 4)
    assert timing is None and len(calls) == 4


# -- configuration --------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, field", [
    (dict(batches=()), "batches"), (dict(batches=(0,)), "batch"),
    (dict(batches=(2, 2)), "batches"), (dict(repeats=0), "repeats"),
    (dict(warmup=-1), "warmup"), (dict(budget_s=0), "budget"),
    (dict(device="tpu"), "device"), (dict(threads=0), "threads"),
    (dict(mode="serve"), "mode"), (dict(precision="int4"), "precision"),
    (dict(memory_limit_gib=-1), "memory limit")])
def test_bad_settings_name_their_field(kwargs, field):
    with pytest.raises(InputError, match=f"^{field}"):
        ProfileConfig(**kwargs)


def test_parse_batches():
    assert parse_batches(" 1, 8,32 ") == (1, 8, 32)
    for bad in ("", "1,x", "0", "1,99999"):
        with pytest.raises(InputError, match="batches"):
            parse_batches(bad)


def test_memory_limit_is_checked_before_anything_is_built():
    with pytest.raises(InputError, match="batch 64 .* memory limit"):
        next(profile(load_preset("resnet18"), ProfileConfig(batches=(64,),
                                                            memory_limit_gib=0.01)))


# -- the sweep ------------------------------------------------------------------------
def test_sweep_relations_and_events():
    before = torch.get_num_threads()
    events = list(profile(load_preset("mlp"), tiny(batches=(1, 3, 8))))
    assert isinstance(events[0], Started) and events[0].threads == 1
    measured = [e for e in events if isinstance(e, BatchMeasured)]
    assert [e.result.batch for e in measured] == [1, 3, 8]
    assert [e.step for e in measured] == [1, 2, 3] and measured[0].steps == 3
    assert isinstance(events[-1], Finished)
    result = events[-1].result
    assert result.status == "finished" and torch.get_num_threads() == before
    for row in result.batches:
        assert row.throughput_per_s == row.batch / (row.latency_ms / 1e3)
        q1, q3 = row.timing.quartiles_ms
        assert row.latency_iqr_ms >= 0 and q1 <= row.latency_ms <= q3
        assert 1 <= row.timing.count <= TINY["repeats"]
    analysis = analyze(load_preset("mlp"))
    assert (result.params, result.macs) == (analysis.totals.params, analysis.totals.macs)


def test_stop_is_honoured_before_the_next_run():
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) > 12
    config = ProfileConfig(batches=(1, 2), repeats=100_000, budget_s=3600, warmup=0,
                           threads=1)
    events = list(profile(load_preset("lenet5"), config, should_stop))
    assert isinstance(events[-1], Stopped)
    assert events[-1].result.status == "stopped" and events[-1].result.batches == []


def test_training_step_updates_the_weights():
    from core.torchbridge.build import build_model
    model = build_model(load_preset("mlp"))
    before = [p.detach().clone() for p in model.parameters()]
    training_step(model, model.example_inputs(4))()
    assert all(p.grad is not None for p in model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_training_mode_profiles_a_step():
    result = run_to_end(profile(load_preset("lenet5"), tiny(batches=(2,), mode="training")))
    assert result.status == "finished" and result.mode == "training"
    assert result.batches[0].predicted_ms is None  # the roofline counts a forward only


# -- per-layer times and the roofline -------------------------------------------------
@pytest.fixture(scope="module")
def lenet_profile():
    return run_to_end(profile(load_preset("lenet5"), tiny(batches=(1, 8), per_layer=True,
                                                          roofline=True, memory=True)))


def test_layers_are_the_engine_rows(lenet_profile):
    analysis = analyze(load_preset("lenet5"))
    rows = [n for n in analysis.order if analysis[n].type != "Input"]
    assert [l.name for l in lenet_profile.layers] == rows
    assert [l.cost.type for l in lenet_profile.layers] == [analysis[n].type for n in rows]
    assert all(l.measured_ms > 0 for l in lenet_profile.layers)
    assert lenet_profile.layer_batch == 8


def test_layer_times_fit_the_whole_pass(lenet_profile):
    times = lenet_profile.layer_times
    # medians of parts against the median of the whole: loose on both sides
    assert 0.2 * times.hooked_ms <= times.layer_sum_ms <= 1.2 * times.hooked_ms
    assert sum(l.share for l in lenet_profile.layers) == pytest.approx(1)
    assert sum(group_shares(lenet_profile.layers).values()) == pytest.approx(1)


def test_bytes_match_the_tensors_torch_sees(lenet_profile):
    """Weights, inputs and outputs of every layer at batch 8, from forward hooks."""
    from core.torchbridge.build import build_model
    model = build_model(load_preset("lenet5"))
    seen = {}
    for name in model.order[1:]:
        module = model.layers[model.keys[name]]
        module.register_forward_hook(lambda m, args, out, name=name: seen.__setitem__(
            name, (sum(a.numel() * 4 for a in args), out.numel() * 4,
                   sum(p.numel() * 4 for p in m.parameters()))))
    model(*model.example_inputs(8))
    for layer in lenet_profile.layers:
        c = layer.cost
        assert (c.input_bytes, c.output_bytes, c.weight_bytes) == seen[c.name], c.name


def test_intensity_and_roofline_figures(lenet_profile):
    analysis = analyze(load_preset("lenet5"), AnalysisOptions(batch=8))
    peaks = lenet_profile.peaks
    for layer in lenet_profile.layers:
        r = analysis[layer.name]
        flops = r.forward.mul.value + r.forward.add.value + r.forward.special.value
        assert layer.cost.flops == flops
        assert layer.cost.intensity == pytest.approx(flops / layer.cost.bytes)
        expected = max(flops / peaks.peak_flops, layer.cost.bytes / peaks.bandwidth) * 1e3
        assert layer.predicted_ms == pytest.approx(expected)
        assert layer.attained_flops == pytest.approx(flops / (layer.measured_ms / 1e3))
        assert layer.error == pytest.approx(layer.predicted_ms / layer.measured_ms - 1)
    assert peaks.ridge == pytest.approx(peaks.peak_flops / peaks.bandwidth)
    row = lenet_profile.batch_result(8)
    assert row.predicted_ms == pytest.approx(sum(l.predicted_ms for l in lenet_profile.layers))


def test_bound_follows_the_ridge_point():
    peaks = MachinePeaks("cpu", "fp32", 1, 100e9, 10e9, 64, 1, "test")  # ridge 10 FLOP/B
    costs = layer_costs(analyze(load_preset("lenet5"), AnalysisOptions(batch=8)))
    for c in costs:
        expected = "compute" if c.flops and c.intensity >= peaks.ridge else "memory"
        assert bound(c, peaks.peak_flops, peaks.bandwidth) == expected
        assert predicted_seconds(c.flops, c.bytes, 100e9, 10e9) == max(c.flops / 100e9,
                                                                       c.bytes / 10e9)
    layers = profile_layers(costs, {costs[0].name: 2.0}, peaks)
    assert layers[0].share == 1 and layers[1].measured_ms is None and layers[1].note


def test_gemm_shapes_multiply_to_the_macs():
    import re
    for c in layer_costs(analyze(load_preset("lenet5"), AnalysisOptions(batch=8))):
        if c.type in ("Linear", "Conv2d"):
            m, k, k2, n = (int(x.replace(",", "")) for x in re.findall(r"[\d,]+", c.gemm))
            assert k == k2 and m * k * n == c.macs, c.name


def test_peaks_are_cached_per_device_dtype_and_threads():
    first = measure_peaks("cpu", "fp32", torch.get_num_threads(), 64, 1)
    assert first.peak_flops > 0 and first.bandwidth > 0 and "64×64" in first.method
    assert measure_peaks("cpu", "fp32", torch.get_num_threads(), 64, 1) is first


def test_measured_memory_holds_at_least_the_weights_and_inputs(lenet_profile):
    model_bytes = analyze(load_preset("lenet5")).memory.parameters
    inputs = 8 * 28 * 28 * 4
    assert lenet_profile.measured_memory_bytes >= model_bytes + inputs
    assert lenet_profile.predicted_memory_bytes == analyze(
        load_preset("lenet5"), AnalysisOptions(batch=8)).memory.inference


def test_events_of_a_full_profile_in_order():
    kinds = [type(e) for e in profile(load_preset("mlp"), tiny(batches=(1,), roofline=True))]
    assert kinds == [Started, PeaksMeasured, BatchMeasured, LayersMeasured, Finished]


# -- the summary in words -------------------------------------------------------------
def synthetic(latencies_s: dict[int, float]):
    from core.profiling.profiler import BatchResult, ProfileResult
    result = ProfileResult("net", ProfileConfig(batches=tuple(latencies_s)), "cpu", 4, 1, 1)
    result.batches = [BatchResult(b, Timing((s,))) for b, s in latencies_s.items()]
    return result


def test_summary_answers_the_batch_question_from_the_numbers():
    from core.profiling.summary import batch_lines
    text = " ".join(batch_lines(synthetic({1: 0.001, 64: 0.007})))
    # per image: 7/64 ms against 1 ms = 1/9; each batch waits 7× longer
    assert "at batch 64" in text and "processes an item in 1/9 of batch 1 " in text
    assert "waits 7.0× longer" in text


def test_summary_says_when_a_bigger_batch_does_not_help():
    from core.profiling.summary import batch_lines
    text = " ".join(batch_lines(synthetic({1: 0.002, 8: 0.010, 32: 0.050})))
    assert "Highest throughput: 800.0 items/s at batch 8" in text
    assert "Beyond batch 8 throughput falls: batch 32 reaches 640.0 items/s" in text
    text = " ".join(batch_lines(synthetic({1: 0.001, 4: 0.005})))
    assert "Batch 4 takes 1.2× as long for an item as batch 1" in text
    assert "does not improve the time per item" in text


@pytest.mark.parametrize("ratio, text", [(1 / 9, "1/9"), (0.7, "70%"), (1.3, "1.3×")])
def test_fraction_text(ratio, text):
    from core.profiling.summary import fraction_text
    assert fraction_text(ratio) == text


def test_onnx_export_has_a_dynamic_batch(tmp_path):
    from core.profiling.onnx_export import export_onnx, onnx_missing
    if onnx_missing():
        pytest.skip("onnx/onnxscript not installed")
    import onnx
    path = export_onnx(load_preset("mlp"), tmp_path / "mlp.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
