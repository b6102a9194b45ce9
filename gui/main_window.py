"""The main window: palette (left), canvas (centre), properties (right), analysis (bottom),
a workspace bar for the other workspaces, menus, shortcuts, settings, autosave."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QScrollArea, QStackedWidget, QTabBar,
                               QVBoxLayout, QWidget)

from core.graph import io
from core.common.errors import MlsysError, printable
from core.graph.network import Network
from core.graph.presets import load_preset, preset_descriptions

from gui.design.analysis_panel import AnalysisPanel
from gui.design.canvas import CanvasView
from gui.design.document import Document
from gui.design.palette import PaletteWidget
from gui.design.properties import PropertyPanel
from gui.design.search import NodeSearch
from gui.recovery import RecoveryStore
from gui.widgets.files import save_image, write_atomic

WORKSPACES = ("Design", "Training", "Dataflow", "Pipeline", "Profiling", "Transformer")
AUTOSAVE_MS = 30_000
READABLE_SCALE = 0.75  # a jump to a node zooms in to at least this scale
MAX_RECENT = 10
FILE_FILTER = "MLSys Studio designs (*.json);;All files (*)"
_INSTANCES = itertools.count(1)  # windows of this process, for their recovery files


def plural(count: int, noun: str) -> str:
    """``1 layer``, ``2 layers``, ``1,234 layers``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings or QSettings()
        self.document = Document(self._default_network(), self)
        self.canvas = CanvasView(self.document)
        self.layer_palette = PaletteWidget()
        self.properties = PropertyPanel(self.document)
        self.analysis_panel = AnalysisPanel(self.document)
        self.search = NodeSearch(self.document)
        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._wire()
        self._add_workspaces()
        self._restore_settings()
        self.recovery = RecoveryStore(tag=f"{os.getpid()}-{next(_INSTANCES)}")
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.on_analysis(self.document.analysis)
        self.update_title()
        QTimer.singleShot(0, self.canvas.zoom_to_readable)

    @staticmethod
    def _default_network() -> Network:
        return load_preset("lenet5")

    # -- layout -------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.workspace_bar = QTabBar()
        self.workspace_bar.setExpanding(False)
        for name in WORKSPACES:
            self.workspace_bar.addTab(name)
        for i, name in enumerate(WORKSPACES[1:], start=1):
            self.workspace_bar.setTabEnabled(i, False)
            self.workspace_bar.setTabToolTip(i, f"The {name} workspace is not built yet")
        self.workspace_bar.setTabToolTip(0, "Build a network and analyse it")
        self.workspaces = QStackedWidget()
        self.workspace_pages: dict[str, QWidget] = {"Design": self.canvas}
        self._holders: dict[str, QWidget] = {}  # name -> the scroll area around its page
        self.workspaces.addWidget(self.canvas)
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.workspace_bar)
        layout.addWidget(self.workspaces)
        self.setCentralWidget(holder)
        self.workspace_bar.currentChanged.connect(self.show_workspace)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)

    def _add_workspaces(self) -> None:
        """Every workspace but Design is built the first time it is shown (start-up time:
        DESIGN.md convention 8); until then its tab only carries its description."""
        self.training_panel = self.dataflow_panel = None
        self.pipeline_panel = self.profiling_panel = self.transformer_panel = None
        self._builders = {
            "Training": (self._build_training, "Train a network on MNIST and watch loss and "
                                               "accuracy live"),
            "Dataflow": (self._build_dataflow, "Buffer-level dataflows (ws/is/os/rs) and the "
                                               "systolic array, animated"),
            "Pipeline": (self._build_pipeline, "Cycles of an MLP on per-neuron units and NFU "
                                               "variants, animated as a Gantt chart"),
            "Profiling": (self._build_profiling, "Latency and throughput against batch size, "
                                                 "per-layer time and a measured roofline"),
            "Transformer": (self._build_transformer, "Transformer lab: the bits that cross "
                                                     "between the blocks of an "
                                                     "encoder-decoder"),
        }
        for name, (_, tip) in self._builders.items():
            index = WORKSPACES.index(name)
            self.workspace_bar.setTabEnabled(index, True)
            self.workspace_bar.setTabToolTip(index, tip)

    def ensure_workspace(self, name: str):
        """The workspace's panel, built (and put behind its tab) on first use."""
        if name not in self.workspace_pages and name in self._builders:
            self._builders[name][0]()
        return self.workspace_pages.get(name)

    def _build_training(self) -> None:
        from gui.training.panel import TrainingPanel
        self.training_panel = TrainingPanel(self.current_network)
        self.add_workspace("Training", self.training_panel)

    def _build_dataflow(self) -> None:
        from gui.dataflow import DataflowPanel
        self.dataflow_panel = DataflowPanel(self.current_network)
        self.dataflow_panel.sig_message.connect(self.show_message)
        self.add_workspace("Dataflow", self.dataflow_panel)

    def _build_pipeline(self) -> None:
        from gui.pipeline import PipelinePanel
        self.pipeline_panel = PipelinePanel(lambda: self.document.analysis)
        self.pipeline_panel.sig_message.connect(self.show_message)
        self.add_workspace("Pipeline", self.pipeline_panel)

    def _build_profiling(self) -> None:
        from gui.profiling import ProfilingPanel
        self.profiling_panel = ProfilingPanel(self.current_network)
        self.add_workspace("Profiling", self.profiling_panel)

    def _build_transformer(self) -> None:
        from gui.transformer import TransformerPanel
        self.transformer_panel = TransformerPanel()
        self.transformer_panel.sig_message.connect(self.show_message)
        self.transformer_panel.sig_open_design.connect(self.open_network_in_design)
        self.add_workspace("Transformer", self.transformer_panel)

    def ensure_training_panel(self):
        return self.ensure_workspace("Training")

    def ensure_dataflow_panel(self):
        return self.ensure_workspace("Dataflow")

    def ensure_pipeline_panel(self):
        return self.ensure_workspace("Pipeline")

    def ensure_profiling_panel(self):
        return self.ensure_workspace("Profiling")

    def ensure_transformer_panel(self):
        return self.ensure_workspace("Transformer")

    def open_network_in_design(self, network) -> None:
        """Show a network another workspace made (e.g. the Transformer lab's) in Design."""
        if self.maybe_save():
            self.document.load_network(network)
            self.show_workspace(WORKSPACES.index("Design"))
            QTimer.singleShot(0, self.canvas.zoom_to_fit)

    def current_network(self):
        return self.document.network

    def add_workspace(self, name: str, page: QWidget) -> None:
        """Put a workspace's page behind its tab (enabling the tab), inside a scroll area so
        that no page's minimum size becomes the window's (every page fits 1280x720)."""
        index = WORKSPACES.index(name)
        self.workspace_pages[name] = page
        holder = QScrollArea()
        holder.setObjectName(f"workspace_{name.lower()}")
        holder.setWidgetResizable(True)
        holder.setFrameShape(QFrame.NoFrame)
        holder.setWidget(page)
        self._holders[name] = holder
        self.workspaces.addWidget(holder)
        self.workspace_bar.setTabEnabled(index, True)
        self.workspace_bar.setTabToolTip(index, page.toolTip() or name)

    def current_page(self) -> QWidget | None:
        """The shown workspace's panel (not the scroll area around it)."""
        widget = self.workspaces.currentWidget()
        return widget.widget() if isinstance(widget, QScrollArea) else widget

    def show_workspace(self, index: int) -> None:
        """Switch the central page; the editor's docks belong to the Design workspace."""
        name = WORKSPACES[index]
        page = self.ensure_workspace(name)
        if page is None:
            return
        if self.workspace_bar.currentIndex() != index:
            self.workspace_bar.setCurrentIndex(index)
            return
        design = name == "Design"
        leaving = self.workspaces.currentWidget() is self.canvas
        if not design and leaving:
            self._design_docks = [d for d in self._editor_docks() if d.isVisible()]
            self._design_centre = self.canvas.mapToScene(self.canvas.viewport().rect().center())
        for dock in self._editor_docks():
            dock.setVisible(design and dock in getattr(self, "_design_docks", [dock]))
        self.workspaces.setCurrentWidget(self._holders.get(name, page))
        centre = getattr(self, "_design_centre", None)
        if design and not leaving and centre is not None:  # back where the user left it
            QTimer.singleShot(0, lambda: self.canvas.centerOn(centre))

    def _editor_docks(self) -> tuple:
        return (self.palette_dock, self.properties_dock, self.analysis_dock)

    def _dock(self, title: str, widget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.palette_dock = self._dock("Layers", self.layer_palette, Qt.LeftDockWidgetArea, "palette")
        self.properties_dock = self._dock("Properties", self.properties, Qt.RightDockWidgetArea,
                                          "properties")
        self.analysis_dock = self._dock("Analysis", self.analysis_panel,
                                        Qt.BottomDockWidgetArea, "analysis")
        # Readable widths whatever another workspace or a saved state asks for: the longest
        # layer name in the palette, a property label and a field side by side.
        metrics = self.fontMetrics()
        self.layer_palette.setMinimumWidth(
            metrics.horizontalAdvance(self.layer_palette.longest_name()) + 84)
        self.properties.setMinimumWidth(metrics.horizontalAdvance("x" * 34) + 24)
        self._default_dock_sizes()

    def _default_dock_sizes(self) -> None:
        self.resizeDocks([self.palette_dock, self.properties_dock],
                         [max(190, self.layer_palette.minimumWidth()),
                          max(290, self.properties.minimumWidth())], Qt.Horizontal)
        # a third of a small window's height, so the canvas keeps the larger part
        self.resizeDocks([self.analysis_dock], [min(300, max(180, self.height() // 3))],
                         Qt.Vertical)

    def reset_layout(self) -> None:
        """View → Reset layout: every editor dock back in its place, shown, default sizes."""
        for dock, area in ((self.palette_dock, Qt.LeftDockWidgetArea),
                           (self.properties_dock, Qt.RightDockWidgetArea),
                           (self.analysis_dock, Qt.BottomDockWidgetArea)):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
        self._design_docks = list(self._editor_docks())
        design = self.workspace_bar.currentIndex() == 0
        for dock in self._editor_docks():
            dock.setVisible(design)
        self._default_dock_sizes()
        QTimer.singleShot(0, self.canvas.zoom_to_fit)

    def _action(self, text, slot, shortcut=None, tip="") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text.replace("&", "").rstrip("…"))
        action.setStatusTip(action.toolTip())
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_new = a("&New", self.new_design, QKeySequence.New, "Start an empty design")
        self.act_open = a("&Open…", self.open_dialog, QKeySequence.Open, "Open a design file")
        self.act_save = a("&Save", self.save, QKeySequence.Save, "Save the design")
        self.act_save_as = a("Save &As…", self.save_as, QKeySequence.SaveAs)
        self.act_import = a("&Import from PyTorch…", self.import_model, "Ctrl+I",
                            "Import torchvision:NAME or path/model.py:factory")
        self.act_export_table = a("Analysis &table…", self.export_table, "Ctrl+E",
                                  "Save the per-layer table as CSV, Markdown or LaTeX")
        self.act_export_png = a("Canvas as &PNG…", self.export_png)
        self.act_export_code = a("PyTorch &code…", self.export_code)
        self.act_quit = a("&Quit", self.close, QKeySequence.Quit)
        self.act_undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.Undo)
        self.act_redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence.Redo)
        self.act_delete = a("&Delete", self.delete_selection, QKeySequence.Delete,
                            "Delete the selected layers")
        self.act_duplicate = a("D&uplicate", self.duplicate_selection, "Ctrl+D",
                               "Duplicate the selected layers")
        self.act_select_all = a("Select &All", self.select_all, QKeySequence.SelectAll)
        self.act_fit = a("Zoom to &Fit", self.canvas.zoom_to_fit, "Ctrl+0")
        self.act_zoom_in = a("Zoom &In", lambda: self.canvas.zoom(1.2), QKeySequence.ZoomIn)
        self.act_zoom_out = a("Zoom &Out", lambda: self.canvas.zoom(1 / 1.2),
                              QKeySequence.ZoomOut)
        self.act_find = a("&Find Layer…", self.focus_search, QKeySequence.Find,
                          "Find a layer by name or type and jump to it")
        self.act_layout = a("&Auto Layout", self.auto_layout, "Ctrl+L",
                            "Arrange the layers top to bottom (undoable)")
        self.act_minimap = a("&Minimap", self.canvas.minimap.set_wanted, "Ctrl+M",
                             "The whole design in the canvas's corner; click it to move there")
        self.act_minimap.setCheckable(True)
        self.act_minimap.setChecked(True)
        from gui.design.folds import fold_actions
        self.act_fold, self.act_expand_all = fold_actions(self, self.canvas, self.document,
                                                         self.settings)
        self.act_ds = a("Convert to &Depthwise-Separable", self.convert_ds, "Ctrl+Shift+D",
                        "Replace every plain Conv2d by its depthwise + pointwise unit")
        self.act_solver = a("Conv &Solver…", self.open_solver, "Ctrl+Alt+S",
                            "Find kernel, stride, padding and dilation for an output size")
        self.act_compare = a("&Compare with Design…", self.compare_with_design, None,
                             "Show this design and a saved one side by side")
        self.act_reset_layout = a("&Reset Layout", self.reset_layout, None,
                                  "Put the Layers, Properties and Analysis docks back in "
                                  "their places at their default sizes")
        self.act_shortcuts = a("&Keyboard Shortcuts", self.show_shortcuts,
                               QKeySequence.HelpContents, "Every key and mouse gesture")
        self.act_guide = a("&User Guide", self.show_guide, None,
                           "A short guide to each workspace, with pictures")
        self.act_about = a("&About", self.about)
        self._set_icons()

    def _set_icons(self) -> None:
        """Drawn icons that say what the action does (QStyle's stock icons cost start-up
        time and showed media arrows for Undo/Redo)."""
        from PySide6.QtGui import QPalette

        from gui.widgets.icons import drawn_icon
        colour = self.palette().color(QPalette.ButtonText)
        for action, kind in ((self.act_new, "new"), (self.act_open, "open"),
                             (self.act_save, "save"), (self.act_delete, "delete"),
                             (self.act_fit, "fit"), (self.act_solver, "solver"),
                             (self.act_about, "about"), (self.act_undo, "undo"),
                             (self.act_redo, "redo"), (self.act_layout, "layout")):
            action.setIcon(drawn_icon(kind, colour))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_new, self.act_open])
        self.preset_menu = file_menu.addMenu("Open &Preset")
        self.preset_menu.aboutToShow.connect(self.fill_preset_menu)  # reads every preset:
        self.preset_menu.setToolTipsVisible(True)  # not at start-up
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.act_import)
        export = file_menu.addMenu("&Export")
        export.addActions([self.act_export_table, self.act_export_png, self.act_export_code])
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo])
        edit.addSeparator()
        edit.addActions([self.act_delete, self.act_duplicate, self.act_select_all])
        edit.addSeparator()
        edit.addAction(self.act_find)
        view = bar.addMenu("&View")
        view.addActions([self.act_fit, self.act_zoom_in, self.act_zoom_out, self.act_layout,
                         self.act_minimap, self.act_fold, self.act_expand_all])
        view.addSeparator()
        theme = view.addMenu("&Theme")
        group = QActionGroup(self)
        for mode in ("system", "light", "dark"):
            action = theme.addAction(mode.capitalize())
            action.setCheckable(True)
            action.setChecked(mode == self.settings.value("theme", "system"))
            action.triggered.connect(lambda _=False, m=mode: self.set_theme(m))
            group.addAction(action)
        view.addSeparator()
        for dock in (self.palette_dock, self.properties_dock, self.analysis_dock):
            view.addAction(dock.toggleViewAction())
        view.addAction(self.act_reset_layout)
        tools = bar.addMenu("&Tools")
        tools.addActions([self.act_ds, self.act_solver, self.act_compare])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_guide, self.act_shortcuts, self.act_about])
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.act_new, self.act_open, self.act_save])
        toolbar.addSeparator()
        toolbar.addActions([self.act_undo, self.act_redo, self.act_delete])
        toolbar.addSeparator()
        toolbar.addActions([self.act_fit, self.act_layout, self.act_fold, self.act_solver])
        toolbar.addSeparator()
        toolbar.addWidget(self.search)
        self._refresh_recent_menu()

    def fill_preset_menu(self) -> None:
        if self.preset_menu.actions():
            return
        for name, description in preset_descriptions():
            action = self.preset_menu.addAction(name)
            action.setToolTip(description)
            action.setStatusTip(description)
            action.triggered.connect(lambda _=False, n=name: self.open_preset(n))

    def _wire(self) -> None:
        doc = self.document
        doc.sig_analysis.connect(self.on_analysis)
        doc.sig_path_changed.connect(self.update_title)
        doc.undo_stack.cleanChanged.connect(self.update_title)
        doc.sig_reset.connect(self.on_reset)
        self.canvas.scene_.selectionChanged.connect(self.on_selection)
        self.canvas.sig_message.connect(self.show_message)
        self.canvas.sig_context_menu.connect(self.show_node_menu)
        self.layer_palette.tree.sig_activated.connect(self.append_layer)
        self.analysis_panel.layers.sig_node_selected.connect(self.select_node)
        self.analysis_panel.layers.sig_export.connect(self.export_table)
        self.search.sig_jump.connect(self.jump_to_node)
        self.search.sig_message.connect(self.show_message)

    # -- reactions ------------------------------------------------------------------------
    def on_analysis(self, analysis) -> None:
        self.canvas.scene_.sync()
        self.analysis_panel.set_analysis(analysis)
        self.properties.update_status()
        if analysis is None:
            self.status.setText("the network has a cycle")
            return
        errors = analysis.errors
        t = analysis.totals
        text = (f"{plural(len(analysis.order), 'layer')} · {t.params:,} params · "
                f"{t.macs:,} MACs · batch {analysis.options.batch} · "
                f"{analysis.options.precision}")
        if errors:
            text = f"{plural(len(errors), 'error')} — " + text
        self.status.setText(text)
        self.status.setStyleSheet("color: #d63031;" if errors else "")

    def on_reset(self) -> None:
        self.analysis_panel.layers.clear_explain()  # its number was the previous file's
        self.canvas.scene_.sync()
        self.properties.show_node(None)
        QTimer.singleShot(0, self.canvas.zoom_to_readable)

    def on_selection(self) -> None:
        names = self.canvas.scene_.selected_names()
        self.properties.show_node(names[0] if len(names) == 1 else None)
        if len(names) == 1:
            self.analysis_panel.layers.select_node(names[0])

    def node_menu(self, name: str):
        """The actions offered on a node (right click)."""
        from PySide6.QtWidgets import QMenu
        menu = QMenu(self)
        menu.addActions([self.act_duplicate, self.act_delete])
        menu.addSeparator()
        dataflow = menu.addAction("Open in Dataflow lab", lambda: self.open_in_dataflow(name))
        dataflow.setEnabled(self.dataflow_layer(name) is not None)
        dataflow.setToolTip("Simulate this convolution's buffer accesses")
        pipeline = menu.addAction("Open in Pipeline lab", lambda: self.open_in_pipeline(name))
        pipeline.setEnabled(self.pipeline_chain(name) is not None)
        pipeline.setToolTip("Cycles of this chain of Linear layers on MLP hardware")
        network = self.document.network
        for title, names in (("Go to &producer", list(dict.fromkeys(network.nodes[name].inputs))),
                             ("Go to &consumer", network.consumers(name))):
            sub = menu.addMenu(title)
            sub.setEnabled(bool(names))
            for other in names:
                sub.addAction(other, lambda n=other: self.jump_to_node(n))
        self.canvas.add_fold_actions(menu, name)
        solver = menu.addAction("Conv solver…", self.open_solver)
        solver.setEnabled(self.document.network.nodes[name].type in (
            "Conv2d", "MaxPool2d", "AvgPool2d", "DepthwiseSeparableConv2d"))
        return menu

    def show_node_menu(self, name: str, global_pos) -> None:
        self.node_menu(name).exec(global_pos)

    def dataflow_layer(self, name: str) -> dict | None:
        """A Conv2d node as the Dataflow lab's layer (square kernel, equal stride and
        padding per axis, no groups or dilation), or None when it cannot be one."""
        result = self.document.analysis.nodes.get(name) if self.document.analysis else None
        if result is None or not result.ok or result.type != "Conv2d":
            return None
        p = result.params
        square = all(v[0] == v[1] for v in (p["kernel"], p["stride"], p["padding"]))
        if not square or p["groups"] != 1 or p["dilation"] != (1, 1):
            return None
        c, h, w = result.input_shapes[0]
        return dict(height=h, width=w, channels=c, kernel=p["kernel"][0],
                    filters=p["out_channels"], stride=p["stride"][0], padding=p["padding"][0])

    def open_in_dataflow(self, name: str) -> bool:
        layer = self.dataflow_layer(name)
        if layer is None:
            self.show_message(f"{name} cannot be opened in the Dataflow lab (it takes a "
                              f"valid Conv2d with a square kernel, no groups or dilation)")
            return False
        panel = self.ensure_dataflow_panel()
        panel.set_layer(**layer)
        panel.tabs.setCurrentIndex(0)  # the layer's animation, not the sub-tab left last
        self.show_workspace(WORKSPACES.index("Dataflow"))
        return True

    def pipeline_chain(self, name: str):
        """(widths, names) of the Linear chain through node ``name``, or None."""
        from core.common.errors import InputError
        from gui.pipeline.design_chain import linear_chain
        node = self.document.network.nodes.get(name)
        if node is None or node.type != "Linear":
            return None
        try:
            return linear_chain(self.document.analysis, name)
        except InputError:
            return None

    def open_in_pipeline(self, name: str) -> bool:
        chain = self.pipeline_chain(name)
        if chain is None:
            self.show_message(f"{name} cannot be opened in the Pipeline lab (it takes a valid "
                              f"Linear layer)")
            return False
        widths, names = chain
        self.ensure_pipeline_panel().set_widths(widths, "From the design: " + " → ".join(names))
        self.show_workspace(WORKSPACES.index("Pipeline"))
        return True

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_error(self, text: str) -> None:
        """An unexpected error (from the exception hook): on the status line and in a
        non-modal box, so that work can go on."""
        self.statusBar().showMessage(text, 15000)
        box = QMessageBox(QMessageBox.Warning, "Unexpected error", text, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self.error_box = box

    def select_node(self, name: str) -> None:
        scene = self.canvas.scene_
        if scene.selected_names() != [name]:
            scene.select_names([name])
            item = scene.nodes.get(name)
            if item is not None:
                self.canvas.ensureVisible(item)

    def focus_search(self) -> None:
        if self.workspace_bar.currentIndex() != 0:
            self.show_workspace(0)
        self.search.setFocus(Qt.ShortcutFocusReason)
        self.search.selectAll()

    def jump_to_node(self, name: str) -> None:
        """Select a node and bring it to the middle of the canvas, readable."""
        item = self.canvas.reveal(name)
        if item is None:
            return
        self.canvas.scene_.select_names([name])
        if self.canvas.transform().m11() < READABLE_SCALE:
            self.canvas.resetTransform()
        self.canvas.centerOn(item.sceneBoundingRect().center())
        self.canvas.minimap.refresh()

    def update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self.document.display_name()}[*] — MLSys Studio")
        self.setWindowModified(self.document.modified)

    # -- edit actions ---------------------------------------------------------------------
    def delete_selection(self) -> None:
        self.document.remove_nodes(self.canvas.scene_.selected_names())

    def duplicate_selection(self) -> None:
        names = self.document.duplicate_nodes(self.canvas.scene_.selected_names())
        self.canvas.scene_.select_names(names)

    def select_all(self) -> None:
        for item in self.canvas.scene_.nodes.values():
            item.setSelected(True)

    def append_layer(self, type_name: str) -> None:
        """Double-click in the palette: add after the selected layer (or unconnected)."""
        selected = self.canvas.scene_.selected_names()
        inputs = selected[:1]
        position = None
        if inputs:
            item = self.canvas.scene_.nodes[inputs[0]]
            position = (item.pos().x(), item.pos().y() + 96)
        name = self.document.add_node(type_name, position, inputs=inputs)
        self.canvas.scene_.select_names([name])

    def auto_layout(self) -> None:
        from core.graph.layout import layered_positions
        positions = layered_positions(self.document.network)
        moves = {n: (self.document.network.nodes[n].position, p) for n, p in positions.items()}
        self.document.move_nodes(moves)
        self.canvas.zoom_to_fit()

    def convert_ds(self) -> None:
        names = self.document.convert_to_depthwise_separable()
        self.statusBar().showMessage(
            f"Converted {', '.join(names)}" if names else "No plain Conv2d layers to convert",
            8000)

    def compare_with_design(self, path=None) -> bool:
        from core.graph.analysis import analyze

        from gui.design.compare_dialog import CompareDialog
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Compare with design", self._last_dir(),
                                                  FILE_FILTER)
        if not path:
            return False
        try:
            other = analyze(io.load(path), self.document.options)
        except MlsysError as exc:
            QMessageBox.warning(self, "Cannot compare", str(exc))
            return False
        self.compare_dialog = CompareDialog(self.document.analysis, other, self)
        self.compare_dialog.show()
        return True

    def open_solver(self) -> None:
        from gui.design.solver_dialog import ConvSolverDialog
        selected = self.canvas.scene_.selected_names()
        node = selected[0] if len(selected) == 1 and self.document.network.nodes[
            selected[0]].type in ("Conv2d", "MaxPool2d", "AvgPool2d",
                                  "DepthwiseSeparableConv2d") else None
        ConvSolverDialog(self.document, node, self).exec()

    # -- files ----------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document."""
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.document.display_name()}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new_design(self) -> None:
        if self.maybe_save():
            net = Network("untitled")
            net.add_node("Input", "input", {"shape": [1, 28, 28]}, position=(0, 0))
            self.document.load_network(net)

    def open_preset(self, name: str) -> None:
        if self.maybe_save():
            self.document.load_network(load_preset(name))

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open design", self._last_dir(), FILE_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path) -> bool:
        """Open a design; on any failure the current document stays exactly as it was."""
        try:
            self.document.open(path)
        except MlsysError as exc:
            QMessageBox.warning(self, "Cannot open design", printable(str(exc)))
            self._remember_recent(path, remove=True)
            return False
        self._remember_recent(path)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggestion = str(Path(self._last_dir()) / f"{self.document.network.name or 'design'}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save design", suggestion, FILE_FILTER)
        return self._save_to(path) if path else False

    def _save_to(self, path) -> bool:
        try:
            self.document.save(path)
        except (OSError, MlsysError) as exc:
            QMessageBox.warning(self, "Cannot save", f"{path}: {exc}")
            return False
        self._remember_recent(str(path))
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def import_model(self) -> None:
        spec, ok = QInputDialog.getText(self, "Import from PyTorch",
                                        "torchvision:NAME or path/to/model.py:factory\n"
                                        "(a model.py is run as Python: import only files "
                                        "you trust)",
                                        text="torchvision:resnet18")
        if not ok or not spec.strip() or not self.maybe_save():
            return
        from PySide6.QtWidgets import QApplication
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            from core.torchbridge.resolve import resolve_model
            network = resolve_model(spec)
        except MlsysError as exc:
            QApplication.restoreOverrideCursor()
            QMessageBox.warning(self, "Cannot import", str(exc))
            return
        QApplication.restoreOverrideCursor()
        self.document.load_network(network)

    def export_table(self) -> None:
        from core.common.tables import render
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export table", str(Path(self._last_dir()) / f"{self.document.network.name}.csv"),
            "CSV (*.csv);;Markdown (*.md);;LaTeX (*.tex)")
        if not path or self.document.analysis is None:
            return
        fmt = {".md": "md", ".tex": "latex"}.get(Path(path).suffix.lower(), "csv")
        text = render(self.analysis_panel.layers.export_table(self.document.network.name), fmt)
        self._write_text(path, text)

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export canvas", str(Path(self._last_dir()) / f"{self.document.network.name}.png"),
            "PNG (*.png)")
        if path:
            self.render_canvas_png(path)

    def render_canvas_png(self, path) -> bool:
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QImage, QPainter
        scene = self.canvas.scene_
        rect = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        image = QImage(max(1, int(rect.width())), max(1, int(rect.height())),
                       QImage.Format_ARGB32)
        image.fill(self.palette_color())
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        scene.render(painter, QRectF(image.rect()), rect)
        painter.end()
        try:
            save_image(image, path)
        except OSError:
            return False
        return True

    def palette_color(self):
        from PySide6.QtGui import QPalette
        return self.canvas.palette().color(QPalette.Base)

    def export_code(self) -> None:
        from core.torchbridge.codegen import generate
        try:
            code = generate(self.document.network)
        except MlsysError as exc:
            QMessageBox.warning(self, "Cannot export code", f"Fix this first: {exc}")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export PyTorch code",
            str(Path(self._last_dir()) / f"{self.document.network.name.replace('-', '_')}.py"),
            "Python (*.py)")
        if path:
            self._write_text(path, code)

    def _write_text(self, path, text: str) -> None:
        try:
            write_atomic(path, text)
        except OSError as exc:
            QMessageBox.warning(self, "Cannot write", f"{path}: {exc}")
            return
        self.statusBar().showMessage(f"Wrote {path}", 5000)

    # -- settings, recent files, autosave -------------------------------------------------
    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def _remember_recent(self, path, remove: bool = False) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self._recent() if p != path]
        if not remove:
            recent.insert(0, path)
            self.settings.setValue("last_dir", str(Path(path).parent))
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent_menu()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self._recent()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.maybe_save() and
                                     self.open_file(p))
        self.recent_menu.setEnabled(bool(recent))

    def _restore_settings(self) -> None:
        """Geometry and dock state from the last session, each checked: a state that hides
        every editor dock, floats one off screen or does not load is replaced by the
        default layout (so a squeezed or broken layout never outlives one session)."""
        geometry = self.settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry) or not self._on_screen():
            self._default_geometry()
        state = self.settings.value("window_state")
        if state is None:
            self._default_dock_sizes()  # for this window's height
        elif not (self.restoreState(state) and self._state_is_usable()):
            self.reset_layout()

    def _default_geometry(self) -> None:
        from PySide6.QtGui import QGuiApplication
        screen = QGuiApplication.primaryScreen()
        available = screen.availableGeometry() if screen else None
        width, height = 1400, 900
        if available is not None and available.width() > 0:
            width = min(width, available.width())
            height = min(height, available.height())
        self.resize(width, height)

    def _on_screen(self) -> bool:
        from PySide6.QtGui import QGuiApplication
        frame = self.frameGeometry()
        return any(s.availableGeometry().intersects(frame) for s in QGuiApplication.screens())

    def _state_is_usable(self) -> bool:
        from PySide6.QtGui import QGuiApplication
        docks = self._editor_docks()
        if all(d.isHidden() for d in docks):
            return False
        screens = [s.availableGeometry() for s in QGuiApplication.screens()]
        return not any(d.isFloating() and not any(r.intersects(d.frameGeometry())
                                                  for r in screens) for d in docks)

    def set_theme(self, mode: str) -> None:
        from gui.theme import apply_theme
        self.settings.setValue("theme", mode)
        apply_theme(mode)
        self.canvas.scene_.update()

    def autosave(self) -> None:
        """Write the design to this window's recovery file while it has unsaved changes
        (and drop the file once there are none)."""
        try:
            if self.document.modified:
                self.recovery.save(self.document.network, self.document.path)
            else:
                self.recovery.path.unlink(missing_ok=True)
        except OSError:
            pass  # autosave must never interrupt work

    def offer_recovery(self) -> bool:
        """Offer the autosaves of windows that did not close cleanly (their process is
        gone), newest first. Returns True if one was restored."""
        for autosave in self.recovery.orphans():
            answer = QMessageBox.question(
                self, "Recover unsaved work", "A previous MLSys Studio window did not close "
                "cleanly. Restore its autosaved design?", QMessageBox.Yes | QMessageBox.No,
                QMessageBox.Yes)
            if answer != QMessageBox.Yes:
                self.recovery.forget(autosave)
                continue
            try:
                recovered = self.recovery.load(autosave)
            except MlsysError as exc:
                QMessageBox.warning(self, "Cannot recover", str(exc))
                self.recovery.forget(autosave)
                continue
            self.document.load_network(recovered.network, recovered.source)
            self.document.undo_stack.resetClean()  # unsaved until the user saves it
            self.update_title()
            self.recovery.forget(autosave)
            return True
        return False

    def show_shortcuts(self) -> None:
        from gui.widgets.shortcuts import ShortcutsDialog
        self.shortcuts_dialog = ShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.show()

    def show_guide(self) -> None:
        """Help → User Guide, inside the app, at the shown workspace's section."""
        from gui.widgets.guide import GuideDialog
        if getattr(self, "guide_dialog", None) is None:
            self.guide_dialog = GuideDialog(self.menuBar(), self)
            self.guide_dialog.sig_shortcuts.connect(self.show_shortcuts)
        self.guide_dialog.show_section(WORKSPACES[self.workspace_bar.currentIndex()])
        self.guide_dialog.show()
        self.guide_dialog.raise_()

    def about(self) -> None:
        QMessageBox.about(self, "About MLSys Studio",
                          "<b>MLSys Studio</b><br>Shapes, parameters, operations and bytes of "
                          "neural networks, with the formula behind each number.<br><br>MAC = "
                          "multiply + accumulate; FLOPs = mul + add + special; the torch "
                          "convention (2·MACs of conv/linear/matmul) matches "
                          "FlopCounterMode.")

    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        if self.training_panel is not None:
            self.training_panel.shutdown()  # stop and join a running training thread
        if self.dataflow_panel is not None:
            self.dataflow_panel.shutdown()
        if self.pipeline_panel is not None:
            self.pipeline_panel.shutdown()
        if self.profiling_panel is not None:
            self.profiling_panel.shutdown()  # stop and join a running profile
        if self.transformer_panel is not None:
            self.transformer_panel.shutdown()
        if self.workspace_bar.currentIndex() != 0:
            self.show_workspace(0)  # the saved state holds the editor's docks as left there
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.autosave_timer.stop()
        self.recovery.discard()
        self.canvas.scene_.selectionChanged.disconnect(self.on_selection)
        event.accept()
