"""The wheel carries the engine, the app and their resources: built from the checkout,
installed into a fresh virtual environment and run from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("mlsys_studio-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new venv holding only the wheel; the heavy dependencies (torch, Qt) are borrowed
    from this interpreter's site-packages by a plain path line, so that the checkout's
    editable install (a .pth there) is not processed and cannot shadow the wheel."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    # Outside the checkout and without PYTHONPATH, so that pip cannot mistake the build's
    # egg-info in the checkout for an installed copy and skip the wheel.
    quiet = {"cwd": venv.parent, "env": clean_env(), "timeout": 300, "check": True}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], **quiet)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                    "--ignore-installed", "--disable-pip-version-check", "-q", str(wheel)],
                   **quiet)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, **quiet)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLSYS_MNIST_DIR")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def run_in(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=180)


def test_wheel_holds_the_packages_and_resources_and_no_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("core/graph/analysis.py", "core/graph/layers/torch_modules.py",
                   "core/cli/parser.py", "gui/main_window.py", "gui/design/canvas.py",
                   "core/resources/presets/lenet5.json", "core/resources/presets/bert-base.json",
                   "core/resources/mnist_sample/train-images-idx3-ubyte.gz",
                   "gui/resources/guide/guide.html", "gui/resources/guide/design.png",
                   "gui/resources/guide/transformer.png"):
        assert needed in names
    assert not any(n.startswith(("tests/", "benchmarks/", "tools/")) for n in names)


def test_installed_wheel_runs_outside_the_checkout(fresh_venv, tmp_path):
    bin_dir = fresh_venv / "bin"
    where = run_in(fresh_venv, tmp_path, str(bin_dir / "python"), "-c",
                   "import core, gui; from core.training.data import load_sample; "
                   "d = load_sample(); print(core.__file__); print(gui.__file__); "
                   "print(len(d.train_labels), len(d.test_labels))")
    assert where.returncode == 0, where.stderr
    core_file, gui_file, sizes = where.stdout.split("\n")[:3]
    assert Path(core_file).is_relative_to(fresh_venv) and Path(gui_file).is_relative_to(fresh_venv)
    assert sizes == "3000 1000"

    presets = run_in(fresh_venv, tmp_path, str(bin_dir / "mlsys-studio"), "presets")
    assert presets.returncode == 0 and "lenet5" in presets.stdout and "bert-base" in presets.stdout
    report = run_in(fresh_venv, tmp_path, str(bin_dir / "mlsys-studio"), "report", "lenet5",
                    "--format", "json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["macs"] == 416_520

    shot = tmp_path / "shot.png"
    app = run_in(fresh_venv, tmp_path, str(bin_dir / "mlsys-studio"), "--screenshot", str(shot),
                 "--preset", "resnet18")
    assert app.returncode == 0, app.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
