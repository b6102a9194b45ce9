"""The whole-network mapper on a real Ray cluster (issue 16): the head of tests/ray_head.py on
127.0.0.1, the distinct searches as Ray tasks, the table equal to the plain loop's, and
``dataflow MODEL --executor ray --cluster ADDRESS``. Skipped only where Ray is not installed."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e \".[cluster]\" "
                                  "(make test installs it)")

from core.cli.parser import main  # noqa: E402
from core.common.executors import RayExecutor  # noqa: E402
from core.dataflow.network import map_network  # noqa: E402
from core.graph.presets import load_preset  # noqa: E402
from test_network_executors import CASES, comparable  # noqa: E402
from tests.ray_head import head  # noqa: E402,F401 (the fixture)


def test_the_table_from_ray_equals_the_plain_table(head):
    import ray
    preset, hierarchy, dataflows = CASES[1]
    plain = map_network(load_preset(preset), hierarchy, "energy", dataflows)
    executor = RayExecutor(head)
    try:
        on_ray = map_network(load_preset(preset), hierarchy, "energy", dataflows, executor=executor)
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert comparable(on_ray) == comparable(plain)


def test_cli_on_the_cluster(head, capsys):
    argv = ["dataflow", "lenet5", "--dataflows", "os", "--input-buffer", "512", "--weight-buffer", "512",
            "--output-buffer", "128", "--pe-rows", "8", "--pe-cols", "8", "--format", "json"]
    assert main(argv) == 0
    inline = json.loads(capsys.readouterr().out)
    assert main(argv + ["--executor", "ray", "--cluster", head]) == 0
    on_ray = json.loads(capsys.readouterr().out)
    inline.pop("seconds"), on_ray.pop("seconds")
    assert on_ray == inline
