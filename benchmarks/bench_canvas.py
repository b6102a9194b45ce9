"""Frame time of the design canvas on a generated 5,000-node design (issue 14), against a
bare QGraphicsView holding the same number of plain rectangles and lines.

Offscreen, one process: loads the design into the editor's canvas, then times repaints of
the viewport for each interaction (the whole design fitted in view, a pan step at 100 %,
a zoom step, a node dragged by a few pixels) and prints median milliseconds per frame,
frames per second and the ratio to the bare view's frame. The machine is noisy: compare
ratios, not absolute times.

``--folding`` instead loads presets (resnet50, bert-base) into the canvas with every layer
shown and with repeated blocks folded, alternately in one process, and prints the median
time to load (scene built, layout included) and to fit the whole design in view (one
repaint), and the ratio folded / every layer. Usage:

    .venv/bin/python benchmarks/bench_canvas.py [--nodes 5000] [--frames 30]
    .venv/bin/python benchmarks/bench_canvas.py --folding [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

VIEW_SIZE = (1000, 600)  # about the canvas of a 1920x1080 window


def generated_design(nodes: int):
    """Input, then residual blocks Linear → ReLU → Linear → Add(skip) until ``nodes``."""
    from core.graph.layout import simple_positions
    from core.graph.network import Network
    net = Network(f"generated-{nodes}")
    net.add_node("Input", "input", {"shape": [64]})
    previous, block = "input", 0
    while len(net) + 4 <= nodes:
        a, r, b, s = (f"b{block}_{k}" for k in ("fc1", "relu", "fc2", "add"))
        net.add_node("Linear", a, {"out_features": 64}, [previous])
        net.add_node("ReLU", r, {}, [a])
        net.add_node("Linear", b, {"out_features": 64}, [r])
        net.add_node("Add", s, {}, [b, previous])
        previous, block = s, block + 1
    while len(net) < nodes:
        name = f"tail{len(net)}"
        net.add_node("ReLU", name, {}, [previous])
        previous = name
    for name, position in simple_positions(net).items():
        net.move(name, position)
    return net


def frame_ms(view, step, frames: int) -> float:
    """Median milliseconds of ``step()`` followed by a synchronous repaint."""
    times = []
    for i in range(frames):
        start = time.perf_counter()
        step(i)
        view.viewport().repaint()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bare_view(positions):
    from PySide6.QtCore import QLineF, QRectF
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QGraphicsScene, QGraphicsView
    scene = QGraphicsScene()
    points = list(positions.values())
    for x, y in points:
        scene.addRect(QRectF(x - 92, y, 184, 62))
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        scene.addLine(QLineF(x0, y0 + 62, x1, y1))
    view = QGraphicsView(scene)
    view.scene_ref = scene  # keep the scene alive with the view
    view.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    return view


def measure(view, frames: int, drag=None) -> dict[str, float]:
    from PySide6.QtCore import Qt
    results = {}
    view.fitInView(view.scene().itemsBoundingRect(), Qt.KeepAspectRatio)
    results["whole design in view"] = frame_ms(view, lambda i: None, frames)
    view.resetTransform()
    view.centerOn(0, 0)
    bar = view.verticalScrollBar()
    results["pan step at 100 %"] = frame_ms(view, lambda i: bar.setValue(bar.value() + 40),
                                            frames)
    results["zoom step"] = frame_ms(
        view, lambda i: view.scale(*(2 * (1.1 if i % 2 else 1 / 1.1,))), frames)
    if drag is not None:
        results["drag a node"] = frame_ms(view, drag, frames)
    return results


def load_and_fit(app, network, folded: bool) -> tuple[float, float, int]:
    """Seconds to build the canvas of ``network`` (analysis done before) and seconds to
    fit it in view and repaint, and the number of items drawn as nodes."""
    from gui.design.canvas import CanvasView
    from gui.design.document import Document
    document = Document(network.copy())
    start = time.perf_counter()
    canvas = CanvasView(document)
    canvas.scene_.folding.enabled = folded
    canvas.scene_.sync()
    load = time.perf_counter() - start
    canvas.resize(*VIEW_SIZE)
    canvas.show()
    app.processEvents()
    start = time.perf_counter()
    canvas.zoom_to_fit()
    canvas.viewport().repaint()
    fit = time.perf_counter() - start
    shown = len(canvas.scene_.nodes) + len(canvas.scene_.blocks)
    canvas.close()
    canvas.deleteLater()
    app.processEvents()
    return load, fit, shown


def bench_folding(repeats: int) -> None:
    from core.graph.presets import load_preset
    from gui.app import make_app
    app = make_app()
    print(f"{'design':10} {'view':12} {'nodes':>5} {'load ms':>8} {'fit ms':>7} "
          f"{'load ratio':>10} {'fit ratio':>9}")
    for name in ("resnet50", "bert-base"):
        network = load_preset(name)
        times: dict[bool, list] = {False: [], True: []}
        shown = {}
        load_and_fit(app, network, False)  # warm up imports and caches
        for _ in range(repeats):
            for folded in (False, True):  # alternate: drift hits both alike
                load, fit, shown[folded] = load_and_fit(app, network, folded)
                times[folded].append((load, fit))
        med = {k: (statistics.median(l for l, _ in v) * 1000,
                   statistics.median(f for _, f in v) * 1000) for k, v in times.items()}
        for folded in (False, True):
            load, fit = med[folded]
            ratio = (f"{load / med[False][0]:10.2f} {fit / med[False][1]:9.2f}" if folded
                     else f"{'1.00':>10} {'1.00':>9}")
            print(f"{name:10} {'folded' if folded else 'every layer':12} {shown[folded]:5} "
                  f"{load:8.1f} {fit:7.1f} {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--folding", action="store_true",
                        help="time loading and fitting presets folded against unfolded")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.folding:
        bench_folding(args.repeats)
        return
    from PySide6.QtCore import QPointF
    from gui.app import make_app
    from gui.design.canvas import CanvasView
    from gui.design.document import Document
    app = make_app()
    net = generated_design(args.nodes)
    start = time.perf_counter()
    document = Document(net)
    canvas = CanvasView(document)
    canvas.scene_.sync()
    load = time.perf_counter() - start
    canvas.resize(*VIEW_SIZE)
    canvas.show()
    app.processEvents()
    item = canvas.scene_.nodes["b10_relu"]
    item.setSelected(True)
    origin = item.pos()

    def drag(i):
        item.setPos(origin + QPointF(3 * (i % 7), 2 * (i % 5)))
    canvas.centerOn(item)
    ours = measure(canvas, args.frames, drag)
    bare = bare_view({n: node.position for n, node in net.nodes.items()})
    bare.resize(*VIEW_SIZE)
    bare.show()
    app.processEvents()
    base = measure(bare, args.frames)
    print(f"{len(net):,} nodes, {sum(len(n.inputs) for n in net.nodes.values()):,} edges; "
          f"analysis + scene built in {load:.2f} s")
    print(f"{'interaction':24} {'ms/frame':>9} {'fps':>6} {'bare view ms':>13} {'ratio':>6}")
    for key, ms in ours.items():
        ref = base.get(key)
        ratio = f"{ms / ref:6.2f}" if ref else "     -"
        ref_text = f"{ref:13.2f}" if ref else f"{'-':>13}"
        print(f"{key:24} {ms:9.2f} {1000 / ms:6.0f} {ref_text} {ratio}")
    document.undo_stack.setClean()


if __name__ == "__main__":
    main()
