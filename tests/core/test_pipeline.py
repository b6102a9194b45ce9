"""core.pipeline: the closed forms against the course's reference and hand counts, and
against the event-level schedule on random configurations (makespan, busy time, unit
conflicts, data dependencies)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.common.errors import InputError
from core.pipeline import (ARCHS, KINDS, PipelineConfig, analyse, build_schedule,
                           operation_count, parse_widths)
from core.pipeline.schedule import ADD, MUL, NONLINEAR, flow, tree_adds


# -- reference values (worked by hand from the formulas) ---------------------------
def test_reference_per_neuron_layer_takes_101_cycles():
    result = analyse(PipelineConfig((10, 8), "per-neuron", t_m=8, t_a=2, t_sigma=1))
    assert result.total.value == 101
    assert result.layers[0].cycles.explain() == "m × (t_m + t_a) + t_σ = 10 × (8 + 2) + 1 = 101"
    assert build_schedule(result.config).makespan == 101


@pytest.mark.parametrize("arch, overlap, expected", [
    ("per-neuron", True, 8 + 2 + 9 * 8 + 1),   # t_m + t_a + (m − 1)·max(t_m, t_a) + t_σ
    ("nfu", False, 8 + 10 * 2 + 1),            # t_m + m·t_a + t_σ
    ("nfu-tree", False, 8 + 4 * 2 + 1),        # ⌈log2 10⌉ = 4 levels
])
def test_hand_counts_of_one_layer(arch, overlap, expected):
    config = PipelineConfig((10, 8), arch, overlap=overlap)
    assert analyse(config).total.value == expected
    assert build_schedule(config).makespan == expected


def test_diannao_by_hand():
    # 40→20 with Tn = Ti = 16: T = 3 input tiles, J = 2 output tiles, t₂ = (4 + 1)·2 = 10,
    # P = max(8, 10) = 10, Q = max(3·10, 1) = 30: 8 + 10 + 2·10 + 1 + 1·30 = 69.
    config = PipelineConfig((40, 20), "diannao")
    assert analyse(config).total.value == 69
    assert build_schedule(config).makespan == 69


def test_nfu3_bottleneck_in_diannao():
    # t_σ = 50 > T·P = 10: output tiles queue at NFU-3; 8 + 10 + 0 + 50 + 1·50 = 118.
    config = PipelineConfig((16, 32), "diannao", t_sigma=50)
    assert analyse(config).total.value == 118
    assert build_schedule(config).makespan == 118


def test_several_layers_add_up():
    result = analyse(PipelineConfig((10, 8, 6, 5)))
    assert [l.cycles.value for l in result.layers] == [101, 81, 61]
    assert result.latency.value == 243
    assert result.latency.explain() == "L1 + L2 + L3 = 101 + 81 + 61 = 243"


# -- stream ------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_stream_total_is_latency_plus_intervals(arch):
    one = analyse(PipelineConfig((12, 7, 5), arch, tn=4, ti=4))
    many = analyse(PipelineConfig((12, 7, 5), arch, tn=4, ti=4, samples=5))
    assert many.total.value == one.latency.value + 4 * many.initiation_interval.value
    assert many.throughput_per_cycle == 1 / many.initiation_interval.value
    assert "(N − 1) × II" in many.total.symbolic


def test_per_neuron_stream_paced_by_slowest_layer():
    result = analyse(PipelineConfig((10, 8, 6, 5), samples=4))
    assert result.initiation_interval.value == 101
    assert result.total.value == 243 + 3 * 101


def test_per_second_figures_follow_the_clock():
    result = analyse(PipelineConfig((10, 8), samples=2, clock_mhz=100.0))
    assert result.throughput_per_second() == pytest.approx(100e6 / 101)
    assert result.gops() == pytest.approx(100e6 / 101 * 160 / 1e9)
    assert analyse(PipelineConfig((10, 8))).gops() is None


# -- closed form == schedule on random configurations --------------------------------------
configs = st.builds(
    PipelineConfig,
    widths=st.lists(st.integers(1, 24), min_size=2, max_size=4).map(tuple),
    arch=st.sampled_from(ARCHS),
    t_m=st.integers(1, 9), t_a=st.integers(1, 9), t_sigma=st.integers(1, 40),
    overlap=st.booleans(), tn=st.integers(1, 6), ti=st.integers(1, 9),
    samples=st.integers(1, 3))


def assert_units_never_overlap(s) -> None:
    for k in range(len(KINDS)):
        pick = s.kind == k
        unit, start, end = s.unit[pick], s.start[pick], s.end[pick]
        order = np.lexsort((start, unit))
        unit, start, end = unit[order], start[order], end[order]
        same = unit[1:] == unit[:-1]
        assert np.all(start[1:][same] >= end[:-1][same]), f"{KINDS[k]}s overlap"
        assert unit.size == 0 or (unit.min() >= 0 and unit.max() < s.units[KINDS[k]])


def assert_dependencies_hold(s) -> None:
    c = s.config
    key = lambda pick: (s.layer[pick].astype(np.int64) * c.samples + s.sample[pick])  # noqa: E731
    sigma = s.kind == NONLINEAR
    groups = len(c.layers) * c.samples
    layer_done = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(layer_done, key(sigma), s.end[sigma])
    layer_first = np.full(groups, np.iinfo(np.int64).max)
    np.minimum.at(layer_first, key(np.ones(len(s), bool)), s.start)
    for layer in range(1, len(c.layers)):
        for sample in range(c.samples):
            assert layer_first[layer * c.samples + sample] >= \
                layer_done[(layer - 1) * c.samples + sample]
    # the nonlinearity of a neuron comes after all of its products and sums
    width = max(c.widths)
    neuron_key = lambda pick: key(pick) * width + s.neuron[pick]  # noqa: E731
    work = ~sigma
    done = np.full(groups * width, -1, dtype=np.int64)
    np.maximum.at(done, neuron_key(work), s.end[work])
    assert np.all(s.start[sigma] >= done[neuron_key(sigma)])
    # an add never starts before the product of the input it names
    mul = s.kind == MUL
    product_ready = np.full(groups * width * width, -1, dtype=np.int64)
    flat = lambda pick: neuron_key(pick) * width + s.input[pick]  # noqa: E731
    product_ready[flat(mul)] = s.end[mul]
    add = s.kind == ADD
    assert np.all(s.start[add] >= product_ready[flat(add)])


@settings(max_examples=250, deadline=None)
@given(configs)
def test_closed_form_equals_schedule(config):
    result = analyse(config)
    schedule = build_schedule(config)
    assert schedule.makespan == result.total.value
    assert len(schedule) == operation_count(config)
    assert schedule.busy() == result.busy
    assert schedule.units == result.units
    for kind in KINDS:
        exact = result.utilization_exact(kind)
        assert 0 <= exact <= 1
        assert schedule.utilization()[kind] == pytest.approx(float(exact))
    assert_units_never_overlap(schedule)
    assert_dependencies_hold(schedule)
    assert np.all(np.diff(schedule.layer) >= 0)  # emitted layer by layer (the views rely on it)
    for layer in range(len(config.layers)):  # where each sample enters each layer
        for sample in range(config.samples):
            pick = (schedule.layer == layer) & (schedule.sample == sample)
            assert schedule.sample_layer_start[layer, sample] == schedule.start[pick].min()


@settings(max_examples=60, deadline=None)
@given(configs)
def test_each_further_sample_adds_one_initiation_interval(config):
    from dataclasses import replace
    two = build_schedule(replace(config, samples=2)).makespan
    three = build_schedule(replace(config, samples=3)).makespan
    assert three - two == analyse(config).initiation_interval.value


@settings(max_examples=80, deadline=None)
@given(configs)
def test_operation_counts_per_neuron(config):
    s = build_schedule(config)
    for layer, (m, n) in enumerate(config.layers):
        pick = (s.layer == layer) & (s.sample == 0)
        muls = np.bincount(s.neuron[pick & (s.kind == MUL)], minlength=n)
        adds = np.bincount(s.neuron[pick & (s.kind == ADD)], minlength=n)
        sigmas = np.bincount(s.neuron[pick & (s.kind == NONLINEAR)], minlength=n)
        assert np.all(muls == m) and np.all(sigmas == 1)
        assert np.all(adds == (m - 1 if config.arch == "nfu-tree" else m))


# -- pieces --------------------------------------------------------------------------------
def test_flow_serves_jobs_in_order():
    # a server of duration 3; jobs ready at 0, 0, 10, 11 start at 0, 3, 10, 13
    assert flow(np.array([0, 0, 10, 11]), 3).tolist() == [0, 3, 10, 13]


@pytest.mark.parametrize("k, levels", [(1, 0), (2, 1), (3, 2), (8, 3), (9, 4), (16, 4)])
def test_adder_tree_has_k_minus_one_adds(k, levels):
    level, adder, leaf, depth = tree_adds(k)
    assert depth == levels and level.size == k - 1
    assert sorted(adder.tolist()) == list(range(k - 1))
    assert set(leaf.tolist()) <= set(range(k))


def test_utilisation_of_per_neuron_units():
    # 10→8 alone: 80 products of 8 cycles on 8 multipliers over 101 cycles
    result = analyse(PipelineConfig((10, 8)))
    assert result.utilization_exact("multiplier") == Fraction(80 * 8, 8 * 101)


# -- input checking ------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, field", [
    (dict(widths=(10, 0)), "layer width 2"),
    (dict(widths=(10,)), "at least two widths"),
    (dict(widths=(10, 8), t_m=0), "t_m"),
    (dict(widths=(10, 8), t_a=-1), "t_a"),
    (dict(widths=(10, 8), t_sigma=0), "t_σ"),
    (dict(widths=(10, 8), tn=0), "Tn"),
    (dict(widths=(10, 8), ti=0), "Ti"),
    (dict(widths=(10, 8), samples=0), "samples"),
    (dict(widths=(10, 8), arch="gpu"), "architecture"),
    (dict(widths=(10, 8), clock_mhz=0.0), "clock"),
])
def test_bad_values_name_their_field(kwargs, field):
    with pytest.raises(InputError, match=field):
        PipelineConfig(**kwargs)


def test_widths_parse():
    assert parse_widths("10,8, 6 5") == (10, 8, 6, 5)
    assert parse_widths("784-1024-10") == (784, 1024, 10)
    with pytest.raises(InputError, match="'a' is not a whole number"):
        parse_widths("10,a")


def test_schedule_refuses_above_its_limit(monkeypatch):
    monkeypatch.setenv("MLSYS_LIMIT_SCHEDULE_OPERATIONS", "1000")
    config = PipelineConfig((100, 100), samples=10)
    with pytest.raises(InputError, match="limit of 1,000.*MLSYS_LIMIT_SCHEDULE_OPERATIONS"):
        build_schedule(config)


# -- an independent oracle: greedy stage-level simulation in plain Python --------------------
def greedy_makespan(c: PipelineConfig) -> int:
    """Every job starts a stage as soon as it has left the previous stage and the stage is
    free, with unbounded queues between stages (the builder admits work so that nothing ever
    queues; the makespan must not change). Written with loops, apart from the models."""
    def stages_in_order(jobs: int, durations: list[int], start: int) -> list[list[int]]:
        free = [start] * len(durations)
        ends = []
        for _ in range(jobs):
            t, row = start, []
            for k, d in enumerate(durations):
                t = max(t, free[k]) + d
                free[k] = t
                row.append(t)
            ends.append(row)
        return ends

    def tree_depth(k: int) -> int:
        depth = 0
        while k > 1:
            k, depth = (k + 1) // 2, depth + 1
        return depth

    if c.arch == "per-neuron":
        durations = []
        for m, _n in c.layers:
            mul_free = add_free = 0
            for _ in range(m):
                mul_end = max(mul_free, 0 if c.overlap else add_free) + c.t_m
                mul_free = mul_end
                add_free = max(mul_end, add_free) + c.t_a
            durations.append(add_free + c.t_sigma)
        return stages_in_order(c.samples, durations, 0)[-1][-1]
    t = 0
    for m, n in c.layers:
        if c.arch == "diannao":
            stage2 = (tree_depth(c.ti) + 1) * c.t_a
            tiles_in, tiles_out = -(-m // c.ti), -(-n // c.tn)
            free1 = free2 = free3 = t
            for _ in range(c.samples * tiles_out):
                for i in range(tiles_in):
                    free1 += c.t_m
                    free2 = max(free1, free2) + stage2
                free3 = max(free2, free3) + c.t_sigma
            t = free3
        else:
            stage2 = (tree_depth(m) if c.arch == "nfu-tree" else m) * c.t_a
            t = stages_in_order(c.samples, [c.t_m, stage2, c.t_sigma], t)[-1][-1]
    return t


@settings(max_examples=250, deadline=None)
@given(configs)
def test_closed_form_equals_greedy_simulation(config):
    assert greedy_makespan(config) == analyse(config).total.value
