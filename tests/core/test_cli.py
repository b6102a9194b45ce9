"""The headless command line: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest

from core.cli.parser import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_lists_all(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    for name in ("lenet5", "lenet5-classic", "lenet5-ds", "mlp", "cnn", "autoencoder-classifier",
                 "resnet18", "bert-base", "transformer"):
        assert name in out


def test_report_json_schema_and_values(capsys):
    code, out, _ = run(capsys, "report", "lenet5", "--format", "json", "--backward",
                       "--batch", "2")
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "lenet5" and data["input_shape"] == [1, 28, 28]
    assert data["batch"] == 2 and data["precision"] == "fp32"
    conv1 = next(layer for layer in data["layers"] if layer["name"] == "conv1")
    for key in ("name", "type", "output_shape", "weight_shape", "bias_shape", "params", "macs",
                "mul", "add", "logic", "weight_bytes", "activation_bytes", "formula",
                "backward"):
        assert key in conv1
    assert conv1["output_shape"] == [6, 28, 28] and conv1["weight_shape"] == [6, 1, 5, 5]
    assert conv1["macs"] == 2 * 117_600
    assert conv1["formula"]["macs"].endswith("= 2 × (6 × 28 × 28 × (1 × 5 × 5)) = 235,200")
    back = conv1["backward"]
    assert back["input_grad"]["mul"] == 0 and back["losses"] == ["output"]
    assert set(back["weight_grad"]) >= {"mul", "add"}
    totals = data["totals"]
    assert totals["macs"] == 2 * 416_520 and totals["params"] == 61_706
    assert totals["flops_torch_forward"] == 4 * 416_520
    assert totals["flops_torch_training"] > totals["flops_torch_forward"]


def test_report_no_bias_adds_and_precision(capsys):
    _, out, _ = run(capsys, "report", "lenet5", "--format", "json", "--no-bias-adds",
                    "--precision", "int8")
    data = json.loads(out)
    assert data["totals"]["add"] == 410_002 and data["totals"]["weight_bytes"] == 61_706


def test_report_input_override_and_formats(capsys):
    code, out, _ = run(capsys, "report", "cnn", "--input", "1,32,32", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("layer,type,input,output")
    assert ",1×32×32," in out
    for fmt, marker in (("md", "| layer |"), ("latex", "\\begin{tabular}"), ("table", "total")):
        _, out, _ = run(capsys, "report", "mlp", "--format", fmt)
        assert marker in out


def test_report_design_file(capsys, tmp_path):
    from core.graph import io
    from core.graph.presets import load_preset
    path = tmp_path / "mine.json"
    io.save(load_preset("mlp"), path)
    code, out, _ = run(capsys, "report", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["totals"]["params"] == 335_114


@pytest.mark.parametrize("argv,fragment", [
    (["report", "nope"], "is not a preset"),
    (["report", "lenet5", "--input", "1,4,4"], "conv2: kernel 5×5 is larger than its 2×2"),
    (["report", "lenet5", "--input", "a,b"], "input shape 'a,b' is not allowed"),
    (["report", "lenet5", "--batch", "0"], "batch 0 is not allowed"),
    (["report", "lenet5", "--format", "xml"], "invalid choice: 'xml'"),
    (["report", "missing.json"], "missing.json: no such file"),
    (["solve-conv", "--in", "0", "--out", "3"], "--in '0' is not allowed"),
    (["frobnicate"], "invalid choice"),
])
def test_errors_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_solve_conv_json(capsys):
    code, out, _ = run(capsys, "solve-conv", "--in", "8", "--out", "5", "--format", "json")
    solutions = json.loads(out)["solutions"]
    assert code == 0
    assert {"kernel": 2, "stride": 2, "padding": 1, "dilation": 1, "exact": True} in solutions
    assert {"kernel": 4, "stride": 1, "padding": 0, "dilation": 1, "exact": True} in solutions
    assert any(s["kernel"] == 3 and not s["exact"] for s in solutions)
    _, out, _ = run(capsys, "solve-conv", "--in", "8", "--out", "5", "--exact", "--kernel", "3")
    assert "no configuration" in out


def test_ds_command(capsys):
    code, out, _ = run(capsys, "ds", "lenet5", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert [layer["separable_mul"] for layer in data["layers"]] == [24_304, 24_600, 2_320]
    assert all(layer["formula_holds"] for layer in data["layers"])


def test_console_script_is_installed():
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    exe = Path(sys.executable).parent / "mlsys-studio"
    if not exe.exists():
        exe = shutil.which("mlsys-studio")
    assert exe, "the mlsys-studio entry point is not installed"
    result = subprocess.run([str(exe), "solve-conv", "--in", "8", "--out", "5", "--exact"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "exact" in result.stdout
