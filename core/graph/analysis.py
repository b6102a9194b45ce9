"""Whole-network analysis: shapes, parameters, operation ledger, memory, gradient flow.

One pass in topological order asks each node's layer type for its shape and counts.
A node whose parameters or input shapes are wrong gets an error (the rest of the network
is still analysed; nodes downstream of it wait). Forward counts are at batch B (the
per-sample count times B); backward counts are computed for every layer that a loss
(or, without Loss nodes, a network output) depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.graph.catalog import layer_type
from core.common.errors import LayerParamError, MlsysError, NetworkError
from core.common.explain import ZERO, Expr, V, total
from core.graph.layers.base import Backward, Ctx, GradCount, OpPart, numel
from core.graph.network import Network
from core.graph.other_tools import VERSIONS, other_tool_totals

PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
INDEX_BYTES = 8  # token and label ids are int64 tensors
OPTIMIZER_STATES = {"sgd": 0, "sgd-momentum": 1, "adam": 2}
IMPLICIT_LOSS = "output"  # name used for the gradient source when there is no Loss node
COUNT_KEYS = ("macs", "mul", "add", "logic", "special")


@dataclass(frozen=True)
class AnalysisOptions:
    batch: int = 1
    precision: str = "fp32"
    bias_adds: bool = True
    optimizer: str = "adam"

    def __post_init__(self):
        from core.common.errors import InputError
        if not isinstance(self.batch, int) or self.batch < 1:
            raise InputError(f"batch {self.batch!r} is not allowed: use a whole number ≥ 1")
        if self.precision not in PRECISION_BYTES:
            raise InputError(f"precision {self.precision!r} is not allowed: use one of "
                             + ", ".join(PRECISION_BYTES))
        if self.optimizer not in OPTIMIZER_STATES:
            raise InputError(f"optimizer {self.optimizer!r} is not allowed: use one of "
                             + ", ".join(OPTIMIZER_STATES))


@dataclass
class NodeResult:
    """Everything the engine knows about one node."""

    name: str
    type: str
    category: str
    params: dict
    input_shapes: list = field(default_factory=list)
    output_shape: tuple | None = None
    kind: str = "float"  # "float" or "index" (ids)
    param_shapes: dict = field(default_factory=dict)
    parts: list[OpPart] = field(default_factory=list)
    forward: OpPart = field(default_factory=OpPart)  # at batch B
    backward: Backward | None = None
    losses: tuple[str, ...] = ()
    needs_input_grad: bool = False
    output_grad: bool = False  # the output tensor carries a gradient (requires_grad)
    torch_forward: Expr = ZERO
    torch_backward: Expr = ZERO
    torch_skipped_forward: Expr = ZERO  # counted on the meta device, not on the CPU
    torch_skipped_backward: Expr = ZERO
    torch_group_excess: Expr = ZERO  # in torch_backward, beyond a per-group weight gradient
    params_count: Expr = ZERO
    weight_elements: int = 0
    bias_elements: int = 0
    weight_bytes: Expr = ZERO
    bias_bytes: Expr = ZERO
    activation_bytes: Expr = ZERO
    error: MlsysError | None = None
    waiting_on: str | None = None  # upstream node with an error

    @property
    def ok(self) -> bool:
        return self.error is None and self.waiting_on is None and self.output_shape is not None

    @property
    def weight_shape(self):
        return self.param_shapes.get("weight")

    @property
    def bias_shape(self):
        return self.param_shapes.get("bias")

    def status(self) -> str:
        if self.error is not None:
            return str(self.error)
        if self.waiting_on is not None:
            return f"waiting for {self.waiting_on}"
        return ""


@dataclass
class Totals:
    params: int = 0
    macs: int = 0
    mul: int = 0
    add: int = 0
    logic: int = 0
    special: int = 0
    bias_adds: int = 0
    weight_bytes: int = 0
    bias_bytes: int = 0
    activation_bytes: int = 0
    backward_mul: int = 0
    backward_add: int = 0
    backward_logic: int = 0
    flops_torch_forward: int = 0
    flops_torch_backward: int = 0
    flops_torch_skipped_forward: int = 0
    flops_torch_skipped_backward: int = 0
    flops_torch_group_excess: int = 0
    other_tools: dict = field(default_factory=dict)  # core.graph.other_tools, by tool

    @property
    def flops(self) -> int:
        """FLOPs in this product's convention: mul + add + special."""
        return self.mul + self.add + self.special

    @property
    def flops_torch_training(self) -> int:
        return self.flops_torch_forward + self.flops_torch_backward

    @property
    def flops_torch_training_group_correct(self) -> int:
        """Forward + backward with grouped-convolution weight gradients counted per
        group (FlopCounterMode counts them as if ungrouped)."""
        return self.flops_torch_training - self.flops_torch_group_excess

    def tool_conventions(self) -> dict[str, int]:
        """Totals in other conventions: ours with and without bias adds, torch's
        FlopCounterMode, and each other tool whose rules are reproduced exactly (named
        with its version; see core.graph.other_tools)."""
        result = {
            "MACs (no bias adds)": self.macs,
            "MACs + bias adds": self.macs + self.bias_adds,
            "torch FlopCounterMode forward (2·MACs of conv/linear/matmul)":
                self.flops_torch_forward,
            "torch FlopCounterMode forward + backward": self.flops_torch_training,
        }
        if self.flops_torch_group_excess:
            result["forward + backward with grouped-conv weight gradients per group "
                   "(FlopCounterMode ignores groups there)"] = \
                self.flops_torch_training_group_correct
        if self.flops_torch_skipped_forward:
            skipped = "scaled_dot_product_attention FLOPs FlopCounterMode skips on the CPU " \
                      "(not in the torch lines above; the meta device counts them)"
            result[f"{skipped}, forward"] = self.flops_torch_skipped_forward
            result[f"{skipped}, forward + backward"] = (self.flops_torch_skipped_forward
                                                        + self.flops_torch_skipped_backward)
        for tool, value in self.other_tools.items():
            if value is not None:
                result[f"{VERSIONS[tool]} (on the built module, eval mode)"] = value
        return result


@dataclass
class Memory:
    """Bytes at the chosen precision and batch (1 KB = 1024 B)."""

    weights: int
    biases: int
    activations: int
    gradients: int
    optimizer_state: int

    @property
    def parameters(self) -> int:
        return self.weights + self.biases

    @property
    def inference(self) -> int:
        return self.parameters + self.activations

    @property
    def training(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations


@dataclass
class Analysis:
    network: Network
    options: AnalysisOptions
    order: list[str]
    nodes: dict[str, NodeResult]
    losses: list[str]
    totals: Totals
    memory: Memory

    @property
    def errors(self) -> dict[str, str]:
        return {n: str(r.error) for n, r in self.nodes.items() if r.error is not None}

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.nodes.values())

    def first_error(self) -> str | None:
        errors = self.errors
        return next(iter(errors.values()), None)

    def __getitem__(self, name: str) -> NodeResult:
        return self.nodes[name]


# ---------------------------------------------------------------------------------------
def analyze(network: Network, options: AnalysisOptions | None = None) -> Analysis:
    """Shapes, counts and memory of every node; never raises for a bad layer (the node
    gets the error), only for a broken graph (a cycle)."""
    options = options or AnalysisOptions()
    order = network.topological_order()
    results: dict[str, NodeResult] = {}
    for name in order:
        results[name] = _analyze_forward(network, name, results, options)
    losses = _attach_gradients(network, order, results, options)
    totals = _totals(results)
    totals.other_tools = other_tool_totals([results[n] for n in order], options.batch)
    return Analysis(network, options, order, results, losses, totals,
                    _memory(results, options))


def _analyze_forward(network: Network, name: str, done: dict[str, NodeResult],
                     options: AnalysisOptions) -> NodeResult:
    node = network.nodes[name]
    kind = layer_type(node.type)
    result = NodeResult(name, node.type, kind.category, dict(node.params))
    try:
        result.params = kind.normalize(name, node.params)
        ctx = _context(network, node, kind, result, done, options)
        if ctx is None:
            return result
        result.output_shape = ctx.out = tuple(kind.output_shape(ctx))
        result.kind = _output_kind(node, result, done)
        result.param_shapes = kind.param_shapes(ctx)
        result.parts = kind.forward(ctx, options.bias_adds)
        result.torch_forward, _ = kind.torch_flops(ctx, False)
        result.torch_skipped_forward, _ = kind.torch_skipped_flops(ctx, False)
    except (LayerParamError, NetworkError) as exc:
        result.error = exc if isinstance(exc, LayerParamError) else LayerParamError(
            name, "input", str(exc))
        result.output_shape = None
        return result
    _fill_sizes(result, options)
    return result


def _context(network, node, kind, result, done, options) -> Ctx | None:
    """The layer's view of its inputs, or None when an upstream node is not ready."""
    n_in = len(node.inputs)
    if n_in < kind.min_inputs or (kind.max_inputs is not None and n_in > kind.max_inputs):
        if kind.max_inputs == 0:
            raise LayerParamError(node.name, "input", f"an {kind.name} takes no inputs")
        need = (f"{kind.min_inputs}" if kind.max_inputs == kind.min_inputs else
                f"{kind.min_inputs} to {kind.max_inputs}" if kind.max_inputs else
                f"at least {kind.min_inputs}")
        state = "not connected" if n_in == 0 else f"has {n_in} inputs"
        raise LayerParamError(node.name, "input", f"{state} (a {kind.name} takes {need})")
    shapes = []
    for slot, src in enumerate(node.inputs):
        upstream = done.get(src)
        if upstream is None:
            raise LayerParamError(node.name, "input", f"input {src!r} does not exist")
        if not upstream.ok:
            result.waiting_on = upstream.waiting_on or src
            return None
        if upstream.kind == "index" and not _takes_ids(kind.name, slot):
            raise LayerParamError(node.name, "input", f"receives integer ids from {src!r}; "
                                                      f"only an Embedding (or a loss target) "
                                                      f"takes ids")
        shapes.append(upstream.output_shape)
    result.input_shapes = shapes
    refs = {}
    for dep in kind.dependencies(result.params):
        ref = done.get(dep)
        if ref is None:
            raise LayerParamError(node.name, "pool" if node.type == "MaxUnpool2d" else "like",
                                  f"{dep!r} does not exist")
        if not ref.ok:
            result.waiting_on = dep
            return None
        refs[dep] = (ref.type, ref.input_shapes, ref.output_shape)
    return Ctx(node.name, result.params, shapes, options.batch, refs=refs)


def _takes_ids(type_name: str, slot: int) -> bool:
    return type_name == "Embedding" or (type_name == "Loss" and slot == 1)


def _output_kind(node, result, done) -> str:
    if node.type == "Input":
        like = result.params.get("like")
        return done[like].kind if like else result.params["dtype"]
    return "float"


def _fill_sizes(result: NodeResult, options: AnalysisOptions) -> None:
    """Batch-scaled forward totals, parameter counts and bytes of one node."""
    b = options.batch
    scale = (lambda e: e) if b == 1 else (lambda e: V("B", b) * e.bracketed())
    fwd = OpPart(output_shape=result.output_shape)
    for key in COUNT_KEYS + ("bias_adds",):
        summed = total(getattr(p, key) for p in result.parts)
        setattr(fwd, key, scale(summed) if summed.value else ZERO)
    result.forward = fwd
    weights = sum(numel(s) for k, s in result.param_shapes.items() if not k.endswith("bias"))
    biases = sum(numel(s) for k, s in result.param_shapes.items() if k.endswith("bias"))
    result.weight_elements, result.bias_elements = weights, biases
    result.params_count = _param_expr(result.param_shapes)
    nbytes = PRECISION_BYTES[options.precision]
    size = V(f"{options.precision} bytes", nbytes)
    result.weight_bytes = V("weights", weights) * size if weights else ZERO
    result.bias_bytes = V("biases", biases) * size if biases else ZERO
    out_elems = numel(result.output_shape)
    elem_bytes = V("int64 bytes", INDEX_BYTES) if result.kind == "index" else size
    result.activation_bytes = V("B", b) * V("outputs", out_elems) * elem_bytes


def _param_expr(shapes: dict) -> Expr:
    """Parameter count written as the sum of each tensor's dimensions multiplied."""
    terms = []
    for shape in shapes.values():
        term = None
        for d in shape:
            term = V(str(d), d) if term is None else term * V(str(d), d)
        if term is not None:
            terms.append(term)
    return total(terms)


# ---------------------------------------------------------------------------------------
def _attach_gradients(network: Network, order: list[str], results: dict[str, NodeResult],
                      options: AnalysisOptions) -> list[str]:
    """Which losses reach each layer, which tensors carry gradients, backward counts."""
    sources = network.loss_names() or [IMPLICIT_LOSS]
    reaching = _losses_reaching(network, order, sources)
    for name in order:
        result = results[name]
        node = network.nodes[name]
        in_grads = [results[i].output_grad for i in node.inputs if i in results]
        result.output_grad = bool(result.param_shapes) or any(in_grads)
        if not result.ok:
            continue
        result.losses = _names_of_bits(reaching.get(name, 0), sources)
        result.needs_input_grad = any(in_grads)
        kind = layer_type(node.type)
        ctx = Ctx(name, result.params, result.input_shapes, options.batch, result.output_shape,
                  in_grads=in_grads)
        ctx.refs = {d: (results[d].type, results[d].input_shapes, results[d].output_shape)
                    for d in kind.dependencies(result.params)}
        if result.losses:
            result.backward = kind.backward(ctx, result.needs_input_grad, options.bias_adds)
            _, result.torch_backward = kind.torch_flops(ctx, result.needs_input_grad)
            _, result.torch_skipped_backward = kind.torch_skipped_flops(
                ctx, result.needs_input_grad)
            result.torch_group_excess = kind.torch_group_excess(ctx)
    return list(sources)


def _losses_reaching(network: Network, order: list[str], sources: list[str]) -> dict[str, int]:
    """For each node, the losses whose value depends on it, as a bit mask over ``sources``
    (bit i: sources[i]); the implicit loss stands at the outputs. One pass in reverse
    topological order: O(nodes + edges) mask operations."""
    seeds = ({name: 1 << i for i, name in enumerate(sources)} if sources != [IMPLICIT_LOSS]
             else {name: 1 for name in network.output_names()})
    reaching = dict(seeds)
    for name in reversed(order):
        mask = reaching.get(name, 0)
        if mask:
            for source in network.nodes[name].inputs:
                reaching[source] = reaching.get(source, 0) | mask
    return reaching


def _names_of_bits(mask: int, names: list[str]) -> tuple[str, ...]:
    found = []
    while mask:
        low = mask & -mask
        found.append(names[low.bit_length() - 1])
        mask ^= low
    return tuple(found)


def _totals(results: dict[str, NodeResult]) -> Totals:
    t = Totals()
    for r in results.values():
        if not r.ok:
            continue
        t.params += r.weight_elements + r.bias_elements
        for key in COUNT_KEYS + ("bias_adds",):
            setattr(t, key, getattr(t, key) + getattr(r.forward, key).value)
        t.weight_bytes += r.weight_bytes.value
        t.bias_bytes += r.bias_bytes.value
        t.activation_bytes += r.activation_bytes.value
        t.flops_torch_forward += r.torch_forward.value
        t.flops_torch_backward += r.torch_backward.value
        t.flops_torch_skipped_forward += r.torch_skipped_forward.value
        t.flops_torch_skipped_backward += r.torch_skipped_backward.value
        t.flops_torch_group_excess += r.torch_group_excess.value
        if r.backward is not None:
            grads = (r.backward.weight_grad, r.backward.bias_grad, r.backward.input_grad)
            t.backward_mul += sum(g.mul.value for g in grads)
            t.backward_add += sum(g.add.value for g in grads)
            t.backward_logic += sum(g.logic.value for g in grads)
    return t


def _memory(results: dict[str, NodeResult], options: AnalysisOptions) -> Memory:
    weights = sum(r.weight_bytes.value for r in results.values() if r.ok)
    biases = sum(r.bias_bytes.value for r in results.values() if r.ok)
    trained = sum(r.weight_bytes.value + r.bias_bytes.value for r in results.values()
                  if r.ok and r.losses)
    activations = sum(r.activation_bytes.value for r in results.values() if r.ok)
    return Memory(weights, biases, activations, trained,
                  OPTIMIZER_STATES[options.optimizer] * trained)


def grad_total(backward: Backward | None) -> GradCount:
    """Sum of a layer's weight, bias and input gradient counts."""
    if backward is None:
        return GradCount()
    return backward.weight_grad + backward.bias_grad + backward.input_grad

