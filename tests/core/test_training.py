"""The trainer: accuracy on the sample and on full MNIST, events, stop/pause, determinism,
NaN handling, Loss-node networks, the after-training helpers and the ``train`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time

import numpy as np
import pytest

from core.training import data as mnist
from core.training import trainer as training
from core.training.data import MnistData, load_folder, load_sample
from core.common.errors import InputError, MlsysError
from core.graph.network import Network
from core.graph.presets import load_preset
from core.cli.train import register
from core.training.trainer import (BatchEvent, EpochEvent, Failed, Finished, Paused, Resumed, Started,
                           Stopped, TrainConfig, TrainedModel, TrainingError, run_to_end, train)

FULL_DIR = os.environ.get(mnist.ENV_VAR)
# The recipe the full-MNIST test uses (measured: 98.85–99.01% over seeds 0–2 in 2 epochs).
FULL_RECIPE = dict(optimizer="adam", lr=3e-3, batch_size=128, epochs=2, schedule="cosine")
SAMPLE_RECIPE = dict(optimizer="adam", lr=3e-3, batch_size=32, epochs=3, schedule="cosine")


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def small(sample):
    """512 train / 200 test images: for tests about control flow, not accuracy."""
    return MnistData(sample.train_images[:512], sample.train_labels[:512],
                     sample.test_images[:200], sample.test_labels[:200], kind="custom")


@pytest.fixture(scope="module")
def sample_run(sample):
    events = list(train(load_preset("lenet5"), sample, TrainConfig(seed=0, **SAMPLE_RECIPE)))
    return events


def batch_losses(events):
    return [e.loss for e in events if isinstance(e, BatchEvent)]


def stop_after(steps: int):
    seen = {"n": 0}

    def should_stop():
        seen["n"] += 1
        return seen["n"] > steps
    return should_stop


# -- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("optimizer", "rmsprop"), ("lr", 0), ("lr", -1.0), ("lr", float("nan")), ("lr", "big"),
    ("batch_size", 0), ("batch_size", 2.5), ("epochs", 0), ("patience", 0),
    ("max_epochs", 0), ("seed", -1), ("device", "tpu"), ("schedule", "step"),
    ("threads", 0), ("eval_batch_size", 0), ("until_converged", "yes")])
def test_config_fields_are_checked_by_name(field, value):
    with pytest.raises(InputError, match=f"^{field} .* is not allowed: use"):
        TrainConfig(**{field: value})


def test_config_defaults():
    config = TrainConfig()
    assert (config.optimizer, config.learning_rate, config.device) == ("adam", 1e-3, "cpu")
    assert TrainConfig(optimizer="sgd").learning_rate == 0.05
    assert TrainConfig(until_converged=True, max_epochs=7).epoch_limit == 7


# -- training on the sample ----------------------------------------------------------------
def test_lenet5_learns_the_sample(sample_run):
    epochs = [e for e in sample_run if isinstance(e, EpochEvent)]
    assert len(epochs) == 3
    # measured 94.0% (seeds 0–2: 93.4–96.0%) in about 1.5 s on two slow cores
    assert epochs[-1].test_acc >= 0.90
    assert epochs[-1].train_loss < epochs[0].train_loss


def test_event_sequence(sample_run):
    assert isinstance(sample_run[0], Started)
    started = sample_run[0]
    assert started.dataset == "bundled sample (3,000/1,000)"
    assert (started.train_size, started.steps_per_epoch, started.epochs) == (3000, 94, 3)
    assert started.params == 61706
    assert isinstance(sample_run[-1], Finished) and sample_run[-1].reason == "epochs"
    result = sample_run[-1].result
    assert result.status == "finished"
    assert [e.epoch for e in result.epochs] == [1, 2, 3]
    batches = [e for e in sample_run if isinstance(e, BatchEvent)]
    assert len(batches) == 3 * 94
    assert [b.step for b in batches[:3]] == [1, 2, 3] and batches[93].step == 94
    assert all(b.images_per_sec > 0 and 0 <= b.acc <= 1 for b in batches)
    elapsed = [b.elapsed for b in batches]
    assert elapsed == sorted(elapsed)
    assert result.train_seconds >= elapsed[-1]
    summary = result.summary()
    assert set(summary) >= {"epochs", "train_seconds", "inference_ms_per_batch", "params",
                            "macs", "dataset"}
    assert (summary["params"], summary["macs"]) == (61706, 416520)
    assert set(summary["epochs"][0]) == {"epoch", "train_loss", "train_acc", "test_loss",
                                         "test_acc", "seconds"}


def test_helpers_after_training(sample_run, sample, tmp_path):
    model = sample_run[-1].result.model
    evaluation = model.evaluate(sample)
    assert evaluation.accuracy == pytest.approx(sample_run[-1].result.epochs[-1].test_acc)
    matrix = evaluation.confusion_matrix()
    assert matrix.shape == (10, 10) and matrix.sum() == 1000
    assert matrix.sum(1).tolist() == sample.label_counts("test")
    assert np.trace(matrix) == round(evaluation.accuracy * 1000)
    wrong = evaluation.misclassified()
    assert len(wrong) == 1000 - np.trace(matrix)
    assert all(evaluation.predictions[i] != sample.test_labels[i] for i in wrong)
    assert np.array_equal(model.confusion_matrix(sample), matrix)
    assert np.allclose(evaluation.probabilities.sum(1), 1, atol=1e-5)

    image = sample.test_images[0].astype(np.float32) / 255  # a 7
    prediction = model.predict(image)
    assert prediction.label == evaluation.predictions[0] == 7
    assert prediction.probabilities.shape == (10,)
    assert model.predict(sample.test_images[0]).label == 7  # uint8 accepted too
    with pytest.raises(InputError, match="28×28"):
        model.predict(np.zeros((20, 20)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        model.predict(image * 255)

    timing = model.inference_time(64, repeats=3)
    assert timing.batch_size == 64 and timing.ms_per_batch > 0
    assert timing.ms_per_image == pytest.approx(timing.ms_per_batch / 64)

    path = model.save_checkpoint(tmp_path / "run" / "lenet5.pt", {"note": "test"})
    again = training.load_checkpoint(path)
    assert np.array_equal(again.evaluate(sample).predictions, evaluation.predictions)


def test_mnist_style_centres_a_drawing(sample):
    drawing = np.zeros((100, 100), dtype=np.float32)
    drawing[10:40, 60:66] = 1.0  # a short bar near a corner
    digit = training.mnist_style(drawing)
    assert digit.shape == (28, 28) and digit.max() <= 1
    ys, xs = np.indices(digit.shape)
    assert (ys * digit).sum() / digit.sum() == pytest.approx(13.5, abs=0.6)
    assert (xs * digit).sum() / digit.sum() == pytest.approx(13.5, abs=0.6)
    assert (digit > 0.5).any(0).sum() <= 20 and (digit > 0.5).any(1).sum() <= 20
    assert training.mnist_style(np.zeros((50, 50))).sum() == 0


def test_onnx_export_says_what_to_install(sample_run, tmp_path, monkeypatch):
    model = sample_run[-1].result.model
    monkeypatch.setattr(training, "onnx_missing", lambda: ["onnx", "onnxscript"])
    with pytest.raises(TrainingError, match="needs the onnx and onnxscript packages: install "
                                            "with `pip install onnx onnxscript`"):
        model.export_onnx(tmp_path / "m.onnx")


@pytest.mark.skipif(bool(training.onnx_missing()), reason="onnx/onnxscript not installed")
def test_onnx_export_writes_a_model(sample_run, tmp_path):
    import onnx
    path = sample_run[-1].result.model.export_onnx(tmp_path / "m.onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["logits"]


# -- determinism ---------------------------------------------------------------------------
def test_same_seed_same_losses(small):
    config = TrainConfig(batch_size=32, epochs=2, seed=3)
    first = batch_losses(train(load_preset("lenet5"), small, config))
    second = batch_losses(train(load_preset("lenet5"), small, config))
    assert len(first) == 32 and first == second
    other = batch_losses(train(load_preset("lenet5"), small,
                               TrainConfig(batch_size=32, epochs=2, seed=4)))
    assert other != first


# -- stop, pause ---------------------------------------------------------------------------
def test_stop_takes_effect_within_a_second(sample):
    flag = threading.Event()
    set_at = {}

    def set_flag():  # as the GUI thread does, while the worker trains
        set_at["t"] = time.perf_counter()
        flag.set()

    timer = threading.Timer(0.5, set_flag)
    timer.start()
    try:
        events = list(train(load_preset("lenet5"), sample, TrainConfig(epochs=100),
                            should_stop=flag.is_set))
    finally:
        timer.cancel()
    delay = time.perf_counter() - set_at["t"]
    assert isinstance(events[-1], Stopped), events[-1]
    assert events[-1].result.status == "stopped"
    assert delay < 1.0


def test_stop_during_evaluation(small):
    steps = math.ceil(512 / 128)
    events = list(train(load_preset("lenet5"), small, TrainConfig(epochs=3),
                        should_stop=stop_after(steps)))
    assert isinstance(events[-1], Stopped)
    assert not any(isinstance(e, EpochEvent) for e in events)  # stopped before reporting


def test_pause_and_resume(small):
    state = {"steps": 0, "paused_at": None}

    def should_pause():
        if state["paused_at"] is None and state["steps"] == 3:
            state["paused_at"] = time.perf_counter()
        return state["paused_at"] is not None and time.perf_counter() - state["paused_at"] < 0.4

    events = []
    for event in train(load_preset("lenet5"), small, TrainConfig(batch_size=64, epochs=1),
                       should_pause=should_pause):
        events.append(event)
        if isinstance(event, BatchEvent):
            state["steps"] += 1
    kinds = [type(e).__name__ for e in events]
    p = kinds.index("Paused")
    assert kinds[p + 1] == "Resumed"  # nothing trains while paused
    assert isinstance(events[p], Paused) and isinstance(events[p + 1], Resumed)
    assert events[p].step == 3 and events[p + 1].paused_seconds >= 0.35
    assert isinstance(events[-1], Finished)
    assert len([e for e in events if isinstance(e, BatchEvent)]) == 8
    # the pause is not counted as training time
    assert events[-1].result.train_seconds < time.perf_counter() - state["paused_at"] + 5


def test_stop_while_paused(small):
    begin = time.perf_counter()
    events = list(train(load_preset("lenet5"), small, TrainConfig(epochs=1),
                        should_pause=lambda: True,
                        should_stop=lambda: time.perf_counter() - begin > 0.3))
    assert [type(e).__name__ for e in events] == ["Started", "Paused", "Stopped"]
    assert time.perf_counter() - begin < 1.5


# -- divergence ------------------------------------------------------------------------------
def test_huge_learning_rate_fails_with_a_message(small):
    events = list(train(load_preset("lenet5"), small,
                        TrainConfig(optimizer="sgd", lr=1e6, batch_size=32, epochs=2)))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert "training diverged; lower the learning rate (now 1e+06)" in failed.message
    assert failed.result.status == "failed"


def test_nan_loss_stops_before_touching_the_weights(small, monkeypatch):
    original = TrainedModel.loss_and_logits
    calls = {"n": 0}

    def poisoned(self, images, labels):
        loss, logits = original(self, images, labels)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 3 else loss), logits

    monkeypatch.setattr(TrainedModel, "loss_and_logits", poisoned)
    events = list(train(load_preset("lenet5"), small, TrainConfig(epochs=1)))
    failed = events[-1]
    assert isinstance(failed, Failed) and (failed.epoch, failed.step) == (1, 3)
    assert failed.message.startswith("the loss became nan at epoch 1, step 3")
    weights = [p for p in failed.result.model.module.parameters()]
    assert all(bool(w.isfinite().all()) for w in weights)


# -- until converged ---------------------------------------------------------------------------
def fake_evaluations(monkeypatch, accuracies):
    queue = list(accuracies)

    def evaluate(self, data, split="test", batch_size=1000, should_stop=None):
        acc = queue.pop(0)
        return training.Evaluation(1 - acc, acc, np.zeros(1, np.int64), np.zeros(1, np.int64),
                                   np.full((1, 10), 0.1))
    monkeypatch.setattr(TrainedModel, "evaluate", evaluate)


def test_until_converged_stops_after_patience(small, monkeypatch):
    fake_evaluations(monkeypatch, [0.5, 0.6, 0.6, 0.59, 0.7])
    events = list(train(load_preset("mlp"), small,
                        TrainConfig(until_converged=True, patience=2, max_epochs=10)))
    assert isinstance(events[-1], Finished) and events[-1].reason == "converged"
    assert [e.epochs_without_improvement for e in events[-1].result.epochs] == [0, 0, 1, 2]


def test_until_converged_respects_the_cap(small, monkeypatch):
    fake_evaluations(monkeypatch, [0.1, 0.2, 0.3, 0.4])
    events = list(train(load_preset("mlp"), small,
                        TrainConfig(until_converged=True, patience=1, max_epochs=3)))
    assert events[-1].reason == "epochs" and len(events[-1].result.epochs) == 3


# -- other networks -----------------------------------------------------------------------------
def test_32x32_network_gets_padded_images(small):
    result = run_to_end(train(load_preset("lenet5-classic"), small, TrainConfig(epochs=1)))
    assert result.model.input_size == 32
    assert 0 <= result.epochs[0].test_acc <= 1


def two_loss_network() -> Network:
    """784-value input; a shared layer feeds a reconstruction (MSE against the input) and a
    classifier (cross-entropy against the labels)."""
    net = Network("two-loss")
    net.add_node("Input", "image", {"shape": [784]})
    net.add_node("Linear", "shared", {"out_features": 64}, ["image"])
    net.add_node("ReLU", "act", {}, ["shared"])
    net.add_node("Linear", "decode", {"out_features": 784}, ["act"])
    net.add_node("Loss", "reconstruction", {"kind": "mse"}, ["decode", "image"])
    net.add_node("Linear", "classify", {"out_features": 10}, ["act"])
    net.add_node("Loss", "classification", {"kind": "cross_entropy"}, ["classify"])
    return net


def test_network_with_loss_nodes_uses_their_sum(sample):
    model = TrainedModel.from_network(two_loss_network(), seed=0)
    assert model.flatten and model.logits_node == "classify"
    assert model.loss_nodes == ("reconstruction", "classification")
    import torch
    x, y = sample.tensors("train")
    values = model.module.run(x[:8].reshape(8, -1), labels=y[:8])
    loss, logits = model.loss_and_logits(x[:8].reshape(8, -1), y[:8])
    total = values["reconstruction"] + values["classification"]
    assert float(loss.detach()) == pytest.approx(float(total.detach()))
    assert torch.equal(logits, values["classify"])
    result = run_to_end(train(model, sample, TrainConfig(epochs=1, batch_size=64)))
    assert result.epochs[0].test_acc > 0.7


@pytest.mark.parametrize("model, message", [
    ("resnet18", "resnet18's input is 3×224×224; MNIST training needs"),
    ("autoencoder-classifier-padded", "autoencoder-classifier-padded's input is 3×32×32"),
    ("autoencoder-classifier", "autoencoder-classifier has 2 Input nodes \\(image, target\\)"),
    ("transformer", "transformer has 2 Input nodes \\(src_ids, tgt_ids\\); training on MNIST"),
])
def test_unsuitable_presets_are_refused(model, message, small):
    with pytest.raises(MlsysError, match=message):
        list(train(load_preset(model), small, TrainConfig()))


def test_unusable_outputs_are_refused():
    net = Network("bad-loss")
    net.add_node("Input", "image", {"shape": [1, 28, 28]})
    net.add_node("Flatten", "flat", {}, ["image"])
    net.add_node("Linear", "fc", {"out_features": 10}, ["flat"])
    net.add_node("Loss", "loss", {"kind": "mse"}, ["fc"])
    with pytest.raises(MlsysError, match="MSE needs two inputs"):  # the analysis says so
        TrainedModel.from_network(net)
    net.remove_node("loss")
    net.add_node("Linear", "other", {"out_features": 5}, ["flat"])
    with pytest.raises(TrainingError, match="has 2 outputs \\(fc, other\\)"):
        TrainedModel.from_network(net)
    net.remove_node("fc")
    with pytest.raises(TrainingError, match="output other has shape 5; MNIST needs 10 class"):
        TrainedModel.from_network(net)


def test_plain_torch_module(small):
    from torch import nn
    module = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    result = run_to_end(train(module, small, TrainConfig(epochs=1)))
    assert result.model.counts() == {"params": 7850, "macs": None}


# -- full MNIST (CI sets MLSYS_MNIST_DIR) -----------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not FULL_DIR, reason=f"{mnist.ENV_VAR} is not set: full-MNIST accuracy "
                                         f"is checked only where the data is")
def test_lenet5_reaches_98_5_percent_on_full_mnist():
    full = load_folder(FULL_DIR)
    assert full.kind == "full"
    result = run_to_end(train(load_preset("lenet5"), full, TrainConfig(seed=0, **FULL_RECIPE)))
    assert result.status == "finished"
    assert result.epochs[-1].test_acc >= 0.985, [e.as_dict() for e in result.epochs]


# -- the command line ---------------------------------------------------------------------------
def parse(argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_json(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    args = parse(["train", "lenet5", "--epochs", "1", "--format", "json", "--lr", "3e-3",
                  "--batch-size", "64", "--save", str(tmp_path / "m.pt")])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "bundled sample (3,000/1,000)"
    assert (out["params"], out["macs"]) == (61706, 416520)
    assert len(out["epochs"]) == 1 and out["epochs"][0]["test_acc"] > 0.5
    assert out["train_seconds"] > 0 and out["inference_ms_per_batch"] > 0
    assert (tmp_path / "m.pt").is_file()


def test_cli_table(capsys, monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    args = parse(["train", "mlp", "--epochs", "1", "--optimizer", "sgd"])
    assert args.func(args) == 0
    text = capsys.readouterr()
    assert "mlp on bundled sample (3,000/1,000): sgd, lr 0.05" in text.out
    assert "params: 335,114" in text.out
    assert text.err == ""  # no progress bar when stderr is not a terminal


def test_cli_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(training, "onnx_missing", lambda: ["onnx"])
    args = parse(["train", "lenet5", "--onnx", str(tmp_path / "m.onnx")])
    with pytest.raises(TrainingError, match="--onnx needs the onnx package"):
        args.func(args)
    with pytest.raises(MlsysError, match="no MNIST files in"):
        args = parse(["train", "lenet5", "--data", str(tmp_path)])
        args.func(args)
    with pytest.raises(InputError, match="batch_size 0 is not allowed"):
        args = parse(["train", "lenet5", "--batch-size", "0"])
        args.func(args)
    with pytest.raises(SystemExit):
        parse(["train", "lenet5", "--epochs", "2", "--until-converged"])


def test_main_cli_has_train():
    from core.cli.parser import main
    assert main(["train", "nosuchmodel"]) == 2


def test_cli_progress_bar_on_a_terminal(capsys, monkeypatch):
    import core.cli.train as train_cli
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(train_cli, "_is_tty", lambda stream: True)
    args = parse(["train", "mlp", "--epochs", "1", "--format", "json"])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays clean JSON
    assert "\repoch 1/1 [" in captured.err and "img/s" in captured.err
    assert "epoch 1/1: test acc" in captured.err


def test_result_keeps_the_last_evaluation_of_the_final_weights():
    from core.training.data import load_sample
    from core.graph.presets import load_preset
    from core.training.trainer import TrainConfig, run_to_end, train
    data = load_sample()
    result = run_to_end(train(load_preset("mlp"), data, TrainConfig(batch_size=500,
                                                                    epochs=2, threads=1)))
    fresh = result.model.evaluate(data, "test")
    assert result.evaluation.accuracy == result.epochs[-1].test_acc == fresh.accuracy
    assert (result.evaluation.predictions == fresh.predictions).all()
