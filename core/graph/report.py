"""Analysis → report structures: the per-layer table (for text/CSV/Markdown/LaTeX) and
the JSON document of the command line (and of the GUI's exports)."""

from __future__ import annotations

from core.graph.analysis import Analysis, NodeResult, grad_total
from core.graph.other_tools import VERSIONS
from core.common.explain import V, shape_text
from core.common.tables import Table
from core.graph.layers.base import GradCount, OpPart

FORWARD_COLUMNS = ["layer", "type", "input", "output", "weight", "bias", "params", "MACs", "mul",
                   "add", "logic", "special", "weight bytes", "activation bytes"]
BACKWARD_COLUMNS = ["∇W mul", "∇W add", "∇b add", "∇x mul", "∇x add", "∇x logic", "losses"]


def _shape(shape) -> str:
    return "" if shape is None else shape_text(shape)


def _inputs(result: NodeResult) -> str:
    return ", ".join(_shape(s) for s in result.input_shapes)


def _scaled(part: OpPart, key: str, batch: int) -> int:
    return getattr(part, key).value * batch


def layer_rows(analysis: Analysis, backward: bool = False, parts: bool = True,
               folds=None, expanded=frozenset()) -> list[list]:
    """One row per node (and one per visible part of composite layers), then totals.
    With ``folds`` (core.graph.blocks.find_folds), each run of repeated blocks is one row
    "title ×N" with the sums over its members; the members follow it, indented, when its
    id is in ``expanded``."""
    rows = []
    first_of = {f.nodes[0]: f for f in folds or ()}
    inside = {n for f in folds or () for n in f.nodes}
    for name in analysis.order:
        fold = first_of.get(name)
        if fold is not None:
            rows.append(fold_row(analysis, fold, backward))
            if fold.id in expanded:
                for member in fold.nodes:
                    rows.extend(_indented(_node_rows(analysis, member, backward, parts)))
        if name not in inside:
            rows.extend(_node_rows(analysis, name, backward, parts))
    rows.append(_totals_row(analysis, backward))
    return rows


def _indented(rows: list[list]) -> list[list]:
    return [["    " + str(row[0])] + row[1:] for row in rows]


def fold_row(analysis: Analysis, fold, backward: bool) -> list:
    """A folded run's row: each number the sum of its member nodes' (blank when none
    of them has that figure)."""
    members = [_node_rows(analysis, n, backward, parts=False)[0] for n in fold.nodes]
    width = len(FORWARD_COLUMNS) + (len(BACKWARD_COLUMNS) if backward else 0)
    row = [f"▸ {fold.label()}", f"{len(fold.members[0])} layers ×{fold.count}",
           members[0][2], members[-1][3], "", ""]
    for column in range(6, width):
        values = [m[column] for m in members if isinstance(m[column], int)]
        row.append(sum(values) if values else None)
    if backward:
        row[-1] = ", ".join(dict.fromkeys(l for m in members if m[-1] for l in
                                          str(m[-1]).split(", ")))
    return row


def _node_rows(analysis: Analysis, name: str, backward: bool, parts: bool) -> list[list]:
    b = analysis.options.batch
    r = analysis[name]
    if not r.ok:
        return [[name, r.type, _inputs(r), r.status() or "?"] + [None] * (
            len(FORWARD_COLUMNS) - 4) + ([None] * len(BACKWARD_COLUMNS) if backward else [])]
    fwd = r.forward
    row = [name, r.type, _inputs(r), _shape(r.output_shape), _shape(r.weight_shape),
           _shape(r.bias_shape), r.weight_elements + r.bias_elements, fwd.macs.value,
           fwd.mul.value, fwd.add.value, fwd.logic.value, fwd.special.value,
           r.weight_bytes.value + r.bias_bytes.value, r.activation_bytes.value]
    if backward:
        row += _backward_cells(r)
    rows = [row]
    if parts and len(r.parts) > 1:
        for part in r.parts:
            sub = ["  ↳ " + part.part, "", "", _shape(part.output_shape),
                   _shape(part.weight_shape), _shape(part.bias_shape), None,
                   _scaled(part, "macs", b), _scaled(part, "mul", b), _scaled(part, "add", b),
                   _scaled(part, "logic", b), _scaled(part, "special", b), None, None]
            rows.append(sub + ([None] * len(BACKWARD_COLUMNS) if backward else []))
    return rows


def _backward_cells(r: NodeResult) -> list:
    if r.backward is None:
        return [None] * (len(BACKWARD_COLUMNS) - 1) + [""]
    w, bias, x = r.backward.weight_grad, r.backward.bias_grad, r.backward.input_grad
    return [w.mul.value, w.add.value, bias.add.value, x.mul.value, x.add.value, x.logic.value,
            ", ".join(r.losses)]


def _totals_row(analysis: Analysis, backward: bool) -> list:
    t = analysis.totals
    row = ["total", "", "", "", "", "", t.params, t.macs, t.mul, t.add, t.logic, t.special,
           t.weight_bytes + t.bias_bytes, t.activation_bytes]
    if backward:
        weights = sum(r.backward.weight_grad.mul.value for r in analysis.nodes.values()
                      if r.backward)
        weight_adds = sum(r.backward.weight_grad.add.value for r in analysis.nodes.values()
                          if r.backward)
        bias_adds = sum(r.backward.bias_grad.add.value for r in analysis.nodes.values()
                        if r.backward)
        grads = [r.backward.input_grad for r in analysis.nodes.values() if r.backward]
        row += [weights, weight_adds, bias_adds, sum(g.mul.value for g in grads),
                sum(g.add.value for g in grads), sum(g.logic.value for g in grads),
                ", ".join(analysis.losses)]
    return row


def layer_table(analysis: Analysis, backward: bool = False, title: str = "", folds=None,
                expanded=frozenset()) -> Table:
    """The per-layer table; with ``folds``, repeated blocks grouped (see layer_rows)."""
    headers = FORWARD_COLUMNS + (BACKWARD_COLUMNS if backward else [])
    numeric = {i for i, h in enumerate(headers)
               if h not in ("layer", "type", "input", "output", "weight", "bias", "losses")}
    return Table(headers, layer_rows(analysis, backward, folds=folds, expanded=expanded),
                 title, numeric)


def summary_lines(analysis: Analysis) -> list[str]:
    """Totals in other tools' conventions and memory, for the end of a text report."""
    t, m = analysis.totals, analysis.memory
    lines = [f"FLOPs (mul + add + special): {t.flops:,}"]
    for label, value in t.tool_conventions().items():
        lines.append(f"{label}: {value:,}")
    lines += [f"backward: mul {t.backward_mul:,}, add {t.backward_add:,}, "
              f"logic {t.backward_logic:,}",
              f"memory ({analysis.options.precision}, batch {analysis.options.batch}): "
              f"parameters {human_bytes(m.parameters)}, activations "
              f"{human_bytes(m.activations)}, gradients {human_bytes(m.gradients)}, "
              f"{analysis.options.optimizer} state {human_bytes(m.optimizer_state)}; "
              f"training total {human_bytes(m.training)}"]
    return lines


def human_bytes(n: int) -> str:
    """Bytes with 1 KB = 1024 B, e.g. '241.04 KB (246,824 B)'."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:,.2f} {unit} ({n:,} B)"
    return f"{n:,} B"


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------
def _formulas(r: NodeResult) -> dict:
    fwd = r.forward
    items = {"params": r.params_count, "macs": fwd.macs, "mul": fwd.mul, "add": fwd.add,
             "logic": fwd.logic, "special": fwd.special, "weight_bytes": r.weight_bytes,
             "bias_bytes": r.bias_bytes, "activation_bytes": r.activation_bytes}
    return {k: v.explain() for k, v in items.items() if v.value}


def _grad_json(g: GradCount) -> dict:
    return {"mul": g.mul.value, "add": g.add.value, "logic": g.logic.value,
            "formula": {k: getattr(g, k).explain() for k in ("mul", "add", "logic")
                        if getattr(g, k).value}}


def _part_json(part: OpPart, batch: int) -> dict:
    scale = (lambda e: e) if batch == 1 else (lambda e: V("B", batch) * e.bracketed())
    return {"name": part.part, "output_shape": list(part.output_shape or ()),
            "weight_shape": list(part.weight_shape) if part.weight_shape else None,
            "bias_shape": list(part.bias_shape) if part.bias_shape else None,
            **{k: getattr(part, k).value * batch for k in ("macs", "mul", "add", "logic",
                                                           "special")},
            "formula": {k: scale(getattr(part, k)).explain() for k in
                        ("macs", "mul", "add", "logic", "special") if getattr(part, k).value}}


def layer_json(r: NodeResult, analysis: Analysis, backward: bool) -> dict:
    if not r.ok:
        return {"name": r.name, "type": r.type, "error": r.status()}
    fwd = r.forward
    entry = {
        "name": r.name, "type": r.type,
        "input_shapes": [list(s) for s in r.input_shapes],
        "output_shape": list(r.output_shape),
        "weight_shape": list(r.weight_shape) if r.weight_shape else None,
        "bias_shape": list(r.bias_shape) if r.bias_shape else None,
        "param_shapes": {k: list(v) for k, v in r.param_shapes.items()},
        "params": r.weight_elements + r.bias_elements,
        "macs": fwd.macs.value, "mul": fwd.mul.value, "add": fwd.add.value,
        "logic": fwd.logic.value, "special": fwd.special.value,
        "weight_bytes": r.weight_bytes.value + r.bias_bytes.value,
        "activation_bytes": r.activation_bytes.value,
        "flops_torch_forward": r.torch_forward.value,
        "formula": _formulas(r),
    }
    notes = [p.notes for p in r.parts if p.notes]
    if notes:
        entry["notes"] = notes
    if len(r.parts) > 1:
        entry["parts"] = [_part_json(p, analysis.options.batch) for p in r.parts]
    if backward:
        entry["backward"] = _backward_json(r)
    return entry


def _backward_json(r: NodeResult) -> dict:
    if r.backward is None:
        return {"weight_grad": _grad_json(GradCount()), "bias_grad": _grad_json(GradCount()),
                "input_grad": _grad_json(GradCount()), "losses": [],
                "flops_torch_backward": 0}
    result = {"weight_grad": _grad_json(r.backward.weight_grad),
              "bias_grad": _grad_json(r.backward.bias_grad),
              "input_grad": _grad_json(r.backward.input_grad),
              "total": {k: getattr(grad_total(r.backward), k).value
                        for k in ("mul", "add", "logic")},
              "losses": list(r.losses), "input_grad_needed": r.needs_input_grad,
              "flops_torch_backward": r.torch_backward.value}
    if r.backward.notes:
        result["notes"] = r.backward.notes
    return result


def report_json(analysis: Analysis, model: str, backward: bool = False) -> dict:
    inputs = {n: list(analysis[n].output_shape or ()) for n in analysis.network.input_names()}
    first = next(iter(inputs.values()), [])
    t, m = analysis.totals, analysis.memory
    totals = {"params": t.params, "macs": t.macs, "mul": t.mul, "add": t.add, "logic": t.logic,
              "special": t.special, "flops": t.flops,
              "weight_bytes": t.weight_bytes + t.bias_bytes,
              "activation_bytes": t.activation_bytes,
              "flops_torch_forward": t.flops_torch_forward,
              "flops_torch_training": t.flops_torch_training,
              "macs_with_bias_adds": t.macs + t.bias_adds,
              "tool_conventions": t.tool_conventions(),
              "flops_torch_training_group_correct": t.flops_torch_training_group_correct,
              "flops_torch_skipped_on_cpu": {
                  "forward": t.flops_torch_skipped_forward,
                  "training": t.flops_torch_skipped_forward + t.flops_torch_skipped_backward},
              "other_tools": dict(t.other_tools),
              "other_tools_versions": {k: v for k, v in VERSIONS.items()
                                       if t.other_tools.get(k) is not None},
              "memory": {"weights": m.weights, "biases": m.biases,
                         "activations": m.activations, "gradients": m.gradients,
                         "optimizer_state": m.optimizer_state, "training": m.training,
                         "inference": m.inference}}
    if backward:
        totals["backward"] = {"mul": t.backward_mul, "add": t.backward_add,
                              "logic": t.backward_logic}
    return {"model": model, "description": analysis.network.description,
            "input_shape": first, "inputs": inputs,
            "batch": analysis.options.batch, "precision": analysis.options.precision,
            "bias_adds": analysis.options.bias_adds, "losses": analysis.losses,
            "layers": [layer_json(analysis[n], analysis, backward) for n in analysis.order],
            "totals": totals}
