"""The contract every layer type fulfils: parameters, shape, counts, torch build.

A layer type is one class that knows everything about its kind of layer: which
parameters it takes and what values they allow, the output shape it gives for given input
shapes, its parameter tensors, its forward operations (MAC, mul, add, logic, special), its
backward operations at batch B, what PyTorch's FlopCounterMode reports for it, and how to
build it as a ``torch.nn.Module``. Keeping these together means adding a layer is one class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from core.common.errors import LayerParamError, brief
from core.common.limits import DIMENSION
from core.common.explain import ZERO, Expr, V, shape_text

Shape = tuple[int, ...]


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer type.

    kinds: ``int`` (whole number ≥ minimum), ``pair`` (one int or [h, w], each ≥ minimum),
    ``bool``, ``choice`` (one of ``choices``), ``float`` (in [minimum, maximum]),
    ``shape`` (list of positive ints), ``node`` (name of another node, or empty).
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def normalize(self, node: str, value: Any) -> Any:
        """Check ``value`` and return its canonical form (tuple for pairs/shapes)."""
        handler = _NORMALIZERS[self.kind]
        return handler(self, node, value)

    def allowed(self) -> str:
        """What values are allowed, in words (for errors and tooltips)."""
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "shape":
            return "a list of whole numbers ≥ 1"
        if self.kind == "node":
            return "the name of a node (or empty)"
        low = "" if self.minimum is None else f"≥ {_num(self.minimum)}"
        high = "" if self.maximum is None else f"≤ {_num(self.maximum)}"
        what = {"int": "a whole number", "pair": "a whole number or a pair [h, w]",
                "float": "a number"}[self.kind]
        bounds = " and ".join(b for b in (low, high) if b)
        return f"{what} {bounds}".strip()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _bad(spec: ParamSpec, node: str, value: Any) -> LayerParamError:
    return LayerParamError(node, spec.name, f"{spec.title} {brief(value)} is not allowed: "
                                            f"use {spec.allowed()}")


def _too_large(spec: ParamSpec, node: str, value: int) -> LayerParamError:
    return LayerParamError(node, spec.name, f"{spec.title} {brief(value)} is above the largest "
                                            f"allowed, {DIMENSION.value:,} (set "
                                            f"{DIMENSION.variable} to raise it)")


def _as_int(spec: ParamSpec, node: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(spec, node, value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise _bad(spec, node, value) from None
    if not isinstance(value, int):
        raise _bad(spec, node, value)
    if spec.minimum is not None and value < spec.minimum:
        raise _bad(spec, node, value)
    if spec.maximum is not None and value > spec.maximum:
        raise _bad(spec, node, value)
    if abs(value) > DIMENSION.value:
        raise _too_large(spec, node, value)
    return value


def _norm_int(spec, node, value):
    return _as_int(spec, node, value)


def _norm_pair(spec, node, value):
    if isinstance(value, str) and ("," in value or "x" in value or "×" in value):
        value = [v for v in value.replace("×", ",").replace("x", ",").split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise _bad(spec, node, value)
        return (_as_int(spec, node, value[0]), _as_int(spec, node, value[1]))
    v = _as_int(spec, node, value)
    return (v, v)


def _norm_bool(spec, node, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(spec, node, value)


def _norm_choice(spec, node, value):
    if value in spec.choices:
        return value
    raise _bad(spec, node, value)


def _norm_float(spec, node, value):
    if isinstance(value, bool):
        raise _bad(spec, node, value)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad(spec, node, value) from None
    if not math.isfinite(v) or (spec.minimum is not None and v < spec.minimum) or (
            spec.maximum is not None and v > spec.maximum):
        raise _bad(spec, node, value)
    return v


def _norm_shape(spec, node, value):
    if isinstance(value, str):
        value = [v for v in value.replace("×", ",").replace("x", ",").split(",") if v.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or len(value) > 4:
        raise _bad(spec, node, value)
    dims = []
    for v in value:
        try:
            dims.append(_as_int(ParamSpec(spec.name, "int", 1, "", minimum=1), node, v))
        except LayerParamError:
            raise _bad(spec, node, value) from None
    return tuple(dims)


def _norm_node(spec, node, value):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(spec, node, value)
    return value.strip()


_NORMALIZERS: dict[str, Callable] = {
    "int": _norm_int, "pair": _norm_pair, "bool": _norm_bool, "choice": _norm_choice,
    "float": _norm_float, "shape": _norm_shape, "node": _norm_node,
}


# ---------------------------------------------------------------------------------------
# Counting results
# ---------------------------------------------------------------------------------------
@dataclass
class OpPart:
    """Forward cost of one layer (or one visible part of it), per sample."""

    part: str = ""
    macs: Expr = ZERO
    mul: Expr = ZERO
    add: Expr = ZERO
    logic: Expr = ZERO
    special: Expr = ZERO
    output_shape: Shape | None = None
    weight_shape: Shape | None = None
    bias_shape: Shape | None = None
    bias_adds: Expr = ZERO  # the adds of ``add`` that come from the bias (for tool totals)
    notes: str = ""


@dataclass
class GradCount:
    mul: Expr = ZERO
    add: Expr = ZERO
    logic: Expr = ZERO

    def __add__(self, other: "GradCount") -> "GradCount":
        return GradCount(self.mul + other.mul, self.add + other.add, self.logic + other.logic)


@dataclass
class Backward:
    """Backward cost of a layer at batch B: weight, bias and input gradients."""

    weight_grad: GradCount = field(default_factory=GradCount)
    bias_grad: GradCount = field(default_factory=GradCount)
    input_grad: GradCount = field(default_factory=GradCount)
    notes: str = ""

    def __add__(self, other: "Backward") -> "Backward":
        return Backward(self.weight_grad + other.weight_grad, self.bias_grad + other.bias_grad,
                        self.input_grad + other.input_grad,
                        "; ".join(n for n in (self.notes, other.notes) if n))


@dataclass
class Ctx:
    """What a layer type sees of one node: its name, checked parameters, input shapes."""

    name: str
    p: dict
    ins: list
    batch: int = 1
    out: Shape | None = None
    # Nodes named by dependencies(): name -> (type name, input shapes, output shape).
    refs: dict = field(default_factory=dict)
    # Whether each input carries a gradient (set by the engine for backward counting).
    in_grads: list = field(default_factory=list)

    def error(self, param: str, message: str) -> LayerParamError:
        return LayerParamError(self.name, param, message)

    @property
    def x(self) -> Shape:
        return self.ins[0]


# ---------------------------------------------------------------------------------------
# Layer type base
# ---------------------------------------------------------------------------------------
class LayerType:
    """Base of all layer types; subclasses override what differs from 'no cost'."""

    name: str = ""
    category: str = "Structure"
    doc: str = ""
    params: tuple[ParamSpec, ...] = ()
    min_inputs: int = 1
    max_inputs: int | None = 1

    # -- parameters ---------------------------------------------------------------------
    def defaults(self) -> dict:
        return {s.name: s.default for s in self.params}

    def spec(self, name: str) -> ParamSpec | None:
        for s in self.params:
            if s.name == name:
                return s
        return None

    def normalize(self, node: str, raw: dict) -> dict:
        """Validate every parameter; unknown names and bad values raise LayerParamError."""
        known = {s.name for s in self.params}
        for key in raw:
            if key not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise LayerParamError(node, key, f"{self.name} has no parameter {key!r} "
                                                 f"(its parameters: {allowed})")
        return {s.name: s.normalize(node, raw.get(s.name, s.default)) for s in self.params}

    def dependencies(self, params: dict) -> list[str]:
        """Nodes this one reads besides its inputs (e.g. an unpool's paired pool)."""
        return []

    def summary(self, params: dict) -> str:
        """Key parameters in a few characters, for node labels."""
        return ""

    # -- analysis -----------------------------------------------------------------------
    def check_inputs(self, ctx: Ctx) -> None:
        """Raise when the number or kind of inputs is wrong (before shape inference)."""

    def output_shape(self, ctx: Ctx) -> Shape:
        return ctx.x

    def param_shapes(self, ctx: Ctx) -> dict[str, Shape]:
        return {}

    def forward(self, ctx: Ctx, bias_adds: bool) -> list[OpPart]:
        return [OpPart(output_shape=ctx.out)]

    def backward(self, ctx: Ctx, need_input_grad: bool, bias_adds: bool) -> Backward:
        return Backward()

    def torch_flops(self, ctx: Ctx, need_input_grad: bool) -> tuple[Expr, Expr]:
        """(forward, backward) FLOPs as torch.utils.flop_counter counts them, at batch B."""
        return ZERO, ZERO

    def torch_group_excess(self, ctx: Ctx) -> Expr:
        """FLOPs FlopCounterMode's backward counts beyond a group-correct weight gradient
        (grouped convolutions: it multiplies as if every input channel fed every output)."""
        return ZERO

    def torch_skipped_flops(self, ctx: Ctx, need_input_grad: bool) -> tuple[Expr, Expr]:
        """(forward, backward) FLOPs that FlopCounterMode skips on the CPU but counts on
        the meta device (scaled_dot_product_attention), at batch B; not in torch_flops."""
        return ZERO, ZERO

    def build(self, ctx: Ctx):
        """A ``torch.nn.Module`` computing this layer (torch imported lazily)."""
        raise NotImplementedError(self.name)


# ---------------------------------------------------------------------------------------
# Small helpers shared by layer modules
# ---------------------------------------------------------------------------------------
def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def elements(shape: Shape, symbol: str = "N") -> Expr:
    """Element count of a per-sample shape as an Expr, e.g. ``6 × 28 × 28``."""
    if len(shape) == 0:
        return V("1", 1)
    result = None
    for d in shape:
        term = V(str(d), d)
        result = term if result is None else result * term
    return result.named(symbol) if len(shape) > 3 else result


def need_rank(ctx: Ctx, ranks: tuple[int, ...], what: str) -> None:
    if len(ctx.x) not in ranks:
        raise ctx.error("input", f"expects {what}, got a {shape_text(ctx.x)} input")


def pair_text(p: tuple[int, int]) -> str:
    return f"{p[0]}" if p[0] == p[1] else f"{p[0]}×{p[1]}"
