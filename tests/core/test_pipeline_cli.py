"""The ``pipeline`` command through the real entry point: JSON keys, formats, one-line errors."""

from __future__ import annotations

import json

import pytest

from core.cli.parser import main


def run(argv, capsys):
    status = main(["pipeline", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_has_the_issue_keys_and_the_reference(capsys):
    status, out, _ = run(["--layers", "10,8", "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert data["arch"] == "per-neuron"
    assert data["layers"] == [{"inputs": 10, "outputs": 8, "cycles": 101, "period": 101,
                               "formula": "m × (t_m + t_a) + t_σ = 10 × (8 + 2) + 1 = 101",
                               "steps": []}]
    assert data["total_cycles"] == 101 and data["initiation_interval"] == 101
    assert data["throughput_samples_per_cycle"] == pytest.approx(1 / 101)
    assert set(data["utilization"]) == {"multiplier", "adder", "nonlinear"}
    assert data["utilization"]["multiplier"] == pytest.approx(640 / 808)
    assert any("bias" in a for a in data["assumptions"])


def test_all_gives_a_list_in_architecture_order(capsys):
    status, out, _ = run(["--layers", "10,8,6,5", "--arch", "all", "--samples", "3",
                          "--clock-mhz", "500", "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert [d["arch"] for d in data] == ["per-neuron", "nfu", "nfu-tree", "diannao"]
    for d in data:
        assert d["total_cycles"] == d["latency_cycles"] + 2 * d["initiation_interval"]
        assert d["throughput_samples_per_second"] == pytest.approx(
            500e6 / d["initiation_interval"])
        assert all(0 <= u <= 1 for u in d["utilization"].values())


def test_overlap_and_tiles_reach_the_model(capsys):
    _, out, _ = run(["--layers", "10,8", "--overlap", "--format", "json"], capsys)
    assert json.loads(out)["total_cycles"] == 83
    _, out, _ = run(["--layers", "40,20", "--arch", "diannao", "--tn", "8", "--ti", "8",
                     "--format", "json"], capsys)
    # T = 5, J = 3, t₂ = (3 + 1)·2 = 8, P = 8, Q = 40: 8 + 8 + 4·8 + 1 + 2·40 = 129
    assert json.loads(out)["total_cycles"] == 129


@pytest.mark.parametrize("fmt, marker", [("table", "note: "), ("md", "| arch |"),
                                         ("latex", r"\toprule"), ("csv", "arch,layer,")])
def test_text_formats(fmt, marker, capsys):
    status, out, _ = run(["--layers", "10,8,6,5", "--arch", "all", "--format", fmt], capsys)
    assert status == 0 and marker in out
    assert "101" in out and "nfu-tree" in out


@pytest.mark.parametrize("argv, flag", [
    (["--layers", "10,0"], "--layers"),
    (["--layers", "10,-3"], "--layers"),
    (["--layers", "10"], "--layers"),
    (["--layers", "10,x"], "--layers"),
    (["--layers", "10,8", "--tm", "0"], "--tm"),
    (["--layers", "10,8", "--ta", "-2"], "--ta"),
    (["--layers", "10,8", "--tsigma", "0"], "--tsigma"),
    (["--layers", "10,8", "--tn", "0"], "--tn"),
    (["--layers", "10,8", "--ti", "0"], "--ti"),
    (["--layers", "10,8", "--samples", "0"], "--samples"),
    (["--layers", "10,8", "--clock-mhz", "-5"], "--clock-mhz"),
    (["--layers", "10,8", "--arch", "gpu"], "--arch"),
])
def test_bad_values_exit_2_with_one_line(argv, flag, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and flag in err, err
