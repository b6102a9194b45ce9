"""The runnable encoder-decoder: a ``torch.nn.Module`` built from one module per computing
block, so that every block boundary can be hooked (imports torch: import this lazily).

Blocks take the tensors they consume as arguments and reshape only inside themselves
(head split in ``Scores``, head merge in ``WeightedSum``), so the tensor a block hands on is
exactly the tensor the next block receives. No dropout (inference; dropout is the identity).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from core.transformer.config import MAX_RUN_ELEMENTS, TransformerConfig

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def compute_dtype(precision: str) -> tuple[torch.dtype, str]:
    """(dtype the module computes in, a note when it is not the chosen precision)."""
    if precision in DTYPES:
        if cpu_supports(DTYPES[precision]):
            return DTYPES[precision], ""
        return torch.float32, (f"{precision} linear/softmax/layer norm are not supported on "
                               f"this CPU by torch {torch.__version__}: the module runs in fp32 "
                               f"and the ledger counts {precision}'s bits per element")
    return torch.float32, ("int8 is not a compute dtype of torch's float layers (linear, "
                           "softmax, layer norm): the module runs in fp32 and the ledger "
                           "counts 8 bits per element, as if every boundary were quantised")


@functools.lru_cache(maxsize=None)
def cpu_supports(dtype: torch.dtype) -> bool:
    """Whether every operation of the blocks runs in ``dtype`` on the CPU (torch ≥ 2.1 has
    fp16 and bf16 kernels for all of them; older versions lack fp16 matmul)."""
    try:
        x = torch.ones(1, 2, 4, dtype=dtype)
        y = nn.Linear(4, 4).to(dtype)(x)
        y = torch.softmax(y @ y.transpose(1, 2), -1) @ y
        nn.LayerNorm(4).to(dtype)(torch.relu(y))
        nn.Embedding(3, 4).to(dtype)(torch.tensor([1]))
        return True
    except RuntimeError:
        return False


# -- blocks -----------------------------------------------------------------------------
class TokenEmbedding(nn.Module):
    """Token id → vector, scaled by √d_model (Vaswani et al. 2017, §3.4); the table starts
    with standard deviation 1/√d_model so that the scaled vectors (≈ 1) do not drown the
    positional sinusoids (amplitude 1)."""

    def __init__(self, vocab: int, d_model: int):
        super().__init__()
        self.table = nn.Embedding(vocab, d_model)
        nn.init.normal_(self.table.weight, std=d_model ** -0.5)
        self.scale = math.sqrt(d_model)

    def forward(self, ids):
        return self.table(ids) * self.scale


class PositionalEncoding(nn.Module):
    """Adds fixed sinusoids (no parameters)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, :d_model // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        return x + self.pe[:x.shape[1]].to(x.dtype)


class Scores(nn.Module):
    """QKᵀ/√d_k per head: (b, s_q, d), (b, s_k, d) → (b, h, s_q, s_k)."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, q, k):
        b, sq, d = q.shape
        dk = d // self.heads
        q = q.view(b, sq, self.heads, dk).transpose(1, 2)
        k = k.view(b, k.shape[1], self.heads, dk).transpose(1, 2)
        return q @ k.transpose(-2, -1) / math.sqrt(dk)


class CausalMask(nn.Module):
    """Sets the scores of future positions to −∞."""

    def forward(self, scores):
        sq, sk = scores.shape[-2:]
        future = torch.ones(sq, sk, dtype=torch.bool, device=scores.device).triu(1)
        return scores.masked_fill(future, float("-inf"))


class Softmax(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=-1)


class WeightedSum(nn.Module):
    """Σ_k p·v per head, heads merged: (b, h, s_q, s_k), (b, s_k, d) → (b, s_q, d)."""

    def __init__(self, heads: int):
        super().__init__()
        self.heads = heads

    def forward(self, p, v):
        b, sk, d = v.shape
        v = v.view(b, sk, self.heads, d // self.heads).transpose(1, 2)
        out = p @ v
        return out.transpose(1, 2).reshape(b, p.shape[2], d)


class AddNorm(nn.Module):
    """LayerNorm(sub-layer output + residual): the post-norm step."""

    def __init__(self, d_model: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)

    def forward(self, out, residual):
        return self.norm(out + residual)


class Add(nn.Module):
    """Residual addition (pre-norm)."""

    def forward(self, out, residual):
        return out + residual


# -- sub-layers ---------------------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig, causal: bool):
        super().__init__()
        d, self.pre = cfg.d_model, cfg.norm == "pre"
        if self.pre:
            self.norm = nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.scores = Scores(cfg.heads)
        self.mask = CausalMask() if causal else None
        self.softmax = Softmax()
        self.weighted_sum = WeightedSum(cfg.heads)
        self.out_proj = nn.Linear(d, d)
        if self.pre:
            self.add = Add()
        else:
            self.add_norm = AddNorm(d)

    def forward(self, x, memory=None):
        q_in = self.norm(x) if self.pre else x
        kv_in = q_in if memory is None else memory
        a = self.scores(self.q_proj(q_in), self.k_proj(kv_in))
        if self.mask is not None:
            a = self.mask(a)
        out = self.out_proj(self.weighted_sum(self.softmax(a), self.v_proj(kv_in)))
        return self.add(out, x) if self.pre else self.add_norm(out, x)


class FeedForward(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.pre = cfg.norm == "pre"
        if self.pre:
            self.norm = nn.LayerNorm(cfg.d_model)
        self.up, self.act, self.down = (nn.Linear(cfg.d_model, cfg.ffn), nn.ReLU(),
                                        nn.Linear(cfg.ffn, cfg.d_model))
        if self.pre:
            self.add = Add()
        else:
            self.add_norm = AddNorm(cfg.d_model)

    def forward(self, x):
        out = self.down(self.act(self.up(self.norm(x) if self.pre else x)))
        return self.add(out, x) if self.pre else self.add_norm(out, x)


class EncoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.attn, self.ffn = Attention(cfg, causal=False), FeedForward(cfg)

    def forward(self, x):
        return self.ffn(self.attn(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.self_attn = Attention(cfg, causal=True)
        self.cross = Attention(cfg, causal=False)
        self.ffn = FeedForward(cfg)

    def forward(self, y, memory):
        return self.ffn(self.cross(self.self_attn(y), memory))


class EncoderDecoder(nn.Module):
    """Embeddings, encoder layers, decoder layers, generator and softmax."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        max_len = max(cfg.src_len, cfg.tgt_len)
        self.src_embed, self.src_pos = TokenEmbedding(cfg.vocab, cfg.d_model), \
            PositionalEncoding(max_len, cfg.d_model)
        self.tgt_embed, self.tgt_pos = TokenEmbedding(cfg.vocab, cfg.d_model), \
            PositionalEncoding(max_len, cfg.d_model)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        pre = cfg.norm == "pre"
        self.enc_norm = nn.LayerNorm(cfg.d_model) if pre else None
        self.dec_norm = nn.LayerNorm(cfg.d_model) if pre else None
        self.generator = nn.Linear(cfg.d_model, cfg.vocab)
        self.out_softmax = Softmax()

    def encode(self, src):
        x = self.src_pos(self.src_embed(src))
        for layer in self.encoder:
            x = layer(x)
        return self.enc_norm(x) if self.enc_norm is not None else x

    def logits(self, src, tgt):
        memory = self.encode(src)
        y = self.tgt_pos(self.tgt_embed(tgt))
        for layer in self.decoder:
            y = layer(y, memory)
        if self.dec_norm is not None:
            y = self.dec_norm(y)
        return self.generator(y)

    def forward(self, src, tgt):
        """Next-token probabilities, (b, t, vocab)."""
        return self.out_softmax(self.logits(src, tgt))

    def blocks(self) -> dict[str, nn.Module]:
        """Ledger block name → the module computing it (forward order)."""
        out = {"src.embed": self.src_embed, "src.pos": self.src_pos}
        for i, layer in enumerate(self.encoder):
            out.update(_attention_blocks(f"enc{i}.attn", layer.attn))
            out.update(_ffn_blocks(f"enc{i}.ffn", layer.ffn))
        if self.enc_norm is not None:
            out["enc_norm.norm"] = self.enc_norm
        out.update({"tgt.embed": self.tgt_embed, "tgt.pos": self.tgt_pos})
        for i, layer in enumerate(self.decoder):
            out.update(_attention_blocks(f"dec{i}.self", layer.self_attn))
            out.update(_attention_blocks(f"dec{i}.cross", layer.cross))
            out.update(_ffn_blocks(f"dec{i}.ffn", layer.ffn))
        if self.dec_norm is not None:
            out["dec_norm.norm"] = self.dec_norm
        out.update({"output.generator": self.generator, "output.softmax": self.out_softmax})
        return out


def _attention_blocks(prefix: str, attn: Attention) -> dict[str, nn.Module]:
    names = (["norm"] if attn.pre else []) + ["q_proj", "k_proj", "v_proj", "scores"] + \
        (["mask"] if attn.mask is not None else []) + \
        ["softmax", "weighted_sum", "out_proj", "add" if attn.pre else "add_norm"]
    return {f"{prefix}.{n}": getattr(attn, n) for n in names}


def _ffn_blocks(prefix: str, ffn: FeedForward) -> dict[str, nn.Module]:
    names = (["norm"] if ffn.pre else []) + ["up", "act", "down",
                                             "add" if ffn.pre else "add_norm"]
    return {f"{prefix}.{n}": getattr(ffn, n) for n in names}


# -- building and running -------------------------------------------------------------------
def check_run_size(cfg: TransformerConfig, limit: int = MAX_RUN_ELEMENTS,
                   training: bool = False) -> None:
    """Refuse to build a module whose parameters (with Adam's two moments and a gradient
    when ``training``) and boundary tensors would pass core.common.limits.TRAINING_BYTES,
    or a forward pass whose boundary tensors would exceed ``limit`` elements."""
    from core.common.errors import InputError
    from core.common.limits import TRAINING_BYTES
    from core.transformer.config import parameter_count
    from core.transformer.ledger import build_ledger
    elements = sum(e.elements.value for e in build_ledger(cfg).edges)
    size = torch.tensor([], dtype=compute_dtype(cfg.precision)[0]).element_size()
    copies = 4 if training else 1
    TRAINING_BYTES.check((copies * parameter_count(cfg) + elements) * size,
                         "building and running this transformer")
    if elements > limit:
        raise InputError(f"running this configuration moves {elements:,} elements between "
                         f"blocks, over the limit of {limit:,}"
                         + (" (core.transformer.config.MAX_RUN_ELEMENTS)"
                            if limit == MAX_RUN_ELEMENTS else "")
                         + ": shrink batch, lengths or d_model")


def build_model(cfg: TransformerConfig, seed: int = 0) -> EncoderDecoder:
    """The module in the configuration's compute dtype (see compute_dtype), eval mode."""
    torch.manual_seed(seed)
    dtype, _ = compute_dtype(cfg.precision)
    return EncoderDecoder(cfg).to(dtype).eval()


def sample_inputs(cfg: TransformerConfig, seed: int = 0):
    """Random source and target token ids, (b, s) and (b, t)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(cfg.vocab, (cfg.batch, cfg.src_len), generator=gen),
            torch.randint(cfg.vocab, (cfg.batch, cfg.tgt_len), generator=gen))
