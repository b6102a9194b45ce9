"""The configuration as a core.graph Network (the Design workspace opens it), laid out as
the 'transformer' preset is: one MultiHeadAttention node per attention, Add + LayerNorm per
residual, Linear-ReLU-Linear FFN, sinusoidal positions, generator and softmax."""

from __future__ import annotations

from core.graph.network import Network
from core.transformer.config import TransformerConfig


class _Chain:
    def __init__(self, net: Network):
        self.net, self.tip = net, None

    def add(self, type_name: str, name: str, inputs=None, **params) -> str:
        node = self.net.add_node(type_name, name, params,
                                 inputs if inputs is not None else [self.tip])
        self.tip = node.name
        return node.name


def build_design(cfg: TransformerConfig) -> Network:
    """A Network with the module's parameters and shapes (batch and precision as defaults)."""
    net = Network("transformer-lab", f"Encoder-decoder transformer from the Transformer lab: "
                                     f"{cfg.encoder_layers}+{cfg.decoder_layers} layers, d_model "
                                     f"{cfg.d_model}, {cfg.heads} heads, FFN {cfg.ffn}, vocabulary "
                                     f"{cfg.vocab}, {cfg.norm}-norm, {cfg.precision}.",
                  defaults={"batch": cfg.batch, "precision": cfg.precision})
    c = _Chain(net)
    pre = cfg.norm == "pre"
    src = c.add("Input", "src_ids", [], shape=[cfg.src_len], dtype="index")
    tgt = c.add("Input", "tgt_ids", [], shape=[cfg.tgt_len], dtype="index")
    max_pos = max(cfg.src_len, cfg.tgt_len)

    def embed(side: str, ids: str) -> str:
        c.add("Embedding", f"{side}_embed", [ids], num_embeddings=cfg.vocab,
              embedding_dim=cfg.d_model)
        return c.add("PositionalEmbedding", f"{side}_pos", max_positions=max_pos,
                     kind="sinusoidal")

    def sublayer(p: str, x: str, body) -> str:
        inner = c.add("LayerNorm", p + "norm", [x]) if pre else x
        out = body(inner)
        c.add("Add", p + "residual", [out, x])
        return c.tip if pre else c.add("LayerNorm", p + "norm")

    def attention(p: str, causal: bool, memory: str | None = None):
        def body(x):
            inputs = [x] if memory is None else [x, memory]
            return c.add("MultiHeadAttention", p + "attn", inputs, num_heads=cfg.heads,
                         causal=causal)
        return body

    def ffn(p: str):
        def body(x):
            c.add("Linear", p + "up", [x], out_features=cfg.ffn)
            c.add("ReLU", p + "act")
            return c.add("Linear", p + "down", out_features=cfg.d_model)
        return body

    x = embed("src", src)
    for i in range(cfg.encoder_layers):
        x = sublayer(f"enc{i}_self_", x, attention(f"enc{i}_self_", False))
        x = sublayer(f"enc{i}_ffn_", x, ffn(f"enc{i}_ffn_"))
    memory = c.add("LayerNorm", "enc_final_norm", [x]) if pre else x
    y = embed("tgt", tgt)
    for i in range(cfg.decoder_layers):
        y = sublayer(f"dec{i}_self_", y, attention(f"dec{i}_self_", True))
        y = sublayer(f"dec{i}_cross_", y, attention(f"dec{i}_cross_", False, memory))
        y = sublayer(f"dec{i}_ffn_", y, ffn(f"dec{i}_ffn_"))
    if pre:
        y = c.add("LayerNorm", "dec_final_norm", [y])
    c.add("Linear", "generator", [y], out_features=cfg.vocab)
    c.add("Softmax", "probabilities")
    return net
