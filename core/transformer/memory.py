"""Beyond the course: the KV cache of autoregressive decoding, the stored activations of
training per layer in the form of Korthikanti et al. (2022), and tensor-parallel traffic —
each written both as a closed formula and as a sum over the ledger's edges."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from core.common.errors import InputError
from core.common.explain import C, Expr, V
from core.transformer.config import TransformerConfig
from core.transformer.ledger import Ledger, build_ledger

MAX_RING_SIMULATION = 1_000_000   # elements × devices the step-by-step ring may move


def _batch(cfg: TransformerConfig) -> Expr:
    return V("b", cfg.batch) if cfg.batch > 1 else C(1)


# -- KV cache -----------------------------------------------------------------------------
@dataclass(frozen=True)
class KVCache:
    per_token: Expr          # bits added per generated target token (all decoder layers)
    self_total: Expr         # after t tokens: the self-attention K and V of every layer
    cross_total: Expr        # the cross-attention K and V of the encoder output, computed once

    @property
    def total_bits(self) -> int:
        return self.self_total.value + self.cross_total.value


def kv_cache(cfg: TransformerConfig) -> KVCache:
    """Bits cached while decoding t = tgt_len tokens: every decoder layer keeps the K and V
    rows of each token it has seen (self-attention) and of the whole source (cross)."""
    n, two, d, bits = V("N_dec", cfg.decoder_layers), C(2), V("d_model", cfg.d_model), C(cfg.bits)
    per_token = n * two * _batch(cfg) * d * bits
    self_total = n * two * _batch(cfg) * V("t", cfg.tgt_len) * d * bits
    cross_total = n * two * _batch(cfg) * V("s", cfg.src_len) * d * bits
    return KVCache(per_token, self_total, cross_total)


def kv_cache_from_ledger(ledger: Ledger) -> tuple[int, int]:
    """(self, cross) cache bits as the ledger's K and V projection outputs of the decoder."""
    def cached(part: str) -> int:
        return sum(e.bits.value for e in ledger.edges if e.src.startswith("dec")
                   and f".{part}." in e.src and e.src.endswith(("k_proj", "v_proj")))
    return cached("self"), cached("cross")


# -- Korthikanti et al. 2022 ------------------------------------------------------------------
@dataclass(frozen=True)
class ActivationTerm:
    name: str
    formula: Expr            # bytes, in the paper's symbols (s, b, h, a; f for the FFN width)
    ledger_bytes: int        # the same tensor read off the ledger's edges
    edge: str                # which edge(s) of the ledger it is


def activation_terms(cfg: TransformerConfig) -> list[ActivationTerm]:
    """Stored activations of one self-attention + MLP layer (the encoder's first layer) for
    16-bit training with dropout, term by term as in Korthikanti et al. (2022), §4.1:
    2 bytes per stored element, 1 byte per dropout-mask element. With f = 4h the sum is
    s·b·h·(34 + 5·a·s/h)."""
    ledger = build_ledger(cfg)
    s, b, h = V("s", cfg.src_len), V("b", cfg.batch), V("h", cfg.d_model)
    a, f = V("a", cfg.heads), V("f", cfg.ffn)
    p = "enc0.attn"
    end_attn = "enc0.attn.add" if cfg.norm == "pre" else "enc0.attn.add_norm"
    end_ffn = "enc0.ffn.add" if cfg.norm == "pre" else "enc0.ffn.add_norm"

    def el(src: str, dst: str) -> int:
        return ledger.edge(src, dst).elements.value

    def term(name, formula, elements, bytes_each, edge):
        return ActivationTerm(name, formula, elements * bytes_each, edge)

    q_in = _input_of(ledger, f"{p}.q_proj")
    ffn_in = _input_of(ledger, "enc0.ffn.up")
    terms = [
        term("QKV input (stored once)", C(2) * s * b * h, el(q_in, f"{p}.q_proj"), 2,
             f"{q_in} → {p}.q_proj"),
        term("Q and K (for QKᵀ)", C(4) * s * b * h,
             el(f"{p}.q_proj", f"{p}.scores") + el(f"{p}.k_proj", f"{p}.scores"), 2,
             f"{p}.q_proj/k_proj → {p}.scores"),
        term("softmax output", C(2) * a * s * s * b, el(f"{p}.softmax", f"{p}.weighted_sum"),
             2, f"{p}.softmax → {p}.weighted_sum"),
        term("softmax dropout mask", a * s * s * b, el(f"{p}.softmax", f"{p}.weighted_sum"), 1,
             "1 byte per element of the softmax edge"),
        term("dropout output (for A·V)", C(2) * a * s * s * b,
             el(f"{p}.softmax", f"{p}.weighted_sum"), 2, "same size as the softmax edge"),
        term("V (for A·V)", C(2) * s * b * h, el(f"{p}.v_proj", f"{p}.weighted_sum"), 2,
             f"{p}.v_proj → {p}.weighted_sum"),
        term("output projection input", C(2) * s * b * h,
             el(f"{p}.weighted_sum", f"{p}.out_proj"), 2, f"{p}.weighted_sum → {p}.out_proj"),
        term("attention dropout mask", s * b * h, el(f"{p}.out_proj", end_attn), 1,
             f"1 byte per element of {p}.out_proj → {end_attn}"),
        term("MLP input", C(2) * s * b * h, el(ffn_in, "enc0.ffn.up"), 2,
             f"{ffn_in} → enc0.ffn.up"),
        term("activation input (up output)", C(2) * s * b * f, el("enc0.ffn.up", "enc0.ffn.act"),
             2, "enc0.ffn.up → enc0.ffn.act"),
        term("down input (activation output)", C(2) * s * b * f,
             el("enc0.ffn.act", "enc0.ffn.down"), 2, "enc0.ffn.act → enc0.ffn.down"),
        term("MLP dropout mask", s * b * h, el("enc0.ffn.down", end_ffn), 1,
             f"1 byte per element of enc0.ffn.down → {end_ffn}"),
        term("LayerNorm 1 input", C(2) * s * b * h, el(f"{p}.out_proj", end_attn), 2,
             f"size of {p}.out_proj → {end_attn}"),
        term("LayerNorm 2 input", C(2) * s * b * h, el("enc0.ffn.down", end_ffn), 2,
             f"size of enc0.ffn.down → {end_ffn}"),
    ]
    return terms


def _input_of(ledger: Ledger, block: str) -> str:
    return next(e.src for e in ledger.edges if e.dst == block)


def korthikanti_closed_form(cfg: TransformerConfig) -> Fraction:
    """s·b·h·(34 + 5·a·s/h) bytes, exactly (the paper's form; it assumes f = 4h)."""
    s, b, h, a = cfg.src_len, cfg.batch, cfg.d_model, cfg.heads
    return s * b * h * (34 + Fraction(5 * a * s, h))


# -- tensor parallelism ---------------------------------------------------------------------
@dataclass(frozen=True)
class TensorParallel:
    devices: int
    allreduced_elements: int       # Σ over layers and sub-layers of b·s·h, forward
    allreduces_forward: int
    per_device_bits: Fraction      # forward + backward, per device
    formula: str

    @property
    def fraction(self) -> Fraction:
        return Fraction(2 * (self.devices - 1), self.devices)


def tensor_parallel(cfg: TransformerConfig, devices: int) -> TensorParallel:
    """Megatron-style tensor parallelism over t devices: each attention and each MLP ends in
    one all-reduce of its output (b·len·d_model elements) forward and one backward; a ring
    all-reduce makes each device send 2(t−1)/t of the tensor."""
    if devices < 1:
        raise InputError(f"devices must be at least 1, got {devices}")
    ledger = build_ledger(cfg)
    ends = [e for e in ledger.edges
            if e.src.endswith((".out_proj", ".down")) and e.dst.endswith((".add", ".add_norm"))]
    elements = sum(e.elements.value for e in ends)
    t = devices
    bits = Fraction(2 * (t - 1), t) * elements * cfg.bits * 2
    formula = (f"2 (fwd+bwd) × 2(t−1)/t × Σ b·len·d_model × bits = 2 × 2·{t - 1}/{t} × "
               f"{elements:,} × {cfg.bits} = {float(bits):,.0f}")
    return TensorParallel(t, elements, len(ends), bits, formula)


def ring_allreduce(values: list[list[float]]) -> tuple[list[list[float]], list[int]]:
    """Step-by-step ring all-reduce (reduce-scatter then all-gather) of one vector per device:
    (every device's result, elements each device sent)."""
    t, n = len(values), len(values[0])
    if n * t > MAX_RING_SIMULATION:
        raise InputError(f"ring simulation of {n:,} elements on {t} devices is over the limit "
                         f"of {MAX_RING_SIMULATION:,} (core.transformer.memory."
                         f"MAX_RING_SIMULATION)")
    bounds = [n * i // t for i in range(t + 1)]
    chunk = [slice(bounds[i], bounds[i + 1]) for i in range(t)]
    data = [list(v) for v in values]
    sent = [0] * t
    for step in range(t - 1):                 # reduce-scatter
        moves = [(i, (i - step) % t) for i in range(t)]
        payload = [data[i][chunk[c]] for i, c in moves]
        for (i, c), part in zip(moves, payload):
            dst = (i + 1) % t
            sent[i] += len(part)
            seg = chunk[c]
            data[dst][seg] = [x + y for x, y in zip(data[dst][seg], part)]
    for step in range(t - 1):                 # all-gather
        moves = [(i, (i + 1 - step) % t) for i in range(t)]
        payload = [data[i][chunk[c]] for i, c in moves]
        for (i, c), part in zip(moves, payload):
            sent[i] += len(part)
            data[(i + 1) % t][chunk[c]] = part
    return data, sent


# -- one table of the figures beyond the course ------------------------------------------------
def beyond_table(cfg: TransformerConfig, devices: int = 4):
    """KV cache, stored activations (Korthikanti et al. 2022) and tensor-parallel traffic as
    one Table (quantity, formula, value, unit)."""
    from core.common.tables import Table
    table = Table(["quantity", "value", "unit", "formula"], numeric={1},
                  title="Beyond the course: KV cache, stored activations, tensor parallelism")
    cache = kv_cache(cfg)
    for name, expr in (("KV cache per generated token", cache.per_token),
                       (f"KV cache, self-attention, after t = {cfg.tgt_len} tokens",
                        cache.self_total),
                       ("KV cache, cross-attention (encoder output, once)", cache.cross_total)):
        table.rows.append([name, expr.value, "bits", expr.explain()])
    terms = activation_terms(cfg)
    for term in terms:
        table.rows.append([f"stored: {term.name}", term.formula.value, "bytes",
                           term.formula.explain()])
    summed = sum(t.formula.value for t in terms)
    table.rows.append(["stored per encoder layer, sum of the terms", summed, "bytes",
                       f"with f = {cfg.ffn}"])
    closed = korthikanti_closed_form(cfg)
    table.rows.append(["stored per encoder layer, s·b·h·(34 + 5·a·s/h)",
                       int(closed) if closed.denominator == 1 else float(closed), "bytes",
                       "Korthikanti et al. 2022 (f = 4h)"])
    tp = tensor_parallel(cfg, devices)
    value = tp.per_device_bits
    table.rows.append([f"tensor-parallel traffic per device, t = {devices} "
                       f"({tp.allreduces_forward} all-reduces forward, as many backward)",
                       int(value) if value.denominator == 1 else float(value), "bits",
                       tp.formula])
    return table
