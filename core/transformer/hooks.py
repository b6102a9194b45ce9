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


def measure_edges(cfg, seed: int = 0) -> tuple[list[MeasuredEdge], str]:
    """Build and run the module of ``cfg`` once under hooks; (edges in the order blocks
    received them, note about the compute dtype)."""
    import torch

    from core.transformer.model import build_model, check_run_size, compute_dtype, \
        sample_inputs
    check_run_size(cfg)
    model = build_model(cfg, seed)
    src, tgt = sample_inputs(cfg, seed)
    edges = run_hooked(model, src, tgt)
    return edges, compute_dtype(cfg.precision)[1]


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
