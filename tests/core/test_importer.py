"""core.torchbridge.importer against PyTorch itself.

The oracles never go through the importer: parameter counts come from the original
module, FlopCounterMode totals (forward, and forward + backward of ``out.sum()`` at
batch 2) and output shapes from running the original model on the meta device, and for
small models the numbers the rebuilt Network computes must equal the original's outputs
when both hold the same weights.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.graph.analysis import AnalysisOptions, analyze
from core.torchbridge.build import build_model
from core.common.errors import ModelImportError
from core.torchbridge.importer import import_model, network_from_module
from torch_oracle import torch_figures

BATCH = 2

pytestmark = pytest.mark.filterwarnings(
    "ignore:The default weight initialization of:FutureWarning",
    "ignore:The default weight initialization of:UserWarning")


# ---------------------------------------------------------------------------------------
# Oracle: the original model, measured by PyTorch
# ---------------------------------------------------------------------------------------
@dataclass
class Measured:
    params: int
    flops_forward: int
    flops_training: int
    output_shapes: list


def outputs_of(result) -> tuple:
    return tuple(result) if isinstance(result, tuple) else (result,)


def measure(build, input_shape, dtype=torch.float32) -> Measured:
    """Build the model on the meta device and count it with FlopCounterMode."""
    torch.manual_seed(0)
    with torch.device("meta"):
        model = build()
        x = torch.zeros((BATCH, *input_shape), dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        outs = outputs_of(model(x))
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        outs = outputs_of(model(x))
        sum(o.sum() for o in outs).backward()
    return Measured(params, forward, counter.get_total_flops(),
                    sorted(tuple(o.shape[1:]) for o in outs))


def imported_figures(network) -> Measured:
    analysis = analyze(network, AnalysisOptions(batch=BATCH))
    assert analysis.errors == {}
    totals = analysis.totals
    return Measured(totals.params, totals.flops_torch_forward, totals.flops_torch_training,
                    sorted(analysis[o].output_shape for o in network.output_names()))


def torchvision_builder(name):
    return lambda: getattr(torchvision.models, name)(weights=None)


# ---------------------------------------------------------------------------------------
# torchvision models
# ---------------------------------------------------------------------------------------
TORCHVISION = [
    ("resnet18", (3, 224, 224)),
    ("resnet50", (3, 224, 224)),
    ("vgg11", (3, 224, 224)),
    ("alexnet", (3, 224, 224)),
    ("mobilenet_v2", (3, 224, 224)),
    ("squeezenet1_0", (3, 224, 224)),
    ("densenet121", (3, 224, 224)),
    ("mnasnet0_5", (3, 224, 224)),  # x.mean([2, 3]) becomes pooling + flatten
    ("alexnet", (3, 127, 131)),  # uneven adaptive-pool windows, odd sizes
]


@pytest.mark.parametrize("name,shape", TORCHVISION, ids=[f"{n}-{s[1]}x{s[2]}"
                                                         for n, s in TORCHVISION])
def test_torchvision_model_matches_pytorch(name, shape):
    network = import_model(f"torchvision:{name}", None if shape == (3, 224, 224) else shape)
    assert imported_figures(network) == measure(torchvision_builder(name), shape)


def test_torchvision_network_is_named_and_described():
    network = import_model("torchvision:resnet18")
    assert network.name == "resnet18"
    assert "torchvision.models.resnet18" in network.description
    assert network.node("x").params["shape"] == [3, 224, 224]
    kinds = {n.type for n in network.nodes.values()}
    assert kinds == {"Input", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Add",
                     "AdaptiveAvgPool2d", "Flatten", "Linear"}
    assert network.node("layer2_0_downsample_0").params["stride"] == 2
    assert network.node("add").inputs == ["layer1_0_bn2", "maxpool"]


def test_imported_resnet_rebuilds_to_the_same_torch_counts():
    network = import_model("torchvision:resnet18", (3, 64, 64))
    rebuilt = torch_figures(network, batch=BATCH)
    original = measure(torchvision_builder("resnet18"), (3, 64, 64))
    assert (rebuilt.params, rebuilt.flops_forward, rebuilt.flops_training) == (
        original.params, original.flops_forward, original.flops_training)


def copy_weights(original: nn.Module, rebuilt) -> int:
    """Load each original module's weights into the layer named after it (fx names a
    module's node by its path with dots as underscores)."""
    by_node_name = {path.replace(".", "_"): m for path, m in original.named_modules()}
    copied = 0
    for name, key in rebuilt.keys.items():
        module = by_node_name.get(name)
        if module is not None and module.state_dict():
            rebuilt.layers[key].load_state_dict(module.state_dict())
            copied += 1
    return copied


@pytest.mark.parametrize("name", ["resnet18", "densenet121"])
def test_imported_torchvision_model_computes_the_same_numbers(name):
    """Residual adds and dense concatenations wired as in the original: same weights,
    same outputs (eval mode, on the CPU, at 64×64)."""
    torch.manual_seed(0)
    original = torchvision_builder(name)().eval()
    network = network_from_module(original, (3, 64, 64), name)
    rebuilt = build_model(network).eval()
    assert copy_weights(original, rebuilt) == sum(
        1 for m in original.modules() if m.state_dict() and not list(m.children()))
    x = torch.randn(BATCH, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), original(x), atol=1e-5)


def test_unsupported_torchvision_model_lists_what_is_missing():
    with pytest.raises(ModelImportError) as caught:
        import_model("torchvision:swin_t")
    message = str(caught.value)
    assert message.startswith("cannot import swin_t: unsupported operations: ")
    swin_blocks = sum(len(stage) for stage in torchvision.models.swin_t().features[1::2])
    assert f"shifted_window_attention ×{swin_blocks}" in message
    assert "\n" not in message


def test_unknown_torchvision_name_suggests_real_ones():
    with pytest.raises(ModelImportError, match=r"no classification model 'resnet19' "
                                               r"\(for example: resnet1"):
        import_model("torchvision:resnet19")
    with pytest.raises(ModelImportError, match="resnet18"):
        import_model("torchvision:")


def test_input_the_model_cannot_take_is_reported_with_its_node():
    with pytest.raises(ModelImportError, match=r"does not run on a 3×16×16 input \(node "
                                               r"'features_5': RuntimeError: Given input size"):
        import_model("torchvision:alexnet", (3, 16, 16))


@pytest.mark.parametrize("shape", [(3, 0, 4), (), (3, 2.5, 4), "3x224", None, (1,) * 5])
def test_bad_input_shapes_are_refused(shape):
    with pytest.raises(ModelImportError, match="not allowed"):
        network_from_module(nn.ReLU(), shape)


# ---------------------------------------------------------------------------------------
# Models from a file
# ---------------------------------------------------------------------------------------
RESIDUAL_FILE = '''
import torch
from torch import nn
import torch.nn.functional as F

INPUT_SHAPE = (3, 32, 32)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Conv2d(8, 8, 3, padding="same", dilation=1)
        self.wide = nn.Conv2d(8, 4, 1)
        self.grouped = nn.Conv2d(8, 4, 3, stride=1, padding=2, dilation=2, groups=4)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.up = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.fc = nn.Linear(6 * 16 * 16, 10)
        self.drop = nn.Dropout(0.25)
        self.skip = nn.Identity()

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = x + self.body(x)
        x = torch.cat([self.wide(x), self.grouped(x)], dim=1)
        x = self.skip(self.pool(x)).contiguous()
        x = self.avg(torch.tanh(self.up(x)))
        x = x.view(x.size(0), -1)
        return F.softmax(self.fc(self.drop(x)), dim=-1)


def make():
    return Small()
'''


def write(tmp_path, text, name="model.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_factory(path, factory):
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace[factory]


def test_file_model_matches_pytorch(tmp_path):
    path = write(tmp_path, RESIDUAL_FILE)
    network = import_model(f"{path}:make")  # INPUT_SHAPE from the file
    assert network.name == "make"
    assert str(path) in network.description
    types = [n.type for n in network.nodes.values()]
    assert types == ["Input", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "Add", "Conv2d",
                     "Conv2d", "Concat", "MaxPool2d", "ConvTranspose2d", "Tanh", "AvgPool2d",
                     "Flatten", "Dropout", "Linear", "Softmax"]
    assert network.node("add").inputs == ["relu", "body"]
    assert network.node("cat").params["dim"] == 0
    assert network.node("grouped").params == dict(
        out_channels=4, kernel=3, stride=1, padding=2, dilation=2, groups=4, bias=True)
    assert network.node("body").params["padding"] == 1
    assert network.node("pool").params["ceil_mode"] is True
    assert network.node("avg").params["count_include_pad"] is False
    assert network.node("up").params["output_padding"] == 1
    assert imported_figures(network) == measure(load_factory(path, "make"), (3, 32, 32))


def test_file_model_computes_the_same_numbers_when_rebuilt(tmp_path):
    """Same weights in, same outputs out: checks the options shapes cannot see
    (count_include_pad, padding values, which input of the cat comes first)."""
    path = write(tmp_path, RESIDUAL_FILE)
    torch.manual_seed(0)
    original = load_factory(path, "make")().eval()
    network = network_from_module(original, (3, 32, 32), "small")
    rebuilt = build_model(network).eval()
    for name, module in original.named_children():
        if name in rebuilt.keys:
            rebuilt.layers[rebuilt.keys[name]].load_state_dict(module.state_dict())
    x = torch.randn(BATCH, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), original(x), atol=1e-6)


TEXT_FILE = '''
import torch
from torch import nn
import torch.nn.functional as F

INPUT_SHAPE = (12,)


class Text(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        self.norm = nn.LayerNorm(32, eps=1e-6)
        self.mlp = nn.Linear(32, 32)
        self.head = nn.Linear(32, 5)

    def forward(self, ids):
        h = self.norm(self.embed(ids))
        h = h + F.gelu(self.mlp(h))
        return torch.softmax(self.head(h[:, 0]), -1)


def text():
    return Text()
'''


def test_token_model_reads_ids_and_selects_a_token(tmp_path):
    path = write(tmp_path, TEXT_FILE)
    network = import_model(f"{path}:text")
    assert network.node("ids").params["dtype"] == "index"
    assert network.node("getitem").type == "TokenSelect"
    assert network.node("norm").params["eps"] == pytest.approx(1e-6)
    assert imported_figures(network) == measure(load_factory(path, "text"), (12,),
                                                dtype=torch.long)


def test_unsupported_operations_are_all_listed(tmp_path):
    path = write(tmp_path, '''
        import torch
        from torch import nn

        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(16, 8, batch_first=True)
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                x = (x * 2).sin()
                y, _ = self.rnn(x)
                y = torch.sort(y, dim=-1).values
                return self.fc(y).relu()

        def odd():
            return Odd()
        ''')
    with pytest.raises(ModelImportError) as caught:
        import_model(f"{path}:odd", (10, 16))
    assert str(caught.value) == (
        "cannot import odd: unsupported operations: mul by a constant, sin, LSTM, sort")
    assert [p.what for p in caught.value.unsupported] == ["mul by a constant", "sin", "LSTM",
                                                          "sort"]
    assert [p.ref for p in caught.value.unsupported] == ["mul", "sin", "rnn", "sort"]


class Clobber(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        return y + torch.relu_(y)


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


class Branches(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


@pytest.mark.parametrize("module,shape,message", [
    (nn.Sequential(nn.Conv2d(3, 4, 3, padding_mode="reflect")), (3, 8, 8),
     "Conv2d with padding_mode='reflect'"),
    (nn.Sequential(nn.Conv2d(3, 4, 4, padding="same")), (3, 8, 8),
     "padding='same' and uneven padding"),
    (nn.Sequential(nn.Softmax(dim=0)), (3, 8, 8), "softmax over the batch dim"),
    (nn.Sequential(nn.LayerNorm(8, bias=False)), (4, 8), "LayerNorm without bias"),
    (nn.Sequential(nn.Hardshrink()), (8,), "Hardshrink"),
    (nn.Sequential(nn.MaxPool2d(2, return_indices=True)), (3, 8, 8), "returning indices"),
    (nn.Sequential(nn.Flatten(0)), (3, 8, 8), "Flatten on a tensor without the batch"),
    (nn.Sequential(nn.Unflatten(1, (1, 1, 1, 1, 3))), (3,), "Unflatten"),
    (Clobber(), (3, 8, 8), "in-place relu_ on a tensor read again later"),
])
def test_options_without_a_layer_type_are_refused(module, shape, message):
    with pytest.raises(ModelImportError, match="unsupported operations") as caught:
        network_from_module(module, shape, "m")
    assert message in str(caught.value)


def test_models_the_importer_cannot_trace_or_take():
    with pytest.raises(ModelImportError, match="takes 2 tensors .x, y.; only models with "
                                               "one input"):
        network_from_module(TwoInputs(), (4,))
    with pytest.raises(ModelImportError, match="torch.fx cannot trace Branches: TraceError: "
                                               "symbolically traced variables cannot be "
                                               "used as inputs to control flow"):
        network_from_module(Branches(), (4,))


def test_a_module_called_twice_gets_a_node_per_call():
    network = network_from_module(Shared(), (3, 8, 8), "shared")
    assert [n.name for n in network.nodes.values()] == ["x", "conv", "conv_1"]
    assert "called more than once" in network.description and "conv" in network.description


def test_default_input_shape_of_a_file_without_input_shape(tmp_path):
    path = write(tmp_path, '''
        from torch import nn
        def make():
            return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        ''')
    network = import_model(f"{path}:make")
    assert network.node("input").params["shape"] == [3, 224, 224]
    assert list(network.nodes)[1:] == ["conv2d_0", "adaptiveavgpool2d_1", "flatten_2"]
    assert analyze(network)[network.output_names()[0]].output_shape == (16,)


@pytest.mark.parametrize("body,factory,message", [
    (None, "make", "model file {path} does not exist"),
    ("def build():\n    pass\n", "make", "model.py has no function 'make' (it defines "
                                         "build)"),
    ("def make():\n    raise ValueError('no config')\n", "make",
     "model.py:make() failed: ValueError: no config"),
    ("def make():\n    return 42\n", "make", "model.py:make() returned a int, not a "
                                              "torch.nn.Module"),
    ("def make(:\n", "make", "cannot load model.py: SyntaxError: "),
    ("INPUT_SHAPE = (3, -1)\nfrom torch import nn\ndef make():\n    return nn.ReLU()\n",
     "make", "INPUT_SHAPE of model.py (3, -1) is not allowed"),
    ("def make():\n    pass\n", "2fast", "'2fast' is not a function name"),
])
def test_file_problems_are_one_line_errors(tmp_path, body, factory, message):
    path = tmp_path / "model.py"
    if body is not None:
        path.write_text(body)
    with pytest.raises(ModelImportError) as caught:
        import_model(f"{path}:{factory}")
    text = str(caught.value)
    assert text.startswith(message.format(path=path)) and "\n" not in text


@pytest.mark.parametrize("spec", ["", "resnet18", "   "])
def test_specs_that_name_no_model(spec):
    with pytest.raises(ModelImportError, match="torchvision:NAME or path/to/file.py:factory"):
        import_model(spec)
