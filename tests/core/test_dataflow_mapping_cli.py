"""``mlsys-studio dataflow`` with --mapping, --search, --textbook and MODEL, through the real entry
point (core.cli.parser.main): exit codes, one-line errors, JSON keys, round trips."""

from __future__ import annotations

import json

from core.cli.parser import main
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import Buffers, ConvLayer, PEArray
from core.dataflow.mapping import Mapping
from core.dataflow.mapping_eval import evaluate
from core.dataflow.textbook import dataflow_allows, textbook_mapping

LAYER = ["--height", "10", "--width", "10", "--channels", "8", "--kernel", "3", "--filters", "8", "--padding", "1"]
SMALL_HW = ["--input-buffer", "256", "--weight-buffer", "256", "--output-buffer", "64", "--pe-rows", "4",
            "--pe-cols", "4"]
CONV = ConvLayer(10, 10, 8, 3, 8, 1, 1)
HIERARCHY = Hierarchy(Buffers(256, 256, 64), PEArray(4, 4))


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_search_json_has_the_mapping_per_level_counts_and_search_figures(capsys):
    status, out, err = _run(["dataflow", *LAYER, *SMALL_HW, "--search", "--dataflow", "os", "--format", "json"], capsys)
    assert status == 0, err
    data = json.loads(out)
    assert {"mapping", "levels", "energy", "cycles", "memory_accesses", "search"} <= set(data)
    assert data["search"]["evaluated"] > 0 and data["search"]["space_size"] > data["search"]["evaluated"]
    assert set(data["levels"]) == {"memory", "buffer"}
    assert set(data["levels"]["memory"]["input"]) >= {"reads", "writes", "fills", "psum_reads"}
    mapping = Mapping.from_dict(data["mapping"])
    assert dataflow_allows("os", mapping)
    cost = evaluate(mapping, CONV, HIERARCHY)  # the printed mapping is the one whose figures are printed
    assert cost.energy.total == data["energy"]
    assert cost.counts["memory"]["input"].reads == data["levels"]["memory"]["input"]["reads"]


def test_a_mapping_file_is_evaluated_and_round_trips(tmp_path, capsys):
    mapping = textbook_mapping("ws", CONV, HIERARCHY)
    path = tmp_path / "m.json"
    path.write_text(mapping.to_json())
    status, out, _ = _run(["dataflow", *LAYER, *SMALL_HW, "--mapping", str(path), "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert data["mode"] == "mapping" and Mapping.from_dict(data["mapping"]) == mapping
    assert data["energy"] == evaluate(mapping, CONV, HIERARCHY).energy.total
    status, text, _ = _run(["dataflow", *LAYER, *SMALL_HW, "--mapping", str(path)], capsys)
    assert status == 0 and "# memory" in text and "counts per level" in text


def test_an_invalid_mapping_exits_2_with_the_overflow_message_on_one_line(tmp_path, capsys):
    path = tmp_path / "m.json"
    path.write_text(textbook_mapping("ws", CONV, HIERARCHY).to_json())
    status, out, err = _run(["dataflow", *LAYER, *SMALL_HW, "--weight-buffer", "8", "--mapping", str(path)], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "weight" in err and "over by" in err
    path.write_text('{"levels": [{"name": "memory", "loops": [{"dim": "q", "factor": 2}]}]}')
    status, _, err = _run(["dataflow", *LAYER, "--mapping", str(path)], capsys)
    assert status == 2 and "levels[0].loops[0].dim" in err and err.count("\n") == 1


def test_textbook_mapping_and_default_json_gain_mapping_keys(capsys):
    status, out, _ = _run(["dataflow", *LAYER, *SMALL_HW, "--textbook", "--dataflow", "is", "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert data["mode"] == "textbook"
    assert Mapping.from_dict(data["mapping"]) == textbook_mapping("is", CONV, HIERARCHY)
    status, out, _ = _run(["dataflow", *LAYER, *SMALL_HW, "--dataflow", "is", "--format", "json"], capsys)
    data = json.loads(out)
    assert status == 0 and {"reads", "writes", "tiles", "mapping", "levels"} <= set(data)  # old keys kept
    assert data["levels"]["memory"]["weight"]["reads"] == data["reads"]["weight"]


def test_missing_or_conflicting_options_exit_2(capsys):
    status, _, err = _run(["dataflow", *LAYER], capsys)
    assert status == 2 and "--dataflow is required" in err
    status, _, err = _run(["dataflow", "--height", "4", "--dataflow", "ws"], capsys)
    assert status == 2 and "--width, --channels, --kernel, --filters required" in err
    status, _, err = _run(["dataflow", *LAYER, "--search", "--textbook"], capsys)
    assert status == 2 and "not allowed with" in err
    status, _, err = _run(["dataflow", *LAYER, "--search", "--objective", "speed"], capsys)
    assert status == 2 and "invalid choice" in err
    status, _, err = _run(["dataflow", *LAYER, "--search", "--registers", "4,4"], capsys)
    assert status == 2 and "--registers" in err


def test_whole_network_table_and_json(capsys):
    status, out, err = _run(["dataflow", "lenet5", "--dataflows", "ws,any", "--objective", "accesses",
                             "--format", "json"], capsys)
    assert status == 0, err
    data = json.loads(out)
    assert [l["layer"] for l in data["layers"] if l["dataflow"] == "ws"] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert set(data["totals"]) == {"ws", "any"} and data["best_dataflow"] == "ws"
    assert data["totals"]["ws"]["memory_accesses"] == sum(
        l["memory_accesses"] for l in data["layers"] if l["dataflow"] == "ws")
    status, out, _ = _run(["dataflow", "mlp", "--dataflows", "os", "--format", "csv"], capsys)
    assert status == 0 and out.splitlines()[0].startswith("layer,shape,dataflow")
    status, out, _ = _run(["dataflow", "mlp", "--dataflows", "os"], capsys)
    assert status == 0 and "total" in out and "searches in" in out


def test_whole_network_errors_exit_2(capsys):
    status, _, err = _run(["dataflow", "no-such-model"], capsys)
    assert status == 2 and "is not a preset" in err
    status, _, err = _run(["dataflow", "lenet5", "--dataflows", "ws,xs"], capsys)
    assert status == 2 and "dataflow: 'xs' is not known" in err
    status, _, err = _run(["dataflow", *LAYER, "--dataflow", "ws", "--format", "csv"], capsys)
    assert status == 2 and "whole network" in err
