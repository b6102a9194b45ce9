"""Train a Network (or a torch module) on MNIST as a generator of typed events, and the
helpers a trained model needs afterwards (evaluation, confusion matrix, misclassified
images, prediction of one drawing, inference timing, checkpoint, ONNX).

Speed comes from the data path: the whole split is one pre-normalised float tensor, an
epoch is a permutation, a batch is one ``index_select``; no per-item work, no DataLoader.

The generator checks ``should_stop()`` before every batch and between evaluation chunks,
so a stop takes effect within one batch. Torch is imported lazily (inside functions).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from core.training.data import (IMAGE_SIZE, MEAN, NUM_CLASSES, STD, MnistData, input_layout,
                                load_mnist)
from core.common.errors import InputError, MlsysError
from core.common.files import FileReadError, read_bytes_bounded, write_with
from core.common.limits import CHECKPOINT_BYTES, LimitError
from core.torchbridge.export import onnx_missing

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}
SGD_MOMENTUM = 0.9
CHECKPOINT_FORMAT = "mlsys-studio-checkpoint"
PAUSE_POLL_S = 0.05


class TrainingError(MlsysError, ValueError):
    """The model cannot be trained or used as asked (names the model and what is allowed)."""


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``lr`` None means the optimizer's default (adam 1e-3, sgd 0.05);
    ``schedule`` "cosine" lowers it along a half cosine to 0 at the end of the last epoch
    (``epochs``, or ``max_epochs`` when until_converged).
    With ``until_converged`` the run stops when test accuracy has not improved for
    ``patience`` epochs, or after ``max_epochs``; otherwise it runs ``epochs`` epochs."""

    optimizer: str = "adam"
    lr: float | None = None
    batch_size: int = 128
    epochs: int = 2
    schedule: str = "constant"  # cosine: lr decays to 0 over the planned epochs, per step
    until_converged: bool = False
    patience: int = 2
    max_epochs: int = 30
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None  # CPU threads for torch; None: torch's default, at most 8
    eval_batch_size: int = 1000

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer {self.optimizer!r} is not allowed: use one of "
                             + ", ".join(OPTIMIZERS))
        if self.lr is not None:
            if (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float))
                    or not math.isfinite(self.lr) or not 0 < self.lr <= 1e6):
                raise InputError(f"lr {self.lr!r} is not allowed: use a number > 0 and "
                                 f"≤ 1e6 (typical: adam 1e-3, sgd 0.05)")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule {self.schedule!r} is not allowed: use one of "
                             + ", ".join(SCHEDULES))
        _whole("batch_size", self.batch_size, 1, 65536)
        _whole("epochs", self.epochs, 1, 1000)
        _whole("patience", self.patience, 1, 100)
        _whole("max_epochs", self.max_epochs, 1, 1000)
        _whole("seed", self.seed, 0, 2 ** 63 - 1)
        _whole("eval_batch_size", self.eval_batch_size, 1, 65536)
        if self.threads is not None:
            _whole("threads", self.threads, 1, 1024)
        if not isinstance(self.until_converged, bool):
            raise InputError(f"until_converged {self.until_converged!r} is not allowed: use "
                             f"True or False")
        if self.device != "cpu" and self.device not in available_devices():
            raise InputError(f"device {self.device!r} is not allowed: use one of "
                             + ", ".join(available_devices()))

    @property
    def learning_rate(self) -> float:
        return float(self.lr) if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def epoch_limit(self) -> int:
        return self.max_epochs if self.until_converged else self.epochs

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["lr"] = self.learning_rate
        return out


def _whole(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} {value!r} is not allowed: use a whole number from {low:,} "
                         f"to {high:,}")


def available_devices() -> tuple[str, ...]:
    """"cpu", plus "cuda" where torch sees a GPU."""
    import torch
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainEvent:
    """Base of every event the trainer yields."""


@dataclass(frozen=True)
class Started(TrainEvent):
    model: str
    dataset: str  # MnistData.description
    train_size: int
    test_size: int
    steps_per_epoch: int
    epochs: int  # planned (the cap when until_converged)
    config: TrainConfig
    device: str
    threads: int
    params: int


@dataclass(frozen=True)
class BatchEvent(TrainEvent):
    epoch: int  # 1-based
    step: int  # 1-based, within the epoch
    steps_per_epoch: int
    loss: float  # this batch's loss
    acc: float  # this batch's accuracy, 0..1
    images_per_sec: float  # this epoch so far
    elapsed: float  # seconds of training so far (pauses not counted)


@dataclass(frozen=True)
class EpochEvent(TrainEvent):
    epoch: int
    train_loss: float  # mean over the epoch's batches, weighted by batch size
    train_acc: float
    test_loss: float
    test_acc: float
    seconds: float  # this epoch: training and test evaluation
    elapsed: float
    images_per_sec: float  # training images per second in this epoch
    best_test_acc: float
    epochs_without_improvement: int

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "train_acc": self.train_acc,
                "test_loss": self.test_loss, "test_acc": self.test_acc,
                "seconds": self.seconds}


@dataclass(frozen=True)
class Paused(TrainEvent):
    epoch: int
    step: int
    elapsed: float


@dataclass(frozen=True)
class Resumed(TrainEvent):
    epoch: int
    step: int
    paused_seconds: float


@dataclass(frozen=True)
class Finished(TrainEvent):
    """The run ended normally: ``reason`` is "epochs" (all done) or "converged"."""

    reason: str
    result: "TrainResult"


@dataclass(frozen=True)
class Stopped(TrainEvent):
    """should_stop() answered True; the model keeps the weights it had reached."""

    epoch: int
    step: int
    result: "TrainResult"


@dataclass(frozen=True)
class Failed(TrainEvent):
    """Training cannot go on (non-finite loss, a torch runtime error); ``message`` is one
    line for the user. The model keeps the last finite weights."""

    message: str
    epoch: int
    step: int
    result: "TrainResult"


# ---------------------------------------------------------------------------------------
# Results after training
# ---------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    loss: float
    accuracy: float
    predictions: np.ndarray  # predicted label per image
    labels: np.ndarray
    probabilities: np.ndarray  # N×10 softmax

    def confusion_matrix(self) -> np.ndarray:
        """10×10 counts: row = true label, column = predicted label."""
        flat = self.labels.astype(np.int64) * NUM_CLASSES + self.predictions
        return np.bincount(flat, minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)

    def misclassified(self) -> np.ndarray:
        """Indices (into the split) of the images predicted wrongly, in order."""
        return np.flatnonzero(self.predictions != self.labels)


@dataclass(frozen=True)
class Prediction:
    label: int
    probabilities: np.ndarray  # 10 values summing to 1


@dataclass(frozen=True)
class InferenceTiming:
    batch_size: int
    ms_per_batch: float
    ms_per_image: float
    images_per_sec: float
    device: str


@dataclass
class TrainResult:
    model: "TrainedModel"
    config: TrainConfig
    dataset: str
    epochs: list[EpochEvent] = field(default_factory=list)
    train_seconds: float = 0.0
    status: str = "running"  # finished, converged, stopped, failed
    message: str = ""
    # the test-set evaluation after the last epoch: of the final weights when the run
    # finished or converged (a stop or failure mid-epoch changes them afterwards)
    evaluation: Evaluation | None = None

    def summary(self, inference_batch: int | None = None, time_inference: bool = True
                ) -> dict:
        """The run as the CLI's JSON: inference timed now at ``inference_batch`` (default:
        the training batch size), or left None with ``time_inference=False`` (a stop must
        be quick)."""
        batch = inference_batch or self.config.batch_size
        timing = self.model.inference_time(batch) if time_inference else None
        counts = self.model.counts()
        return {"model": self.model.name, "status": self.status,
                "epochs": [e.as_dict() for e in self.epochs],
                "train_seconds": self.train_seconds,
                "inference_ms_per_batch": timing.ms_per_batch if timing else None,
                "inference_batch_size": timing.batch_size if timing else None,
                "inference_ms_per_image": timing.ms_per_image if timing else None,
                "params": counts["params"], "macs": counts["macs"],
                "dataset": self.dataset}


# ---------------------------------------------------------------------------------------
# The model wrapper
# ---------------------------------------------------------------------------------------
class TrainedModel:
    """A torch module plus what it takes to feed it MNIST and read its class scores.

    Build with ``TrainedModel.from_network`` / ``from_module``; ``train`` does it for you.
    """

    def __init__(self, module, name: str, input_size: int = IMAGE_SIZE, flatten: bool = False,
                 network=None, loss_nodes: tuple[str, ...] = (), logits_node: str | None = None,
                 device: str = "cpu"):
        self.module = module
        self.name = name
        self.input_size = input_size
        self.flatten = flatten
        self.network = network
        self.loss_nodes = tuple(loss_nodes)
        self.logits_node = logits_node
        self.device = device

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_network(cls, network, seed: int | None = None) -> "TrainedModel":
        """Check that the network can learn MNIST and build it (weights seeded by ``seed``)."""
        import torch

        from core.torchbridge.build import build_model
        name = network.name
        inputs = network.input_names()
        if len(inputs) != 1:
            raise TrainingError(f"{name} has {len(inputs)} Input nodes "
                                f"({', '.join(inputs) or 'none'}); training on MNIST needs "
                                f"exactly one image input")
        from core.graph.analysis import analyze
        entry = analyze(network)[inputs[0]]  # check the input before building anything big
        if entry.kind != "float":
            raise TrainingError(f"{name}'s input {inputs[0]} takes ids; MNIST training needs "
                                f"an image input of {_supported()}")
        if entry.output_shape is None:
            raise TrainingError(f"{name}'s input {inputs[0]}: {entry.status()}")
        size, flatten = input_layout(entry.output_shape, name)
        if seed is not None:
            torch.manual_seed(seed)
        module = build_model(network)
        loss_nodes = tuple(n for n in module.order if module.types[n] == "Loss")
        if loss_nodes:
            logits = _check_losses(module, loss_nodes, name)
        else:
            outputs = module.output_names
            if len(outputs) != 1:
                raise TrainingError(f"{name} has {len(outputs)} outputs ({', '.join(outputs)}); "
                                    f"training needs one output of {NUM_CLASSES} class scores "
                                    f"or Loss nodes")
            logits = outputs[0]
            if tuple(module.shapes[logits]) != (NUM_CLASSES,):
                raise TrainingError(f"{name}'s output {logits} has shape "
                                    f"{_shape_text(module.shapes[logits])}; MNIST needs "
                                    f"{NUM_CLASSES} class scores (shape {NUM_CLASSES})")
        return cls(module, name, size, flatten, network.copy(), loss_nodes, logits)

    @classmethod
    def from_module(cls, module, name: str | None = None,
                    input_shape=(1, IMAGE_SIZE, IMAGE_SIZE)) -> "TrainedModel":
        """Any torch module mapping a batch of ``input_shape`` images to 10 class scores
        (a GraphModule keeps its Loss nodes)."""
        from core.torchbridge.build import GraphModule
        if isinstance(module, GraphModule):
            net_name = name or "model"
            if len(module.input_names) != 1:
                raise TrainingError(f"{net_name} has {len(module.input_names)} inputs; "
                                    f"training on MNIST needs exactly one image input")
            size, flatten = input_layout(module.shapes[module.input_names[0]], net_name)
            losses = tuple(n for n in module.order if module.types[n] == "Loss")
            logits = (_check_losses(module, losses, net_name) if losses
                      else module.output_names[0])
            return cls(module, net_name, size, flatten, None, losses, logits)
        size, flatten = input_layout(input_shape, name or type(module).__name__)
        return cls(module, name or type(module).__name__, size, flatten)

    # -- forward -------------------------------------------------------------------------
    def loss_and_logits(self, images, labels):
        """(scalar loss, N×10 logits) for a batch of prepared images."""
        import torch.nn.functional as F
        if self.loss_nodes:
            values = self.module.run(images, labels=labels)
            loss = values[self.loss_nodes[0]]
            for name in self.loss_nodes[1:]:
                loss = loss + values[name]
            return loss, values[self.logits_node]
        logits = self.logits(images)
        return F.cross_entropy(logits, labels), logits

    def logits(self, images):
        if self.loss_nodes:
            return self.module.run(images)[self.logits_node]
        out = self.module(images)
        return out[0] if isinstance(out, tuple) else out

    def prepare(self, images):
        """Dataset tensors (N×1×S×S) reshaped for this model's input (flattened if it
        takes 784 values)."""
        return images.reshape(images.shape[0], -1) if self.flatten else images

    # -- evaluation --------------------------------------------------------------------
    def evaluate(self, data: MnistData, split: str = "test", batch_size: int = 1000,
                 should_stop: Callable[[], bool] | None = None) -> Evaluation | None:
        """Loss, accuracy and per-image predictions on a split (None if stopped)."""
        import torch
        import torch.nn.functional as F
        images, labels = data.tensors(split, self.input_size)
        was_training = self.module.training
        self.module.eval()
        total_loss, probs = 0.0, []
        try:
            with torch.inference_mode():
                for start in range(0, len(labels), batch_size):
                    if should_stop is not None and should_stop():
                        return None
                    x = self.prepare(images[start:start + batch_size]).to(self.device)
                    y = labels[start:start + batch_size].to(self.device)
                    if self.loss_nodes:
                        loss, logits = self.loss_and_logits(x, y)
                        total_loss += float(loss) * len(y)
                    else:
                        logits = self.logits(x)
                        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
                    probs.append(torch.softmax(logits.float(), 1).cpu())
        finally:
            self.module.train(was_training)
        probabilities = torch.cat(probs).numpy() if probs else np.zeros((0, NUM_CLASSES))
        predictions = probabilities.argmax(1) if len(probabilities) else np.zeros(0, np.int64)
        truth = labels.numpy()
        n = max(1, len(truth))
        return Evaluation(total_loss / n, float((predictions == truth).sum()) / n,
                          predictions.astype(np.int64), truth, probabilities)

    def confusion_matrix(self, data: MnistData, split: str = "test") -> np.ndarray:
        return self.evaluate(data, split).confusion_matrix()

    def misclassified(self, data: MnistData, split: str = "test") -> np.ndarray:
        return self.evaluate(data, split).misclassified()

    def predict(self, image) -> Prediction:
        """Class of one 28×28 image: floats in [0, 1] (0 background, 1 ink, as MNIST) or
        uint8 0..255. Center a free drawing with ``mnist_style`` first."""
        import torch
        array = _image_array(image)
        x = _normalise_one(array, self.input_size)
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.inference_mode():
                logits = self.logits(self.prepare(x).to(self.device))
                probs = torch.softmax(logits.float(), 1)[0].cpu().numpy()
        finally:
            self.module.train(was_training)
        return Prediction(int(probs.argmax()), probs)

    def inference_time(self, batch_size: int = 128, repeats: int | None = None,
                       budget_s: float = 0.5) -> InferenceTiming:
        """Median forward time of one batch in inference mode (random normalised images),
        repeated until ``repeats`` runs or ``budget_s`` seconds (at least 3 runs)."""
        import torch
        _whole("batch_size", batch_size, 1, 65536)
        g = torch.Generator().manual_seed(0)
        x = torch.randn((batch_size, 1, self.input_size, self.input_size), generator=g)
        x = self.prepare(x).to(self.device)
        was_training = self.module.training
        self.module.eval()
        times = []
        try:
            with torch.inference_mode():
                for _ in range(2):  # warm-up: allocator, kernel choice
                    self.logits(x)
                _sync(self.device)
                begin = time.perf_counter()
                while True:
                    t0 = time.perf_counter()
                    self.logits(x)
                    _sync(self.device)
                    times.append(time.perf_counter() - t0)
                    if repeats is not None and len(times) >= repeats:
                        break
                    if repeats is None and len(times) >= 3 and \
                            time.perf_counter() - begin > budget_s:
                        break
        finally:
            self.module.train(was_training)
        ms = float(np.median(times)) * 1e3
        return InferenceTiming(batch_size, ms, ms / batch_size, batch_size / (ms / 1e3),
                               self.device)

    def counts(self) -> dict:
        """Parameters and MACs per image, from core.graph.analysis when the network is known."""
        if self.network is not None:
            from core.graph.analysis import analyze
            totals = analyze(self.network).totals
            return {"params": int(totals.params), "macs": int(totals.macs)}
        return {"params": int(sum(p.numel() for p in self.module.parameters())), "macs": None}

    def io_shapes(self) -> tuple[str, str]:
        """Per-image input and output shapes as the product writes them: "1×28×28", "10"."""
        size = self.input_size
        shape = (size * size,) if self.flatten else (1, size, size)
        return _shape_text(shape), _shape_text((NUM_CLASSES,))

    # -- files -------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path, extra: dict | None = None) -> Path:
        """A .pt with the weights and, when known, the design (so it can be rebuilt)."""
        import torch

        from core.graph.io import network_to_dict
        path = Path(path)
        payload = {"format": CHECKPOINT_FORMAT, "version": 1, "name": self.name,
                   "input_size": self.input_size, "flatten": self.flatten,
                   "design": network_to_dict(self.network) if self.network else None,
                   "state_dict": {k: v.detach().cpu() for k, v in
                                  self.module.state_dict().items()}}
        payload.update(extra or {})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_with(path, lambda tmp: torch.save(payload, tmp))
        except OSError as exc:
            raise TrainingError(f"cannot save checkpoint {path}: {exc.strerror or exc}") \
                from None
        return path

    def export_onnx(self, path: str | Path) -> Path:
        """The model (image → 10 logits, batch dimension dynamic) as ONNX."""
        missing = onnx_missing()
        if missing:
            raise TrainingError(f"exporting ONNX needs the {' and '.join(missing)} "
                                f"package{'s' if len(missing) > 1 else ''}: install with "
                                f"`pip install {' '.join(missing)}`")
        import torch
        path = Path(path)
        wrapper = _LogitsOnly(self).eval()
        shape = (1, self.input_size * self.input_size) if self.flatten else \
            (1, 1, self.input_size, self.input_size)
        example = torch.zeros((2,) + shape[1:], device=self.device)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            batch = torch.export.Dim("batch", min=1, max=65536)
            # the exporter prints its steps on stdout, which would spoil the CLI's JSON
            with contextlib.redirect_stdout(io.StringIO()):
                write_with(path, lambda tmp: torch.onnx.export(
                    wrapper, (example,), str(tmp), input_names=["image"],
                    output_names=["logits"], dynamo=True, external_data=False,
                    dynamic_shapes=({0: batch},), verbose=False))
        except OSError as exc:
            raise TrainingError(f"cannot write ONNX file {path}: {exc.strerror or exc}") \
                from None
        except Exception as exc:  # exporter failures are many and varied: one line
            raise TrainingError(f"ONNX export of {self.name} failed: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                ) from None
        return path


def load_checkpoint(path: str | Path, module=None) -> TrainedModel:
    """A TrainedModel from ``save_checkpoint``'s file (rebuilt from the stored design, or
    loaded into ``module`` when the checkpoint has none)."""
    import torch
    path = Path(path)
    try:
        data = read_bytes_bounded(path, CHECKPOINT_BYTES, "checkpoint")
    except (FileReadError, LimitError) as exc:
        raise TrainingError(str(exc)) from None
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TrainingError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not an MLSys Studio checkpoint")
    if payload.get("design"):
        from core.graph.io import network_from_dict
        model = TrainedModel.from_network(network_from_dict(payload["design"], str(path)))
    elif module is not None:
        model = TrainedModel.from_module(module, payload.get("name"))
    else:
        raise TrainingError(f"{path} holds no design: pass the module to load it into")
    try:
        model.module.load_state_dict(payload["state_dict"])
    except Exception as exc:
        raise TrainingError(f"{path}: weights do not fit the model ({exc})") from None
    return model


def _LogitsOnly(model: TrainedModel):  # noqa: N802 - builds a module, torch imported lazily
    from torch import nn

    class LogitsOnly(nn.Module):
        """The model as image → logits (Loss nodes left out), for export."""

        def __init__(self):
            super().__init__()
            self.inner = model.module

        def forward(self, x):
            return model.logits(x)

    return LogitsOnly()


def _check_losses(module, loss_nodes, name: str) -> str:
    """The classification logits node of a network with Loss nodes: the input of the first
    one-input (label-target) cross-entropy Loss. The analysis already refuses an MSE loss
    without a target."""
    logits = None
    for loss in loss_nodes:
        layer = module.layers[module.keys[loss]]
        ins = module.inputs_of[loss]
        if len(ins) == 1 and layer.kind == "cross_entropy":
            if tuple(module.shapes[ins[0]]) != (NUM_CLASSES,):
                raise TrainingError(f"{name}: Loss {loss} reads {ins[0]} of shape "
                                    f"{_shape_text(module.shapes[ins[0]])}; the digit labels "
                                    f"need {NUM_CLASSES} class scores")
            logits = logits or ins[0]
    if logits is None:
        raise TrainingError(f"{name} has Loss nodes ({', '.join(loss_nodes)}) but none is a "
                            f"cross-entropy loss on {NUM_CLASSES} class scores with the labels "
                            f"as target; accuracy needs one")
    return logits


def _shape_text(shape) -> str:
    return "×".join(str(d) for d in shape) if shape else "()"


def _supported() -> str:
    from core.training.data import SUPPORTED_INPUTS
    return SUPPORTED_INPUTS


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def _image_array(image) -> np.ndarray:
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    array = np.squeeze(array)
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise InputError(f"image of shape {_shape_text(array.shape)} is not allowed: use "
                         f"{IMAGE_SIZE}×{IMAGE_SIZE}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < -1e-6 or array.max() > 1 + 1e-6:
        raise InputError("image values must be in [0, 1] (0 background, 1 ink) or uint8 "
                         "0..255")
    return np.clip(array, 0.0, 1.0)


def _normalise_one(array01: np.ndarray, size: int):
    import torch
    pad = (size - IMAGE_SIZE) // 2
    x = np.full((1, 1, size, size), -MEAN / STD, dtype=np.float32)
    x[0, 0, pad:pad + IMAGE_SIZE, pad:pad + IMAGE_SIZE] = (array01 - MEAN) / STD
    return torch.from_numpy(x)


def mnist_style(image) -> np.ndarray:
    """A free drawing (H×W, 0 background, 1 ink; any size) made to look like an MNIST
    digit: cropped to its ink, scaled to fit 20×20 keeping its aspect ratio, and placed on a
    28×28 field with its centre of mass in the middle, as MNIST was prepared."""
    import torch
    import torch.nn.functional as F
    array = np.asarray(image, dtype=np.float32)
    if array.ndim != 2 or min(array.shape) < 1:
        raise InputError(f"drawing of shape {_shape_text(array.shape)} is not allowed: use a "
                         f"2-D array")
    if array.max() > 1.0:
        array = array / 255.0
    rows, cols = np.nonzero(array > 0.05)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    if len(rows) == 0:
        return out
    crop = array[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 20.0 / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resized = F.interpolate(torch.from_numpy(crop)[None, None], size=(h, w), mode="area"
                            if scale < 1 else "bilinear", **({} if scale < 1 else
                                                              {"align_corners": False}))
    small = resized[0, 0].clamp(0, 1).numpy()
    top, left = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
    out[top:top + h, left:left + w] = small
    total = out.sum()
    if total > 0:
        ys, xs = np.indices(out.shape)
        dy = int(round(IMAGE_SIZE / 2 - 0.5 - (ys * out).sum() / total))
        dx = int(round(IMAGE_SIZE / 2 - 0.5 - (xs * out).sum() / total))
        shifted = np.zeros_like(out)
        src = out[max(0, -dy):IMAGE_SIZE - max(0, dy), max(0, -dx):IMAGE_SIZE - max(0, dx)]
        shifted[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
        out = shifted
    return out


# ---------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------
def as_trained_model(model, seed: int = 0) -> TrainedModel:
    """A TrainedModel from a Network, a TrainedModel or a torch module."""
    from core.graph.network import Network
    if isinstance(model, TrainedModel):
        return model
    if isinstance(model, Network):
        return TrainedModel.from_network(model, seed)
    if hasattr(model, "parameters") and callable(model):
        return TrainedModel.from_module(model)
    raise TrainingError(f"cannot train a {type(model).__name__}: pass a Network, a "
                        f"TrainedModel or a torch module")


def _threads(config: TrainConfig) -> int:
    import torch
    if config.threads is not None:
        return config.threads
    # torch's default is one thread per physical core; LeNet-sized layers stop scaling
    # well before that on large machines, and the GUI thread needs a core too.
    return max(1, min(torch.get_num_threads(), 8))


def train(model, data: MnistData | None = None, config: TrainConfig | None = None,
          should_stop: Callable[[], bool] = lambda: False,
          should_pause: Callable[[], bool] = lambda: False) -> Iterator[TrainEvent]:
    """Train ``model`` (a Network, a TrainedModel or a torch module; trained in place) on
    ``data`` (default: load_mnist()). Yields Started, then BatchEvent per batch and
    EpochEvent per epoch (Paused/Resumed around pauses), and ends with exactly one of
    Finished, Stopped or Failed, each carrying the TrainResult; a stop asked for before
    the model is built ends it with no event at all."""
    import torch
    config = config or TrainConfig()
    _check_memory(model, config)
    data = data if data is not None else load_mnist()
    if should_stop():  # asked while loading: nothing was built, nothing to report
        return
    trained = as_trained_model(model, config.seed)
    if should_stop():
        return
    previous_threads = torch.get_num_threads()
    threads = _threads(config)
    if config.device == "cpu" and threads != previous_threads:
        torch.set_num_threads(threads)
    try:
        yield from _train(trained, data, config, should_stop, should_pause, threads)
    finally:
        if torch.get_num_threads() != previous_threads:
            torch.set_num_threads(previous_threads)


def _check_memory(model, config: TrainConfig) -> None:
    """A design is checked against the training memory limit before anything is built."""
    from core.graph.network import Network
    if isinstance(model, Network):
        from core.torchbridge.build import check_training_memory
        check_training_memory(model, config.batch_size,
                              "adam" if config.optimizer == "adam" else "sgd-momentum")


def _make_optimizer(config: TrainConfig, parameters):
    import torch
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.learning_rate, momentum=SGD_MOMENTUM)
    return torch.optim.Adam(parameters, lr=config.learning_rate)


def _train(trained: TrainedModel, data: MnistData, config: TrainConfig, should_stop,
           should_pause, threads: int) -> Iterator[TrainEvent]:
    import torch
    device = config.device
    trained.device = device
    module = trained.module.to(device)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise TrainingError(f"{trained.name} has no trainable parameters")
    optimizer = _make_optimizer(config, params)
    images, labels = data.tensors("train", trained.input_size)
    images, labels = images.to(device), labels.to(device)
    n = len(labels)
    if n == 0:
        raise TrainingError(f"{data.description} has no training images")
    batch = min(config.batch_size, n)
    steps = math.ceil(n / batch)
    generator = torch.Generator().manual_seed(config.seed)
    result = TrainResult(trained, config, data.description)
    yield Started(trained.name, data.description, n, data.test_size, steps,
                  config.epoch_limit, config, device, threads,
                  int(sum(p.numel() for p in params)))

    clock = _Clock()
    best, stale = -1.0, 0
    epoch = step = 0
    for epoch in range(1, config.epoch_limit + 1):
        module.train()
        order = torch.randperm(n, generator=generator).to(device)
        epoch_start = clock.now()
        loss_sum = torch.zeros((), device=device)
        correct_sum = torch.zeros((), dtype=torch.long, device=device)
        seen = 0
        for step in range(1, steps + 1):
            if should_stop():
                yield _ended(result, clock, "stopped", "stopped by the user", epoch, step - 1)
                return
            if should_pause():
                yield Paused(epoch, step - 1, clock.now())
                waited = clock.pause(should_pause, should_stop)
                if should_stop():
                    yield _ended(result, clock, "stopped", "stopped by the user", epoch,
                                 step - 1)
                    return
                yield Resumed(epoch, step - 1, waited)
            if config.schedule == "cosine":
                done = ((epoch - 1) * steps + step - 1) / (steps * config.epoch_limit)
                for group in optimizer.param_groups:
                    group["lr"] = config.learning_rate * 0.5 * (1 + math.cos(math.pi * done))
            index = order[(step - 1) * batch: step * batch]
            x = trained.prepare(images.index_select(0, index))
            y = labels.index_select(0, index)
            try:
                loss, logits = trained.loss_and_logits(x, y)
                value = loss.item()
                if not math.isfinite(value):
                    message = (f"the loss became {value} at epoch {epoch}, step {step}: training "
                               f"diverged; lower the learning rate (now "
                               f"{config.learning_rate:g})")
                    yield _ended(result, clock, "failed", message, epoch, step)
                    return
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            except RuntimeError as exc:  # e.g. out of memory on a large batch
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                yield _ended(result, clock, "failed", f"training {trained.name} failed at "
                             f"epoch {epoch}, step {step}: {first}", epoch, step)
                return
            count = len(y)
            with torch.no_grad():
                hits = (logits.argmax(1) == y).sum()
            correct_sum += hits
            loss_sum += loss.detach() * count
            seen += count
            spent = clock.now() - epoch_start
            yield BatchEvent(epoch, step, steps, value, int(hits) / count,
                             seen / spent if spent > 0 else 0.0, clock.now())
        train_seconds = clock.now() - epoch_start
        evaluation = trained.evaluate(data, "test", config.eval_batch_size, should_stop)
        if evaluation is None:
            yield _ended(result, clock, "stopped", "stopped by the user", epoch, steps)
            return
        if not math.isfinite(evaluation.loss):
            yield _ended(result, clock, "failed", f"the test loss became {evaluation.loss} "
                         f"after epoch {epoch}: training diverged; lower the learning rate "
                         f"(now {config.learning_rate:g})", epoch, steps)
            return
        if evaluation.accuracy > best:
            best, stale = evaluation.accuracy, 0
        else:
            stale += 1
        event = EpochEvent(epoch, float(loss_sum) / seen, int(correct_sum) / seen,
                           evaluation.loss, evaluation.accuracy, clock.now() - epoch_start,
                           clock.now(), seen / train_seconds if train_seconds > 0 else 0.0,
                           best, stale)
        result.epochs.append(event)
        result.evaluation = evaluation
        yield event
        if config.until_converged and stale >= config.patience:
            yield _ended(result, clock, "converged", f"test accuracy has not improved for "
                         f"{stale} epochs (best {best:.2%})", epoch, steps)
            return
    yield _ended(result, clock, "finished", f"{epoch} epochs done", epoch, step)


class _Clock:
    """Seconds of training, leaving out time spent paused."""

    def __init__(self):
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def pause(self, should_pause, should_stop) -> float:
        begin = time.perf_counter()
        while should_pause() and not should_stop():
            time.sleep(PAUSE_POLL_S)
        waited = time.perf_counter() - begin
        self.paused += waited
        return waited


def _ended(result: TrainResult, clock: _Clock, status: str, message: str, epoch: int,
           step: int) -> TrainEvent:
    result.status, result.message = status, message
    result.train_seconds = clock.now()
    if status == "stopped":
        return Stopped(epoch, step, result)
    if status == "failed":
        return Failed(message, epoch, step, result)
    return Finished("converged" if status == "converged" else "epochs", result)


def run_to_end(events: Iterator[TrainEvent], on_event: Callable[[TrainEvent], Any] | None = None
               ) -> TrainResult:
    """Drain a train() generator (headless use); returns its TrainResult."""
    result = None
    for event in events:
        if on_event is not None:
            on_event(event)
        if isinstance(event, (Finished, Stopped, Failed)):
            result = event.result
    if result is None:
        raise TrainingError("training ended without a result")
    return result
