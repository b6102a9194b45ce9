"""The ``dataflow`` and ``systolic`` sub-commands, driven through our own argparse parser."""

from __future__ import annotations

import argparse
import json

import pytest

from core.cli.dataflow import register
from core.common.errors import InputError, MlsysError

REF = ["--height", "6", "--width", "7", "--channels", "9", "--kernel", "3", "--filters", "1"]


def _run(argv, capsys):
    parser = argparse.ArgumentParser(prog="mlsys-studio")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    status = args.func(args)
    return status, capsys.readouterr().out


def test_dataflow_json_reproduces_the_reference(capsys):
    status, out = _run(["dataflow", *REF, "--dataflow", "ws", "--input-buffer", "9", "--weight-buffer", "9",
                        "--output-buffer", "1", "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert data["dataflow"] == "ws" and data["macs"] == 1620
    assert data["reads"] == {"input": 1620, "weight": 81, "output": 160}
    assert data["writes"] == {"output": 180}
    assert data["energy"] == 448700
    assert data["tiles"] == {"f": 1, "c": 1, "y": 1, "x": 1}


def test_dataflow_lru_policy(capsys):
    _, out = _run(["dataflow", *REF, "--dataflow", "ws", "--input-buffer", "9", "--weight-buffer", "9",
                   "--output-buffer", "1", "--policy", "lru", "--format", "json"], capsys)
    assert json.loads(out)["reads"]["input"] == 756


def test_dataflow_table_shows_the_loop_nest_and_counts(capsys):
    status, out = _run(["dataflow", *REF, "--dataflow", "ws", "--input-buffer", "9", "--weight-buffer", "9",
                        "--output-buffer", "1"], capsys)
    assert status == 0
    assert "for c in range(0, C=9)" in out
    assert "weight buffer ← W[f, c, 0:3, 0:3]" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in (["input"], ["weight"], ["output"])}
    assert rows["input"] == ["1,620", "0", "1,620"]
    assert rows["weight"] == ["81", "0", "1,620"]
    assert rows["output"] == ["160", "180", "3,240"]
    assert "448,700" in out


def test_row_stationary_from_the_command_line(capsys):
    _, out = _run(["dataflow", *REF, "--dataflow", "rs", "--pe-rows", "12", "--pe-cols", "14", "--format", "json"],
                  capsys)
    data = json.loads(out)
    assert data["tiles"] == {"f": 1, "c": 4, "y": 4}
    assert data["rf_accesses"]["output"] == 2 * 1620


def test_dataflow_errors_are_typed(capsys):
    with pytest.raises(InputError, match="input buffer: 4 elements is smaller than the 9"):
        _run(["dataflow", *REF, "--dataflow", "ws", "--input-buffer", "4"], capsys)
    with pytest.raises(MlsysError, match="stride: 0 is not allowed"):
        _run(["dataflow", *REF, "--stride", "0", "--dataflow", "os"], capsys)


def test_systolic_json_equals_scalesim(capsys):
    status, out = _run(["systolic", "--height", "14", "--width", "14", "--channels", "6", "--kernel", "5",
                        "--filters", "16", "--rows", "8", "--cols", "8", "--dataflow", "is", "--format", "json"],
                       capsys)
    assert status == 0
    data = json.loads(out)
    assert data["cycles"] == 9385
    assert data["ofmap"] == [10, 10]
    assert data["sram_reads"] == {"ifmap": 15000, "filter": 31200}
    assert data["sram_writes"] == {"ofmap": 30400}
    assert 100 * data["utilization"] == pytest.approx(39.957379, abs=1e-4)
    assert 100 * data["mapping_efficiency"] == pytest.approx(94.888664, abs=1e-4)


def test_systolic_floor_output_and_table(capsys):
    base = ["systolic", "--height", "32", "--width", "32", "--channels", "4", "--kernel", "3", "--filters", "8",
            "--stride", "2", "--rows", "8", "--cols", "8", "--dataflow", "os", "--sram-kb", "32,32,16"]
    _, out = _run(base + ["--format", "json"], capsys)
    assert json.loads(out)["ofmap"] == [16, 16]
    _, out = _run(base + ["--floor-output", "--format", "json"], capsys)
    assert json.loads(out)["ofmap"] == [15, 15]
    _, out = _run(base, capsys)
    assert "cycles" in out and "16×16 (ceil)" in out


def test_systolic_errors_are_typed(capsys):
    with pytest.raises(InputError, match="--sram-kb: '64,64' is not three"):
        _run(["systolic", *REF, "--rows", "4", "--cols", "4", "--dataflow", "os", "--sram-kb", "64,64"], capsys)
    with pytest.raises(InputError, match="array columns: 0 is not allowed"):
        _run(["systolic", *REF, "--rows", "4", "--cols", "0", "--dataflow", "ws"], capsys)


def test_dataflow_costs_option(capsys):
    import argparse
    import json

    from core.cli.dataflow import register
    from core.common.errors import InputError
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    base = ["dataflow", "--height", "6", "--width", "7", "--channels", "9", "--kernel", "3",
            "--filters", "1", "--dataflow", "ws", "--input-buffer", "9", "--weight-buffer", "9",
            "--output-buffer", "1", "--format", "json"]
    args = parser.parse_args(base + ["--costs", "1,2,6,100,1"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["energy"] == 244_600
    args = parser.parse_args(base + ["--costs", "1,2"])
    with pytest.raises(InputError, match="five numbers"):
        args.func(args)
