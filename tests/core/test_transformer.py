"""Transformer lab engine: the ledger against forward hooks on the built module, hand values
of the course's configuration, the crossover, KV cache, Korthikanti et al. (2022) activation
memory, tensor-parallel traffic against a step-by-step ring, and the Network design."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from core.common.errors import InputError
from core.transformer.config import TransformerConfig, parse_sweep
from core.transformer.ledger import KIND_D_MODEL, KIND_SCORES, build_ledger, crossover, sweep
from core.transformer.memory import (activation_terms, korthikanti_closed_form, kv_cache,
                                     kv_cache_from_ledger, ring_allreduce, tensor_parallel)

SMALL = dict(d_model=32, heads=4, ffn=48, vocab=29, src_len=9, tgt_len=6)


def as_multiset(edges, bits=True):
    return Counter((e.src, e.dst, tuple(e.shape),
                    (e.bits if isinstance(e.bits, int) else e.bits.value) if bits else
                    (e.elements if isinstance(e.elements, int) else e.elements.value))
                   for e in edges)


# -- the oracle: forward hooks ---------------------------------------------------------------
@pytest.mark.parametrize("cfg", [
    TransformerConfig(),                                                  # the course's
    TransformerConfig(precision="fp32", batch=3, **SMALL),
    TransformerConfig(precision="fp16", norm="pre", encoder_layers=2, decoder_layers=2, **SMALL),
    TransformerConfig(precision="fp32", norm="pre", batch=2, d_model=24, heads=3, ffn=40,
                      vocab=11, src_len=5, tgt_len=13),
    TransformerConfig(precision="bf16", encoder_layers=1, decoder_layers=3, batch=2, **SMALL),
], ids=["course-fp16", "fp32-batch3", "fp16-prenorm-2+2", "fp32-prenorm-t>s", "bf16-1+3"])
def test_ledger_equals_the_bits_the_hooks_measure(cfg):
    from core.transformer.hooks import measure_edges
    measured, note = measure_edges(cfg)
    ledger = build_ledger(cfg)
    assert note == ""
    assert {e.dtype for e in measured} == {{"fp32": "float32", "fp16": "float16",
                                            "bf16": "bfloat16"}[cfg.precision]}
    assert as_multiset(measured) == as_multiset(ledger.edges)
    assert sum(e.bits for e in measured) == ledger.total_bits


def test_int8_runs_in_fp32_and_the_hooks_check_elements():
    from core.transformer.hooks import measure_edges
    cfg = TransformerConfig(precision="int8", batch=2, **SMALL)
    measured, note = measure_edges(cfg)
    assert "fp32" in note and "int8" in note
    assert {e.dtype for e in measured} == {"float32"}
    ledger = build_ledger(cfg)
    assert as_multiset(measured, bits=False) == as_multiset(ledger.edges, bits=False)
    assert ledger.total_bits * 4 == sum(e.bits for e in measured)   # 8 vs 32 bits


def test_the_module_computes_probabilities_and_the_mask_is_causal():
    import torch
    from core.transformer.model import build_model, sample_inputs
    cfg = TransformerConfig(precision="fp32", **SMALL)
    model = build_model(cfg)
    src, tgt = sample_inputs(cfg)
    probs = model(src, tgt)
    assert probs.shape == (1, cfg.tgt_len, cfg.vocab)
    assert torch.allclose(probs.sum(-1), torch.ones(1, cfg.tgt_len))
    changed = tgt.clone()
    changed[0, -1] = (changed[0, -1] + 1) % cfg.vocab
    # A later target token must not change earlier positions' outputs.
    assert torch.allclose(model(src, changed)[0, :-1], probs[0, :-1], atol=1e-6)
    assert not torch.allclose(model(src, changed)[0, -1], probs[0, -1])


# -- hand values ----------------------------------------------------------------------------
def test_course_configuration_by_hand():
    ledger = build_ledger(TransformerConfig())
    edge = ledger.edge("enc0.attn.q_proj", "enc0.attn.scores")
    assert edge.formula == "s × d_model × 16 = 128 × 256 × 16 = 524,288"
    assert edge.bits.value == 128 * 256 * 16
    scores = ledger.edge("enc0.attn.scores", "enc0.attn.softmax")
    assert scores.formula == "h × s × s × 16 = 8 × 128 × 128 × 16 = 2,097,152"
    assert ledger.edge("dec0.cross.scores", "dec0.cross.softmax").formula.startswith(
        "h × t × s × 16")
    assert ledger.edge("enc0.ffn.up", "enc0.ffn.act").bits.value == 128 * 1024 * 16
    # Counting by hand: 36 s×d edges (embedding 1 + encoder 12 + embedding 1 + decoder
    # self 9, cross 9, ffn 3 + generator 1), 7 score edges (2 + mask 3 + 2), 4 FFN-wide,
    # 1 vocabulary-wide.
    kinds = Counter(e.kind for e in ledger.edges)
    assert kinds == {"d_model": 36, "s²": 7, "ffn": 4, "vocab": 1}
    assert ledger.total_bits == 16 * (36 * 128 * 256 + 7 * 8 * 128 * 128 + 4 * 128 * 1024
                                      + 128 * 1000)


def test_batch_enters_the_formula_and_the_elements():
    one = build_ledger(TransformerConfig(**SMALL))
    four = build_ledger(TransformerConfig(batch=4, **SMALL))
    assert four.total_bits == 4 * one.total_bits
    e = four.edge("src.embed", "src.pos")
    assert e.shape == (9, 32) and e.elements.value == 4 * 9 * 32
    assert e.formula.startswith("b × s × d_model × 16 = 4 × 9 × 32 × 16")


def test_edge_kinds_grow_with_what_they_say():
    base = TransformerConfig(**SMALL)
    k0 = build_ledger(base).bits_by_kind()
    k_d = build_ledger(base.with_(d_model=64)).bits_by_kind()
    k_s = build_ledger(base.with_(src_len=18, tgt_len=12)).bits_by_kind()
    k_f = build_ledger(base.with_(ffn=96)).bits_by_kind()
    assert k_d[KIND_D_MODEL] == 2 * k0[KIND_D_MODEL] and k_d[KIND_SCORES] == k0[KIND_SCORES]
    assert k_s[KIND_SCORES] == 4 * k0[KIND_SCORES] and k_s[KIND_D_MODEL] == 2 * k0[KIND_D_MODEL]
    assert k_f["ffn"] == 2 * k0["ffn"] and k_f[KIND_D_MODEL] == k0[KIND_D_MODEL]


@pytest.mark.parametrize("cfg", [TransformerConfig(), TransformerConfig(**SMALL),
                                 TransformerConfig(norm="pre", encoder_layers=3, heads=16)])
def test_crossover_is_where_the_ledger_turns(cfg):
    cross = crossover(cfg)
    for s, ledger in sweep(cfg, "seq_len", [cross.total - 1, cross.total]):
        kinds = ledger.bits_by_kind()
        overtaken = kinds[KIND_SCORES] > kinds[KIND_D_MODEL]
        assert overtaken == (s == cross.total)
    for s in (cross.per_edge - 1, cross.per_edge):
        one = build_ledger(cfg.with_(src_len=s, tgt_len=s))
        assert (one.edge("enc0.attn.scores", "enc0.attn.softmax").bits.value >
                one.edge("src.embed", "src.pos").bits.value) == (s == cross.per_edge)


def test_totals_per_block_layer_and_model_add_up():
    ledger = build_ledger(TransformerConfig(encoder_layers=2, **SMALL))
    assert sum(ledger.bits_sent_by_block().values()) == ledger.total_bits
    layers = ledger.bits_by_layer()
    assert sum(layers.values()) == ledger.total_bits
    assert layers["enc0"] == layers["enc1"]
    assert set(layers) == {"embed", "enc0", "enc1", "dec0", "output"}


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, words", [
    (dict(d_model=250), "not divisible by heads"),
    (dict(src_len=0), "src_len must be at least 1"),
    (dict(tgt_len=-3), "tgt_len"),
    (dict(precision="fp8"), "fp32, fp16, bf16, int8"),
    (dict(norm="sandwich"), "post or pre"),
    (dict(encoder_layers=0), "encoder_layers"),
    (dict(heads=2.5), "whole number"),
])
def test_bad_configurations_say_which_field(changes, words):
    with pytest.raises(InputError, match=words):
        TransformerConfig(**changes)


def test_sweep_parsing():
    assert parse_sweep("d_model=64,128") == ("d_model", [64, 128])
    assert parse_sweep("seq-len=8") == ("seq_len", [8])
    for bad in ("d_model", "colour=1", "d_model=a,b", "d_model="):
        with pytest.raises(InputError, match="--sweep"):
            parse_sweep(bad)


# -- beyond the course ----------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [TransformerConfig(), TransformerConfig(
    decoder_layers=3, batch=2, precision="fp32", **SMALL)])
def test_kv_cache_equals_the_decoder_k_and_v_edges(cfg):
    cache = kv_cache(cfg)
    own, cross = kv_cache_from_ledger(build_ledger(cfg))
    assert cache.self_total.value == own and cache.cross_total.value == cross
    assert cache.per_token.value * cfg.tgt_len == own
    assert cache.per_token.value == cfg.decoder_layers * 2 * cfg.batch * cfg.d_model * cfg.bits


@pytest.mark.parametrize("cfg", [TransformerConfig(), TransformerConfig(
    batch=3, d_model=64, heads=4, ffn=256, src_len=40), TransformerConfig(norm="pre")])
def test_korthikanti_terms_match_ledger_and_closed_form(cfg):
    terms = activation_terms(cfg)
    for term in terms:
        assert term.formula.value == term.ledger_bytes, term.name
    assert sum(t.formula.value for t in terms) == korthikanti_closed_form(cfg)
    # The paper's 34 = 11 (attention) + 19 (MLP) + 4 (LayerNorms) with f = 4h.
    s, b, h, a = cfg.src_len, cfg.batch, cfg.d_model, cfg.heads
    assert korthikanti_closed_form(cfg) == s * b * h * 34 + 5 * a * s * s * b


@pytest.mark.parametrize("n, t", [(12, 4), (10, 4), (7, 3), (5, 1), (16, 8)])
def test_ring_allreduce_sends_two_t_minus_one_over_t(n, t):
    rng = random.Random(n * 10 + t)
    values = [[rng.randint(-9, 9) for _ in range(n)] for _ in range(t)]
    result, sent = ring_allreduce(values)
    expected = [sum(v[j] for v in values) for j in range(n)]
    assert all(r == expected for r in result)
    assert Fraction(sum(sent), t) == Fraction(2 * (t - 1), t) * n
    if n % t == 0:
        assert set(sent) == {2 * (t - 1) * n // t}


def test_tensor_parallel_traffic_from_the_ledger():
    cfg = TransformerConfig(encoder_layers=2, decoder_layers=2)
    tp = tensor_parallel(cfg, 4)
    # Encoder layers: 2 all-reduces each; decoder layers: 3 (self, cross, MLP).
    assert tp.allreduces_forward == 2 * 2 + 2 * 3
    b_s_h = cfg.batch * cfg.src_len * cfg.d_model
    assert tp.allreduced_elements == 10 * b_s_h
    _, sent = ring_allreduce([[1.0] * 64] * 4)
    per_element = Fraction(sent[0], 64)
    assert tp.per_device_bits == 2 * per_element * tp.allreduced_elements * cfg.bits
    assert tensor_parallel(cfg, 1).per_device_bits == 0


def test_design_network_matches_the_module():
    from core.graph.analysis import analyze
    from core.transformer.design import build_design
    from core.transformer.model import build_model
    for cfg in (TransformerConfig(**SMALL), TransformerConfig(norm="pre", **SMALL)):
        analysis = analyze(build_design(cfg))
        assert analysis.ok, analysis.first_error()
        assert analysis.totals.params == sum(p.numel() for p in build_model(cfg).parameters())
        assert analysis["enc0_ffn_up"].output_shape == (cfg.src_len, cfg.ffn)
        assert analysis["generator"].output_shape == (cfg.tgt_len, cfg.vocab)


def test_a_dtype_the_cpu_lacks_runs_in_fp32_and_says_so(monkeypatch):
    import torch
    from core.transformer import model
    from core.transformer.hooks import measure_edges
    assert model.cpu_supports(torch.float16)            # torch 2.x on this machine
    monkeypatch.setattr(model, "cpu_supports", lambda dtype: dtype != torch.float16)
    cfg = TransformerConfig(precision="fp16", **SMALL)
    measured, note = measure_edges(cfg)
    assert "fp16" in note and "runs in fp32" in note
    assert {e.dtype for e in measured} == {"float32"}
    assert as_multiset(measured, bits=False) == as_multiset(build_ledger(cfg).edges, bits=False)


@pytest.mark.parametrize("cfg", [
    TransformerConfig(precision="fp32", decoder_layers=2, batch=2, **SMALL),
    TransformerConfig(precision="fp32", norm="pre", **SMALL),
    TransformerConfig(precision="fp16", **SMALL),
])
def test_kv_cache_of_real_incremental_decoding(cfg):
    import torch
    from core.transformer.kvcache import decode_with_cache
    from core.transformer.model import build_model, sample_inputs
    model = build_model(cfg)
    src, tgt = sample_inputs(cfg)
    run = decode_with_cache(model, src, tgt)
    with torch.inference_mode():
        full = model.logits(src, tgt)
    # Decoding token by token from the cache gives the full (masked) pass's outputs.
    tol = 1e-4 if cfg.precision == "fp32" else 2e-2
    assert torch.allclose(run.logits.float(), full.float(), atol=tol, rtol=tol)
    cache = kv_cache(cfg)
    growth = [b - a for a, b in zip([0] + run.self_bits, run.self_bits)]
    assert set(growth) == {cache.per_token.value}
    assert run.self_bits[-1] == cache.self_total.value
    assert run.cross_bits == cache.cross_total.value


def test_totals_table_adds_up_in_each_group():
    ledger = build_ledger(TransformerConfig(decoder_layers=2, **SMALL))
    table = ledger.totals_table()
    for group in ("kind", "layer", "block sends"):
        rows = [r for r in table.rows if r[0] == group]
        assert sum(r[2] for r in rows) == ledger.total_bits
        assert sum(r[3] for r in rows) == pytest.approx(1.0)
    block = dict((r[1], r[2]) for r in table.rows if r[0] == "block sends")
    # src.pos feeds Q, K, V and the residual of the first attention: four s × d edges.
    assert block["src.pos"] == 4 * 9 * 32 * 16


@st.composite
def small_configs(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    return TransformerConfig(
        encoder_layers=draw(st.integers(1, 2)), decoder_layers=draw(st.integers(1, 2)),
        d_model=heads * draw(st.integers(1, 6)), heads=heads, ffn=draw(st.integers(1, 40)),
        vocab=draw(st.integers(1, 30)), src_len=draw(st.integers(1, 9)),
        tgt_len=draw(st.integers(1, 9)), batch=draw(st.integers(1, 3)),
        precision=draw(st.sampled_from(["fp32", "fp16", "bf16"])),
        norm=draw(st.sampled_from(["post", "pre"])))


@settings(max_examples=15, deadline=None)
@given(small_configs())
def test_random_configurations_match_the_hooks(cfg):
    from core.transformer.hooks import compare, measure_edges
    measured, note = measure_edges(cfg)
    ledger = build_ledger(cfg)
    equal, problems = compare(ledger, measured)
    assert problems == [] and equal == len(ledger.edges) and note == ""


@pytest.mark.parametrize("cfg", [TransformerConfig(**SMALL), TransformerConfig(
    norm="pre", encoder_layers=2, decoder_layers=3, **SMALL), TransformerConfig()])
def test_closed_form_counts_of_edges_and_parameters(cfg):
    from core.transformer.config import edge_count, parameter_count
    from core.transformer.model import build_model
    assert edge_count(cfg) == len(build_ledger(cfg).edges)
    assert parameter_count(cfg) == sum(p.numel() for p in build_model(cfg).parameters())


def test_limits_refuse_before_building(monkeypatch):
    from core.common.limits import LimitError
    from core.transformer.hooks import measure_edges
    huge = TransformerConfig(d_model=1 << 20, heads=1, src_len=1, tgt_len=1)
    with pytest.raises(LimitError, match="MLSYS_LIMIT_TRAINING_BYTES"):
        measure_edges(huge)   # 4·d² weights: refused before any allocation
    with pytest.raises(LimitError, match="MLSYS_LIMIT_COUNT_WORK"):
        build_ledger(TransformerConfig(encoder_layers=20_000))
    with pytest.raises(InputError, match="at most 64"):
        parse_sweep("d_model=" + ",".join(["8"] * 65))
