"""Makes the user guide's pictures in gui/resources/guide/ (run: python tools/make_guide_pictures.py).

Each workspace is rendered offscreen at 1280x720 by the app itself
(``python -m gui.launcher --screenshot FILE --workspace NAME --size 1280x720``), then
scaled down to WIDTH pixels and reduced to an indexed palette, so that each PNG stays
well under LIMIT bytes inside the wheel.
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
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "gui.launcher", "--screenshot", str(path),
                    "--workspace", workspace, "--size", SIZE], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)


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
    main()
