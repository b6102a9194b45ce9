"""Autoregressive decoding with a real KV cache on the built module (imports torch: import
this lazily): the oracle of the KV-cache formulas. Each decoder layer keeps the K and V rows
of every target token it has seen (self-attention) and, computed once, those of the encoder
output (cross-attention); the cache's size is measured as numel × element size × 8."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CachedDecoding:
    logits: object               # (b, t, vocab), to compare with the full forward pass
    self_bits: list[int]         # self-attention cache size after each generated token
    cross_bits: int              # cross-attention cache (encoder output), fixed


def _bits(tensors) -> int:
    return sum(t.numel() * t.element_size() * 8 for t in tensors)


def _attend(attn, x, keys, values, q_in):
    """One attention sub-layer for the newest positions, with K and V given."""
    out = attn.out_proj(attn.weighted_sum(attn.softmax(attn.scores(attn.q_proj(q_in), keys)),
                                          values))
    return attn.add(out, x) if attn.pre else attn.add_norm(out, x)


def decode_with_cache(model, src, tgt) -> CachedDecoding:
    """Feed ``tgt`` one token at a time (teacher forcing), reusing cached K and V."""
    import torch
    with torch.inference_mode():
        memory = model.encode(src)
        cross = [(layer.cross.k_proj(memory), layer.cross.v_proj(memory))
                 for layer in model.decoder]
        cache = [([], []) for _ in model.decoder]
        outputs, self_bits = [], []
        for i in range(tgt.shape[1]):
            y = model.tgt_pos(model.tgt_embed(tgt[:, :i + 1]))[:, i:i + 1]
            for layer, (keys, values), (ck, cv) in zip(model.decoder, cache, cross):
                a = layer.self_attn
                q_in = a.norm(y) if a.pre else y
                keys.append(a.k_proj(q_in))
                values.append(a.v_proj(q_in))
                y = _attend(a, y, torch.cat(keys, 1), torch.cat(values, 1), q_in)
                c = layer.cross
                y = _attend(c, y, ck, cv, c.norm(y) if c.pre else y)
                y = layer.ffn(y)
            if model.dec_norm is not None:
                y = model.dec_norm(y)
            outputs.append(model.generator(y))
            self_bits.append(sum(_bits(k) + _bits(v) for k, v in cache))
        cross_bits = sum(_bits(pair) for pair in cross)
    return CachedDecoding(torch.cat(outputs, 1), self_bits, cross_bits)
