"""Hostile input (issue 15): every command line and every file in the corpus ends with exit
0 or 2 and at most one line on stderr, no traceback, bounded time and memory, and the input
file unchanged; the closed forms behind the bounds equal brute force."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.common.errors import DesignFileError, MlsysError, printable
from core.common.lattice import (adaptive_window_total, covered, floor_sum, touched_inputs,
                                 transposed_coverage)
from core.common.limits import ALL, DIMENSION, FILE_BYTES, NODES, LimitError
from core.common.tables import Table, render
from core.graph import io
from core.graph.analysis import analyze
from core.graph.solver import MAX_SOLUTIONS, solve_1d

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "hostile"
MAX_RSS_MB = 700  # torch alone takes ~350 MB in the commands that import it
MAX_SECONDS = 60  # a hang is killed here; the cases themselves take about a second


# ---------------------------------------------------------------------------------------
# Oracles: brute force over every position
# ---------------------------------------------------------------------------------------
def touched_brute(n, k, s, p, d, out):
    hit = {o * s - p + t * d for o in range(out) for t in range(k)}
    return sum(1 for i in hit if 0 <= i < n)


def transposed_brute(n, k, s, p, d, out):
    counts = {}
    for i in range(n):
        for t in range(k):
            o = i * s - p + t * d
            if 0 <= o < out:
                counts[o] = counts.get(o, 0) + 1
    return sum(counts.values()), len(counts)


small = st.integers(0, 14)


@settings(max_examples=400)
@given(n=small, k=st.integers(1, 8), s=st.integers(1, 8), p=st.integers(0, 10),
       d=st.integers(1, 7), out=small)
def test_window_coverage_closed_forms_equal_brute_force(n, k, s, p, d, out):
    assert touched_inputs(n, k, s, p, d, out) == touched_brute(n, k, s, p, d, out)
    assert transposed_coverage(n, k, s, p, d, out) == transposed_brute(n, k, s, p, d, out)


@settings(max_examples=300)
@given(n=st.integers(1, 80), out=st.integers(1, 80), count=st.integers(0, 30),
       m=st.integers(1, 25), a=st.integers(0, 60), b=st.integers(0, 60))
def test_floor_sum_and_adaptive_windows_equal_brute_force(n, out, count, m, a, b):
    assert floor_sum(count, m, a, b) == sum((a * i + b) // m for i in range(count))
    assert adaptive_window_total(n, out) == sum(
        -(-((i + 1) * n) // out) - (i * n) // out for i in range(out))


@given(size=st.integers(0, 40), start=st.integers(-20, 20), count=st.integers(0, 9),
       step=st.integers(1, 9), length=st.integers(0, 9))
def test_union_of_windows_equals_brute_force(size, start, count, step, length):
    cells = {start + i * step + t for i in range(count) for t in range(length)}
    assert covered(size, start, count, step, length) == sum(1 for c in cells if 0 <= c < size)


def test_coverage_of_billion_pixel_layers_is_instant():
    started = time.process_time()
    assert touched_inputs(10 ** 9, 3, 1, 10 ** 9, 1, 3 * 10 ** 9 - 2) == 10 ** 9
    transposed_coverage(10 ** 9, 7, 5, 10 ** 8, 3, 5 * 10 ** 9)
    assert time.process_time() - started < 1.0


# ---------------------------------------------------------------------------------------
# The solver: bounded by its output, and the same answers as trying everything
# ---------------------------------------------------------------------------------------
def solve_brute(n_in, n_out, max_dilation, exact_only):
    found = []
    for k in range(1, n_in + 1):
        for d in range(1, max_dilation + 1):
            if k == 1 and d > 1:
                continue
            for p in range(k):
                reach = n_in + 2 * p - d * (k - 1) - 1
                if reach < 0:
                    continue
                if n_out == 1:
                    found.append((k, reach + 1, p, d, reach == 0))
                    continue
                for s in range(1, reach + 1):
                    if reach // s + 1 == n_out and (reach % s == 0 or not exact_only):
                        found.append((k, s, p, d, reach % s == 0))
    found.sort(key=lambda t: (not t[4], t[0], t[3], t[1], t[2]))
    if exact_only:
        found = [f for f in found if f[4]]
    return found[:MAX_SOLUTIONS]


@settings(max_examples=150)
@given(n_in=st.integers(1, 16), n_out=st.integers(1, 16), max_dilation=st.integers(1, 3),
       exact_only=st.booleans())
def test_solver_equals_exhaustive_search(n_in, n_out, max_dilation, exact_only):
    got = [(s.kernel, s.stride, s.padding, s.dilation, s.exact)
           for s in solve_1d(n_in, n_out, max_dilation=max_dilation, exact_only=exact_only)]
    assert got == solve_brute(n_in, n_out, max_dilation, exact_only)


def test_solver_stops_at_its_output_cap():
    started = time.process_time()
    found = solve_1d(3000, 1, max_dilation=1)
    assert len(found) == MAX_SOLUTIONS
    assert found[0].exact and not found[-1].exact
    assert time.process_time() - started < 10


def test_solver_refuses_a_search_past_its_work_limit(monkeypatch):
    monkeypatch.setenv("MLSYS_LIMIT_SOLVER_WORK", "1000")
    with pytest.raises(LimitError, match="MLSYS_LIMIT_SOLVER_WORK"):
        solve_1d(5000, 4999, max_dilation=1, exact_only=True)


# ---------------------------------------------------------------------------------------
# Limits, messages and the design loader
# ---------------------------------------------------------------------------------------
def test_every_limit_names_its_variable_and_can_be_raised(monkeypatch):
    for limit in ALL:
        with pytest.raises(LimitError) as caught:
            limit.check(limit.value + 1, "this request")
        assert limit.variable in str(caught.value) and f"{limit.value:,}" in str(caught.value)
        monkeypatch.setenv(limit.variable, str(limit.default * 2))
        limit.check(limit.default + 1, "this request")  # raised: no error
        monkeypatch.setenv(limit.variable, "nonsense")
        assert limit.value == limit.default


def test_printable_neutralises_terminal_and_bidi_controls():
    text = printable("a\u202eb\x1b[31m\ud800c")
    assert text.isprintable() and "\\u202e" in text and "\\x1b" in text and "\\ud800" in text
    table = Table(["name"], [["x\u202e\x1b[2J\ud800"]], "t\x1b]0;title\x07")
    for fmt in ("table", "csv", "md", "latex"):
        rendered = render(table, fmt)
        rendered.encode("utf-8")  # a lone surrogate would fail here
        assert "\x1b" not in rendered and "\u202e" not in rendered


def test_loader_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for path in ("/dev/zero", "/dev/urandom", str(tmp_path), str(fifo)):
        with pytest.raises(DesignFileError, match="not a regular file"):
            io.load(path)


def test_loader_checks_the_size_before_reading(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(FILE_BYTES.value + 1)  # sparse: nothing is written or read
    with pytest.raises(DesignFileError, match="MLSYS_LIMIT_FILE_BYTES"):
        io.load(big)


def chain_design(n: int) -> str:
    nodes = [{"name": "in", "type": "Input", "params": {"shape": [4]}, "inputs": []}]
    nodes += [{"name": f"r{i}", "type": "ReLU", "inputs": ["in" if i == 0 else f"r{i - 1}"]}
              for i in range(n)]
    return json.dumps({"format": "mlsys-studio-design", "version": 1, "name": "chain",
                       "nodes": nodes})


def test_node_limit_is_checked_before_building():
    with pytest.raises(DesignFileError, match="MLSYS_LIMIT_NODES"):
        io.loads(chain_design(NODES.value + 1))


def test_analysis_time_grows_linearly_with_the_graph():
    """Doubling a chain at most ~doubles the analysis (it was quadratic): the ratio of two
    sizes in one process, not an absolute time."""
    def cost(n):
        network = io.loads(chain_design(n))
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            analyze(network)
            best = min(best, time.process_time() - started)
        return best
    assert cost(6000) / cost(1500) < 6  # quadratic would be 16


def test_dimension_limit_is_a_parameter_error():
    text = (CORPUS / "huge_padding.json").read_text()
    with pytest.raises(DesignFileError, match=DIMENSION.variable):
        io.loads(text)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.name)
def test_corpus_file_loads_or_is_refused_with_one_line(path):
    try:
        network = io.load(path)
    except MlsysError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 400 and printable(message) == message
        return
    analysis = analyze(network)  # what loads must analyse without raising
    assert analysis.order


@settings(max_examples=200)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["format", "version", "nodes", "name", "type",
                                         "params", "inputs", "defaults", "shape", "batch"]),
                        inner, max_size=5), max_leaves=30))
def test_random_json_never_escapes_the_loader(data):
    try:
        text = json.dumps(data)
    except ValueError:
        return
    try:
        network = io.loads(text)
    except MlsysError:
        return
    analyze(network)


@settings(max_examples=200)
@given(st.data())
def test_mutated_presets_load_or_fail_cleanly(data):
    text = (ROOT / "core" / "resources" / "presets" / "lenet5.json").read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text) - 1))
        text = text[:at] + data.draw(st.sampled_from(
            ["9" * 40, "-", "[", "}", '"', "1e400", "null", "", "\u202e", "0"])) + text[at + 1:]
    try:
        network = io.loads(text)
    except MlsysError:
        return
    analyze(network)


# ---------------------------------------------------------------------------------------
# The command line over hostile files and arguments, each in its own process
# ---------------------------------------------------------------------------------------
# Runs the command line in a child that writes its own peak resident memory (VmHWM, which
# an exec resets, unlike getrusage's ru_maxrss, which keeps the forked parent's) at exit.
MEASURED_CLI = """
import atexit, os, sys
def report():
    with open('/proc/self/status') as fh:
        peak = next(line.split()[1] for line in fh if line.startswith('VmHWM'))
    with open(os.environ['MLSYS_TEST_PEAK_FILE'], 'w') as out:
        out.write(peak)
atexit.register(report)
from gui.launcher import main
sys.exit(main(sys.argv[1:]))
"""


def peak_rss_mb(args: list[str], cwd: Path) -> tuple[int, str, str, float]:
    """Run the command line ``args``: (exit code, stdout, stderr, peak memory in MB)."""
    peak_file = cwd / ".peak_kb"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLSYS_TEST_PEAK_FILE": str(peak_file)}
    try:
        done = subprocess.run([sys.executable, "-c", MEASURED_CLI] + args, cwd=cwd, env=env,
                              capture_output=True, text=True, errors="replace",
                              timeout=MAX_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args} still running after {MAX_SECONDS} s")
    peak_mb = int(peak_file.read_text()) / 1024
    peak_file.unlink()
    return done.returncode, done.stdout, done.stderr, peak_mb


def assert_clean_ending(args, code, out, err, rss_mb):
    assert code in (0, 2), (args, code, err)
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    assert len(err.strip().splitlines()) <= 1, (args, err)
    assert "\x1b" not in out + err and "\u202e" not in out + err, args
    assert rss_mb < MAX_RSS_MB, (args, rss_mb)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for path in CORPUS.glob("*.json"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "chain_over_limit.json").write_text(chain_design(NODES.value + 5))
    os.mkfifo(folder / "fifo.json")
    with open(folder / "sparse_huge.json", "wb") as fh:
        fh.truncate(FILE_BYTES.value * 4)
    return folder


IN_PROCESS_COMMANDS = [["report", "{f}", "--backward", "--format", "csv"], ["ds", "{f}"],
                       ["export", "{f}", "--code", "{out}"]]


@pytest.mark.slow
def test_cli_over_the_corpus(corpus_copy, capsys):
    """``report`` in its own process (time and memory measured), the other commands in
    this one (each must still end with exit 0 or 2 and one line)."""
    from core.cli.parser import main
    files = sorted(p for p in corpus_copy.iterdir() if p.suffix == ".json")
    files += [Path("/dev/zero"), Path("/dev/urandom")]
    for path in files:
        before = digest(path) if path.is_file() and stat.S_ISREG(path.stat().st_mode) else None
        code, out, err, rss = peak_rss_mb(["report", str(path)], corpus_copy)
        assert_clean_ending(["report", path.name], code, out, err, rss)
        for template in IN_PROCESS_COMMANDS:
            args = [a.replace("{f}", str(path)).replace("{out}", str(corpus_copy / "out.py"))
                    for a in template]
            code = main(args)
            captured = capsys.readouterr()
            assert_clean_ending(args, code, captured.out, captured.err, 0)
        if before is not None:
            assert digest(path) == before, f"{path.name} changed"
    assert not (corpus_copy / "INJECTED").exists()


HOSTILE_ARGS = [
    ["report", "lenet5", "--input", "1,1000000000,1000000000"],
    ["report", "lenet5", "--input", "1," + "9" * 5000],
    ["report", "lenet5", "--batch", "100000000000000000000000000000"],
    ["solve-conv", "--in", "3000", "--out", "1"],
    ["solve-conv", "--in", "10000", "--out", "1"],
    ["solve-conv", "--in", "8", "--out", "5", "--max-dilation", "1000000"],
    ["solve-conv", "--in", "1000000000", "--out", "7"],
    ["dataflow", "--height", "4096", "--width", "4096", "--channels", "64", "--kernel", "3",
     "--filters", "64", "--dataflow", "os", "--policy", "lru"],
    ["dataflow", "--height", "100000000", "--width", "100000000", "--channels", "64",
     "--kernel", "3", "--filters", "64", "--dataflow", "ws"],
    ["systolic", "--height", "100000000", "--width", "100000000", "--channels", "3",
     "--kernel", "3", "--filters", "8", "--rows", "8", "--cols", "8", "--dataflow", "os"],
    ["presets", "--nonsense"],
    ["report", "no-such-model"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", HOSTILE_ARGS, ids=lambda a: " ".join(a)[:60])
def test_hostile_command_lines_end_cleanly(args, tmp_path):
    code, out, err, rss = peak_rss_mb(args, tmp_path)
    assert_clean_ending(args, code, out, err, rss)


@pytest.mark.slow
def test_training_a_huge_design_is_refused_before_allocating(tmp_path):
    design = {"format": "mlsys-studio-design", "version": 1, "name": "wide", "nodes": [
        {"name": "in", "type": "Input", "params": {"shape": [1, 28, 28]}, "inputs": []},
        {"name": "flat", "type": "Flatten", "inputs": ["in"]},
        {"name": "fc", "type": "Linear", "params": {"out_features": 10 ** 7}, "inputs": ["flat"]},
        {"name": "out", "type": "Linear", "params": {"out_features": 10}, "inputs": ["fc"]}]}
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(design))
    code, out, err, rss = peak_rss_mb(["train", str(path), "--epochs", "1"], tmp_path)
    assert_clean_ending(["train"], code, out, err, rss)
    assert code == 2 and "MLSYS_LIMIT_TRAINING_BYTES" in err


def test_exported_code_of_a_hostile_name_runs_nothing(tmp_path):
    from core.torchbridge.codegen import class_name, generate
    network = io.load(CORPUS / "code_injection_name.json")
    source = generate(network)
    compile(source, "generated.py", "exec")
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(source, "generated.py", "exec"), namespace)  # noqa: S102 - the point
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "INJECTED").exists()
    assert network.name in namespace["__doc__"]  # the name survives, as text
    assert class_name(network) in namespace
