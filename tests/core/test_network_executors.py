"""The whole-network mapper on the shared executors (issue 16): the distinct searches fanned
out to a process pool (and the inline executor) give exactly the table of the plain loop,
rows stream back as they finish, a stop ends the pool, and ``dataflow MODEL --executor``."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest

from core.cli.parser import main
from core.common.executors import InlineExecutor, PoolExecutor
from core.dataflow.hierarchy import Hierarchy
from core.dataflow.layer import Buffers, PEArray
from core.dataflow.network import (ANY, NetworkMappingTable, NetworkProgress, SearchTask, map_network,
                                   map_network_steps, search_task)
from core.graph.presets import load_preset

HIERARCHY = Hierarchy(Buffers(512, 512, 128), PEArray(8, 8))
NARROW = Hierarchy(Buffers(64, 64, 16), PEArray(4, 4))  # rs fits no lenet5 conv here
CASES = [("lenet5", HIERARCHY, ("ws", ANY)), ("lenet5", NARROW, ("rs", "os"))]


def comparable(table: NetworkMappingTable) -> dict:
    """Everything of a table but its wall time."""
    out = table.to_dict()
    out.pop("seconds")
    return out | {"text": table.table().rows}


@pytest.fixture(scope="module")
def plain_tables():
    """The tables of the plain in-process loop (no executor): the reference."""
    return [map_network(load_preset(p), h, "energy", dfs) for p, h, dfs in CASES]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_pool_gives_the_plain_table_exactly_and_streams_rows(case, plain_tables):
    preset, hierarchy, dataflows = CASES[case]
    items = list(map_network_steps(load_preset(preset), hierarchy, "energy", dataflows,
                                   executor=PoolExecutor(workers=2)))
    table = items[-1]
    assert isinstance(table, NetworkMappingTable) and not table.stopped
    assert comparable(table) == comparable(plain_tables[case])
    streamed = [i.row for i in items[:-1] if isinstance(i, NetworkProgress) and i.row is not None]
    assert len(streamed) == table.searches  # one row per distinct search, as it finished
    first = {(r.layer, r.dataflow): r for r in table.rows if not r.reused}
    for row in streamed:
        assert comparable_row(row) == comparable_row(first[(row.layer, row.dataflow)])
    done = [i.done for i in items[:-1]]
    assert done == sorted(done) and done[-1] == len(table.rows)


def comparable_row(row) -> tuple:
    return (row.name, row.dataflow, row.error, row.result.to_dict() if row.result else None)


def test_the_inline_executor_gives_the_plain_table_too(plain_tables):
    preset, hierarchy, dataflows = CASES[1]
    table = map_network(load_preset(preset), hierarchy, "energy", dataflows, executor=InlineExecutor())
    assert comparable(table) == comparable(plain_tables[1])
    assert any(r.result is None and "no mapping that rs allows" in r.error for r in table.rows)


def test_a_search_task_pickles_and_runs_alone():
    import pickle
    layer = map_network(load_preset("lenet5"), HIERARCHY, "energy", ("ws",)).rows[0].layer
    task = pickle.loads(pickle.dumps(SearchTask(0, layer, HIERARCHY, "ws", "energy")))
    result = search_task(task)
    assert result.cost.energy.total == map_network(load_preset("lenet5"), HIERARCHY, "energy",
                                                   ("ws",)).rows[0].result.cost.energy.total


def test_a_stop_gives_a_partial_table_and_ends_the_pool():
    seen = {"rows": 0}

    def stop():
        return seen["rows"] >= 1

    items = []
    for item in map_network_steps(load_preset("lenet5"), HIERARCHY, "energy", ("ws", "os", ANY), stop=stop,
                                  executor=PoolExecutor(workers=2)):
        items.append(item)
        if isinstance(item, NetworkProgress) and item.row is not None:
            seen["rows"] += 1
    table = items[-1]
    assert table.stopped and 1 <= len(table.rows) < 15
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("Spawn")]


def test_cli_pool_prints_the_inline_json(capsys):
    argv = ["dataflow", "lenet5", "--dataflows", "os", "--input-buffer", "512", "--weight-buffer", "512",
            "--output-buffer", "128", "--pe-rows", "8", "--pe-cols", "8", "--format", "json"]
    assert main(argv) == 0
    inline = json.loads(capsys.readouterr().out)
    assert main(argv + ["--executor", "pool", "--workers", "2"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    inline.pop("seconds"), pooled.pop("seconds")
    assert pooled == inline


@pytest.mark.parametrize("argv, fragment", [
    (["lenet5", "--executor", "inline", "--workers", "2"], "--workers needs --executor pool"),
    (["lenet5", "--executor", "pool", "--cluster", "local"], "--cluster needs --executor ray"),
    (["lenet5", "--executor", "pool", "--workers", "0"], "workers 0 is not allowed"),
    (["--height", "8", "--width", "8", "--channels", "3", "--kernel", "3", "--filters", "4", "--search",
      "--executor", "pool"], "for a whole network: give MODEL"),
])
def test_cli_bad_executor_options_are_one_line(argv, fragment, capsys):
    assert main(["dataflow", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_a_search_that_keeps_failing_is_retried_then_its_row_says_why(monkeypatch):
    from core.dataflow import network
    calls = []

    def broken(task, _context=None, stop=None):
        calls.append(task.index)
        raise RuntimeError("worker lost")

    monkeypatch.setattr(network, "search_task", broken)
    table = map_network(load_preset("lenet5"), HIERARCHY, "energy", ("ws",), executor=InlineExecutor(retries=1))
    assert len(calls) == 2 * table.searches  # every search tried twice
    assert table.rows and all(r.result is None and r.error == "search failed: RuntimeError: worker lost"
                              for r in table.rows)
    assert table.totals()["ws"]["energy"] is None and not table.stopped
