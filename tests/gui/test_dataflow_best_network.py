"""The Comparison tab's best-against-best view and the Network tab: their tables equal independent
core calls (search per dataflow, map_network), the verdict is the argmin, rows load mappings into
the lab, exports write CSV/Markdown/LaTeX, Stop ends a run within a second or two."""

from __future__ import annotations

import pytest

from core.dataflow.dataflows import DATAFLOWS
from core.dataflow.mapper import objective_key, search
from core.dataflow.network import map_network
from core.graph.presets import load_preset

from gui.dataflow import DataflowPanel

LENET_BUFFERS = {"input buffer": 1024, "weight buffer": 1024, "output buffer": 256}


@pytest.fixture
def panel(qtbot, shown):
    p = shown(DataflowPanel(lambda: load_preset("lenet5")), 1300, 850)
    qtbot.waitUntil(lambda: p.frames is not None, timeout=10_000)
    yield p
    p.shutdown()


def cells(widget) -> list[list[str]]:
    return [[widget.item(r, c).text() for c in range(widget.columnCount())] for r in range(widget.rowCount())]


def rendered(table) -> list[list[str]]:
    return [[table.cell(v, c) if v is not None else "—" for c, v in enumerate(row)] for row in table.rows]


def set_fields(qtbot, panel, values: dict) -> None:
    old = panel.state
    for key, value in values.items():
        panel.fields[key].setValue(value)
    panel.recompute()
    qtbot.waitUntil(lambda: panel.state is not old and not panel.is_busy(), timeout=20_000)


def show_mapped(qtbot, panel):
    panel.tabs.setCurrentWidget(panel.comparison)
    mapped = panel.comparison.mapped
    qtbot.waitUntil(lambda: mapped.ranking is not None and mapped.ranking.layer == panel.state.layer
                    and not mapped.is_running(), timeout=30_000)
    return mapped


def test_mapped_view_is_the_default_and_its_table_is_best_against_best(panel, qtbot):
    set_fields(qtbot, panel, {"filters": 4, "input buffer": 64, "weight buffer": 64, "output buffer": 8})
    assert panel.comparison.mode == "mapped"
    mapped = show_mapped(qtbot, panel)
    layer, hierarchy = panel.state.layer, panel.mapping_tab.hierarchy
    ranking = mapped.ranking
    energies = {}
    for row, df in zip(cells(mapped.table), DATAFLOWS):
        alone = search(layer, hierarchy, dataflow=df, objective="energy")  # independent call
        energies[df] = objective_key(alone.cost, "energy")
        assert row[0] == df
        assert float(row[2].replace(",", "")) == pytest.approx(alone.cost.energy.total, abs=0.01)
        if row[3] != "—":
            assert float(row[2].replace(",", "")) <= float(row[3].replace(",", ""))
    best = min(DATAFLOWS, key=lambda df: (energies[df], DATAFLOWS.index(df)))
    assert ranking.best == best
    assert [r[-2] for r in cells(mapped.table)] == ["yes" if df == best else "" for df in DATAFLOWS]
    assert "Best against best" in mapped.verdict.text() and best in mapped.verdict.text()
    assert cells(mapped.table) == rendered(ranking.table())
    # a click loads that dataflow's best mapping into the Mapping tab and turns the animation on
    row = DATAFLOWS.index(best)
    mapped.table.cellClicked.emit(row, 0)
    assert panel.mapping_tab.mapping.levels == ranking.entries[row].best.levels
    assert panel.mapping_tab.animate_box.isChecked()
    qtbot.waitUntil(lambda: panel.animated_mapping is not None and not panel.mapping_jobs.is_busy(),
                    timeout=20_000)


def test_textbook_view_keeps_the_hand_count_comparison(panel, qtbot):
    comparison = panel.comparison
    panel.tabs.setCurrentWidget(comparison)
    comparison.set_mode("textbook")
    assert comparison.pages.currentWidget() is comparison.textbook_page
    assert comparison.explanation.text() == panel.state.ranking.explanation()
    comparison.set_mode("mapped")
    assert comparison.pages.currentWidget() is comparison.mapped


def test_mapped_export_and_objective(panel, qtbot, tmp_path):
    mapped = show_mapped(qtbot, panel)
    for suffix, head in ((".csv", "dataflow,"), (".md", "|"), (".tex", "\\begin")):
        path = mapped.export_table(str(tmp_path / f"best{suffix}"))
        assert path and head in open(path, encoding="utf-8").read()
    mapped.objective_box.setCurrentIndex(mapped.objective_box.findData("accesses"))
    qtbot.waitUntil(lambda: mapped.ranking is not None and mapped.ranking.objective == "accesses" and not mapped.is_running(), timeout=30_000)
    assert "memory accesses" in mapped.verdict.text()


def test_mapped_search_stops(panel, qtbot):
    panel.tabs.setCurrentWidget(panel.comparison)
    mapped = panel.comparison.mapped
    set_fields(qtbot, panel, {"height": 58, "width": 58, "channels": 64, "filters": 64, "padding": 0,
                              "input buffer": 4096, "weight buffer": 4096, "output buffer": 1024})
    qtbot.waitUntil(mapped.is_running, timeout=10_000)
    mapped.stop_button.click()
    qtbot.waitUntil(lambda: not mapped.is_running(), timeout=3_000)
    assert mapped.ranking is None or mapped.ranking.layer != panel.state.layer or mapped.ranking.stopped


def test_network_table_equals_map_network_and_exports(panel, qtbot, tmp_path):
    set_fields(qtbot, panel, LENET_BUFFERS)
    panel.tabs.setCurrentWidget(panel.network_tab)
    tab = panel.network_tab
    assert tab.run()
    qtbot.waitUntil(lambda: tab.result is not None and not tab.is_running(), timeout=60_000)
    alone = map_network(load_preset("lenet5"), panel.mapping_tab.hierarchy, "energy")  # independent call
    shown_rows, expected = cells(tab.table), rendered(alone.table())
    assert len(shown_rows) == len(expected)
    for got, want in zip(shown_rows, expected):
        assert got[:7] == want[:7]  # layer, shape, dataflow, energy, accesses, cycles, utilisation
    assert alone.best_dataflow() in tab.summary.text()
    for suffix, head in ((".csv", "layer,"), (".md", "|"), (".tex", "\\begin")):
        path = tab.export_table(str(tmp_path / f"net{suffix}"))
        assert path and head in open(path, encoding="utf-8").read()
    # double-click on a layer opens it in the lab with its best mapping
    row = next(i for i, r in enumerate(alone.rows) if r.name == "conv2" and r.result is not None)
    entry = alone.rows[row]
    tab.table.cellDoubleClicked.emit(row, 0)
    qtbot.waitUntil(lambda: panel.state.layer == entry.layer and panel._pending_layer is None
                    and not panel.is_busy(), timeout=20_000)
    for key in ("height", "width", "channels", "kernel", "filters", "stride", "padding"):
        assert panel.fields[key].value() == getattr(entry.layer, key)
    assert panel.mapping_tab.mapping.levels == entry.result.best.levels
    assert panel.tabs.currentWidget() is panel.mapping_tab


def test_network_run_stops(panel, qtbot):
    panel.network_tab.design_source = lambda: load_preset("resnet18")
    set_fields(qtbot, panel, {"input buffer": 4096, "weight buffer": 4096, "output buffer": 1024})
    tab = panel.network_tab
    panel.tabs.setCurrentWidget(tab)
    assert tab.run()
    qtbot.waitUntil(lambda: tab.progress.maximum() > 1, timeout=10_000)
    tab.stop_button.click()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=3_000)
    assert tab.result is not None and tab.result.stopped
    assert "Stopped" in tab.summary.text()


def test_network_without_design_says_so(qtbot, shown):
    p = shown(DataflowPanel(), 1300, 850)
    qtbot.waitUntil(lambda: p.frames is not None, timeout=10_000)
    assert not p.network_tab.run()
    assert "Design workspace" in p.network_tab.status.text()
    p.shutdown()


def test_mapped_view_follows_the_mapping_tabs_registers(panel, qtbot):
    mapped = show_mapped(qtbot, panel)
    panel.mapping_tab.registers_box.setChecked(True)
    qtbot.waitUntil(lambda: mapped.problem[1].registers is not None and mapped.ranking is not None
                    and not mapped.is_running() and mapped._current(), timeout=30_000)
    assert mapped.problem[1] == panel.mapping_tab.hierarchy
    best = mapped.ranking.entry(mapped.ranking.best)
    assert [level.name for level in best.best.levels] == list(panel.mapping_tab.hierarchy.level_names)
