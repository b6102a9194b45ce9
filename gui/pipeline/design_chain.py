"""The MLP widths of a design: its chain of Linear layers, read from the editor's analysis."""

from __future__ import annotations

from core.common.errors import InputError


def linear_chain(analysis, through: str | None = None) -> tuple[tuple[int, ...], list[str]]:
    """(widths, layer names) of the chain of Linear layers that ``through`` belongs to (the
    first chain when None). Layers chain when each one feeds, through layers without weights
    (activations, dropout, flatten), the next, and its outputs are the next one's inputs."""
    if analysis is None:
        raise InputError("widths: there is no design to read (it has a cycle or is empty)")
    network = analysis.network
    linears = [n for n in analysis.order if analysis.nodes[n].type == "Linear"
               and analysis.nodes[n].ok]
    if not linears:
        raise InputError("widths: the design has no valid Linear layer")
    chains: list[list[str]] = []
    for name in linears:
        if chains and _follows(analysis, network, chains[-1][-1], name):
            chains[-1].append(name)
        else:
            chains.append([name])
    chain = next((c for c in chains if through in c), None) if through else chains[0]
    if chain is None:
        raise InputError(f"widths: {through} is not a valid Linear layer")
    first = analysis.nodes[chain[0]]
    widths = [first.input_shapes[0][-1]] + [analysis.nodes[n].params["out_features"]
                                             for n in chain]
    return tuple(int(w) for w in widths), chain


def _follows(analysis, network, previous: str, name: str) -> bool:
    result = analysis.nodes[name]
    if result.input_shapes[0][-1] != analysis.nodes[previous].params["out_features"]:
        return False
    # the path from previous to name may only pass through layers without weights
    between = network.ancestors(name) - network.ancestors(previous)
    between.discard(name)
    return previous in network.ancestors(name) and all(
        analysis.nodes[n].weight_elements == 0 and analysis.nodes[n].type != "Linear"
        for n in between if n in analysis.nodes)
