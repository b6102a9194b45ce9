"""The communication ledger: every edge between two consecutive computing blocks of the
encoder-decoder, with its per-sample shape, elements (× batch), bits and formula.

Written from the configuration alone (closed form; nothing is run). Conventions
(DESIGN.md, "Transformer ledger"): an edge is the tensor one block hands to the next; a
tensor read by several blocks (a residual path, the encoder output read by every
cross-attention) is one edge per consumer; token ids entering the embeddings and the
probabilities leaving the final softmax cross no boundary between two blocks and are not
edges. Symbols: s source length, t target length, h heads, b batch (written only when b > 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.common.explain import C, Expr, V, shape_text, total
from core.common.tables import Table
from core.common.limits import COUNT_WORK
from core.transformer.config import TransformerConfig, edge_count, swept

# What an edge's size grows with (its kind), from the dimensions it carries.
KIND_D_MODEL, KIND_SCORES, KIND_FFN, KIND_VOCAB = "d_model", "s²", "ffn", "vocab"
KINDS = (KIND_D_MODEL, KIND_SCORES, KIND_FFN, KIND_VOCAB)
KIND_TEXT = {KIND_D_MODEL: "grows with d_model (sequence × d_model)",
             KIND_SCORES: "grows with s² (h × s_q × s_k, independent of d_model)",
             KIND_FFN: "grows with the FFN width (sequence × ffn)",
             KIND_VOCAB: "grows with the vocabulary (t × vocab)"}


@dataclass(frozen=True)
class Block:
    """A computing block: its name (e.g. ``enc0.attn.q_proj``), layer (``embed``, ``enc0``,
    ``dec0``, ``output``…) and role (``q_proj``, ``scores``, ``add_norm``…)."""

    name: str
    layer: str
    role: str


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    shape: tuple[int, ...]          # per sample
    dims: tuple[str, ...]           # the symbols of the shape, e.g. ("h", "t", "s")
    kind: str
    layer: str                      # the layer of the consuming block
    elements: Expr                  # × batch
    bits: Expr

    @property
    def formula(self) -> str:
        return self.bits.explain()

    def as_dict(self) -> dict:
        return {"from": self.src, "to": self.dst, "shape": list(self.shape),
                "elements": self.elements.value, "bits": self.bits.value,
                "formula": self.formula, "kind": self.kind, "layer": self.layer}


@dataclass
class Ledger:
    config: TransformerConfig
    blocks: list[Block] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def total_bits(self) -> int:
        return sum(e.bits.value for e in self.edges)

    def total_expr(self) -> Expr:
        return total(e.bits for e in self.edges)

    def block(self, name: str) -> Block:
        return next(b for b in self.blocks if b.name == name)

    def edge(self, src: str, dst: str) -> Edge:
        for e in self.edges:
            if (e.src, e.dst) == (src, dst):
                return e
        raise KeyError(f"no edge {src} → {dst}")

    def bits_by(self, key) -> dict[str, int]:
        """Bits summed by ``key(edge)`` in first-seen order."""
        out: dict[str, int] = {}
        for e in self.edges:
            out[key(e)] = out.get(key(e), 0) + e.bits.value
        return out

    def bits_sent_by_block(self) -> dict[str, int]:
        """Per block: the bits of the edges it sends (its output times its consumers)."""
        return self.bits_by(lambda e: e.src)

    def bits_by_layer(self) -> dict[str, int]:
        """Per layer: the bits of the edges consumed inside it."""
        return self.bits_by(lambda e: e.layer)

    def bits_by_kind(self) -> dict[str, int]:
        out = {k: 0 for k in KINDS}
        out.update(self.bits_by(lambda e: e.kind))
        return out

    def bits_by_role(self) -> dict[str, int]:
        """Per sending block's role (q_proj, scores, softmax, up…), summed over layers."""
        roles = {b.name: b.role for b in self.blocks}
        return self.bits_by(lambda e: roles[e.src])

    def as_dict(self) -> dict:
        return {"config": self.config.as_dict(), "edges": [e.as_dict() for e in self.edges],
                "total_bits": self.total_bits}

    def table(self) -> Table:
        b = self.config.batch
        t = Table(["from", "to", "shape (per sample)", "kind", f"elements (×{b})", "bits",
                   "formula"], numeric={4, 5},
                  title=f"Bits between consecutive blocks ({self.config.precision}, "
                        f"batch {b})")
        for e in self.edges:
            t.rows.append([e.src, e.dst, shape_text(e.shape), e.kind, e.elements.value,
                           e.bits.value, e.formula])
        t.rows.append(["total", "", "", "", sum(e.elements.value for e in self.edges),
                       self.total_bits, f"{len(self.edges)} edges"])
        return t


    def totals_table(self) -> Table:
        """Totals by edge kind, per layer (edges consumed there), per block (edges it sends)
        and for the whole model, with each one's share."""
        total = self.total_bits or 1
        t = Table(["total", "of", "bits", "share"], numeric={2}, percent={3},
                  title=f"Totals ({len(self.edges)} edges, {self.config.precision})")
        for group, values in (("kind", self.bits_by_kind()), ("layer", self.bits_by_layer()),
                              ("block sends", self.bits_sent_by_block())):
            for name, bits in values.items():
                t.rows.append([group, name, bits, bits / total])
        t.rows.append(["model", "all edges", self.total_bits, 1.0])
        return t


# ---------------------------------------------------------------------------------------
class _Builder:
    """Adds blocks and edges in forward order."""

    def __init__(self, cfg: TransformerConfig):
        self.cfg = cfg
        self.ledger = Ledger(cfg)
        self.layers: dict[str, str] = {}      # block → layer
        self.sizes = {"s": cfg.src_len, "t": cfg.tgt_len, "d_model": cfg.d_model,
                      "h": cfg.heads, "ffn": cfg.ffn, "vocab": cfg.vocab}

    def block(self, name: str, layer: str) -> str:
        self.ledger.blocks.append(Block(name, layer, name.rsplit(".", 1)[-1]))
        self.layers[name] = layer
        return name

    def edge(self, src: str, dst: str, *dims: str) -> None:
        per_sample = [V(d, self.sizes[d]) for d in dims]
        elements = V("b", self.cfg.batch) if self.cfg.batch > 1 else C(1)
        for factor in per_sample:
            elements = elements * factor
        kind = (KIND_SCORES if "h" in dims else KIND_FFN if "ffn" in dims
                else KIND_VOCAB if "vocab" in dims else KIND_D_MODEL)
        layer = self.layers[dst]
        self.ledger.edges.append(Edge(src, dst, tuple(self.sizes[d] for d in dims), dims,
                                      kind, layer, elements, elements * C(self.cfg.bits)))

    # -- pieces -------------------------------------------------------------------------
    def embedding(self, side: str, length: str) -> str:
        embed = self.block(f"{side}.embed", "embed")
        pos = self.block(f"{side}.pos", "embed")
        self.edge(embed, pos, length, "d_model")
        return pos

    def attention(self, prefix: str, layer: str, x: str, q_len: str, memory: str | None,
                  k_len: str, causal: bool) -> str:
        """One attention sub-layer with its residual; returns the block that ends it."""
        pre = self.cfg.norm == "pre"
        q_in = x
        if pre:
            q_in = self.block(f"{prefix}.norm", layer)
            self.edge(x, q_in, q_len, "d_model")
        kv_in = memory if memory is not None else q_in
        q, k, v = (self.block(f"{prefix}.{n}_proj", layer) for n in "qkv")
        self.edge(q_in, q, q_len, "d_model")
        self.edge(kv_in, k, k_len, "d_model")
        self.edge(kv_in, v, k_len, "d_model")
        scores = self.block(f"{prefix}.scores", layer)
        self.edge(q, scores, q_len, "d_model")
        self.edge(k, scores, k_len, "d_model")
        last = scores
        if causal:
            mask = self.block(f"{prefix}.mask", layer)
            self.edge(scores, mask, "h", q_len, k_len)
            last = mask
        softmax = self.block(f"{prefix}.softmax", layer)
        self.edge(last, softmax, "h", q_len, k_len)
        wsum = self.block(f"{prefix}.weighted_sum", layer)
        self.edge(softmax, wsum, "h", q_len, k_len)
        self.edge(v, wsum, k_len, "d_model")
        out = self.block(f"{prefix}.out_proj", layer)
        self.edge(wsum, out, q_len, "d_model")
        return self.residual(prefix, layer, out, x, q_len)

    def residual(self, prefix: str, layer: str, out: str, x: str, length: str) -> str:
        end = self.block(f"{prefix}.{'add' if self.cfg.norm == 'pre' else 'add_norm'}", layer)
        self.edge(out, end, length, "d_model")
        self.edge(x, end, length, "d_model")
        return end

    def ffn(self, prefix: str, layer: str, x: str, length: str) -> str:
        first = x
        if self.cfg.norm == "pre":
            first = self.block(f"{prefix}.norm", layer)
            self.edge(x, first, length, "d_model")
        up = self.block(f"{prefix}.up", layer)
        self.edge(first, up, length, "d_model")
        act = self.block(f"{prefix}.act", layer)
        self.edge(up, act, length, "ffn")
        down = self.block(f"{prefix}.down", layer)
        self.edge(act, down, length, "ffn")
        return self.residual(prefix, layer, down, x, length)

    def final_norm(self, name: str, x: str, length: str) -> str:
        if self.cfg.norm != "pre":
            return x
        norm = self.block(name, name.split(".")[0])
        self.edge(x, norm, length, "d_model")
        return norm


def build_ledger(cfg: TransformerConfig) -> Ledger:
    """The ledger of ``cfg``: blocks in forward order and every edge between them."""
    COUNT_WORK.check(edge_count(cfg), "the transformer ledger")
    b = _Builder(cfg)
    x = b.embedding("src", "s")
    for i in range(cfg.encoder_layers):
        layer = f"enc{i}"
        x = b.attention(f"{layer}.attn", layer, x, "s", None, "s", causal=False)
        x = b.ffn(f"{layer}.ffn", layer, x, "s")
    memory = b.final_norm("enc_norm.norm", x, "s")
    y = b.embedding("tgt", "t")
    for i in range(cfg.decoder_layers):
        layer = f"dec{i}"
        y = b.attention(f"{layer}.self", layer, y, "t", None, "t", causal=True)
        y = b.attention(f"{layer}.cross", layer, y, "t", memory, "s", causal=False)
        y = b.ffn(f"{layer}.ffn", layer, y, "t")
    y = b.final_norm("dec_norm.norm", y, "t")
    gen = b.block("output.generator", "output")
    b.edge(y, gen, "t", "d_model")
    soft = b.block("output.softmax", "output")
    b.edge(gen, soft, "t", "vocab")
    return b.ledger


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Crossover:
    """Where the s² edges overtake the d_model edges, with src_len = tgt_len = s.

    Per edge: one scores edge (h·s²) passes one s × d_model edge when s > d_model/h = d_k.
    In total: N_s² · h · s² > N_d · s · d_model, i.e. s > N_d · d_model / (N_s² · h).
    """

    per_edge: int          # smallest s with h·s² > s·d_model
    total: int             # smallest s with all s² bits > all d_model bits
    n_scores_edges: int
    n_d_model_edges: int

    def explain(self) -> str:
        return (f"one scores edge (h·s²) outgrows one s×d_model edge from s = {self.per_edge} "
                f"(s > d_model/h); all {self.n_scores_edges} s² edges outgrow all "
                f"{self.n_d_model_edges} d_model edges from s = {self.total} "
                f"(s > N_d·d_model/(N_s²·h), source and target of length s)")


def crossover(cfg: TransformerConfig) -> Crossover:
    """Crossover lengths from the edge counts of the ledger (which do not depend on s)."""
    edges = build_ledger(cfg).edges
    n_s2 = sum(e.kind == KIND_SCORES for e in edges)
    n_d = sum(e.kind == KIND_D_MODEL for e in edges)
    return Crossover(per_edge=cfg.d_model // cfg.heads + 1,
                     total=n_d * cfg.d_model // (n_s2 * cfg.heads) + 1,
                     n_scores_edges=n_s2, n_d_model_edges=n_d)


def sweep(cfg: TransformerConfig, name: str, values) -> list[tuple[int, Ledger]]:
    """The ledger at each value of one field (``seq_len`` sets both lengths)."""
    configs = [swept(cfg, name, v) for v in values]
    COUNT_WORK.check(sum(edge_count(c) for c in configs), "the transformer sweep")
    return [(v, build_ledger(swept(cfg, name, v))) for v in values]
