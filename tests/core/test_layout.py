"""The canvas layout (core.graph.layout): layered top to bottom, no overlaps, and long
edges (skip connections) beside the nodes they bypass, checked geometrically on the
presets with residual and attention blocks."""

from __future__ import annotations

import pytest

from core.graph import layout
from core.graph.layout import NODE_H, NODE_W, layered_positions, simple_positions
from core.graph.network import Network
from core.graph.presets import load_preset


def boxes(positions):
    return {n: (x - NODE_W / 2, y, x + NODE_W / 2, y + NODE_H) for n, (x, y) in
            positions.items()}


def segment_crosses(a, b, box) -> bool:
    """Liang-Barsky: does the segment a-b meet the axis-aligned box?"""
    (x0, y0), (x1, y1) = a, b
    dx, dy = x1 - x0, y1 - y0
    low, high = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]),
                 (dy, box[3] - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def edges(net):
    return [(src, name) for name, node in net.nodes.items() for src in node.inputs]


@pytest.mark.parametrize("preset", ["lenet5", "resnet18", "resnet50", "bert-base",
                                    "autoencoder-classifier"])
def test_layered_downward_and_no_overlap(preset):
    net = load_preset(preset)
    pos = layered_positions(net)
    assert set(pos) == set(net.nodes)
    for src, dst in edges(net):
        assert pos[dst][1] >= pos[src][1] + NODE_H, (src, dst)  # every edge points down
    rects = sorted(boxes(pos).items(), key=lambda kv: kv[1][1])
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1:]:
            if rb[1] >= ra[3]:
                break
            assert ra[2] <= rb[0] or rb[2] <= ra[0], (a, b)


@pytest.mark.parametrize("preset", ["resnet18", "resnet50", "bert-base"])
def test_skip_connections_run_beside_the_block(preset):
    """Straight from port to port, no edge crosses another node (the simple layering puts
    a residual block in one column, so its skip edges run through the block)."""
    net = load_preset(preset)
    for fn, expect_clear in ((layered_positions, True), (simple_positions, False)):
        pos = fn(net)
        rects = boxes(pos)
        crossing = [(s, d) for s, d in edges(net) for m, r in rects.items()
                    if m not in (s, d) and segment_crosses(
                        (pos[s][0], pos[s][1] + NODE_H), (pos[d][0], pos[d][1]), r)]
        assert (not crossing) == expect_clear, (fn.__name__, crossing[:3])


def test_residual_block_is_wider_than_one_column():
    pos = layered_positions(load_preset("resnet18"))
    body, add = pos["layer1_0_conv1"], pos["layer1_0_add"]
    assert abs(body[0] - add[0]) >= NODE_W / 2  # the block body sits beside the skip lane


def test_components_side_by_side_and_big_designs_fall_back(monkeypatch):
    net = Network("two")
    for prefix in ("a", "b"):
        net.add_node("Input", f"{prefix}0", {"shape": [4]})
        net.add_node("ReLU", f"{prefix}1", {}, [f"{prefix}0"])
    pos = layered_positions(net)
    assert pos["a0"][1] == pos["b0"][1] == 0
    assert pos["b0"][0] - pos["a0"][0] >= NODE_W
    monkeypatch.setenv("MLSYS_LIMIT_LAYOUT_NODES", "3")
    assert layered_positions(net) == simple_positions(net)


def test_without_grandalf_the_simple_layout_is_used(monkeypatch):
    net = load_preset("resnet18")

    def missing(_network):
        raise ImportError("no grandalf")
    monkeypatch.setattr(layout, "sugiyama_positions", missing)
    assert layered_positions(net) == simple_positions(net)


def test_a_cycle_still_gets_positions():
    net = Network("loop")
    net.add_node("Input", "x", {"shape": [4]})
    net.add_node("ReLU", "a", {}, ["x"])
    net.add_node("ReLU", "b", {}, ["a"])
    net.nodes["a"].inputs.append("b")
    pos = layered_positions(net)
    assert set(pos) == {"x", "a", "b"}


def test_chains_skip_grandalf_and_skips_use_it(monkeypatch):
    calls = []
    real = layout.sugiyama_positions
    monkeypatch.setattr(layout, "sugiyama_positions",
                        lambda net: calls.append(net.name) or real(net))
    lenet = load_preset("lenet5")
    assert not layout.has_long_edges(lenet)
    assert layered_positions(lenet) == simple_positions(lenet)
    resnet = load_preset("resnet18")
    assert layout.has_long_edges(resnet)
    layered_positions(resnet)
    assert calls == [resnet.name]
