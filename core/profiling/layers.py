"""Per-layer forward time from forward hooks on the graph module's submodules, one per
engine node, so each time lands on the engine's row of the same name.

A pre-hook reads the clock as a layer starts and a hook as it ends (after ``sync``, so on
a GPU the layer's kernels are included). Each timed pass also records its whole duration:
the layers' sum can only be less, the rest being the graph's Python between layers and
the hooks' own cost. Nodes that run without a module call (a max-pool whose indices feed
an un-pooling) get no time.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

from core.profiling.timing import never


@dataclass(frozen=True)
class LayerTimes:
    """Median milliseconds per node over the timed passes, and of the whole hooked pass."""

    per_layer_ms: dict[str, float]
    hooked_ms: float  # median duration of a whole pass with the hooks on
    passes: int

    @property
    def layer_sum_ms(self) -> float:
        return sum(self.per_layer_ms.values())


def time_layers(model, run: Callable[[], object], warmup: int, repeats: int, budget_s: float,
                sync: Callable[[], object] = lambda: None,
                should_stop: Callable[[], bool] = never) -> LayerTimes | None:
    """Time every node of ``model`` (a core.torchbridge GraphModule) while ``run`` runs it;
    None when stopped. The hooks are removed before returning."""
    started: dict[str, float] = {}
    current: dict[str, float] = {}
    handles = []
    for name in model.order:
        if model.types[name] == "Input":
            continue
        module = model.layers[model.keys[name]]
        handles.append(module.register_forward_pre_hook(_pre(name, started, sync)))
        handles.append(module.register_forward_hook(_post(name, started, current, sync)))
    samples: dict[str, list[float]] = {}
    totals: list[float] = []
    try:
        deadline = None
        for i in range(warmup + repeats):
            if should_stop():
                return None
            current.clear()
            t0 = time.perf_counter()
            run()
            sync()
            t1 = time.perf_counter()
            if i < warmup:
                continue
            deadline = deadline or t0 + budget_s
            totals.append(t1 - t0)
            for name, seconds in current.items():
                samples.setdefault(name, []).append(seconds)
            if t1 >= deadline:
                break
    finally:
        for handle in handles:
            handle.remove()
    return LayerTimes({n: statistics.median(s) * 1e3 for n, s in samples.items()},
                      statistics.median(totals) * 1e3, len(totals))


def _pre(name, started, sync):
    def hook(module, args):
        sync()
        started[name] = time.perf_counter()
    return hook


def _post(name, started, current, sync):
    def hook(module, args, output):
        sync()
        current[name] = time.perf_counter() - started[name]
    return hook
