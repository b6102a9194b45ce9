"""Makes the user guide's pictures in gui/resources/guide/ (run: python tools/make_guide_pictures.py).

Each workspace is rendered offscreen at 1280x720 by the app itself
(``python -m gui.launcher --screenshot FILE --workspace NAME --size 1280x720``), then
scaled down to WIDTH pixels and reduced to an indexed palette, so that each PNG stays
well under LIMIT bytes inside the wheel. Training is shown after a short run (an MLP,
3 epochs on the bundled MNIST sample: a few seconds), so that its plots and run history
have something in them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "gui" / "resources" / "guide"
WORKSPACES = ("Design", "Training", "Dataflow", "Pipeline", "Profiling", "Transformer")
SIZE = "1280x720"
WIDTH = 800
LIMIT = 150_000


def render(workspace: str, path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLSYS_MNIST_DIR"}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    command = ([sys.executable, __file__, "--trained-shot", str(path)]
               if workspace == "Training" else
               [sys.executable, "-m", "gui.launcher", "--screenshot", str(path),
                "--workspace", workspace, "--size", SIZE])
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)


def trained_shot(path: str) -> None:
    """The Training workspace after a 3-epoch MLP run, at SIZE (run in its own process)."""
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gui.app import make_app
    from gui.main_window import MainWindow
    from gui.theme import apply_theme
    from gui.widgets.files import save_image
    app = make_app()
    apply_theme("light")
    with tempfile.TemporaryDirectory(prefix="mlsys-guide-") as folder:
        os.environ["MLSYS_RUN_STORE"] = os.path.join(folder, "runs.sqlite")  # not the user's
        window = MainWindow(QSettings(os.path.join(folder, "s.ini"), QSettings.IniFormat))
        window.setFixedSize(*(int(v) for v in SIZE.split("x")))
        window.show()
        window.show_workspace(1)
        panel = window.training_panel
        panel.model_combo.setCurrentText("mlp")
        panel.batch_size.setText("100")
        panel.epochs.setText("3")
        loop = QEventLoop()
        panel.sig_run_ended.connect(lambda _status: QTimer.singleShot(300, loop.quit))
        QTimer.singleShot(240_000, loop.quit)  # a bound, whatever happens
        if not panel.start():
            raise SystemExit("the training run did not start")
        loop.exec()
        for _ in range(5):
            app.processEvents()
        save_image(window.grab(), path)
        window.document.undo_stack.setClean()
        window.close()


def shrink(source: Path, target: Path) -> int:
    """Scale to WIDTH, convert to 256 colours, save; returns the file's size in bytes."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    from gui.widgets.files import save_image
    image = QImage(str(source))
    if image.isNull():
        raise SystemExit(f"cannot read the screenshot {source}")
    small = image.scaledToWidth(WIDTH, Qt.SmoothTransformation)
    small = small.convertToFormat(QImage.Format_Indexed8, Qt.ThresholdDither)
    save_image(small, target)
    return target.stat().st_size


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QImage)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlsys-guide-") as folder:
        for workspace in WORKSPACES:
            shot = Path(folder) / f"{workspace}.png"
            render(workspace, shot)
            size = shrink(shot, OUT / f"{workspace.lower()}.png")
            flag = "" if size <= LIMIT else f"  (over {LIMIT:,} bytes)"
            print(f"{workspace:12s} {size:9,} bytes{flag}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--trained-shot"]:
        trained_shot(sys.argv[2])
    else:
        main()
