"""The transformer configuration (the course's defaults) and its validation.

Every field is checked with a one-line message naming the field and what is allowed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from core.common.errors import InputError

PRECISION_BITS = {"fp32": 32, "fp16": 16, "bf16": 16, "int8": 8}
NORMS = ("post", "pre")
# Above this many elements crossing all edges together, running the module is refused (the
# memory of its parameters and tensors is also checked against core.common.limits'
# TRAINING_BYTES; the ledger is closed form, bounded by COUNT_WORK edges).
MAX_RUN_ELEMENTS = 200_000_000
MAX_SWEEP_VALUES = 64


@dataclass(frozen=True)
class TransformerConfig:
    """An encoder-decoder transformer: the course's configuration by default (one encoder and
    one decoder layer, 8 heads, d_model 256, 16-bit floating point everywhere)."""

    encoder_layers: int = 1
    decoder_layers: int = 1
    d_model: int = 256
    heads: int = 8
    ffn: int = 1024
    vocab: int = 1000
    src_len: int = 128
    tgt_len: int = 128
    batch: int = 1
    precision: str = "fp16"
    norm: str = "post"

    def __post_init__(self):
        validate(self)

    @property
    def bits(self) -> int:
        return PRECISION_BITS[self.precision]

    @property
    def d_k(self) -> int:
        return self.d_model // self.heads

    def with_(self, **changes) -> "TransformerConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


_POSITIVE = ("decoder_layers", "d_model", "heads", "ffn", "vocab", "src_len", "tgt_len",
             "batch")


def validate(cfg: TransformerConfig) -> None:
    """Raise InputError (one line, naming the field) for a configuration that cannot exist."""
    for name in ("encoder_layers",) + _POSITIVE:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{name} must be a whole number, got {value!r}")
    if cfg.encoder_layers < 1:
        raise InputError(f"encoder_layers must be at least 1 (an encoder-decoder needs an "
                         f"encoder), got {cfg.encoder_layers}")
    for name in _POSITIVE:
        if getattr(cfg, name) < 1:
            raise InputError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if cfg.d_model % cfg.heads:
        raise InputError(f"d_model {cfg.d_model} is not divisible by heads {cfg.heads}: "
                         f"choose heads dividing d_model (e.g. {_divisor_hint(cfg.d_model)})")
    if cfg.precision not in PRECISION_BITS:
        raise InputError(f"precision {cfg.precision!r} is not allowed: choose one of "
                         f"{', '.join(PRECISION_BITS)}")
    if cfg.norm not in NORMS:
        raise InputError(f"norm {cfg.norm!r} is not allowed: choose post or pre")


def edge_count(cfg: TransformerConfig) -> int:
    """Edges of the ledger, in closed form: embeddings 1 per side; an encoder layer 11
    (attention) + 5 (FFN); a decoder layer 12 (masked self-attention) + 11 (cross) + 5;
    the output 2; pre-norm adds each sub-layer's norm input and the two final norms."""
    e, d = cfg.encoder_layers, cfg.decoder_layers
    count = 2 + 16 * e + 28 * d + 2
    return count + (2 * e + 3 * d + 2 if cfg.norm == "pre" else 0)


def parameter_count(cfg: TransformerConfig) -> int:
    """Parameters of the built module, in closed form: two embedding tables; per attention
    four d×d projections with biases; per LayerNorm 2d; per FFN d·f + f + f·d + d; the
    generator d·V + V."""
    d, f, v = cfg.d_model, cfg.ffn, cfg.vocab
    attention, norm, ffn = 4 * (d * d + d), 2 * d, d * f + f + f * d + d
    e, n = cfg.encoder_layers, cfg.decoder_layers
    final_norms = 2 * norm if cfg.norm == "pre" else 0
    return (2 * v * d + e * (attention + ffn + 2 * norm) + n * (2 * attention + ffn + 3 * norm)
            + final_norms + d * v + v)


def _divisor_hint(n: int) -> str:
    return ", ".join(str(h) for h in (1, 2, 4, 8, 12, 16) if n % h == 0)


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """'d_model=64,128,256' → ('d_model', [64, 128, 256]); one line naming what is wrong."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    allowed = ("d_model", "heads", "ffn", "src_len", "tgt_len", "seq_len", "batch",
               "encoder_layers", "decoder_layers", "vocab")
    if not sep or name not in allowed:
        raise InputError(f"--sweep {text!r} is not allowed: write NAME=V1,V2,... with NAME one "
                         f"of {', '.join(allowed)}")
    try:
        numbers = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not numbers:
        raise InputError(f"--sweep {text!r}: give whole numbers after '=', e.g. "
                         f"d_model=64,128,256")
    if len(numbers) > MAX_SWEEP_VALUES:
        raise InputError(f"--sweep has {len(numbers)} values: give at most {MAX_SWEEP_VALUES}")
    return name, numbers


def swept(cfg: TransformerConfig, name: str, value: int) -> TransformerConfig:
    """The configuration with one swept field set (seq_len sets both lengths)."""
    if name == "seq_len":
        return cfg.with_(src_len=value, tgt_len=value)
    return cfg.with_(**{name: value})
