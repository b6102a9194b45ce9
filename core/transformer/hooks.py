"""The oracle of the ledger: forward hooks on the built module record, for every block, which
block produced each tensor it receives and that tensor's size in bits (numel × element size
× 8), as torch actually computed it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasuredEdge:
    src: str
    dst: str
    shape: tuple[int, ...]   # per sample (the batch dimension dropped)
    elements: int            # × batch
    bits: int                # numel × element_size × 8 of the tensor torch handed on
    dtype: str


def measure_edges(cfg, seed: int = 0, limit: int | None = None
                  ) -> tuple[list[MeasuredEdge], str]:
    """Build and run the module of ``cfg`` once under hooks; (edges in the order blocks
    received them, note about the compute dtype)."""
    from core.transformer.model import build_model, check_run_size, compute_dtype, \
        sample_inputs
    from core.transformer.config import MAX_RUN_ELEMENTS
    check_run_size(cfg, MAX_RUN_ELEMENTS if limit is None else limit)
    model = build_model(cfg, seed)
    src, tgt = sample_inputs(cfg, seed)
    edges = run_hooked(model, src, tgt)
    return edges, compute_dtype(cfg.precision)[1]


def compare(ledger, measured: list[MeasuredEdge], elements_only: bool = False
            ) -> tuple[int, list[str]]:
    """(edges equal, one line per difference) between the ledger and the measurement."""
    from collections import Counter

    def key(src, dst, shape, elements, bits):
        return (src, dst, tuple(shape), elements, None if elements_only else bits)
    want = Counter(key(e.src, e.dst, e.shape, e.elements.value, e.bits.value)
                   for e in ledger.edges)
    got = Counter(key(e.src, e.dst, e.shape, e.elements, e.bits) for e in measured)
    problems = [f"ledger only: {k[0]} → {k[1]} {k[2]} {k[4] or k[3]:,}"
                for k in (want - got).elements()]
    problems += [f"measured only: {k[0]} → {k[1]} {k[2]} {k[4] or k[3]:,}"
                 for k in (got - want).elements()]
    return sum((want & got).values()), problems


def run_hooked(model, src, tgt) -> list[MeasuredEdge]:
    """One inference forward pass of ``model`` with a pre-hook and a hook on every block."""
    import torch

    producer: dict[int, tuple[str, object]] = {}   # id(tensor) → (block, tensor kept alive)
    edges: list[MeasuredEdge] = []
    handles = []

    def before(name):
        def hook(module, args):
            for arg in args:
                if isinstance(arg, torch.Tensor) and id(arg) in producer:
                    edges.append(MeasuredEdge(producer[id(arg)][0], name, tuple(arg.shape[1:]),
                                              arg.numel(), arg.numel() * arg.element_size() * 8,
                                              str(arg.dtype).replace("torch.", "")))
        return hook

    def after(name):
        def hook(module, args, output):
            producer[id(output)] = (name, output)
        return hook

    try:
        for name, module in model.blocks().items():
            handles.append(module.register_forward_pre_hook(before(name)))
            handles.append(module.register_forward_hook(after(name)))
        with torch.inference_mode():
            model(src, tgt)
    finally:
        for h in handles:
            h.remove()
    return edges
