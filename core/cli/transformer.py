"""The ``transformer`` sub-command: the ledger of bits between the blocks of an
encoder-decoder (optionally swept over one field), with KV cache, stored activations and
tensor-parallel traffic in the table view."""

from __future__ import annotations

import argparse
import json

from core.common.tables import Table, render
from core.transformer.config import PRECISION_BITS, TransformerConfig, parse_sweep, swept
from core.transformer.ledger import KINDS, build_ledger, crossover


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "transformer",
        help="bits crossing between consecutive blocks of an encoder-decoder transformer",
        description="Ledger of every edge between two consecutive computing blocks of an "
                    "encoder-decoder transformer: per-sample shape, elements × batch, bits and "
                    "formula; totals, edge kinds (d_model, s², FFN width), the s² crossover, KV "
                    "cache, Korthikanti et al. (2022) stored activations and tensor-parallel "
                    "traffic. Defaults: the course's configuration (1 + 1 layers, 8 heads, "
                    "d_model 256, fp16).")
    p.add_argument("--d-model", type=int, default=256, help="embedding size (default 256)")
    p.add_argument("--heads", type=int, default=8, help="attention heads (default 8)")
    p.add_argument("--ffn", type=int, default=None, help="FFN width (default 4 × d_model)")
    p.add_argument("--encoder-layers", type=int, default=1, help="encoder layers (default 1)")
    p.add_argument("--decoder-layers", type=int, default=1, help="decoder layers (default 1)")
    p.add_argument("--src-len", type=int, default=128, help="source length s (default 128)")
    p.add_argument("--tgt-len", type=int, default=128, help="target length t (default 128)")
    p.add_argument("--vocab", type=int, default=1000, help="vocabulary (default 1000)")
    p.add_argument("--batch", type=int, default=1, help="batch b (default 1)")
    p.add_argument("--precision", choices=tuple(PRECISION_BITS), default="fp16",
                   help="bits of every value crossing a boundary (default fp16)")
    p.add_argument("--norm", choices=("post", "pre"), default="post",
                   help="post-norm (Vaswani et al., default) or pre-norm")
    p.add_argument("--tensor-parallel", type=int, default=4, metavar="T",
                   help="devices for the tensor-parallel traffic line of the table (default 4)")
    p.add_argument("--sweep", metavar="NAME=V1,V2,...",
                   help="one ledger per value, e.g. d_model=64,128,256,512 (seq_len sets both "
                        "lengths; the FFN width follows 4 × d_model unless --ffn is given)")
    p.add_argument("--format", choices=("table", "json", "csv", "md", "latex"),
                   default="table")
    p.add_argument("--save-design", metavar="FILE.json",
                   help="also write the configuration as a design (open it in the app or "
                        "with 'mlsys-studio report FILE.json')")
    p.set_defaults(func=run)


def config_from_args(args, **changes) -> TransformerConfig:
    values = dict(encoder_layers=args.encoder_layers, decoder_layers=args.decoder_layers,
                  d_model=args.d_model, heads=args.heads, vocab=args.vocab,
                  src_len=args.src_len, tgt_len=args.tgt_len, batch=args.batch,
                  precision=args.precision, norm=args.norm)
    values.update(changes)
    if "ffn" not in changes:
        values["ffn"] = args.ffn if args.ffn is not None else 4 * values["d_model"]
    return TransformerConfig(**values)


def run(args: argparse.Namespace) -> int:
    if args.sweep:
        name, values = parse_sweep(args.sweep)
        base = config_from_args(args)
        configs = [(v, config_from_args(args, **_changes(base, name, v))) for v in values]
        print(_sweep_output(name, configs, args.format), end="")
        return 0
    cfg = config_from_args(args)
    ledger = build_ledger(cfg)
    if args.save_design:
        save_design(cfg, args.save_design)
    if args.format == "json":
        print(json.dumps(ledger.as_dict(), indent=2, ensure_ascii=False))
    elif args.format == "table":
        print(summary_text(cfg, args.tensor_parallel))
    else:
        print(render(ledger.table(), args.format), end="")
    return 0


def save_design(cfg: TransformerConfig, path: str) -> None:
    from core.common.errors import InputError
    from core.graph import io
    from core.transformer.design import build_design
    try:
        io.save(build_design(cfg), path)
    except OSError as exc:
        raise InputError(f"--save-design {path}: cannot write ({exc.strerror or exc})") from exc


def _changes(base: TransformerConfig, name: str, value: int) -> dict:
    cfg = swept(base, name, value)
    return {k: getattr(cfg, k) for k in ("src_len", "tgt_len", name) if hasattr(cfg, k)}


def _sweep_output(name: str, configs, fmt: str) -> str:
    from core.common.limits import COUNT_WORK
    from core.transformer.config import edge_count
    COUNT_WORK.check(sum(edge_count(cfg) for _, cfg in configs), "the transformer sweep")
    ledgers = [(v, build_ledger(cfg)) for v, cfg in configs]
    if fmt == "json":
        return json.dumps({"sweep": [{name: v, "total_bits": l.total_bits,
                                      "edges": [e.as_dict() for e in l.edges]}
                                     for v, l in ledgers]}, indent=2, ensure_ascii=False) + "\n"
    table = Table([name] + [f"{k} bits" for k in KINDS] + ["total bits"],
                  numeric=set(range(len(KINDS) + 2)),
                  title=f"Bits between blocks as {name} varies")
    for v, ledger in ledgers:
        kinds = ledger.bits_by_kind()
        table.rows.append([v] + [kinds[k] for k in KINDS] + [ledger.total_bits])
    return render(table, fmt)


def summary_text(cfg: TransformerConfig, devices: int) -> str:
    """The table view: ledger, totals, crossover and the beyond-the-course figures."""
    from core.transformer.memory import beyond_table
    ledger = build_ledger(cfg)
    lines = [f"encoder-decoder: {cfg.encoder_layers}+{cfg.decoder_layers} layers, d_model "
             f"{cfg.d_model}, {cfg.heads} heads, ffn {cfg.ffn}, vocab {cfg.vocab}, s {cfg.src_len}, "
             f"t {cfg.tgt_len}, batch {cfg.batch}, {cfg.precision}, {cfg.norm}-norm", "",
             render(ledger.table(), "table").rstrip(), "",
             render(ledger.totals_table(), "table").rstrip(), "",
             "crossover: " + crossover(cfg).explain(), ""]
    lines.append(render(beyond_table(cfg, devices), "table").rstrip())
    return "\n".join(lines)
