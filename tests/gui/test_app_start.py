"""Starting the window on a machine without libxcb-cursor0 says what to install, in one
line, instead of Qt's abort."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from gui import app


def test_missing_xcb_cursor_is_named_with_its_apt_command(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    none = lambda _name: None  # noqa: E731
    found = lambda name: f"lib{name}.so.0"  # noqa: E731
    assert app.missing_window_libraries("", none) == ["libxcb-cursor0"]
    assert app.missing_window_libraries("xcb", none) == ["libxcb-cursor0"]
    assert app.missing_window_libraries("", found) == []
    assert app.missing_window_libraries("offscreen", none) == []  # no window: not needed
    monkeypatch.setattr(app, "missing_window_libraries", lambda: ["libxcb-cursor0"])
    from core.common.errors import MlsysError
    with pytest.raises(MlsysError, match=r"sudo apt-get install -y libxcb-cursor0"):
        app.run_app(SimpleNamespace(screenshot=None))


def test_the_launcher_prints_one_line_and_exits_2(monkeypatch, capsys):
    from gui import launcher
    monkeypatch.setattr(app, "missing_window_libraries", lambda: ["libxcb-cursor0"])
    assert launcher.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libxcb-cursor0" in err[0]

