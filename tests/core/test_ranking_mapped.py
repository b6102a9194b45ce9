"""Best against best: the mapper's best within each dataflow, checked against independent
search() calls and the textbook nests' own evaluation."""

from __future__ import annotations

import pytest

from core.dataflow import Buffers, ConvLayer, Hierarchy, PEArray, evaluate, textbook_mapping
from core.dataflow.dataflows import DATAFLOWS
from core.dataflow.mapper import OBJECTIVES, objective_key, search
from core.dataflow.ranking_mapped import MappedRanking, RankProgress, rank_mapped, rank_mapped_steps

CASES = [
    (ConvLayer(6, 7, 9, 3, 1), Hierarchy(Buffers(9, 9, 1), PEArray(12, 14))),
    (ConvLayer(8, 8, 4, 3, 4), Hierarchy(Buffers(64, 72, 16), PEArray(4, 4))),
    (ConvLayer(10, 10, 6, 3, 8, 1, 1), Hierarchy(Buffers(200, 200, 64), PEArray(6, 8))),
]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("layer,hierarchy", CASES)
def test_best_per_dataflow_is_the_searchs_best_and_never_worse_than_the_textbook(layer, hierarchy, objective):
    ranking = rank_mapped(layer, hierarchy, objective)
    assert [e.dataflow for e in ranking.entries] == list(DATAFLOWS)
    for entry in ranking.entries:
        alone = search(layer, hierarchy, dataflow=entry.dataflow, objective=objective)  # independent call
        assert entry.cost is not None
        assert objective_key(entry.cost, objective) == objective_key(alone.cost, objective)
        assert evaluate(entry.best, layer, hierarchy) == entry.cost  # the mapping has the cost shown
        try:
            book = textbook_mapping(entry.dataflow, layer, hierarchy)
        except Exception:  # noqa: BLE001 - the buffers cannot run this nest: no textbook figure
            assert entry.textbook_cost is None and entry.textbook_error
            continue
        book_cost = evaluate(book, layer, hierarchy)
        assert entry.textbook_cost == book_cost
        assert objective_key(entry.cost, objective)[0] <= objective_key(book_cost, objective)[0]
        assert entry.gain(objective) >= 1.0


@pytest.mark.parametrize("layer,hierarchy", CASES)
def test_verdict_is_the_argmin_of_the_objective(layer, hierarchy):
    for objective in ("energy", "accesses"):
        ranking = rank_mapped(layer, hierarchy, objective)
        keys = {e.dataflow: objective_key(e.cost, objective) for e in ranking.entries if e.cost}
        least = min(keys.values())
        assert ranking.best == next(df for df in DATAFLOWS if keys.get(df) == least)
        assert ranking.best in ranking.explanation()
        table = ranking.table()
        assert [row[-2] for row in table.rows].count("yes") == 1
        assert table.rows[DATAFLOWS.index(ranking.best)][-2] == "yes"


def test_progress_then_ranking_and_stop_ends_early():
    layer, hierarchy = CASES[1]
    events = list(rank_mapped_steps(layer, hierarchy, "energy"))
    assert isinstance(events[-1], MappedRanking) and not events[-1].stopped
    assert any(isinstance(e, RankProgress) for e in events[:-1])
    calls = {"n": 0}

    def stop_after_first():
        calls["n"] += 1
        return any(isinstance(e, RankProgress) and e.done >= 1 for e in seen)
    seen = []
    for event in rank_mapped_steps(layer, hierarchy, "energy", stop_after_first):
        seen.append(event)
    last = seen[-1]
    assert isinstance(last, MappedRanking) and last.stopped
    assert len(last.entries) < len(DATAFLOWS)
    assert "Stopped early" in last.explanation()


def test_unknown_objective_is_one_clear_message():
    from core.common.errors import InputError
    with pytest.raises(InputError, match="objective"):
        list(rank_mapped_steps(*CASES[0], objective="speed"))
