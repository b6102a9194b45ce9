"""Sweeps on a real Ray cluster (issue 16): a head started here on 127.0.0.1 with
``ray start --head --num-cpus 2 --block`` (tests/ray_head.py, stopped at the end), a
4-point sweep on the bundled sample equal to the inline run, and a worker killed mid-task
that still lets the sweep finish. Skipped only where Ray is not installed (the ``cluster``
extra, which ``make test`` installs)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e \".[cluster]\" "
                                  "(make test installs it)")

from core.cli.parser import main  # noqa: E402
from core.graph.presets import load_preset  # noqa: E402
from core.training.executors import InlineExecutor, RayExecutor  # noqa: E402
from core.training.sweeps import PointDone, parse_grid, run_sweep  # noqa: E402
from test_sweeps import CONFIG, GRID4, numbers, tiny  # noqa: E402
from tests.ray_head import head  # noqa: E402,F401 (the fixture)


@pytest.fixture(scope="module")
def inline_rows():
    return list(run_sweep(load_preset("lenet5"), tiny(), parse_grid(GRID4), CONFIG, 1,
                          InlineExecutor()))[-1].rows


def test_a_four_point_sweep_on_ray_equals_the_inline_run(head, inline_rows):
    executor = RayExecutor(head, threads=1)
    events = list(run_sweep(load_preset("lenet5"), tiny(), parse_grid(GRID4), CONFIG, 1,
                            executor))
    assert events[0].executor == "ray" and events[0].workers == 2  # 2 CPUs, 1 per point
    assert events[-1].status == "finished"
    assert numbers(events[-1].rows) == numbers(inline_rows)


def _task_processes(name: str = "ray::_ray_point") -> list[int]:
    """Ray workers running our task now (Ray sets their process title to ray::<task>)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if command.startswith(name):
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray workers through /proc")
def test_a_worker_killed_mid_task_still_completes_the_sweep(head):
    data = tiny(2000)
    expected = list(run_sweep(load_preset("lenet5"), data, parse_grid(GRID4), CONFIG, 1,
                              InlineExecutor()))[-1].rows
    executor = RayExecutor(head, threads=1, retries=3)
    killed = []
    events = []
    stream = run_sweep(load_preset("lenet5"), data, parse_grid(GRID4), CONFIG, 1, executor)
    events.append(next(stream))  # SweepStarted: the tasks are submitted on the next step

    import threading

    def killer():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for pid in _task_processes():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    events.extend(stream)
    thread.join(5)
    assert killed, "no Ray worker was seen running a point"
    assert events[-1].status == "finished"
    assert all(isinstance(e, PointDone) for e in events[1:-1])
    assert numbers(events[-1].rows) == numbers(expected)


def test_cli_on_the_cluster(head, capsys):
    import ray
    if ray.is_initialized():
        ray.shutdown()  # the command connects by itself
    code = main(["experiment", "lenet5", "--sweep", "lr=0.001,0.01", "--train-images", "200",
                 "--executor", "ray", "--cluster", head, "--no-store", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 runs on ray" in captured.err


def test_cli_unreachable_cluster_is_one_line(capsys):
    import ray
    if ray.is_initialized():
        ray.shutdown()
    code = main(["experiment", "lenet5", "--sweep", "lr=0.1", "--executor", "ray",
                 "--cluster", "ray://127.0.0.1:1", "--no-store"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach Ray cluster ray://127.0.0.1:1" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["experiment", "lenet5", "--sweep", "lr=0.1", "--executor", "ray",
                 "--cluster", "nowhere", "--no-store"]) == 2
    assert "use local, ray://HOST:PORT or HOST:PORT" in capsys.readouterr().err
