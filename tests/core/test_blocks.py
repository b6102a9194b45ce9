"""Repeated blocks (core.graph.blocks): the folds found are the ones a reader of the torch
module expects (derived from torchvision's module structure, not from our output), and
folding changes no figure: a fold's numbers are the sums over its members, and the rows
of a grouped table add up to the design's totals."""

from __future__ import annotations

import pytest

from core.graph.analysis import analyze
from core.graph.blocks import FoldedGraph, find_folds, fold_figures
from core.graph.network import Network
from core.graph.presets import load_preset
from core.graph.report import layer_rows

torchvision = pytest.importorskip("torchvision")


def expected_resnet_folds(model) -> dict[str, list[int]]:
    """Per stage, the indices of the blocks with neither a projection shortcut nor a
    stride: those are equal copies, folded when there are two or more."""
    runs = {}
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        plain = [i for i, block in enumerate(getattr(model, stage))
                 if block.downsample is None and block.conv1.stride == (1, 1)]
        if len(plain) >= 2:
            runs[stage] = plain
    return runs


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_folds_are_each_stages_plain_blocks(name):
    model = getattr(torchvision.models, name)(weights=None)
    expected = expected_resnet_folds(model)
    net = load_preset(name)
    analysis = analyze(net)
    folds = find_folds(analysis)
    assert len(folds) == len(expected)
    for fold, (stage, indices) in zip(folds, expected.items()):
        assert fold.count == len(indices)
        for block, index in zip(fold.members, indices):
            prefix = f"{stage}_{index}_"
            assert set(block) == {n for n in net.nodes if n.startswith(prefix)}
        # the params of the folded blocks, counted by torch itself
        torch_params = sum(p.numel() for i in indices
                           for p in getattr(model, stage)[i].parameters())
        assert fold_figures(analysis, fold).params.value == torch_params


def test_resnet18_imported_from_torchvision_folds_layer1_only():
    from core.torchbridge.importer import import_model
    model = torchvision.models.resnet18(weights=None)
    expected = expected_resnet_folds(model)
    assert list(expected) == ["layer1"]  # stages 2-4 start with a strided block
    folds = find_folds(analyze(import_model("torchvision:resnet18")))
    assert [f.count for f in folds] == [len(model.layer1)]
    assert all(n.startswith("layer1_0") or n == "add" for n in folds[0].members[0])


def test_vgg16_folds_the_equal_convolutions_of_each_stage():
    from core.torchbridge.importer import import_model
    model = torchvision.models.vgg16(weights=None)
    # stages between max-pools; a conv is a copy of the previous one when its channels
    # in and out are equal to that one's (same stage: same spatial size)
    expected, run, previous = [], 0, None
    for module in list(model.features) + [None]:
        if isinstance(module, torch_nn().Conv2d):
            key = (module.in_channels, module.out_channels)
            run = run + 1 if key == previous else 1
            previous = key
        elif module is None or isinstance(module, torch_nn().MaxPool2d):
            if run >= 2:
                expected.append(run)
            run, previous = 0, None
    assert expected == [2, 2, 3]  # the reading of torchvision's "D" configuration
    folds = find_folds(analyze(import_model("torchvision:vgg16")))
    assert [f.count for f in folds] == expected
    net_types = [[t for t in block] for f in folds for block in f.members]
    assert all(len(block) == 2 for block in net_types)  # Conv2d + ReLU


def torch_nn():
    import torch.nn as nn
    return nn


def test_bert_base_folds_its_twelve_encoder_layers():
    net = load_preset("bert-base")
    analysis = analyze(net)
    attention = [n for n, node in net.nodes.items() if node.type == "MultiHeadAttention"]
    assert len(attention) == 12  # BERT-base: 12 layers (Devlin et al. 2019, Table 1)
    folds = find_folds(analysis)
    assert len(folds) == 1 and folds[0].count == 12
    for i, block in enumerate(folds[0].members):
        assert set(block) == {n for n in net.nodes if n.startswith(f"l{i}_")}
    # 12 × 7,087,872 parameters per layer: 4·768² + 4·768 attention, 2·768·3072 + 3072 +
    # 768 feed-forward, 2 × 2·768 for the two LayerNorms (the published BERT-base layer)
    d, f = 768, 3072
    per_layer = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d
    assert fold_figures(analysis, folds[0]).params.value == 12 * per_layer


@pytest.mark.parametrize("name", ["resnet50", "bert-base", "transformer"])
def test_identical_blocks_have_identical_figures_and_totals_are_unchanged(name):
    analysis = analyze(load_preset(name))
    folds = find_folds(analysis)
    assert folds
    for fold in folds:
        per_block = [sum(analysis.nodes[n].forward.macs.value for n in block)
                     for block in fold.members]
        assert len(set(per_block)) == 1
        figures = fold_figures(analysis, fold)
        assert figures.macs.value == fold.count * per_block[0]
        assert figures.macs.value == sum(analysis.nodes[n].forward.macs.value
                                         for n in fold.nodes)
        # the formula is the sum of the members
        assert figures.macs.symbolic.count("+") >= fold.count - 1
    for backward in (False, True):
        grouped = layer_rows(analysis, backward, parts=False, folds=folds)
        plain = layer_rows(analysis, backward, parts=False)
        assert len(grouped) == len(plain) - sum(len(f.nodes) - 1 for f in folds)
        for column in range(6, len(plain[0]) - (1 if backward else 0)):
            shown = sum(r[column] or 0 for r in grouped[:-1])
            assert shown == sum(r[column] or 0 for r in plain[:-1])
            if plain[-1][column] is not None:
                assert shown == plain[-1][column]  # = the design's totals row
        assert grouped[-1] == plain[-1]


def test_expanded_fold_lists_its_members_after_its_row():
    analysis = analyze(load_preset("resnet18"))
    fold = find_folds(analysis)[0]
    rows = layer_rows(analysis, parts=False, folds=[fold], expanded={fold.id})
    start = next(i for i, r in enumerate(rows) if r[0].startswith("▸"))
    assert [r[0].strip() for r in rows[start + 1:start + 1 + len(fold.nodes)]] == list(
        fold.nodes)
    assert len(rows) == len(layer_rows(analysis, parts=False)) + 1


def test_an_edit_inside_a_block_breaks_its_run():
    net = load_preset("resnet50")
    assert [f.count for f in find_folds(analyze(net))] == [2, 3, 5, 2]
    net.set_param("layer3_3_conv2", "dilation", 2)
    net.set_param("layer3_3_conv2", "padding", 2)  # same shapes, different layer
    assert [f.count for f in find_folds(analyze(net))] == [2, 3, 2, 2, 2]


def test_no_repeats_no_folds_and_the_folded_graph_is_a_dag():
    assert find_folds(analyze(load_preset("lenet5"))) == []
    net = load_preset("bert-base")
    analysis = analyze(net)
    folds = find_folds(analysis)
    view = FoldedGraph(net, analysis.order, folds)
    assert len(view) == len(net) - len(folds[0].nodes) + 1
    seen = set()
    for name in view.topological_order():
        assert all(src in seen for src in view.nodes[name].inputs)
        seen.add(name)
    assert folds[0].id in view.nodes and not (set(folds[0].nodes[1:]) & set(view.nodes))


def test_a_chain_of_equal_layers_folds_with_period_one():
    net = Network("chain")
    net.add_node("Input", "x", {"shape": [8]})
    prev = "x"
    for i in range(5):
        net.add_node("ReLU", f"r{i}", {}, [prev])
        prev = f"r{i}"
    net.add_node("Linear", "fc", {"out_features": 2}, [prev])
    folds = find_folds(analyze(net))
    assert [(f.count, f.members[0]) for f in folds] == [(5, ("r0",))]


def test_report_group_blocks_on_the_command_line(capsys):
    import csv
    import io

    from core.cli.parser import main
    assert main(["report", "resnet50", "--format", "csv", "--group-blocks"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert main(["report", "resnet50", "--format", "csv"]) == 0
    plain = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    grouped = [r for r in rows if r[0].startswith("▸")]
    assert [r[0].rsplit("×", 1)[1] for r in grouped] == ["2", "3", "5", "2"]
    macs = rows[0].index("MACs")
    assert sum(int(r[macs] or 0) for r in rows[1:-1] if not r[0].startswith("  ↳")) == \
        int(plain[-1][macs]) == int(rows[-1][macs])
