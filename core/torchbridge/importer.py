"""Import a PyTorch model into a Network: trace it with torch.fx and map each operation to
a layer node.

A model comes from ``torchvision:NAME`` (a torchvision classification model with random
weights) or ``path/to/file.py:factory`` (a function in that file returning an
``nn.Module``). It is built on the meta device (no memory, no weights), traced with
``torch.fx`` in the mode it was built in (eval, for torchvision: GoogLeNet's and
Inception v3's auxiliary heads are left out unless ``torchvision:NAME+aux`` asks for them,
which builds the model in training mode), and run once on a meta input of batch 2 so that
every node's real shape is known. A parameter used directly (a class token, a layer
scale) becomes a Parameter node. Modules and functions become layer nodes;
reshapes that turn each sample into a vector become Flatten; no-ops (Identity,
``contiguous``, a one-tensor ``cat``) vanish; shape arithmetic (``x.size(0)``) needs no
node. Everything without a layer type is collected and reported in one ModelImportError.
The finished Network is analysed and checked against the traced run: every node's shape
and every module's parameter count must agree, so a wrong mapping cannot pass silently.

torch is imported at module level: only the CLI and GUI import this module, lazily.
"""

from __future__ import annotations

import difflib
import importlib.util
import operator
import re
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from core.graph.analysis import analyze
from core.common.errors import MlsysError, ModelImportError
from core.common.explain import shape_text
from core.graph.layers.base import numel
from core.graph.network import Network

DEFAULT_INPUT_SHAPE = (3, 224, 224)
TORCHVISION_INPUT_SHAPES = {"inception_v3": (3, 299, 299)}  # its fixed design size
AUX_MODELS = ("googlenet", "inception_v3")  # torchvision models with auxiliary heads
TRACE_BATCH = 2  # batch of the shape-recording run; 2 so the batch dim is never squeezed
MAX_NAME = 64  # Network node names are at most 64 characters
MAX_MESSAGE = 300  # characters of the one-line list of unsupported operations
SUGGESTED_TORCHVISION = ("resnet18", "resnet50", "vgg11", "alexnet", "mobilenet_v2",
                         "squeezenet1_0", "googlenet", "densenet121")


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """A model ready to trace, with where it came from and its default input shape."""

    module: nn.Module
    name: str
    source: str
    input_shape: tuple
    shape_origin: str = "input shape"


def import_model(spec: str, input_shape: tuple[int, ...] | None = None) -> Network:
    """The Network of a PyTorch model named by ``spec``.

    ``spec``: ``torchvision:NAME`` or ``path/to/file.py:factory``. ``input_shape`` is
    per sample (no batch dim). Default: (3, 224, 224) for torchvision; for a file, its
    module-level ``INPUT_SHAPE`` if it defines one, else (3, 224, 224). An input that
    feeds an ``nn.Embedding`` is token ids. Every failure raises ModelImportError with a
    one-line message.
    """
    loaded = load_model(spec)
    if input_shape is None:
        shape = checked_input_shape(loaded.input_shape, loaded.shape_origin)
    else:
        shape = checked_input_shape(input_shape)
    return network_from_module(loaded.module, shape, loaded.name, loaded.source)


def network_from_module(module: nn.Module, input_shape: tuple[int, ...], name: str = "model",
                        source: str = "") -> Network:
    """The Network of an ``nn.Module`` (parameters on the meta device or the CPU)."""
    shape = checked_input_shape(input_shape)
    graph = trace(module)
    check_single_input(graph)
    values = record_values(graph, shape)
    translation = Translation(graph, values)
    translation.run()
    translation.raise_problems(name)
    network = Network(name, _description(module, source, shape, translation))
    translation.fill(network)
    verify(network, translation)
    return network


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------
def load_model(spec: str) -> LoadedModel:
    """Build the model a spec names (torchvision:NAME or path/to/file.py:factory)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelImportError("no model given: use torchvision:NAME or "
                               "path/to/file.py:factory")
    spec = spec.strip()
    if spec.startswith("torchvision:"):
        return load_torchvision(spec.partition(":")[2].strip())
    path, sep, factory = spec.rpartition(":")
    if not sep or not path:
        raise ModelImportError(f"model {spec!r} is not understood: use torchvision:NAME or "
                               f"path/to/file.py:factory")
    return load_factory(Path(path), factory.strip())


def load_torchvision(name: str) -> LoadedModel:
    """A torchvision classification model in eval mode; ``NAME+aux`` builds GoogLeNet or
    Inception v3 with their auxiliary heads, in training mode (where they run)."""
    import torchvision

    name, plus, option = name.partition("+")
    known = torchvision.models.list_models(module=torchvision.models)
    if plus and (option != "aux" or name not in AUX_MODELS):
        raise ModelImportError(f"torchvision:{name}+{option} is not understood: only "
                               f"{' and '.join(AUX_MODELS)} take '+aux' (their auxiliary "
                               f"heads)")
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=3) or [
            n for n in SUGGESTED_TORCHVISION if n in known][:5]
        raise ModelImportError(f"torchvision has no classification model {name!r} "
                               f"(for example: {', '.join(hint)})")
    options = {"aux_logits": bool(plus)} if name in AUX_MODELS else {}
    args = ", ".join(["weights=None"] + [f"{k}={v}" for k, v in options.items()])
    module = construct(lambda: getattr(torchvision.models, name)(weights=None, **options),
                       f"torchvision.models.{name}({args})")
    module.train(bool(plus))
    return LoadedModel(module, name, f"torchvision.models.{name}({args})",
                       TORCHVISION_INPUT_SHAPES.get(name, DEFAULT_INPUT_SHAPE))


def load_factory(path: Path, factory: str) -> LoadedModel:
    if not factory.isidentifier():
        raise ModelImportError(f"{factory!r} is not a function name: use "
                               f"path/to/file.py:factory")
    if not path.is_file():
        raise ModelImportError(f"model file {path} does not exist")
    namespace = exec_file(path)
    make = getattr(namespace, factory, None)
    if not callable(make):
        defined = [n for n, v in vars(namespace).items() if callable(v) and not
                   n.startswith("_") and getattr(v, "__module__", None) == namespace.__name__]
        listing = f" (it defines {', '.join(defined[:6])})" if defined else ""
        raise ModelImportError(f"{path.name} has no function {factory!r}{listing}")
    what = f"{path.name}:{factory}()"
    module = construct(make, what)
    if not isinstance(module, nn.Module):
        raise ModelImportError(f"{what} returned a {type(module).__name__}, not a "
                               f"torch.nn.Module")
    shape = getattr(namespace, "INPUT_SHAPE", DEFAULT_INPUT_SHAPE)
    return LoadedModel(module, factory, f"{path.resolve()}, factory {factory}()", shape,
                       f"INPUT_SHAPE of {path.name}")


def exec_file(path: Path):
    """Run a Python file as a fresh module (its folder importable while it loads)."""
    name = "_mlsys_import_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelImportError(f"cannot load {path.name}: not a Python file")
    namespace = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[name] = namespace  # dataclasses and the like look their module up
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(namespace)
    except Exception as exc:  # the user's code may raise anything
        raise ModelImportError(f"cannot load {path.name}: {one_line(exc)}") from exc
    finally:
        sys.path.remove(folder)
        sys.modules.pop(name, None)
    return namespace


@contextmanager
def parameters_on_meta():
    """Move each parameter and buffer to the meta device as a module registers it, so
    that a builder doing arithmetic on real tensors (RegNet's block widths) runs on the
    CPU without ever holding more than one layer's weights."""
    register_parameter, register_buffer = nn.Module.register_parameter, \
        nn.Module.register_buffer

    def parameter(module, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.detach().to("meta"), param.requires_grad)
        register_parameter(module, name, param)

    def buffer(module, name, tensor, persistent=True):
        if tensor is not None:
            tensor = tensor.to("meta")
        register_buffer(module, name, tensor, persistent)

    nn.Module.register_parameter, nn.Module.register_buffer = parameter, buffer
    try:
        yield
    finally:
        nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, \
            register_buffer


def construct(build: Callable[[], Any], what: str) -> Any:
    """Call a model builder on the meta device; a builder that needs real tensors gets
    a second try on the CPU with its parameters moved to meta as they are registered,
    and a third on the CPU, its module then moved to meta."""
    try:
        with torch.device("meta"):
            return build()
    except Exception:  # retried below, where its error is reported
        pass
    try:
        with parameters_on_meta():
            return build()
    except Exception:  # retried below
        pass
    try:
        built = build()
    except Exception as exc:
        raise ModelImportError(f"{what} failed: {one_line(exc)}") from exc
    return built.to("meta") if isinstance(built, nn.Module) else built


def checked_input_shape(shape, origin: str = "input shape") -> tuple[int, ...]:
    """A per-sample shape as a tuple of 1 to 4 whole numbers ≥ 1."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if not dims or len(dims) > 4 or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise ModelImportError(f"{origin} {shape!r} is not allowed: use 1 to 4 whole "
                               f"numbers ≥ 1 per sample, e.g. (3, 224, 224)")
    return dims


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------
# Tracing and the recording run
# ---------------------------------------------------------------------------------------
# Modules traced as one call because a layer type stands for the whole module.
SWIN_ATTENTION = {"torchvision.models.swin_transformer.ShiftedWindowAttention": "v1",
                  "torchvision.models.swin_transformer.ShiftedWindowAttentionV2": "v2"}
EXTRA_LEAVES = {"torchvision.models.convnext.LayerNorm2d", *SWIN_ATTENTION}


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return qualified_name(type(m)) in EXTRA_LEAVES or super().is_leaf_module(
            m, module_qualified_name)


def trace(module: nn.Module) -> torch.fx.GraphModule:
    try:
        tracer = _Tracer()
        graph = tracer.trace(module)
        return torch.fx.GraphModule(tracer.root, graph, type(module).__name__)
    except Exception as exc:  # torch.fx raises many kinds (TraceError, TypeError, ...)
        raise ModelImportError(f"torch.fx cannot trace {type(module).__name__}: "
                               f"{one_line(exc)}") from exc


@dataclass(frozen=True)
class TensorInfo:
    """What the recording run saw of a tensor: its full shape (batch first) and dtype."""

    shape: tuple
    dtype: torch.dtype

    @property
    def sample(self) -> tuple:
        return self.shape[1:]


def summarize(value: Any) -> Any:
    """Tensors become TensorInfo (also inside tuples and lists); other values stay."""
    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(value.shape), value.dtype)
    if isinstance(value, (tuple, list)):
        return tuple(summarize(v) for v in value)
    return value


def has_tensor(info: Any) -> bool:
    if isinstance(info, TensorInfo):
        return True
    return isinstance(info, tuple) and any(has_tensor(v) for v in info)


class _Recorder(torch.fx.Interpreter):
    """Runs the traced graph and keeps a summary of every node's value."""

    def __init__(self, graph: torch.fx.GraphModule):
        super().__init__(graph)
        self.values: dict[torch.fx.Node, Any] = {}
        self.failure: str = ""

    def run_node(self, node):
        try:
            result = super().run_node(node)
        except Exception as exc:
            # Kept here because Interpreter.run appends the graph to the message.
            self.failure = self.failure or f"node '{node.name}': {one_line(exc)}"
            raise
        self.values[node] = summarize(result)
        return result


def record_values(graph: torch.fx.GraphModule, shape: tuple) -> dict:
    """Run the graph once on a batch-2 input (meta tensors, or CPU ones when the weights
    are on the CPU) and return each node's summarized value."""
    device = next((t.device for t in [*graph.parameters(), *graph.buffers()]), "meta")
    dtype = torch.long if _reads_ids(graph) else torch.float32
    example = torch.zeros((TRACE_BATCH,) + shape, dtype=dtype, device=device)
    recorder = _Recorder(graph)
    modes = {m: m.training for m in graph.modules()}
    # Leaf modules in eval mode give the same shapes, and meta batch norm runs much
    # faster without batch statistics; the traced graph keeps the mode it was traced in.
    graph.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's performance hints for this dry run
            recorder.run(example)
    except Exception as exc:  # whatever the model's own code raises
        raise ModelImportError(f"the model does not run on a {shape_text(shape)} input "
                               f"({recorder.failure or one_line(exc)})") from exc
    finally:
        for m, training in modes.items():
            m.training = training
    return recorder.values


def check_single_input(graph: torch.fx.GraphModule) -> None:
    names = [n.name for n in graph.graph.nodes if n.op == "placeholder"]
    if len(names) != 1:
        raise ModelImportError(f"the model's forward takes {len(names)} tensors "
                               f"({', '.join(names) or 'none'}); only models with one input "
                               f"can be imported")


def _reads_ids(graph: torch.fx.GraphModule) -> bool:
    """Whether the input feeds an embedding (so it holds integer token ids)."""
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            for user in node.users:
                if user.op == "call_module" and isinstance(
                        graph.get_submodule(user.target), nn.Embedding):
                    return True
                if user.op == "call_function" and user.target is F.embedding:
                    return True
    return False


# ---------------------------------------------------------------------------------------
# What a mapper sees and returns
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """A layer node to add: its type and parameters (inputs: the op's tensor inputs)."""

    type: str
    params: dict = field(default_factory=dict)
    inputs: tuple | None = None  # which of the op's tensor inputs it reads (None: all)


ALIAS = "alias"  # the node passes its first tensor input through unchanged


class Unsupported(Exception):
    """Raised by a mapper: the node has no layer type; the message says what it is."""


@dataclass
class Site:
    """One traced operation as a mapper sees it."""

    node: torch.fx.Node
    values: dict

    @property
    def args(self) -> tuple:
        return self.node.args[1:] if self.node.op == "call_method" else self.node.args

    @property
    def tensors(self) -> list[torch.fx.Node]:
        """The nodes whose tensors the op reads, in argument order (repeats kept)."""
        found: list[torch.fx.Node] = []
        torch.fx.node.map_arg((self.node.args, self.node.kwargs), found.append)
        return [n for n in found if isinstance(self.values.get(n), TensorInfo)]

    @property
    def ins(self) -> list[tuple]:
        return [self.values[n].sample for n in self.tensors]

    @property
    def x(self) -> tuple:
        return self.ins[0]

    @property
    def out(self) -> tuple:
        return self.values[self.node].sample

    def value(self, arg: Any) -> Any:
        return self.values.get(arg) if isinstance(arg, torch.fx.Node) else arg

    def bind(self, *names: str, **defaults) -> dict:
        """Arguments by name: positional ones in the order of ``names`` (after the tensor
        for methods), then keywords; missing ones take ``defaults``."""
        bound = dict(defaults)
        bound.update(zip(names, self.args))
        bound.update(self.node.kwargs)
        return bound


def pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    return (value[0], value[0]) if len(value) == 1 else (value[0], value[1])


def last_dim(dim: int | None, rank: int, what: str) -> None:
    """Raise unless ``dim`` is the last dimension of a rank-``rank`` tensor."""
    if dim is None or dim % rank != rank - 1:
        raise Unsupported(f"{what} over dim {dim} (only the last dim)")


# ---------------------------------------------------------------------------------------
# Mappers for modules (called with the module and the site)
# ---------------------------------------------------------------------------------------
def conv_padding(module) -> tuple[int, int]:
    what = type(module).__name__
    if module.padding_mode != "zeros":
        raise Unsupported(f"{what} with padding_mode={module.padding_mode!r}")
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        totals = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
        if any(t % 2 for t in totals):
            raise Unsupported(f"{what} with padding='same' and uneven padding")
        return (totals[0] // 2, totals[1] // 2)
    return pair(module.padding)


def map_conv2d(module: nn.Conv2d, site: Site) -> Layer:
    return Layer("Conv2d", dict(out_channels=module.out_channels, kernel=module.kernel_size,
                                stride=module.stride, padding=conv_padding(module),
                                dilation=module.dilation, groups=module.groups,
                                bias=module.bias is not None))


def map_conv_transpose2d(module: nn.ConvTranspose2d, site: Site) -> Layer:
    if len(site.args) > 1 or site.node.kwargs:
        raise Unsupported("ConvTranspose2d with an output_size argument")
    return Layer("ConvTranspose2d", dict(
        out_channels=module.out_channels, kernel=module.kernel_size, stride=module.stride,
        padding=conv_padding(module), output_padding=pair(module.output_padding),
        dilation=module.dilation, groups=module.groups, bias=module.bias is not None))


def map_batchnorm2d(module: nn.BatchNorm2d, site: Site) -> Layer:
    return Layer("BatchNorm2d", dict(eps=module.eps, affine=module.affine))


CHANNELS_FIRST_NORMS = {"torchvision.models.convnext.LayerNorm2d"}


def map_layernorm(module: nn.LayerNorm, site: Site):
    """LayerNorm over the last k dims; ConvNeXt's LayerNorm2d (channels of a C×H×W map)
    as the permute, LayerNorm, permute it runs."""
    shape = tuple(module.normalized_shape)
    if module.elementwise_affine and module.bias is None:
        raise Unsupported("LayerNorm without bias")
    params = dict(eps=module.eps, affine=module.elementwise_affine, dims=len(shape))
    if qualified_name(type(module)) in CHANNELS_FIRST_NORMS:
        if len(site.x) != 3 or shape != site.x[:1]:
            raise Unsupported(f"{type(module).__name__} of a {shape_text(site.x)} input")
        return (Layer("Permute", dict(order=(2, 3, 1))), Layer("LayerNorm", params),
                Layer("Permute", dict(order=(3, 1, 2))))
    if len(shape) > len(site.x) or shape != site.x[len(site.x) - len(shape):]:
        raise Unsupported(f"LayerNorm over {shape_text(shape)} of a {shape_text(site.x)} "
                          f"input")
    return Layer("LayerNorm", params)


def map_max_pool2d(module: nn.MaxPool2d, site: Site) -> Layer:
    return max_pool_layer(module.kernel_size, module.stride, module.padding,
                          module.dilation, module.ceil_mode, module.return_indices)


def map_avg_pool2d(module: nn.AvgPool2d, site: Site) -> Layer:
    return avg_pool_layer(module.kernel_size, module.stride, module.padding,
                          module.ceil_mode, module.count_include_pad, module.divisor_override)


def map_adaptive_avg_pool2d(module, site: Site) -> Layer:
    return adaptive_layer(site)


def map_adaptive_max_pool2d(module: nn.AdaptiveMaxPool2d, site: Site) -> Layer:
    if module.return_indices:
        raise Unsupported("adaptive_max_pool2d returning indices")
    return adaptive_layer(site, "AdaptiveMaxPool2d")


def map_multihead_attention(module: nn.MultiheadAttention, site: Site) -> Layer:
    """nn.MultiheadAttention as self-attention on batch-first sequences, without masks."""
    b = site.bind("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
                  "average_attn_weights", "is_causal", key_padding_mask=None,
                  need_weights=True, attn_mask=None, is_causal=False)
    if not module.batch_first:
        raise Unsupported("MultiheadAttention without batch_first")
    if not (b["query"] is b["key"] is b["value"]):
        raise Unsupported("MultiheadAttention other than self-attention")
    if b["key_padding_mask"] is not None or b["attn_mask"] is not None:
        raise Unsupported("MultiheadAttention with a mask")
    if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
        raise Unsupported("MultiheadAttention with kdim, vdim, add_bias_kv or add_zero_attn")
    if (module.in_proj_bias is None) != (module.out_proj.bias is None):
        raise Unsupported("MultiheadAttention with bias on only some projections")
    return Layer("MultiHeadAttention", dict(
        num_heads=module.num_heads, bias=module.in_proj_bias is not None,
        causal=bool(b["is_causal"]), kernel="matmul" if b["need_weights"] else "sdpa"),
        inputs=(0,))


def map_channel_shuffle(module: nn.ChannelShuffle, site: Site) -> Layer:
    return Layer("ChannelShuffle", dict(groups=module.groups))


def map_linear(module: nn.Linear, site: Site) -> Layer:
    return Layer("Linear", dict(out_features=module.out_features,
                                bias=module.bias is not None))


def map_embedding(module: nn.Embedding, site: Site) -> Layer:
    if module.max_norm is not None:
        raise Unsupported("Embedding with max_norm")
    return Layer("Embedding", dict(num_embeddings=module.num_embeddings,
                                   embedding_dim=module.embedding_dim))


def map_dropout(module: nn.Dropout, site: Site) -> Layer:
    return Layer("Dropout", dict(p=module.p))


def map_softmax(module: nn.Softmax, site: Site) -> Layer:
    return softmax_layer(module.dim, site)


def map_gelu(module: nn.GELU, site: Site) -> Layer:
    return gelu_layer(module.approximate)


def map_stochastic_depth_module(module, site: Site) -> Layer:
    return Layer("StochasticDepth", dict(p=float(module.p), mode=module.mode))


def map_hardtanh(module: nn.Hardtanh, site: Site) -> Layer:
    return hardtanh_layer(module.min_val, module.max_val)


def map_flatten(module: nn.Flatten, site: Site):
    return reshape_layer(site)


def simple(type_name: str) -> Callable:
    return lambda *_: Layer(type_name)


def alias(*_) -> str:
    return ALIAS


MODULE_MAPPERS: dict[type, Callable] = {
    nn.Conv2d: map_conv2d, nn.ConvTranspose2d: map_conv_transpose2d,
    nn.BatchNorm2d: map_batchnorm2d, nn.LayerNorm: map_layernorm,
    nn.MaxPool2d: map_max_pool2d, nn.AvgPool2d: map_avg_pool2d,
    nn.AdaptiveAvgPool2d: map_adaptive_avg_pool2d, nn.Linear: map_linear,
    nn.Embedding: map_embedding, nn.Dropout: map_dropout, nn.Softmax: map_softmax,
    nn.ReLU: simple("ReLU"), nn.ReLU6: simple("ReLU6"), nn.Tanh: simple("Tanh"),
    nn.Sigmoid: simple("Sigmoid"), nn.GELU: map_gelu, nn.Hardtanh: map_hardtanh,
    nn.Flatten: map_flatten, nn.Identity: alias,
    nn.SiLU: simple("SiLU"), nn.Hardswish: simple("Hardswish"),
    nn.Hardsigmoid: simple("Hardsigmoid"), nn.AdaptiveMaxPool2d: map_adaptive_max_pool2d,
    nn.MultiheadAttention: map_multihead_attention, nn.ChannelShuffle: map_channel_shuffle,
}


def map_window_attention(module, site: Site) -> Layer:
    """torchvision's ShiftedWindowAttention (v1) and ShiftedWindowAttentionV2."""
    if (module.qkv.bias is None) != (module.proj.bias is None):
        raise Unsupported("ShiftedWindowAttention with bias on only one projection")
    return Layer("WindowAttention", dict(
        num_heads=module.num_heads, window=tuple(module.window_size),
        shift=tuple(module.shift_size), bias=module.qkv.bias is not None,
        version=SWIN_ATTENTION[qualified_name(type(module))]))


def module_mapper(module: nn.Module) -> Callable | None:
    """The mapper of the module's class or its nearest mapped base (ReLU6 before
    Hardtanh, a Linear subclass as Linear); torchvision's Swin attention by name."""
    if qualified_name(type(module)) in SWIN_ATTENTION:
        return map_window_attention
    for cls in type(module).__mro__:
        if cls in MODULE_MAPPERS:
            return MODULE_MAPPERS[cls]
    return None


# ---------------------------------------------------------------------------------------
# Layer makers shared by modules, functions and methods
# ---------------------------------------------------------------------------------------
def max_pool_layer(kernel, stride, padding, dilation, ceil_mode, return_indices) -> Layer:
    if return_indices:
        raise Unsupported("max_pool2d returning indices")
    return Layer("MaxPool2d", dict(kernel=pair(kernel), stride=pair(stride or kernel),
                                   padding=pair(padding), dilation=pair(dilation),
                                   ceil_mode=bool(ceil_mode)))


def avg_pool_layer(kernel, stride, padding, ceil_mode, count_include_pad,
                   divisor_override) -> Layer:
    if divisor_override is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    return Layer("AvgPool2d", dict(kernel=pair(kernel), stride=pair(stride or kernel),
                                   padding=pair(padding), ceil_mode=bool(ceil_mode),
                                   count_include_pad=bool(count_include_pad)))


def adaptive_layer(site: Site, type_name: str = "AdaptiveAvgPool2d") -> Layer:
    if len(site.x) != 3:
        raise Unsupported(f"{type_name} of a {shape_text(site.x)} input")
    return Layer(type_name, dict(output_size=site.out[1:]))


def softmax_layer(dim, site: Site) -> Layer:
    rank = len(site.x) + 1
    if dim is None:  # PyTorch's legacy implicit dim
        dim = 0 if rank in (0, 1, 3) else 1
    if dim % rank == 0:
        raise Unsupported("softmax over the batch dim")
    return Layer("Softmax", dict(dim=-1 if dim % rank == rank - 1 else dim % rank))


def gelu_layer(approximate: str) -> Layer:
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"GELU with approximate={approximate!r}")
    return Layer("GELU", dict(approximate=approximate))


def hardtanh_layer(low, high) -> Layer:
    if (low, high) != (0.0, 6.0):
        raise Unsupported(f"hardtanh({low:g}, {high:g}) (only ReLU6)")
    return Layer("ReLU6")


def reshape_layer(site: Site):
    """A reshape that keeps each sample: no node if the shape stays, Flatten if each
    sample becomes a vector; any other reshape has no layer type."""
    if site.out == site.x:
        return ALIAS
    if site.out == (numel(site.x),):
        return Layer("Flatten")
    if 1 <= len(site.out) <= 4:
        return Layer("Reshape", dict(shape=site.out))
    name = site.node.target if isinstance(site.node.target, str) else getattr(
        site.node.target, "__name__", "reshape")
    raise Unsupported(f"{name} from {shape_text(site.x)} to {shape_text(site.out)} per "
                      f"sample")


# ---------------------------------------------------------------------------------------
# Mappers for functions and methods (called with the site)
# ---------------------------------------------------------------------------------------
def map_add(site: Site) -> Layer:
    operands = site.args[:2]
    if len(operands) < 2 or not all(isinstance(site.value(a), TensorInfo) for a in operands):
        raise Unsupported("add of a tensor and a constant")
    names = ("other", "alpha") if site.node.op == "call_method" else ("input", "other",
                                                                       "alpha")
    if site.bind(*names, alpha=1)["alpha"] != 1:
        raise Unsupported("add with alpha")
    a, b = (site.value(o).shape for o in operands)
    if a != b:
        raise Unsupported(f"add with broadcasting ({shape_text(a)} + {shape_text(b)})")
    return Layer("Add")


def map_cat(site: Site):
    bound = site.bind("tensors", "dim", dim=0)
    dim = bound.get("axis", bound["dim"])
    rank = len(site.x) + 1
    if dim % rank == 0:
        raise Unsupported("cat along the batch dim")
    if len(site.tensors) == 1:
        return ALIAS
    return Layer("Concat", dict(dim=dim % rank - 1))


def map_mul(site: Site) -> Layer:
    operands = site.args[:2]
    if len(operands) < 2 or not all(isinstance(site.value(a), TensorInfo) for a in operands):
        raise Unsupported("mul by a constant")
    return Layer("Mul")


def map_permute(site: Site) -> Layer:
    if site.node.op == "call_function":
        dims = site.bind("input", "dims")["dims"]
    elif len(site.args) == 1 and isinstance(site.args[0], (tuple, list)):
        dims = site.args[0]
    else:
        dims = site.node.kwargs.get("dims", site.args)
    rank = len(site.x) + 1
    dims = tuple(d % rank for d in dims)
    if dims[:1] != (0,):
        raise Unsupported("permute that moves the batch dim")
    return Layer("Permute", dict(order=dims[1:]))


def map_transpose(site: Site) -> Layer:
    names = ("dim0", "dim1") if site.node.op == "call_method" else ("input", "dim0", "dim1")
    bound = site.bind(*names)
    rank = len(site.x) + 1
    a, b = bound["dim0"] % rank, bound["dim1"] % rank
    if 0 in (a, b):
        raise Unsupported("transpose of the batch dim")
    if a == b:
        return ALIAS
    return Layer("Transpose", dict(dim0=a, dim1=b))


def map_expand(site: Site):
    """``expand`` that only spreads a batch of one over the batch (a class token)."""
    if site.out == site.x:
        return ALIAS
    raise Unsupported(f"expand from {shape_text(site.x)} to {shape_text(site.out)} per sample")


@dataclass(frozen=True)
class Split:
    """A chunk or split along ``dim`` (torch numbering): its items become Slice nodes."""

    dim: int


def map_split(site: Site) -> Split:
    names = ("chunks" if site.node.target in ("chunk", torch.chunk) else "split_size", "dim")
    names = names if site.node.op == "call_method" else ("input",) + names
    dim = site.bind(*names, dim=0)["dim"] % (len(site.x) + 1)
    if dim == 0:
        raise Unsupported("chunk or split of the batch dim")
    return Split(dim)


def map_stochastic_depth(site: Site) -> Layer:
    b = site.bind("input", "p", "mode", "training", training=True)
    return Layer("StochasticDepth", dict(p=float(b["p"]), mode=b["mode"]))


def map_relu(site: Site) -> Layer:
    return Layer("ReLU")


def map_relu6(site: Site) -> Layer:
    return Layer("ReLU6")


def map_hardtanh_function(site: Site) -> Layer:
    bound = site.bind("input", "min_val", "max_val", min_val=-1.0, max_val=1.0)
    return hardtanh_layer(bound["min_val"], bound["max_val"])


def map_gelu_function(site: Site) -> Layer:
    return gelu_layer(site.bind("input", "approximate", approximate="none")["approximate"])


def map_softmax_function(site: Site) -> Layer:
    names = ("dim",) if site.node.op == "call_method" else ("input", "dim")
    return softmax_layer(site.bind(*names, dim=None)["dim"], site)


def map_dropout_function(site: Site) -> Layer:
    return Layer("Dropout", dict(p=site.bind("input", "p", p=0.5)["p"]))


def map_max_pool_function(site: Site) -> Layer:
    b = site.bind("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                  "return_indices", stride=None, padding=0, dilation=1, ceil_mode=False,
                  return_indices=False)
    return max_pool_layer(b["kernel_size"], b["stride"], b["padding"], b["dilation"],
                          b["ceil_mode"], b["return_indices"])


def map_avg_pool_function(site: Site) -> Layer:
    b = site.bind("input", "kernel_size", "stride", "padding", "ceil_mode",
                  "count_include_pad", "divisor_override", stride=None, padding=0,
                  ceil_mode=False, count_include_pad=True, divisor_override=None)
    return avg_pool_layer(b["kernel_size"], b["stride"], b["padding"], b["ceil_mode"],
                          b["count_include_pad"], b["divisor_override"])


def map_adaptive_function(site: Site) -> Layer:
    return adaptive_layer(site)


def map_mean(site: Site):
    """A mean over the spatial dims of an image is global average pooling (then a
    Flatten when the dims are dropped)."""
    names = ("dim", "keepdim") if site.node.op == "call_method" else ("input", "dim",
                                                                        "keepdim")
    bound = site.bind(*names, dim=None, keepdim=False, dtype=None)
    rank = len(site.x) + 1
    dims = bound["dim"]
    dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
    if rank != 4 or sorted(d % rank for d in dims) != [2, 3] or bound["dtype"] is not None:
        raise Unsupported("mean (only over the height and width of an image)")
    pool = Layer("AdaptiveAvgPool2d", dict(output_size=1))
    return pool if bound["keepdim"] else (pool, Layer("Flatten"))


def map_getitem(site: Site) -> Layer:
    """``x[:, i]`` of a sequence is TokenSelect; other indexing has no layer type."""
    source, index = site.args
    whole = slice(None)
    if len(site.x) == 2 and isinstance(index, tuple) and index[:1] == (whole,) and (
            len(index) in (2, 3) and isinstance(index[1], int)
            and all(i == whole for i in index[2:])):
        return Layer("TokenSelect", dict(index=index[1] % site.x[0]))
    raise Unsupported("tensor indexing")


FUNCTION_MAPPERS: dict[Any, Callable] = {
    operator.add: map_add, operator.iadd: map_add, torch.add: map_add,
    torch.cat: map_cat, torch.concat: map_cat, torch.concatenate: map_cat,
    F.relu: map_relu, F.relu_: map_relu, torch.relu: map_relu, torch.relu_: map_relu,
    F.relu6: map_relu6, F.hardtanh: map_hardtanh_function,
    torch.tanh: simple("Tanh"), F.tanh: simple("Tanh"),
    torch.sigmoid: simple("Sigmoid"), F.sigmoid: simple("Sigmoid"),
    F.gelu: map_gelu_function, F.softmax: map_softmax_function,
    torch.softmax: map_softmax_function, F.dropout: map_dropout_function,
    F.max_pool2d: map_max_pool_function, F.avg_pool2d: map_avg_pool_function,
    F.adaptive_avg_pool2d: map_adaptive_function,
    torch.flatten: reshape_layer, torch.reshape: reshape_layer, torch.squeeze: reshape_layer,
    torch.mean: map_mean, operator.getitem: map_getitem,
    operator.mul: map_mul, torch.mul: map_mul, F.silu: simple("SiLU"),
    F.hardswish: simple("Hardswish"), F.hardsigmoid: simple("Hardsigmoid"),
    torch.permute: map_permute, torch.transpose: map_transpose, torch.chunk: map_split,
    torch.split: map_split, F.adaptive_max_pool2d: lambda site: adaptive_layer(
        site, "AdaptiveMaxPool2d"),
}

# Functions of other packages, by qualified name (so that torchvision need not be imported).
NAMED_FUNCTION_MAPPERS: dict[str, Callable] = {
    "torchvision.ops.stochastic_depth.stochastic_depth": map_stochastic_depth,
    "torchvision.models.swin_transformer._patch_merging_pad": simple("PatchMerge"),
}

METHOD_MAPPERS: dict[str, Callable] = {
    "add": map_add, "add_": map_add, "__add__": map_add, "__iadd__": map_add,
    "relu": map_relu, "relu_": map_relu, "tanh": simple("Tanh"), "tanh_": simple("Tanh"),
    "sigmoid": simple("Sigmoid"), "sigmoid_": simple("Sigmoid"),
    "softmax": map_softmax_function,
    "view": reshape_layer, "reshape": reshape_layer, "flatten": reshape_layer,
    "squeeze": reshape_layer, "contiguous": reshape_layer, "mean": map_mean,
    "mul": map_mul, "__mul__": map_mul, "mul_": map_mul, "permute": map_permute,
    "transpose": map_transpose, "expand": map_expand, "chunk": map_split,
    "split": map_split,
}


# ---------------------------------------------------------------------------------------
# Translation: fx graph -> layer nodes
# ---------------------------------------------------------------------------------------
@dataclass
class Planned:
    """A layer node to add: its name, layer and the fx nodes feeding it."""

    name: str
    layer: Layer
    inputs: list[str]
    fx_node: torch.fx.Node
    module: nn.Module | None = None  # the module called, whose parameters it holds
    gives_value: bool = True  # its output is the fx node's value (last of a chain)
    check_node: torch.fx.Node | None = None  # the item whose value it gives, if not its own


@dataclass(frozen=True)
class Problem:
    what: str
    kind: str  # module, call_function, call_method or get_attr
    ref: str


class Translation:
    """Walks the traced graph once, planning a layer node per supported operation and
    collecting every unsupported one."""

    def __init__(self, graph: torch.fx.GraphModule, values: dict):
        self.graph = graph
        self.values = values
        self.names: dict[torch.fx.Node, str] = {}  # fx node -> layer node name
        self.planned: list[Planned] = []
        self.problems: list[Problem] = []
        self.order = {n: i for i, n in enumerate(graph.graph.nodes)}
        self.module_calls: dict[str, int] = {}
        self.splits: dict[torch.fx.Node, tuple[str, int]] = {}  # chunk/split: input, dim

    # -- walking ------------------------------------------------------------------------
    def run(self) -> None:
        for node in self.graph.graph.nodes:
            if node.op == "placeholder":
                self.visit_input(node)
            elif node.op == "get_attr":
                self.visit_attr(node)
            elif node.op.startswith("call_") and has_tensor(self.values.get(node)):
                self.visit_call(node)

    def visit_input(self, node: torch.fx.Node) -> None:
        info = self.values[node]
        dtype = "float" if info.dtype.is_floating_point else "index"
        self.plan(node, Layer("Input", dict(shape=info.sample, dtype=dtype)), [])

    def visit_attr(self, node: torch.fx.Node) -> None:
        """A learned parameter used directly becomes a Parameter node: its per-sample
        shape drops a leading 1 (a class token (1, 1, E) serves every sample); its
        recorded value gets a batch in front so that its consumers see a batched tensor.
        Buffers and constants have no layer type."""
        info = self.values.get(node)
        attr = fetch_attr(self.graph, node.target)
        if not isinstance(attr, nn.Parameter) or not isinstance(info, TensorInfo) or \
                not info.shape:
            self.problems.append(Problem("buffer or constant used directly", "get_attr",
                                         node.name))
            return
        sample = info.shape[1:] if len(info.shape) > 1 and info.shape[0] == 1 else info.shape
        if len(sample) > 4:
            self.problems.append(Problem("parameter of more than 4 dims", "get_attr",
                                         node.name))
            return
        self.values[node] = TensorInfo((TRACE_BATCH,) + tuple(sample), info.dtype)
        self.plan(node, Layer("Parameter", dict(shape=tuple(sample))), [])

    def visit_call(self, node: torch.fx.Node) -> None:
        if self.is_pack(node):
            return
        if self.is_item(node):
            self.visit_item(node)
            return
        site = Site(node, self.values)
        try:
            mapper = self.mapper(node)
            if not all(t in self.names for t in site.tensors):
                return  # upstream is unsupported (and reported): only its kind matters
            self.check_batch(site)
            result = mapper(*self.mapper_args(node, site))
            self.check_inplace(node, site)
        except Unsupported as exc:
            self.problems.append(self.problem(node, str(exc)))
            return
        if result == ALIAS:
            self.names[node] = self.names[site.tensors[0]]
            return
        if isinstance(result, Split):
            self.splits[node] = (self.names[site.tensors[0]], result.dim)
            return
        module = self.graph.get_submodule(node.target) if node.op == "call_module" else None
        first = result[0] if isinstance(result, tuple) else result
        tensors = site.tensors if first.inputs is None else [site.tensors[i]
                                                             for i in first.inputs]
        inputs = [self.names[t] for t in tensors]
        chain = result if isinstance(result, tuple) else (result,)
        tensor_valued = isinstance(self.values.get(node), TensorInfo)
        for i, layer in enumerate(chain):  # a chain's later layers read the one before
            last = i == len(chain) - 1 and tensor_valued
            suffix = "" if i == 0 else "_" + layer.type.lower()
            self.plan(node, layer, inputs, module if len(chain) == 1 else None, suffix, last)
            inputs = [self.names[node]]

    @staticmethod
    def is_pack(node: torch.fx.Node) -> bool:
        """A tuple or named tuple of outputs (GoogLeNet's): no layer; its items are
        outputs already."""
        return node.op == "call_function" and isinstance(node.target, type) and issubclass(
            node.target, (tuple, list))

    def is_item(self, node: torch.fx.Node) -> bool:
        """An item or field of a tuple (``out[0]``, ``torch.sort(x).values``), not
        indexing into a tensor."""
        return node.op == "call_function" and node.target in (operator.getitem, getattr) \
            and isinstance(node.args[0], torch.fx.Node) \
            and not isinstance(self.values.get(node.args[0]), TensorInfo)

    def visit_item(self, node: torch.fx.Node) -> None:
        """An item of a packed tuple is the packed node; an item of a chunk or split is a
        Slice of its input; the first item of a layer's (output, extra) tuple, such as
        nn.MultiheadAttention's, is the layer; an item of another op's tuple needs
        nothing, as that op was reported as unsupported."""
        source, index = node.args
        if self.is_pack(source) and isinstance(index, int) and index < len(source.args):
            item = source.args[index]
            if isinstance(item, torch.fx.Node) and item in self.names:
                self.names[node] = self.names[item]
        elif source in self.splits and isinstance(index, int):
            self.visit_slice(node, source, index)
        elif source in self.names and index == 0 and isinstance(
                self.values.get(node), TensorInfo):
            self.names[node] = self.names[source]
            for p in self.planned:
                if p.fx_node is source:
                    p.check_node = node  # verified against the item's recorded shape

    def visit_slice(self, node: torch.fx.Node, source: torch.fx.Node, index: int) -> None:
        name, dim = self.splits[source]
        pieces = self.values[source]
        start = sum(p.shape[dim] for p in pieces[:index])
        length = pieces[index].shape[dim]
        self.plan(node, Layer("Slice", dict(dim=dim, start=start, length=length)), [name])

    def mapper(self, node: torch.fx.Node) -> Callable:
        if node.op == "call_module":
            found = module_mapper(self.graph.get_submodule(node.target))
        elif node.op == "call_function":
            found = FUNCTION_MAPPERS.get(node.target) or NAMED_FUNCTION_MAPPERS.get(
                qualified_function(node.target))
        else:
            found = METHOD_MAPPERS.get(node.target)
        if found is None:
            raise Unsupported(op_name(node, self.graph))
        return found

    def mapper_args(self, node: torch.fx.Node, site: Site) -> tuple:
        if node.op == "call_module":
            return (self.graph.get_submodule(node.target), site)
        return (site,)

    # -- checks -------------------------------------------------------------------------
    def check_batch(self, site: Site) -> None:
        """Every tensor the op reads or writes must keep the batch as its first dim."""
        infos = [self.values[t] for t in site.tensors]
        out = self.values[site.node]
        infos += [out] if isinstance(out, TensorInfo) else []
        if any(not i.shape or i.shape[0] != TRACE_BATCH for i in infos):
            raise Unsupported(f"{op_name(site.node, self.graph)} on a tensor without the "
                              f"batch as its first dim")

    def check_inplace(self, node: torch.fx.Node, site: Site) -> None:
        """An in-place op whose input is read again later would change what the later
        reader sees; the Network cannot express that."""
        if not self.mutates_input(node, site) or not site.tensors:
            return
        source = site.tensors[0]
        if any(self.order[u] > self.order[node] and has_tensor(self.values.get(u))
               for u in source.users):
            raise Unsupported(f"in-place {op_name(node, self.graph)} on a tensor read "
                              f"again later")

    def mutates_input(self, node: torch.fx.Node, site: Site) -> bool:
        if node.op == "call_module":
            return getattr(self.graph.get_submodule(node.target), "inplace", False) is True
        name = node.target if isinstance(node.target, str) else getattr(
            node.target, "__name__", "")
        if node.target is operator.iadd or (name.endswith("_") and not name.endswith("__")):
            return True
        if node.target in (F.relu, F.relu6, F.hardtanh, F.dropout):
            params = {F.relu: ("input", "inplace"), F.relu6: ("input", "inplace"),
                      F.hardtanh: ("input", "min_val", "max_val", "inplace"),
                      F.dropout: ("input", "p", "training", "inplace")}[node.target]
            return site.bind(*params).get("inplace", False) is True
        return False

    # -- results ------------------------------------------------------------------------
    def plan(self, node: torch.fx.Node, layer: Layer, inputs: list[str],
             module: nn.Module | None = None, suffix: str = "", gives_value=True) -> None:
        base = node.target if node.op == "placeholder" else node.name  # x, not x_1
        name = self.unique_name(base + suffix, layer.type)
        self.names[node] = name
        self.planned.append(Planned(name, layer, inputs, node, module, gives_value))
        if module is not None:
            self.module_calls[node.target] = self.module_calls.get(node.target, 0) + 1

    def unique_name(self, fx_name: str, type_name: str) -> str:
        """The fx name as a node name; a nameless one (a Sequential's ``_0``) gets its
        layer type in front (``conv2d_0``)."""
        stem = re.sub(r"[^A-Za-z0-9_]", "_", fx_name).lstrip("_")
        if not stem or stem[0].isdigit():
            stem = f"{type_name.lower()}_{stem}".rstrip("_")
        stem = stem[:MAX_NAME]
        taken = {p.name for p in self.planned}
        name, i = stem, 1
        while name in taken:
            suffix = f"_{i}"
            name, i = stem[:MAX_NAME - len(suffix)] + suffix, i + 1
        return name

    def problem(self, node: torch.fx.Node, what: str) -> Problem:
        if node.op == "call_module":
            return Problem(what, "module", node.target)
        return Problem(what, node.op, node.name)

    def raise_problems(self, model_name: str) -> None:
        """One ModelImportError listing every unsupported operation; the Problems
        themselves are on its ``unsupported`` attribute (for a GUI list)."""
        if not self.problems:
            return
        error = ModelImportError(problems_line(model_name, self.problems))
        error.unsupported = list(self.problems)
        raise error

    def fill(self, network: Network) -> None:
        """Add the planned layer nodes to ``network`` (an invalid value is a bug)."""
        for p in self.planned:
            try:
                network.add_node(p.layer.type, p.name, p.layer.params, p.inputs)
            except MlsysError as exc:
                raise ModelImportError(f"cannot import node '{p.fx_node.name}' as a "
                                       f"{p.layer.type}: {exc}") from exc

    def shared_modules(self) -> list[str]:
        return [target for target, calls in self.module_calls.items() if calls > 1]


def fetch_attr(graph: torch.fx.GraphModule, target: str):
    value = graph
    for part in target.split("."):
        value = getattr(value, part, None)
    return value


def qualified_function(target) -> str:
    return f"{getattr(target, '__module__', '')}.{getattr(target, '__name__', '')}"


def op_name(node: torch.fx.Node, graph: torch.fx.GraphModule) -> str:
    if node.op == "call_module":
        return type(graph.get_submodule(node.target)).__name__
    if isinstance(node.target, str):
        return node.target
    if node.target is getattr:
        return f"attribute {node.args[1]}"
    return getattr(node.target, "__name__", str(node.target))


def group_problems(problems: list[Problem]) -> list[str]:
    """``sin ×2``, ``LSTM``: each kind of operation once, with how often it occurs, in
    the order first met (the places are on the error's ``unsupported`` list)."""
    counts: dict[str, int] = {}
    for p in problems:
        counts[p.what] = counts.get(p.what, 0) + 1
    return [what if n == 1 else f"{what} ×{n}" for what, n in counts.items()]


def problems_line(model_name: str, problems: list[Problem]) -> str:
    """One line of at most MAX_MESSAGE characters; kinds that do not fit are counted."""
    head = f"cannot import {model_name}: unsupported operations: "
    entries = group_problems(problems)
    shown: list[str] = []
    for i, entry in enumerate(entries):
        rest = len(entries) - i - 1
        tail = f", and {rest} more kind{'s' if rest > 1 else ''}" if rest else ""
        if len(head + ", ".join(shown + [entry]) + tail) > MAX_MESSAGE and shown:
            more = len(entries) - len(shown)
            return head + ", ".join(shown) + f", and {more} more kind{'s' if more > 1 else ''}"
        shown.append(entry)
    return head + ", ".join(shown)


# ---------------------------------------------------------------------------------------
# Checking the result against the traced run
# ---------------------------------------------------------------------------------------
def verify(network: Network, translation: Translation) -> None:
    """Analyse the network; its errors, shapes and parameter counts must match PyTorch."""
    analysis = analyze(network)
    first = analysis.first_error()
    if first is not None:
        raise ModelImportError(f"the imported network is not valid: {first}")
    for p in translation.planned:
        result = analysis[p.name]
        checked = translation.values.get(p.check_node or p.fx_node)
        expected = checked.sample if isinstance(checked, TensorInfo) else None
        if (p.gives_value or p.check_node) and expected is not None and \
                result.output_shape != expected:
            raise ModelImportError(f"node '{p.name}' gives {shape_text(result.output_shape)} "
                                   f"in the network but {shape_text(expected)} in PyTorch "
                                   f"(an importer bug)")
        if p.module is not None:
            counted = result.weight_elements + result.bias_elements
            actual = sum(t.numel() for t in p.module.parameters())
            if counted != actual:
                raise ModelImportError(f"node '{p.name}' has {counted:,} parameters in the "
                                       f"network but {actual:,} in PyTorch (a "
                                       f"{type(p.module).__name__} option the {p.layer.type} "
                                       f"layer does not have)")


def _mode(module: nn.Module) -> str:
    if not module.training:
        return "eval mode"
    aux = getattr(module, "aux_logits", False)
    return "training mode" + (": auxiliary heads are outputs" if aux else "")


def _description(module: nn.Module, source: str, shape: tuple,
                 translation: Translation) -> str:
    text = (f"Imported from {source or type(module).__name__} with torch.fx "
            f"({_mode(module)}); input "
            f"{shape_text(shape)} per sample.")
    shared = translation.shared_modules()
    if shared:
        text += (" Modules called more than once get one node per call, each with its "
                 "own weights: " + ", ".join(shared) + ".")
    return text
