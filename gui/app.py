"""Application start: QApplication, theme, main window, crash recovery, screenshot mode."""

from __future__ import annotations

import sys
import time

START = time.perf_counter()


def make_app():
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("MLSys Studio")
    app.setApplicationName("MLSys Studio")
    return app


XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0"}  # Qt 6.5+ needs it for a window on X11


def missing_window_libraries(platform: str | None = None, find=None) -> list[str]:
    """Debian/Ubuntu packages a real X11 window needs and this machine lacks (empty on
    other platforms, offscreen rendering, or when all are there)."""
    import os
    if find is None:
        from ctypes.util import find_library as find
    platform = os.environ.get("QT_QPA_PLATFORM", "") if platform is None else platform
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return []
    if platform == "" and not os.environ.get("DISPLAY") and os.environ.get("WAYLAND_DISPLAY"):
        return []  # Qt picks Wayland there
    return [package for library, package in XCB_LIBRARIES.items() if not find(library)]


def check_window_libraries() -> None:
    """One clear line instead of Qt's abort ("could not load the Qt platform plugin")."""
    from core.common.errors import MlsysError
    missing = missing_window_libraries()
    if missing:
        raise MlsysError(f"the window needs {', '.join(missing)}, which is not installed; "
                         f"install it with: sudo apt-get install -y {' '.join(missing)} "
                         f"(or run with QT_QPA_PLATFORM=offscreen for --screenshot)")


def run_app(args) -> int:
    """Open the main window (or, with --screenshot, render it to a PNG and exit)."""
    if getattr(args, "screenshot", None):
        return screenshot(args.screenshot, getattr(args, "preset", None),
                          getattr(args, "workspace", None),
                          parse_size(getattr(args, "size", None) or "1500x950"))
    check_window_libraries()
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from gui.theme import apply_theme
    app = make_app()
    settings = QSettings()
    apply_theme(str(settings.value("theme", "system")))
    window = MainWindow(settings)
    from gui.errors import install_excepthook
    install_excepthook(window.show_error)
    if getattr(args, "preset", None):
        window.open_preset(args.preset)
    window.show()
    from PySide6.QtCore import QTimer
    QTimer.singleShot(0, window.offer_recovery)  # after the first paint: reads the disk
    return app.exec()


SIZE_RANGE = (320, 7680)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → (1280, 720); anything else is an InputError naming --size."""
    from core.common.errors import InputError
    parts = text.lower().replace("×", "x").split("x")
    low, high = SIZE_RANGE
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        width = height = None
    if width is None or not (low <= width <= high and low <= height <= high):
        raise InputError(f"--size must be WIDTHxHEIGHT with each {low}..{high}, e.g. 1280x720 "
                         f"(got {text!r})")
    return width, height


def screenshot(path: str, preset: str | None = None, workspace: str | None = None,
               size=(1500, 950)) -> int:
    """Render the main window offscreen to ``path`` (used for the README and checks)."""
    import os
    import tempfile
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="mlsys-shot-") as folder:
        return _screenshot(path, preset, workspace, size, folder)


def _screenshot(path: str, preset: str | None, workspace: str | None, size, folder: str) -> int:
    import os
    from PySide6.QtCore import QSettings

    from core.common.errors import InputError

    from gui.main_window import WORKSPACES, MainWindow
    from gui.theme import apply_theme
    from gui.widgets.files import save_image
    app = make_app()
    apply_theme("light")
    settings = QSettings(os.path.join(folder, "shot.ini"), QSettings.IniFormat)
    window = MainWindow(settings)
    if preset:
        window.open_preset(preset)
    if workspace:
        names = [w.lower() for w in WORKSPACES]
        if workspace.lower() not in names:
            raise InputError(f"workspace {workspace!r} is not one of {', '.join(WORKSPACES)}")
        window.workspace_bar.setCurrentIndex(names.index(workspace.lower()))
    window.setFixedSize(*size)  # exactly the requested size, whatever a page would like
    window.show()
    for _ in range(5):
        app.processEvents()
    window.canvas.zoom_to_readable()  # as the first window opens
    nodes = list(window.document.network.nodes)
    if nodes:  # show a selected layer, its properties and one explained number
        target = next((n for n in nodes if window.document.network.nodes[n].type in (
            "Conv2d", "DepthwiseSeparableConv2d", "Linear")), nodes[0])
        window.select_node(target)
        layers = window.analysis_panel.layers
        for row, ref in enumerate(layers.model.rows):
            if ref.name == target and ref.part is None:
                col = next(i for i, c in enumerate(layers.model.columns) if c.key == "macs")
                layers.table.setCurrentIndex(layers.proxy.mapFromSource(
                    layers.model.index(row, col)))
                break
    for _ in range(5):
        app.processEvents()
    try:
        save_image(window.grab(), path)
        ok = True
    except OSError:
        ok = False
    window.document.undo_stack.setClean()
    window.close()
    if not ok:
        raise InputError(f"cannot write the screenshot to {path}")
    print(f"wrote {path}")
    return 0
