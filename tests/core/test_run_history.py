"""core.training.run_history: the run table, the per-epoch table and the JSON of kept runs, from a
real (short) training run on the bundled sample."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from core.training.data import load_sample
from core.common.tables import to_csv, to_markdown
from core.graph.presets import load_preset
from core.training.run_history import (HISTORY_HEADERS, RunRecord, epochs_table, histories_json,
                              history_table)
from core.training.trainer import TrainConfig, run_to_end, train


@pytest.fixture(scope="module")
def record():
    config = TrainConfig(batch_size=500, epochs=2, threads=1)
    result = run_to_end(train(load_preset("mlp"), load_sample(), config))
    summary = result.summary()
    steps = np.arange(1, 13, dtype=float)
    return RunRecord(3, "mlp", result.status, config.as_dict(), summary,
                     *result.model.io_shapes(), 6, steps, np.linspace(2.3, 0.5, 12))


def load_preset_module(name):
    from core.torchbridge.build import build_model
    return build_model(load_preset(name))


def test_run_table_row_matches_the_result(record):
    table = history_table([record])
    row = dict(zip(HISTORY_HEADERS, table.rows[0]))
    s = record.summary
    assert row["#"] == 3 and row["status"] == "finished" and row["epochs"] == "2/2"
    assert row["lr"] == "0.001" and row["batch"] == 500 and row["device"] == "cpu"
    assert row["test acc (%)"] == round(100 * s["epochs"][-1]["test_acc"], 2)
    assert row["infer µs/image"] == round(1000 * s["inference_ms_per_image"], 2)
    # parameters from the engine equal the built module's
    assert row["params"] == sum(p.numel() for p in load_preset_module("mlp").parameters())
    assert (row["input"], row["output"]) == ("1×28×28", "10")
    parsed = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert parsed[0]["MACs"] == str(s["macs"])
    assert "| 3 | mlp |" in to_markdown(table)


def test_stopped_run_has_empty_inference_cells(record):
    summary = dict(record.summary, inference_ms_per_batch=None, inference_ms_per_image=None)
    stopped = RunRecord(4, "mlp", "stopped", record.settings, summary)
    row = dict(zip(HISTORY_HEADERS, history_table([stopped]).rows[0]))
    assert row["infer ms/batch"] is None and row["infer µs/image"] is None
    assert ",," in to_csv(history_table([stopped]))


def test_epochs_table_and_json_keep_full_precision(record):
    rows = list(csv.DictReader(io.StringIO(to_csv(epochs_table([record, record])))))
    assert len(rows) == 4 and [r["epoch"] for r in rows] == ["1", "2", "1", "2"]
    assert float(rows[1]["test_loss"]) == record.epochs[1]["test_loss"]
    data = json.loads(histories_json([record]))
    run = data["runs"][0]
    assert run["batch_loss"]["step"] == list(range(1, 13))
    assert run["batch_loss"]["loss"][0] == pytest.approx(2.3)
    assert run["settings"]["batch_size"] == 500 and run["summary"] == json.loads(
        json.dumps(record.summary))


def test_epoch_series_are_at_the_end_of_each_epoch(record):
    x, y = record.epoch_series("test_acc")
    assert x.tolist() == [6.0, 12.0]
    assert y.tolist() == [e["test_acc"] for e in record.epochs]
