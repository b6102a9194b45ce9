"""The ``transformer`` sub-command through the real entry point (core.cli.parser.main)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.cli.parser import main

SMALL = ["--d-model", "32", "--heads", "4", "--src-len", "6", "--tgt-len", "5", "--vocab", "17",
         "--batch", "2"]


def run(argv, capsys):
    status = main(["transformer", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_has_the_issue_keys_and_matches_the_hooks(capsys):
    from core.transformer.config import TransformerConfig
    from core.transformer.hooks import measure_edges
    status, out, _ = run([*SMALL, "--precision", "fp32", "--format", "json"], capsys)
    assert status == 0
    data = json.loads(out)
    assert set(data) == {"config", "edges", "total_bits"}
    assert data["config"]["ffn"] == 128 and data["config"]["batch"] == 2
    assert set(data["edges"][0]) >= {"from", "to", "shape", "elements", "bits", "formula"}
    assert data["total_bits"] == sum(e["bits"] for e in data["edges"])
    measured, _ = measure_edges(TransformerConfig(**data["config"]))
    assert sorted((e.src, e.dst, list(e.shape), e.elements, e.bits) for e in measured) == \
        sorted((e["from"], e["to"], e["shape"], e["elements"], e["bits"]) for e in data["edges"])


def test_sweep_json_grows_the_d_model_edges_linearly(capsys):
    status, out, _ = run(["--sweep", "d_model=64,128,256", "--format", "json"], capsys)
    assert status == 0
    sweep = json.loads(out)["sweep"]
    assert [s["d_model"] for s in sweep] == [64, 128, 256]
    for point in sweep:
        assert set(point) == {"d_model", "total_bits", "edges"}
        first = point["edges"][0]
        assert first["bits"] == 128 * point["d_model"] * 16
        assert point["total_bits"] == sum(e["bits"] for e in point["edges"])


def test_csv_and_table_agree(capsys):
    _, out, _ = run([*SMALL, "--format", "csv"], capsys)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:2] == ["from", "to"]
    total = rows[-1]
    assert total[0] == "total" and int(total[5]) == sum(int(r[5]) for r in rows[1:-1])
    _, text, _ = run(SMALL, capsys)
    assert f"{int(total[5]):,}" in text and "Korthikanti" in text and "KV cache" in text


@pytest.mark.parametrize("fmt, marker", [("md", "| from |"), ("latex", r"\begin{tabular}")])
def test_other_formats(capsys, fmt, marker):
    status, out, _ = run([*SMALL, "--format", fmt], capsys)
    assert status == 0 and marker in out


@pytest.mark.parametrize("argv, words", [
    (["--d-model", "250"], "not divisible by heads"),
    (["--src-len", "0"], "src_len must be at least 1"),
    (["--sweep", "d_model=64,100"], "not divisible by heads"),
    (["--sweep", "width=3"], "--sweep"),
    (["--precision", "fp8"], "invalid choice"),
    (["--encoder-layers", "1000000"], "MLSYS_LIMIT_COUNT_WORK"),
    (["--encoder-layers", "5000", "--sweep", "d_model=64,128,256"], "transformer sweep"),
])
def test_bad_configurations_exit_2_with_one_line(capsys, argv, words):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err


def test_sweeps_of_the_ffn_width_and_the_sequence_length(capsys):
    _, out, _ = run(["--sweep", "ffn=512,1024", "--format", "json"], capsys)
    points = json.loads(out)["sweep"]
    ffn_bits = [sum(e["bits"] for e in p["edges"] if e["kind"] == "ffn") for p in points]
    assert ffn_bits == [4 * 128 * 512 * 16, 4 * 128 * 1024 * 16]
    _, out, _ = run(["--sweep", "seq_len=64,128", "--format", "json"], capsys)
    points = json.loads(out)["sweep"]
    assert [p["seq_len"] for p in points] == [64, 128]
    scores = [next(e for e in p["edges"] if e["kind"] == "s²")["bits"] for p in points]
    assert scores == [8 * 64 * 64 * 16, 8 * 128 * 128 * 16]


def test_saved_design_is_reported_by_the_engine(capsys, tmp_path):
    path = tmp_path / "lab.json"
    status, _, _ = run([*SMALL, "--save-design", str(path), "--format", "json"], capsys)
    assert status == 0 and path.exists()
    status, out, err = (main(["report", str(path), "--format", "json"]),
                        *capsys.readouterr())
    assert status == 0, err
    report = json.loads(out)
    from core.transformer.config import TransformerConfig
    from core.transformer.model import build_model
    cfg = TransformerConfig(d_model=32, heads=4, ffn=128, src_len=6, tgt_len=5, vocab=17,
                            batch=2)
    assert report["totals"]["params"] == sum(p.numel() for p in build_model(cfg).parameters())
