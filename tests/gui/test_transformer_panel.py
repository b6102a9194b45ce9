"""The Transformer workspace driven as a user would: the course's defaults, the diagram's
edges (thickness, hover text, click), form edits valid and not, the hook check, exports of
tables and plots, and opening the design in the Design workspace."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPoint, Qt

from core.transformer.config import TransformerConfig
from core.transformer.ledger import build_ledger
from gui.transformer import TransformerPanel

DEBOUNCE_WAIT_MS = 250


@pytest.fixture
def panel(shown):
    p = shown(TransformerPanel(), 1280, 680)
    yield p
    p.shutdown()


def test_course_defaults_fill_diagram_table_and_summary(panel):
    assert panel.config == TransformerConfig()
    ledger = build_ledger(TransformerConfig())
    assert len(panel.diagram.edges) == len(ledger.edges) == 48
    assert panel.ledger_table.view.rowCount() == 49           # edges + total
    assert panel.ledger_table.view.item(0, 6).text() == \
        "s × d_model × 16 = 128 × 256 × 16 = 524,288"
    assert f"{ledger.total_bits:,} bits" in panel.summary.text()
    assert panel.spins["ffn"].text() == "4 × d_model"


def test_edges_are_thicker_as_they_carry_more_and_tell_their_formula(panel):
    ledger = panel.ledger
    widths = {e.kind: item.pen().widthF() for e, item in zip(ledger.edges, panel.diagram.edges)}
    assert widths["s²"] > widths["d_model"]                 # 2,097,152 vs 524,288 bits
    for edge, item in zip(ledger.edges, panel.diagram.edges):
        assert edge.formula in item.toolTip()


def test_clicking_an_edge_shows_its_formula_and_selects_its_row(panel, qtbot):
    index = next(i for i, e in enumerate(panel.ledger.edges) if e.kind == "s²")
    item = panel.diagram.edges[index]
    view = panel.diagram
    point = view.mapFromScene(item.path().pointAtPercent(0.5))
    assert view.itemAt(point) is item, "the thick scores edge should be on top there"
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=QPoint(point.x(), point.y()))
    edge = panel.ledger.edges[index]
    assert edge.formula in panel.edge_detail.text()
    assert panel.ledger_table.view.currentRow() == index
    # And the other way: a table row highlights its edge.
    panel.ledger_table.view.selectRow(3)
    assert panel.diagram.scene_.selected_edge == 3


def test_bad_edit_says_why_and_keeps_the_last_valid_ledger(panel, qtbot):
    panel.spins["d_model"].setValue(250)
    qtbot.wait(DEBOUNCE_WAIT_MS)
    assert panel.errors["d_model"].isVisible()
    assert "not divisible by heads 8" in panel.errors["d_model"].text()
    assert panel.config.d_model == 256
    panel.spins["d_model"].setValue(512)
    qtbot.wait(DEBOUNCE_WAIT_MS)
    assert not panel.errors["d_model"].isVisible()
    assert panel.config.d_model == 512 and panel.config.ffn == 2048   # FFN follows 4 × d_model
    assert panel.ledger.edges[0].bits.value == 128 * 512 * 16
    assert panel.ledger_table.view.item(0, 5).text() == f"{128 * 512 * 16:,}"


def test_hook_check_agrees_with_the_ledger(panel, qtbot):
    panel.set_config(TransformerConfig(d_model=32, heads=4, ffn=64, vocab=20, src_len=7,
                                       tgt_len=5, batch=2, precision="fp32"))
    panel.check_button.click()
    qtbot.waitUntil(lambda: panel.check_button.isEnabled(), timeout=20_000)
    assert f"all {len(panel.ledger.edges)} edges equal" in panel.check_result.text()
    assert "float32" in panel.check_result.text()


def test_int8_check_says_what_runs_instead(panel, qtbot):
    panel.set_config(TransformerConfig(d_model=16, heads=2, ffn=32, vocab=9, src_len=4,
                                       tgt_len=3, precision="int8"))
    panel.check_button.click()
    qtbot.waitUntil(lambda: panel.check_button.isEnabled(), timeout=20_000)
    text = panel.check_result.text()
    assert "edges equal the hooks (elements" in text and "runs in fp32" in text


def test_crossover_marked_on_log_and_linear_axes(panel):
    plots = panel.plots
    assert plots.crossover_line.value() == pytest.approx(math.log10(165))
    plots.log_axes.setChecked(False)
    assert plots.crossover_line.value() == 165
    assert "s = 165" in plots.caption.text()


def test_exports_write_tables_and_images(panel, tmp_path):
    for suffix, marker in ((".csv", "from,to,"), (".md", "| from |"),
                           (".tex", r"\begin{tabular}")):
        path = panel.ledger_table.export(str(tmp_path / f"ledger{suffix}"))
        assert marker in open(path, encoding="utf-8").read()
    assert "Korthikanti" in open(panel.beyond.export(str(tmp_path / "beyond.md")),
                                 encoding="utf-8").read()
    for name in ("diagram.png", "diagram.svg"):
        path = panel.export_diagram(str(tmp_path / name))
        assert (tmp_path / name).stat().st_size > 1000, path
    for name in ("plots.png", "plots.svg"):
        panel.export_plots(str(tmp_path / name))
        assert (tmp_path / name).stat().st_size > 1000
    assert "<svg" in (tmp_path / "plots.svg").read_text(encoding="utf-8")


def test_workspace_is_built_on_first_show_and_opens_its_design(window, qtbot):
    from gui.main_window import WORKSPACES
    assert window.transformer_panel is None
    window.show_workspace(WORKSPACES.index("Transformer"))
    panel = window.transformer_panel
    assert panel is not None and window.current_page() is panel
    panel.design_button.click()
    assert window.workspace_bar.currentIndex() == WORKSPACES.index("Design")
    assert window.document.network.name == "transformer-lab"
    assert window.document.analysis.ok


@pytest.fixture
def demo_panel(shown):
    p = shown(TransformerPanel(), 1280, 680)
    p.tabs.setCurrentWidget(p.demo)
    yield p
    assert p.shutdown()


def set_tiny(demo, steps=400):
    for key, value in dict(length=6, d_model=32, heads=2, ffn=64, batch=32, steps=steps).items():
        demo.spins[key].setValue(value)
    demo.lr.setValue(0.004)
    demo.target.setValue(0.97)


def test_training_demo_learns_in_the_worker(demo_panel, qtbot, tmp_path):
    demo = demo_panel.demo
    set_tiny(demo)
    assert demo.start()
    qtbot.waitUntil(lambda: demo.last_done is not None and demo.start_button.isEnabled(),
                    timeout=60_000)
    assert demo.last_done.token_accuracy >= 0.97 and not demo.last_done.stopped
    assert demo.eval_acc[-1] == demo.last_done.token_accuracy
    assert len(demo.steps) == demo.last_done.step
    assert "done after" in demo.status.text()
    assert "expected" in demo.example.text()
    demo.export_plots(str(tmp_path / "demo.svg"))
    assert (tmp_path / "demo.svg").stat().st_size > 1000


def test_training_demo_stops_within_a_second(demo_panel, qtbot):
    demo = demo_panel.demo
    set_tiny(demo, steps=100_000)
    demo.target.setValue(1.0)
    demo.start()
    qtbot.waitUntil(lambda: len(demo.steps) >= 2, timeout=30_000)
    demo.stop_button.click()
    qtbot.waitUntil(lambda: demo.last_done is not None, timeout=1_000)
    assert demo.last_done.stopped


def test_demo_has_its_own_worker_and_is_ready(panel):
    assert panel.demo.start_button.isEnabled() and not panel.demo.stop_button.isEnabled()
    assert panel.demo.controller is panel.controller and not panel.controller.is_running()
