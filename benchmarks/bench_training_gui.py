"""How much does training inside the GUI cost, against the headless trainer?

Both run in one process, alternating (the machine is noisy: compare the ratio, not the
absolute times), with the same model, data, batch size, seed and thread count:

- headless: ``core.training.train`` drained by ``run_to_end`` on the main thread;
- GUI: the Training panel's Start, its worker thread, coalesced batch signals, live plots
  redrawn ten times a second, the progress bar and status line, until the run ends.

Reported per round is the trainer's own training time (the sum of its epochs' seconds,
excluding inference timing and evaluation of the report) and the wall time from Start to
the end signal. Usage:

    MLSYS_MNIST_DIR=... .venv/bin/python benchmarks/bench_training_gui.py [--rounds 3]
        [--model lenet5] [--batch-size 128] [--epochs 1] [--threads 1]

Without MLSYS_MNIST_DIR it uses the bundled sample (3,000 images: quick but rough).
Runs offscreen unless QT_QPA_PLATFORM says otherwise.
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


def headless_round(network, data, config) -> tuple[float, float]:
    from core.training.trainer import run_to_end, train
    start = time.perf_counter()
    result = run_to_end(train(network.copy(), data, config))
    wall = time.perf_counter() - start
    return sum(e.seconds for e in result.epochs), wall


def gui_round(app, panel, config) -> tuple[float, float]:
    from PySide6.QtCore import QEventLoop
    loop = QEventLoop()
    panel.sig_run_ended.connect(loop.quit)
    start = time.perf_counter()
    if not panel.start():
        raise SystemExit(f"the panel refused to start: {panel.status_label.text()}")
    loop.exec()
    wall = time.perf_counter() - start
    panel.sig_run_ended.disconnect(loop.quit)
    record = panel.history[-1]
    if record.status != "finished":
        raise SystemExit(f"GUI run ended {record.status}: {panel.status_label.text()}")
    return sum(e["seconds"] for e in record.epochs), wall


def make_panel(args):
    from gui.training.panel import TrainingPanel
    panel = TrainingPanel()
    panel.resize(1400, 850)
    panel.model_combo.setCurrentText(args.model)
    panel.batch_size.setText(str(args.batch_size))
    panel.epochs.setText(str(args.epochs))
    panel.threads.setText(str(args.threads))
    panel.show()
    return panel


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from core.training.data import load_mnist
    from core.graph.presets import load_preset
    from core.training.trainer import TrainConfig
    app = QApplication.instance() or QApplication([])
    data = load_mnist()  # the same cached arrays the panel's worker loads
    network = load_preset(args.model)
    config = TrainConfig(batch_size=args.batch_size, epochs=args.epochs, threads=args.threads)
    panel = make_panel(args)
    print(f"{args.model}, batch {args.batch_size}, {args.epochs} epoch(s), "
          f"{args.threads} thread(s), {data.description}")
    headless_round(network, data, config)  # warm-up: torch import, tensors, kernels
    gui_round(app, panel, config)
    rows = []
    for i in range(args.rounds):
        h_train, h_wall = headless_round(network, data, config)
        g_train, g_wall = gui_round(app, panel, config)
        rows.append((h_train, g_train, h_wall, g_wall))
        print(f"round {i + 1}: training headless {h_train:.2f} s, GUI {g_train:.2f} s "
              f"(×{g_train / h_train:.3f}); wall headless {h_wall:.2f} s, GUI {g_wall:.2f} s")
    train_ratio = statistics.median(g / h for h, g, _, _ in rows)
    wall_ratio = statistics.median(gw / hw for _, _, hw, gw in rows)
    print(f"median GUI / headless: training time ×{train_ratio:.3f}, wall time "
          f"×{wall_ratio:.3f} (the GUI's wall time also includes timing inference for "
          f"the history row, about half a second)")
    panel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
