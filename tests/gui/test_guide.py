"""Help → User Guide: opens inside the app, one section per workspace with a picture that
exists, loads and is small, and the live shortcut list (linked to Help → Keyboard
Shortcuts)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QApplication

from gui.main_window import WORKSPACES
from gui.widgets.guide import GUIDE_DIR, guide_html, image_names, section_ids

PICTURE_LIMIT = 150_000  # bytes: the pictures travel inside the wheel


def test_every_workspace_has_a_section_with_its_picture():
    html = guide_html()
    sections = section_ids(html)
    images = image_names(html)
    for name in WORKSPACES:
        assert name.lower() in sections, name
        assert f"{name.lower()}.png" in images, name
    assert "shortcuts" in sections


def test_every_picture_exists_loads_and_is_small():
    names = image_names(guide_html())
    assert names
    for name in names:
        path = GUIDE_DIR / name
        assert path.is_file(), name
        assert path.stat().st_size < PICTURE_LIMIT, (name, path.stat().st_size)
        image = QImage(str(path))
        assert not image.isNull(), name
        assert image.width() >= 640, (name, image.width())  # readable, not a thumbnail


def test_help_user_guide_opens_inside_the_app_with_its_pictures(window, qtbot):
    assert window.act_guide in window.menuBar().actions()[-1].menu().actions()
    window.act_guide.trigger()
    dialog = window.guide_dialog
    qtbot.waitExposed(dialog)
    assert dialog.isVisible() and dialog.parent() is window
    document = dialog.text.document()
    text = document.toPlainText()
    for name in WORKSPACES:
        assert name in text
    for name in image_names(guide_html()):
        resource = document.resource(QTextDocument.ImageResource, QUrl(name))
        assert resource is not None, name  # a QPixmap or QImage the document loaded
        image = resource.toImage() if hasattr(resource, "toImage") else resource
        assert not image.isNull() and image.width() >= 640, name
    # the live shortcut table is there: Save's key, read from the menus
    assert window.act_save.shortcut().toString() in text
    dialog.close()


def test_guide_opens_at_the_shown_workspace_and_links_to_the_shortcuts(window, qtbot,
                                                                       monkeypatch):
    window.show_workspace(WORKSPACES.index("Dataflow"))
    window.show_guide()
    dialog = window.guide_dialog
    qtbot.waitExposed(dialog)
    QApplication.processEvents()
    bar = dialog.text.verticalScrollBar()
    assert bar.value() > 0  # scrolled down to Dataflow's section
    opened = []
    monkeypatch.setattr(window, "show_shortcuts", lambda: opened.append(True))
    dialog.sig_shortcuts.disconnect()
    dialog.sig_shortcuts.connect(window.show_shortcuts)
    dialog.text.anchorClicked.emit(QUrl("app:shortcuts"))
    assert opened == [True]
    dialog.text.anchorClicked.emit(QUrl("#design"))
    QApplication.processEvents()
    assert bar.value() < bar.maximum()
    dialog.close()
