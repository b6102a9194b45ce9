"""Dense layer types: Linear, Embedding, PositionalEmbedding and MultiHeadAttention.

Linear: in·out MACs per token; attention counts its Q/K/V/O projections and its two
matrix products (scores Q·Kᵀ and context A·V) as visible parts.
"""

from __future__ import annotations

from core.common.explain import ONE, ZERO, C, Expr, V, total
from core.graph.layers.base import (Backward, GradCount, LayerType, OpPart, ParamSpec, need_rank,
                                    numel)


# ---------------------------------------------------------------------------------------
# Shared counting for a fully connected map applied to T tokens
# ---------------------------------------------------------------------------------------
def tokens_expr(shape, symbol: str = "T") -> Expr | None:
    """Tokens a per-token layer sees (None for a plain vector)."""
    return V(symbol, numel(shape[:-1])) if len(shape) > 1 else None


def _per_tokens(tokens: Expr | None, x: Expr) -> Expr:
    return x if tokens is None else tokens * x


def linear_forward(part: str, tokens: Expr | None, fin: int, fout: int, bias: bool,
                   bias_adds: bool, sym_in: str = "in", sym_out: str = "out") -> OpPart:
    i, o = V(sym_in, fin), V(sym_out, fout)
    macs = _per_tokens(tokens, i * o)
    adds = _per_tokens(tokens, o * (i - ONE).bracketed())
    bias_part = _per_tokens(tokens, o) if bias else ZERO
    if bias and bias_adds:
        adds = adds + bias_part
    return OpPart(part=part, macs=macs, mul=macs, add=adds, bias_adds=bias_part,
                  weight_shape=(fout, fin), bias_shape=(fout,) if bias else None)


def linear_backward(batch: int, tokens: Expr | None, fin: int, fout: int, bias: bool,
                    need_input_grad: bool, sym_in: str = "in", sym_out: str = "out") -> Backward:
    """Weight gradient: each of in·out weights sums B·T products; input: B·T·in dots."""
    i, o = V(sym_in, fin), V(sym_out, fout)
    rows = V("B", batch) if tokens is None else V("B", batch) * tokens
    weight = GradCount(mul=rows * i * o, add=i * o * (rows - ONE).bracketed())
    bias_grad = GradCount(add=o * (rows - ONE).bracketed()) if bias else GradCount()
    inputs = GradCount(mul=rows * i * o, add=rows * i * (o - ONE).bracketed()) \
        if need_input_grad else GradCount()
    return Backward(weight, bias_grad, inputs)


def linear_torch(batch: int, tokens: Expr | None, fin: int, fout: int, need_input_grad: bool,
                 sym_in: str = "in", sym_out: str = "out") -> tuple[Expr, Expr]:
    """mm/addmm: 2·rows·in·out forward; the same for each gradient computed."""
    b2 = C(2) * V("B", batch)
    mm = b2 * _per_tokens(tokens, V(sym_in, fin) * V(sym_out, fout))
    return mm, (mm + mm if need_input_grad else mm)


# ---------------------------------------------------------------------------------------
# Layer types
# ---------------------------------------------------------------------------------------
class Linear(LayerType):
    name = "Linear"
    category = "Linear"
    doc = "Fully connected layer y = W·x + b over the last dimension."
    params = (ParamSpec("out_features", "int", 10, "Number of outputs.", minimum=1,
                        label="out features"),
              ParamSpec("bias", "bool", True, "Add a learned bias per output."))

    def summary(self, p):
        return f"→{p['out_features']}"

    def output_shape(self, ctx):
        if not ctx.x:
            raise ctx.error("input", "expects a vector or sequence input, got a scalar")
        return ctx.x[:-1] + (ctx.p["out_features"],)

    def param_shapes(self, ctx):
        shapes = {"weight": (ctx.p["out_features"], ctx.x[-1])}
        if ctx.p["bias"]:
            shapes["bias"] = (ctx.p["out_features"],)
        return shapes

    def forward(self, ctx, bias_adds):
        part = linear_forward("", tokens_expr(ctx.x), ctx.x[-1], ctx.p["out_features"],
                              ctx.p["bias"], bias_adds)
        part.output_shape = ctx.out
        return [part]

    def backward(self, ctx, need_input_grad, bias_adds):
        return linear_backward(ctx.batch, tokens_expr(ctx.x), ctx.x[-1], ctx.p["out_features"],
                               ctx.p["bias"], need_input_grad)

    def torch_flops(self, ctx, need_input_grad):
        return linear_torch(ctx.batch, tokens_expr(ctx.x), ctx.x[-1], ctx.p["out_features"],
                            need_input_grad)

    def build(self, ctx):
        from torch import nn
        return nn.Linear(ctx.x[-1], ctx.p["out_features"], ctx.p["bias"])


class Embedding(LayerType):
    name = "Embedding"
    category = "Linear"
    doc = "Looks up a learned vector for each token id: no arithmetic forward."
    params = (ParamSpec("num_embeddings", "int", 1000, "Vocabulary size.", minimum=1,
                        label="vocabulary"),
              ParamSpec("embedding_dim", "int", 64, "Vector length.", minimum=1,
                        label="embedding dim"))

    def summary(self, p):
        return f"{p['num_embeddings']}×{p['embedding_dim']}"

    def output_shape(self, ctx):
        return ctx.x + (ctx.p["embedding_dim"],)

    def param_shapes(self, ctx):
        return {"weight": (ctx.p["num_embeddings"], ctx.p["embedding_dim"])}

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, weight_shape=self.param_shapes(ctx)["weight"],
                       notes="table look-up: data movement only")]

    def backward(self, ctx, need_input_grad, bias_adds):
        rows = V("B", ctx.batch) * V("tokens", numel(ctx.x))
        return Backward(weight_grad=GradCount(add=rows * V("dim", ctx.p["embedding_dim"])),
                        notes="each token's gradient row is accumulated into its table row")

    def build(self, ctx):
        from torch import nn
        return nn.Embedding(ctx.p["num_embeddings"], ctx.p["embedding_dim"])


class PositionalEmbedding(LayerType):
    name = "PositionalEmbedding"
    category = "Linear"
    doc = ("Adds a position vector to each token of a length × features sequence: learned "
           "(BERT) or fixed sinusoids (the original Transformer).")
    params = (ParamSpec("max_positions", "int", 512, "Longest sequence supported.", minimum=1,
                        label="max positions"),
              ParamSpec("kind", "choice", "learned", "Learned table or fixed sinusoids.",
                        choices=("learned", "sinusoidal")))

    def summary(self, p):
        return f"{p['kind']} ≤{p['max_positions']}"

    def output_shape(self, ctx):
        need_rank(ctx, (2,), "a sequence (length × features)")
        if ctx.x[0] > ctx.p["max_positions"]:
            raise ctx.error("max_positions", f"sequence length {ctx.x[0]} is longer than the "
                                             f"{ctx.p['max_positions']} positions")
        return ctx.x

    def param_shapes(self, ctx):
        if ctx.p["kind"] == "learned":
            return {"weight": (ctx.p["max_positions"], ctx.x[-1])}
        return {}

    def forward(self, ctx, bias_adds):
        return [OpPart(output_shape=ctx.out, add=V("L", ctx.x[0]) * V("E", ctx.x[1]))]

    def backward(self, ctx, need_input_grad, bias_adds):
        if ctx.p["kind"] != "learned":
            return Backward()
        return Backward(weight_grad=GradCount(
            add=V("L", ctx.x[0]) * V("E", ctx.x[1]) * (V("B", ctx.batch) - ONE).bracketed()))

    def build(self, ctx):
        from core.graph.layers.torch_modules import PositionalEmbeddingModule
        return PositionalEmbeddingModule(ctx.p["max_positions"], ctx.x[-1], ctx.p["kind"])


class MultiHeadAttention(LayerType):
    name = "MultiHeadAttention"
    category = "Attention"
    doc = ("Scaled dot-product attention with h heads over a length × E sequence: Q, K, V "
           "projections, scores Q·Kᵀ/√d, softmax, context A·V, output projection. A second "
           "input gives the keys and values (cross-attention).")
    min_inputs, max_inputs = 1, 2
    params = (ParamSpec("num_heads", "int", 8, "Number of heads h (E must divide by h).",
                        minimum=1, label="heads"),
              ParamSpec("bias", "bool", True, "Biases on the four projections."),
              ParamSpec("causal", "bool", False, "Mask future positions (decoder "
                                                 "self-attention)."),
              ParamSpec("kernel", "choice", "matmul",
                        "How scores and context are computed: 'matmul' (two explicit matrix "
                        "products, as nn.MultiheadAttention asked for its weights) or 'sdpa' "
                        "(one F.scaled_dot_product_attention call, as ViT's "
                        "need_weights=False). FlopCounterMode on the CPU does not count "
                        "'sdpa', so the torch figures leave it out.",
                        choices=("matmul", "sdpa")))

    def summary(self, p):
        return f"h={p['num_heads']}" + (" causal" if p["causal"] else "") + (
            " sdpa" if p["kernel"] == "sdpa" else "")

    def output_shape(self, ctx):
        need_rank(ctx, (2,), "a sequence (length × embedding)")
        e, h = ctx.x[1], ctx.p["num_heads"]
        if e % h:
            raise ctx.error("num_heads", f"embedding {e} does not divide into {h} heads")
        if len(ctx.ins) == 2:
            mem = ctx.ins[1]
            if len(mem) != 2 or mem[1] != e:
                raise ctx.error("input", f"keys/values must be a sequence of length × {e}, "
                                         f"got {'×'.join(map(str, mem))}")
        return ctx.x

    def _dims(self, ctx):
        (length, e), h = ctx.x, ctx.p["num_heads"]
        source = ctx.ins[1][0] if len(ctx.ins) == 2 else length
        return length, source, e, h, e // h

    def param_shapes(self, ctx):
        e = ctx.x[1]
        shapes = {}
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{proj}.weight"] = (e, e)
            if ctx.p["bias"]:
                shapes[f"{proj}.bias"] = (e,)
        return shapes

    def forward(self, ctx, bias_adds):
        length, source, e, h, d = self._dims(ctx)
        bias = ctx.p["bias"]
        lq, ls = V("L", length), V("S", source)
        heads, dh = V("h", h), V("d", d)
        parts = [
            linear_forward("q_proj", lq, e, e, bias, bias_adds, "E", "E"),
            linear_forward("k_proj", ls, e, e, bias, bias_adds, "E", "E"),
            linear_forward("v_proj", ls, e, e, bias, bias_adds, "E", "E"),
        ]
        scores = heads * lq * ls
        parts.append(OpPart(part="scores", macs=scores * dh, mul=scores * dh + scores,
                            add=scores * (dh - ONE).bracketed(),
                            logic=scores if ctx.p["causal"] else ZERO,
                            output_shape=(h, length, source),
                            notes="Q·Kᵀ per head, then × 1/√d" + (
                                "; the causal mask selects per score" if ctx.p["causal"]
                                else "")))
        parts.append(OpPart(part="softmax", special=scores, mul=scores,
                            add=heads * lq * (ls - ONE).bracketed(),
                            output_shape=(h, length, source)))
        parts.append(OpPart(part="context", macs=heads * lq * dh * ls, mul=heads * lq * dh * ls,
                            add=heads * lq * dh * (ls - ONE).bracketed(),
                            output_shape=(h, length, d), notes="A·V per head"))
        parts.append(linear_forward("out_proj", lq, e, e, bias, bias_adds, "E", "E"))
        for part in parts:
            if part.output_shape is None:
                part.output_shape = (length if part.part in ("q_proj", "out_proj") else source,
                                     e)
        return parts

    def backward(self, ctx, need_input_grad, bias_adds):
        length, source, e, h, d = self._dims(ctx)
        bias, b = ctx.p["bias"], ctx.batch
        need_input_grad = ctx.in_grads[0] if ctx.in_grads else need_input_grad
        lq, ls = V("L", length), V("S", source)
        mem_grad = self._memory_needs_grad(ctx, need_input_grad)
        result = linear_backward(b, lq, e, e, bias, need_input_grad, "E", "E")
        result = result + linear_backward(b, ls, e, e, bias, mem_grad, "E", "E")
        result = result + linear_backward(b, ls, e, e, bias, mem_grad, "E", "E")
        result = result + linear_backward(b, lq, e, e, bias, True, "E", "E")
        bh = V("B", b) * V("h", h)
        dh = V("d", d)
        scores = bh * lq * ls
        # Q·Kᵀ and A·V each need both operand gradients; softmax and the 1/√d scale too.
        matmuls = GradCount(
            mul=C(4) * scores * dh + C(2) * scores + scores,
            add=bh * (lq * dh * (ls - ONE).bracketed() + ls * dh * (lq - ONE).bracketed()
                      + lq * ls * (dh - ONE).bracketed() + ls * dh * (lq - ONE).bracketed()
                      + lq * (C(2) * ls - ONE).bracketed()))
        result.input_grad = result.input_grad + matmuls
        if need_input_grad and len(ctx.ins) == 1:
            # q, k and v projections all read x: their input gradients are summed.
            result.input_grad = result.input_grad + GradCount(
                add=C(2) * V("B", b) * lq * V("E", e))
        result.notes = ("projections as Linear; matrix products need both operand "
                        "gradients; softmax backward 2 mul, 2 add per score")
        return result

    @staticmethod
    def _memory_needs_grad(ctx, query_needs_grad: bool) -> bool:
        if len(ctx.ins) == 1:
            return query_needs_grad
        return ctx.in_grads[1] if ctx.in_grads else True

    def torch_flops(self, ctx, need_input_grad):
        length, source, e, h, d = self._dims(ctx)
        b = ctx.batch
        lq, ls = V("L", length), V("S", source)
        need_input_grad = ctx.in_grads[0] if ctx.in_grads else need_input_grad
        mem_grad = self._memory_needs_grad(ctx, need_input_grad)
        flops = [linear_torch(b, lq, e, e, need_input_grad, "E", "E"),
                 linear_torch(b, ls, e, e, mem_grad, "E", "E"),
                 linear_torch(b, ls, e, e, mem_grad, "E", "E"),
                 linear_torch(b, lq, e, e, True, "E", "E")]
        fwd = total(f for f, _ in flops)
        bwd = total(g for _, g in flops)
        if ctx.p["kernel"] == "matmul":
            s_fwd, s_bwd = self._attention_flops(ctx)
            fwd, bwd = fwd + s_fwd, bwd + s_bwd
        return fwd, bwd

    def _attention_flops(self, ctx) -> tuple[Expr, Expr]:
        """Q·Kᵀ and A·V as FlopCounterMode counts bmm: 2 forward, 4 backward."""
        length, source, e, h, d = self._dims(ctx)
        bmm = C(2) * V("B", ctx.batch) * V("h", h) * V("L", length) * V("S", source) * V(
            "d", d)
        return C(2) * bmm, C(4) * bmm

    def torch_skipped_flops(self, ctx, need_input_grad):
        """With kernel 'sdpa': what FlopCounterMode leaves out on the CPU (it counts the
        same on the meta device, where SDPA runs as matrix products)."""
        if ctx.p["kernel"] != "sdpa":
            return ZERO, ZERO
        return self._attention_flops(ctx)

    def build(self, ctx):
        from core.graph.layers.torch_modules import MultiHeadAttentionModule
        return MultiHeadAttentionModule(ctx.x[1], ctx.p["num_heads"], ctx.p["bias"],
                                        ctx.p["causal"], ctx.p["kernel"])


LAYER_TYPES = (Linear, Embedding, PositionalEmbedding, MultiHeadAttention)
