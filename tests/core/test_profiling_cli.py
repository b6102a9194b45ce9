"""``mlsys-studio profile``: the documented JSON keys, every output format, and one-line
errors with exit status 2."""

from __future__ import annotations

import json

import pytest

from core.cli.parser import main

FAST = ["--repeats", "3", "--warmup", "1", "--budget", "0.05", "--threads", "1"]
BATCH_KEYS = {"batch", "latency_ms", "latency_iqr_ms", "throughput_per_s"}
LAYER_KEYS = {"name", "type", "measured_ms", "predicted_ms", "intensity", "attained_flops"}
TOP_KEYS = {"model", "device", "threads", "params", "macs", "batches"}


def run(capsys, *args):
    code = main(["profile", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "mlp", "--batches", "1,4", "--per-layer", "--roofline",
                       "--memory", "--format", "json", *FAST)
    assert code == 0
    doc = json.loads(out)
    assert TOP_KEYS | {"peak_flops", "memory_bandwidth_bytes_per_s", "layers"} <= set(doc)
    assert [b["batch"] for b in doc["batches"]] == [1, 4]
    for b in doc["batches"]:
        assert BATCH_KEYS <= set(b)
        assert b["throughput_per_s"] == b["batch"] / (b["latency_ms"] / 1e3)
    assert doc["layers"] and all(LAYER_KEYS <= set(l) for l in doc["layers"])
    assert (doc["model"], doc["device"], doc["threads"]) == ("mlp", "cpu", 1)
    assert doc["measured_memory_bytes"] > 0 and doc["predicted_memory_bytes"] > 0


def test_json_without_layers_or_machine(capsys):
    code, out, _ = run(capsys, "mlp", "--batches", "2", "--format", "json", *FAST)
    doc = json.loads(out)
    assert code == 0 and "layers" not in doc and "peak_flops" not in doc


def test_input_shape_reaches_the_model(capsys):
    code, out, _ = run(capsys, "cnn", "--input", "1,32,32", "--batches", "1", "--format",
                       "json", *FAST)
    from core.graph.analysis import analyze
    from core.torchbridge.resolve import resolve_model
    assert code == 0
    assert json.loads(out)["macs"] == analyze(resolve_model("cnn", (1, 32, 32))).totals.macs


@pytest.mark.parametrize("fmt, marker", [("table", "Highest throughput"), ("csv", "batch,"),
                                         ("md", "| batch |"), ("latex", r"\toprule")])
def test_formats(capsys, fmt, marker):
    code, out, _ = run(capsys, "mlp", "--batches", "1,2", "--per-layer", "--format", fmt, *FAST)
    assert code == 0 and marker in out and "fc1" in out


@pytest.mark.parametrize("args, field", [
    (["--batches", "0"], "batches"), (["--batches", "1,a"], "batches"),
    (["--repeats", "0"], "repeats"), (["--budget", "-1"], "budget"),
    (["--threads", "0"], "threads"), (["--input", "0,1"], "input shape"),
    (["--device", "tpu"], "--device"), (["--warmup", "x"], "--warmup"),
    (["--memory-limit", "0"], "memory limit")])
def test_bad_values_exit_2_with_one_line(capsys, args, field):
    code, out, err = run(capsys, "mlp", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and field in err


def test_unknown_model_exits_2(capsys):
    code, _, err = run(capsys, "no-such-model")
    assert code == 2 and "no-such-model" in err and err.count("\n") == 1


@pytest.mark.parametrize("executor, fragment", [
    ("pool", "compete for the cores, caches and memory bandwidth"),
    ("ray", "time each batch size alone on one node"),
])
def test_concurrent_executors_are_refused_with_the_reason(capsys, executor, fragment):
    code, out, err = run(capsys, "mlp", "--batches", "2", "--executor", executor, "--no-store", *FAST)
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_inline_executor_profiles_as_before(capsys):
    code, out, _ = run(capsys, "mlp", "--batches", "2", "--executor", "inline", "--no-store",
                       "--format", "json", *FAST)
    assert code == 0 and [b["batch"] for b in json.loads(out)["batches"]] == [2]


def test_check_executor_names_what_is_allowed():
    from core.common.errors import InputError
    from core.profiling.config import check_executor
    check_executor("inline")
    with pytest.raises(InputError, match="use inline"):
        check_executor("cloud")
