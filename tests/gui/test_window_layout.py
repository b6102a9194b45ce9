"""The window at 1280x720: no workspace raises the window's minimum size above it, docks
keep a readable width, a broken saved layout is replaced, View → Reset layout."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from gui.main_window import WORKSPACES, MainWindow

SMALL = (1280, 720)


def settle(qtbot, ms: int = 50) -> None:
    QApplication.processEvents()
    qtbot.wait(ms)


@pytest.fixture
def small_window(qtbot, settings):
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(*SMALL)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.document.undo_stack.setClean()
    win.close()


def assert_docks_readable(win) -> None:
    for dock in win._editor_docks():
        assert dock.isVisible(), dock.objectName()
        content = dock.widget()
        need = max(content.minimumWidth(), content.minimumSizeHint().width())
        assert content.width() >= need, (dock.objectName(), content.width(), need)
    # the property form of a selected layer fits its dock without a horizontal scroll
    body = win.properties.body
    assert body.minimumSizeHint().width() <= body.parentWidget().width(), \
        (body.minimumSizeHint().width(), body.parentWidget().width())


@pytest.mark.parametrize("name", WORKSPACES)
def test_each_workspace_fits_1280x720(small_window, qtbot, name):
    win = small_window
    win.select_node("conv1")
    win.show_workspace(WORKSPACES.index(name))
    settle(qtbot)
    hint = win.minimumSizeHint()
    assert hint.width() <= SMALL[0] and hint.height() <= SMALL[1], hint.toTuple()
    assert win.minimumSize().width() <= SMALL[0] and win.minimumSize().height() <= SMALL[1]
    assert (win.width(), win.height()) == SMALL  # nothing forced the window to grow
    if name == "Design":
        assert_docks_readable(win)
        return
    page, holder = win.current_page(), win.workspaces.currentWidget()
    need = page.minimumSizeHint()
    view = holder.viewport().size()
    assert need.width() <= view.width() and need.height() <= view.height(), \
        (name, need.toTuple(), view.toTuple())
    assert not holder.horizontalScrollBar().isVisible()


def test_every_dataflow_tab_fits_1280x720(small_window, qtbot):
    """The Dataflow workspace's sub-tabs, the Mapping tab's editor included: nothing forces
    a scroll bar or clips a loop row."""
    win = small_window
    win.show_workspace(WORKSPACES.index("Dataflow"))
    panel = win.current_page()
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=10_000)
    holder = win.workspaces.currentWidget()
    for index in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(index)
        settle(qtbot)
        need, view = panel.minimumSizeHint(), holder.viewport().size()
        assert need.width() <= view.width() and need.height() <= view.height(), \
            (panel.tabs.tabText(index), need.toTuple(), view.toTuple())
        assert not holder.horizontalScrollBar().isVisible()
        assert (win.width(), win.height()) == SMALL
    panel.tabs.setCurrentWidget(panel.network_tab)  # filled with the design's table, still no scroll bar
    assert panel.network_tab.run()
    qtbot.waitUntil(lambda: panel.network_tab.result is not None and not panel.network_tab.is_running(),
                    timeout=30_000)
    settle(qtbot)
    need = panel.minimumSizeHint()
    assert need.width() <= holder.viewport().width() and need.height() <= holder.viewport().height()
    assert not holder.horizontalScrollBar().isVisible() and (win.width(), win.height()) == SMALL
    panel.tabs.setCurrentWidget(panel.mapping_tab)
    settle(qtbot)
    editor = panel.mapping_tab.editor
    rows = [row for box in editor.boxes for row in box.rows]
    assert rows
    for row in rows:
        assert row.width() >= row.minimumSizeHint().width(), (row.loop, row.width())
    assert not editor.horizontalScrollBar().isVisible()


def test_docks_stay_readable_after_visiting_every_workspace(small_window, qtbot):
    win = small_window
    for index in range(len(WORKSPACES)):
        win.show_workspace(index)
        settle(qtbot)
    win.show_workspace(0)
    win.select_node("conv1")
    settle(qtbot)
    assert_docks_readable(win)
    assert (win.width(), win.height()) == SMALL


def reopen(qtbot, settings) -> MainWindow:
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_quitting_from_another_workspace_keeps_the_editor_docks(small_window, qtbot,
                                                                settings):
    small_window.show_workspace(WORKSPACES.index("Training"))
    settle(qtbot)
    small_window.document.undo_stack.setClean()
    assert small_window.close()
    again = reopen(qtbot, settings)
    assert all(d.isVisible() for d in again._editor_docks())
    again.close()


def test_a_state_with_every_dock_hidden_is_reset(qtbot, tmp_path):
    path = str(tmp_path / "broken.ini")
    first = reopen(qtbot, QSettings(path, QSettings.IniFormat))
    for dock in first._editor_docks():
        dock.hide()
    first.settings.setValue("window_state", first.saveState())
    first.settings.sync()
    first.document.undo_stack.setClean()
    first.settings = QSettings(str(tmp_path / "other.ini"), QSettings.IniFormat)
    first.close()
    again = reopen(qtbot, QSettings(path, QSettings.IniFormat))
    assert all(d.isVisible() for d in again._editor_docks())
    again.close()


def test_garbage_state_and_geometry_are_ignored(qtbot, settings):
    settings.setValue("window_state", b"not a state")
    settings.setValue("geometry", b"\x00\x01garbage")
    win = reopen(qtbot, settings)
    assert all(d.isVisible() for d in win._editor_docks())
    assert win.width() > 600
    win.close()


def test_reset_layout_brings_every_dock_back(small_window, qtbot):
    win = small_window
    win.properties_dock.hide()
    win.palette_dock.setFloating(True)
    win.analysis_dock.hide()
    action = next(a for a in win.menuBar().actions() if a.text() == "&View")
    reset = next(a for a in action.menu().actions() if a.text() == "&Reset Layout")
    reset.trigger()
    settle(qtbot)
    assert not win.palette_dock.isFloating()
    assert win.dockWidgetArea(win.palette_dock) == Qt.LeftDockWidgetArea
    assert win.dockWidgetArea(win.properties_dock) == Qt.RightDockWidgetArea
    win.select_node("conv1")
    settle(qtbot)
    assert_docks_readable(win)


@pytest.mark.parametrize("workspace", ["Design", "Dataflow"])
def test_screenshot_renders_at_the_requested_size(tmp_path, workspace):
    from PySide6.QtGui import QImage

    from gui.app import screenshot
    path = tmp_path / "shot.png"
    assert screenshot(str(path), None, workspace, (1280, 720)) == 0
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1280, 720)


@pytest.mark.parametrize("text", ["1280", "axb", "10x10", "1280x720x3", "99999x720", ""])
def test_a_bad_size_is_one_clear_error(text):
    from core.common.errors import InputError
    from gui.app import parse_size
    with pytest.raises(InputError, match="--size must be WIDTHxHEIGHT"):
        parse_size(text)
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size("1280×720") == (1280, 720)


def test_no_plot_axis_uses_si_prefixes(window, qtbot):
    """Unitless axes read as they are ("cross-entropy", not "cross-entropy (x0.001)")."""
    import pyqtgraph as pg
    for index in range(1, len(WORKSPACES)):
        window.show_workspace(index)
        settle(qtbot, 20)
    window.show_workspace(0)
    from PySide6.QtWidgets import QTabWidget
    for tabs in window.findChildren(QTabWidget):  # plots built when their tab is shown
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            settle(qtbot, 20)
    plots = window.findChildren(pg.PlotWidget)
    assert len(plots) >= 8
    prefixed = [(p.plotItem.titleLabel.text, name) for p in plots
                for name in ("left", "bottom")
                if p.getAxis(name).autoSIPrefix and not p.getAxis(name).labelUnits]
    assert not prefixed
