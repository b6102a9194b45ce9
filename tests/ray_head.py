"""A throw-away Ray head on 127.0.0.1 for the tests that need a real cluster (sweeps, the
whole-network mapper): ``ray start --head --num-cpus 2 --block`` in its own session, stopped at
the end of the module that uses the ``head`` fixture (import it there). Import only after
``pytest.importorskip("ray")``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_S = 120
STOP_S = 10  # then the head's whole process group is killed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> list[str]:
    script = Path(sys.executable).with_name("ray")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


@pytest.fixture(scope="module")
def head():
    """The address of a Ray head on 127.0.0.1 with 2 CPUs, for this module only."""
    import ray
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rt")  # short: Ray's socket paths must stay < 108 bytes
    # a throw-away head on the loopback: no token to share between it and this driver
    previous_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    log = open(Path(temp) / "head.log", "wb")
    process = subprocess.Popen(
        _ray_cli() + ["start", "--head", "--num-cpus", "2", "--port", str(port),
                      "--node-ip-address", "127.0.0.1", "--temp-dir", temp,
                      "--include-dashboard", "false", "--block"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    if process.poll() is not None:
        log.close()
        os.environ.pop("RAY_AUTH_MODE", None)
        pytest.fail("ray start failed: " + (Path(temp) / "head.log").read_text()[-2000:])
    try:
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        os.killpg(process.pid, signal.SIGTERM)  # --block: the head ends what it started
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:  # its processes share the session: end them all
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
        if previous_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_auth


