"""Follow-ups to issue 14's big-network work: folding remembered and automatic for big
designs, readable fold labels, a grouped table that does not sort its runs apart, the
Dataflow caption clear of its counters, the batch-loss legend clear of the curve, and a
minimap capped to a share of a small canvas."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.graph.analysis import analyze
from core.graph.blocks import find_folds
from core.graph.presets import load_preset
from gui.design.folds import AUTO_FOLD_LAYERS, FOLD_SETTING


def open_preset(window, name):
    window.document.load_network(load_preset(name))
    QApplication.processEvents()  # the status message and the fitted view come a tick later
    QApplication.processEvents()


def new_window(qtbot, settings):
    from gui.main_window import MainWindow
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    return win


def close(win):
    win.document.undo_stack.setClean()
    win.close()


# -- 1. folding: remembered, automatic for big designs ---------------------------------
def test_big_design_opens_folded_and_a_small_one_does_not(window):
    big = load_preset("resnet50")
    assert len(big.nodes) > AUTO_FOLD_LAYERS >= len(load_preset("lenet5").nodes)
    open_preset(window, "resnet50")
    scene = window.canvas.scene_
    assert window.act_fold.isChecked() and scene.folding.enabled
    assert sorted(b.fold.count for b in scene.blocks.values()) == \
        sorted(f.count for f in find_folds(analyze(big)))
    assert window.act_expand_all.isEnabled()
    message = window.statusBar().currentMessage()
    assert "176 layers" in message and "folded" in message and "Ctrl+B" in message
    open_preset(window, "lenet5")
    assert not window.act_fold.isChecked() and not scene.folding.enabled
    assert not scene.blocks and len(scene.nodes) == len(window.document.network.nodes)
    assert not window.act_expand_all.isEnabled()
    open_preset(window, "bert-base")  # an automatic fold is no remembered choice
    assert window.act_fold.isChecked() and len(scene.blocks) == 1
    assert window.settings.value(FOLD_SETTING) is None


def test_the_users_choice_is_remembered_across_sessions(qtbot, tmp_path):
    path = str(tmp_path / "settings.ini")
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    win.act_fold.trigger()  # the user turns folding on
    assert win.canvas.scene_.folding.enabled
    close(win)
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    assert win.act_fold.isChecked() and win.canvas.scene_.folding.enabled
    open_preset(win, "resnet18")  # 70 layers: folded because the user chose so
    assert win.canvas.scene_.blocks
    win.act_fold.trigger()  # ... and now off, explicitly
    close(win)
    win = new_window(qtbot, QSettings(path, QSettings.IniFormat))
    open_preset(win, "resnet50")
    scene = win.canvas.scene_
    assert not win.act_fold.isChecked() and not scene.folding.enabled and not scene.blocks
    assert "Ctrl+B folds" in win.statusBar().currentMessage()
    close(win)


# -- 2. readable labels, grouped table order -------------------------------------------
def test_fold_labels_name_the_common_prefix_and_the_block_numbers():
    from core.graph.blocks import _numbered_range
    folds = find_folds(analyze(load_preset("resnet50")))
    stage3 = next(f for f in folds if f.count == 5)
    assert stage3.members[0][0].startswith("layer3_1_") and \
        stage3.members[-1][0].startswith("layer3_5_")
    assert stage3.label() == "layer3 blocks 1–5 ×5"
    assert stage3.span == "layer3_1 … layer3_5"
    assert _numbered_range("enc0", "enc5") == "enc blocks 0–5"
    assert _numbered_range("l0", "l11") is None  # a one-letter prefix reads worse
    assert _numbered_range("block_a", "block_b") is None
    assert _numbered_range("x_5", "x_2") is None
    bert = find_folds(analyze(load_preset("bert-base")))[0]
    assert bert.label() == "l0 … l11 ×12"  # no readable prefix: first … last


def test_grouped_table_keeps_each_runs_layers_under_it(window, qtbot):
    open_preset(window, "resnet50")
    layers = window.analysis_panel.layers
    table, proxy, model = layers.table, layers.proxy, layers.model
    table.sortByColumn(7, Qt.DescendingOrder)  # sorted by a column before grouping
    layers.group.setChecked(True)
    assert not table.isSortingEnabled() and proxy.sortColumn() == -1
    assert "Sorting is off" in table.horizontalHeader().toolTip()
    block_row = next(r for r, ref in enumerate(model.rows) if ref.block is not None)
    model.toggle_block(block_row)
    header = table.horizontalHeader()
    x = header.sectionViewportPosition(7) + header.sectionSize(7) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, 5))
    shown = [model.rows[proxy.mapToSource(proxy.index(r, 0)).row()]
             for r in range(proxy.rowCount())]
    fold = model.fold(model.rows[block_row].block)
    start = next(i for i, ref in enumerate(shown) if ref.block == fold.id)
    listed = sum(ref.member_of == fold.id for ref in shown)
    under = shown[start + 1:start + 1 + listed]  # the rows right under the run's row
    assert all(ref.member_of == fold.id for ref in under)
    assert [ref.name for ref in under if ref.part is None] == list(fold.nodes)
    layers.group.setChecked(False)
    assert table.isSortingEnabled()


# -- 3. the Dataflow caption clear of the counters table -------------------------------
def test_dataflow_caption_does_not_overlap_the_counters_at_1280x720(window, qtbot):
    from gui.main_window import WORKSPACES
    window.resize(1280, 720)
    window.show_workspace(WORKSPACES.index("Dataflow"))
    panel = window.ensure_dataflow_panel()
    assert panel.set_layer(56, 56, 64, 3, 64, 1, 1)  # a long caption: 4,096 steps
    counters = panel.counters
    caption, table = counters.summary, counters.table
    qtbot.waitUntil(lambda: caption.text().startswith("<b>step 1 of 4,096"), timeout=10000)
    QApplication.processEvents()
    assert not caption.geometry().intersects(table.geometry())
    assert caption.height() >= caption.heightForWidth(caption.width())


# -- 4. the batch-loss legend clear of the curve ---------------------------------------
def test_batch_loss_legend_does_not_cover_the_curve(shown):
    import math

    from gui.training.plots import TrainingPlotsWidget
    plots = shown(TrainingPlotsWidget(), 900, 300)
    plots.reset(100)
    plots.add_batches([SimpleNamespace(epoch=1 + i // 100, steps_per_epoch=100,
                                       step=i % 100 + 1, loss=2.3 * math.exp(-i / 60) + 0.1)
                       for i in range(300)])
    plots.refresh()
    QApplication.processEvents()
    legend = plots.batch_plot.getPlotItem().legend  # where named curves go
    assert legend is plots.batch_legend
    assert len(legend.items) == 2  # batch, smoothed
    box = legend.sceneBoundingRect()
    view = plots.batch_plot.getPlotItem().getViewBox()
    assert not box.intersects(view.sceneBoundingRect())
    xs, ys = plots.curve_batch.getData()
    for x, y in zip(xs[:20], ys[:20]):
        assert not box.contains(view.mapViewToScene(pg_point(x, y)))
    # the legend does not widen the plot past its widget (nothing clipped at the right)
    plot_item = plots.batch_plot.getPlotItem()
    assert plot_item.sceneBoundingRect().right() <= plots.batch_plot.width() + 1


def pg_point(x, y):
    from PySide6.QtCore import QPointF
    return QPointF(float(x), float(y))


# -- 5. the minimap: a share of the canvas, hidden when everything is in view ----------
def test_minimap_stays_within_a_fifth_of_the_canvas_and_hides_when_all_is_shown(window):
    from gui.design.minimap import SHARE
    window.resize(1280, 720)
    open_preset(window, "resnet18")
    window.jump_to_node("fc")
    QApplication.processEvents()
    minimap, viewport = window.canvas.minimap, window.canvas.viewport()
    assert minimap.isVisible()
    assert minimap.width() <= SHARE * viewport.width() + 1
    assert minimap.height() <= SHARE * viewport.height() + 1
    assert SHARE <= 0.2
    window.canvas.zoom_to_fit()
    QApplication.processEvents()
    assert not minimap.isVisible()


def test_grouped_runs_and_totals_are_not_elided(window):
    open_preset(window, "resnet50")
    layers = window.analysis_panel.layers
    layers.group.setChecked(True)
    QApplication.processEvents()
    table, proxy, model = layers.table, layers.proxy, layers.model
    bold = [r for r, ref in enumerate(model.rows) if ref.name is None]
    assert len(bold) == 5  # four runs and the totals
    for r in bold:
        for col in range(model.columnCount()):
            index = proxy.mapFromSource(model.index(r, col))
            assert table.columnWidth(col) >= table.sizeHintForIndex(index).width(), \
                (model.rows[r], col, index.data())


def test_dataflow_counters_fit_their_cells_at_1280x720(window, qtbot):
    """No counter is elided ("27,556 / 11…"): each cell's text fits its column, in a shorter
    form when it must, and its tooltip keeps the exact figures."""
    from gui.main_window import WORKSPACES
    window.resize(1280, 720)
    window.show_workspace(WORKSPACES.index("Dataflow"))
    panel = window.ensure_dataflow_panel()
    assert panel.set_layer(56, 56, 64, 3, 64, 1, 1)
    counters = panel.counters
    qtbot.waitUntil(lambda: counters.summary.text().startswith("<b>step 1 of 4,096"), timeout=10000)
    QApplication.processEvents()
    table = counters.table
    metrics = table.fontMetrics()
    texts = []
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            texts.append(item.text())
            assert metrics.horizontalAdvance(item.text()) <= table.columnWidth(c) - 10, item.text()
            if item.text() != "—":
                now, total = (int(x.replace(",", "")) for x in item.toolTip().split(" of "))
                assert total >= now
    assert any("M" in t for t in texts)  # the 12.6M-element totals needed the short form
