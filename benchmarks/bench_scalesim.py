"""Time our closed-form systolic model against SCALE-Sim 3.0.0 on the same layers, and compare figures.

SCALE-Sim needs numpy < 2.4, so it runs in its own virtual environment, created on demand
under a cache directory (``$MLSYS_SCALESIM_VENV``, else ``$XDG_CACHE_HOME``/~/.cache
``/mlsys-studio/scalesim-3.0.0``) with ``pip install scalesim==3.0.0 "numpy<2.4"``, and is
driven in a subprocess. Its time is measured inside that process around the simulation of
each layer (interpreter start-up and imports excluded); ours is the best of many calls.

    python benchmarks/bench_scalesim.py            # small reference layers + two larger ones
    python benchmarks/bench_scalesim.py --quick    # only the small reference layers
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.dataflow.systolic import SystolicLayer, simulate_systolic  # noqa: E402

SCALESIM_SPEC = ["scalesim==3.0.0", "numpy<2.4"]

# (name, ifmap_h, ifmap_w, filter_h, filter_w, channels, filters, stride, array_rows, array_cols)
SMALL = [
    ("toy", 6, 6, 3, 3, 1, 4, 1, 4, 4),
    ("seed", 6, 7, 3, 3, 9, 1, 1, 4, 4),
    ("lenet_conv2", 14, 14, 5, 5, 6, 16, 1, 8, 8),
]
LARGER = [
    ("lenet_conv1_pad", 32, 32, 5, 5, 1, 6, 1, 8, 8),
    ("resnet_like", 30, 30, 3, 3, 32, 64, 1, 16, 16),
    ("strided_ceil", 32, 32, 3, 3, 16, 32, 2, 16, 16),  # (32 − 3) / 2 does not tile: ceil ≠ floor
]

_RUNNER = textwrap.dedent(
    """
    import json, os, sys, time
    from scalesim.scale_sim import scalesim

    def read_row(path):
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        return [x.strip() for x in lines[1].split(",") if x.strip()]

    for case in json.loads(sys.argv[1]):
        work = case["dir"]
        start = time.perf_counter()
        sim = scalesim(save_disk_space=True, verbose=False, config=work + "/run.cfg",
                       topology=work + "/topo.csv", layout=work + "/layout.csv")
        sim.run_scale(top_path=work + "/out")
        seconds = time.perf_counter() - start
        report = work + "/out/bench"
        compute = read_row(report + "/COMPUTE_REPORT.csv")
        detail = read_row(report + "/DETAILED_ACCESS_REPORT.csv")
        print(json.dumps({"key": case["key"], "seconds": seconds,
                          "cycles": int(float(compute[2])), "util": float(compute[4]),
                          "mapping": float(compute[5]), "compute_util": float(compute[6]),
                          "sram": [int(float(detail[3])), int(float(detail[6])), int(float(detail[9]))],
                          "dram": [int(float(detail[12])), int(float(detail[15])), int(float(detail[18]))]}),
              flush=True)
    """
)


def cache_venv() -> Path:
    override = os.environ.get("MLSYS_SCALESIM_VENV")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mlsys-studio" / "scalesim-3.0.0"


def ensure_scalesim(env_dir: Path) -> Path:
    python = env_dir / "bin" / "python"
    probe = [str(python), "-c", "import scalesim, numpy; assert numpy.__version__ < '2.4'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating SCALE-Sim venv in {env_dir} (one time) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *SCALESIM_SPEC], check=True)
    return python


def write_case(work: Path, case: tuple, dataflow: str, sram_kb: int) -> None:
    name, ih, iw, fh, fw, c, f, s, rows, cols = case
    work.mkdir(parents=True, exist_ok=True)
    (work / "run.cfg").write_text(textwrap.dedent(f"""\
        [general]
        run_name = bench

        [architecture_presets]
        ArrayHeight: {rows}
        ArrayWidth: {cols}
        IfmapSramSzkB: {sram_kb}
        FilterSramSzkB: {sram_kb}
        OfmapSramSzkB: {sram_kb}
        IfmapOffset: 0
        FilterOffset: 10000000
        OfmapOffset: 20000000
        Bandwidth : 10
        Dataflow : {dataflow}
        ReadRequestBuffer: 32
        WriteRequestBuffer: 32

        [layout]
        IfmapCustomLayout: False
        FilterCustomLayout: False
        IfmapSRAMBankBandwidth: 10
        IfmapSRAMBankNum: 1
        IfmapSRAMBankPort: 2
        FilterSRAMBankBandwidth: 10
        FilterSRAMBankNum: 1
        FilterSRAMBankPort: 2

        [sparsity]
        SparsitySupport : false
        SparseRep : ellpack_block
        OptimizedMapping : false
        BlockSize : 8
        RandomNumberGeneratorSeed : 40

        [run_presets]
        InterfaceBandwidth: CALC
        UseRamulatorTrace: False
        """))
    (work / "topo.csv").write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
        f"{name}, {ih}, {iw}, {fh}, {fw}, {c}, {f}, {s},\n"
    )
    (work / "layout.csv").write_text("Layer name,\n")


def time_ours(layer: SystolicLayer, rows: int, cols: int, dataflow: str, sram_kb: int):
    result = simulate_systolic(layer, rows, cols, dataflow, (sram_kb,) * 3)
    best = float("inf")
    for _ in range(5):
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            simulate_systolic(layer, rows, cols, dataflow, (sram_kb,) * 3)
        best = min(best, (time.perf_counter() - start) / n)
    return result, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the three small reference layers")
    parser.add_argument("--sram-kb", type=int, default=64, help="size of each SRAM in KB (default 64)")
    args = parser.parse_args(argv)

    python = ensure_scalesim(cache_venv())
    cases = SMALL if args.quick else SMALL + LARGER
    with tempfile.TemporaryDirectory(prefix="bench_scalesim_") as tmp:
        jobs = []
        for case in cases:
            for df in ("os", "ws", "is"):
                work = Path(tmp) / f"{case[0]}_{df}"
                write_case(work, case, df, args.sram_kb)
                jobs.append({"key": f"{case[0]}/{df}", "dir": str(work)})
        runner = Path(tmp) / "runner.py"
        runner.write_text(_RUNNER)
        proc = subprocess.run([str(python), str(runner), json.dumps(jobs)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
            return 1
        theirs = {}
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                theirs[rec["key"]] = rec

    header = f"{'layer/dataflow':24} {'SCALE-Sim s':>11} {'ours µs':>9} {'ratio':>9}  match  DRAM ifmap/filter/ofmap: SCALE-Sim vs our estimate"
    print(header)
    total_theirs = total_ours = 0.0
    mismatches = 0
    for case in cases:
        layer = SystolicLayer(*case[1:8])
        for df in ("os", "ws", "is"):
            key = f"{case[0]}/{df}"
            ref = theirs[key]
            ours, seconds = time_ours(layer, case[8], case[9], df, args.sram_kb)
            same = (ours.cycles == ref["cycles"]
                    and abs(100 * ours.utilization - ref["util"]) < 1e-4
                    and abs(100 * ours.mapping_efficiency - ref["mapping"]) < 1e-4
                    and abs(100 * ours.compute_utilization - ref["compute_util"]) < 1e-4
                    and [ours.sram_ifmap_reads, ours.sram_filter_reads, ours.sram_ofmap_writes] == ref["sram"])
            mismatches += not same
            total_theirs += ref["seconds"]
            total_ours += seconds
            dram = [ours.dram_ifmap_reads, ours.dram_filter_reads, ours.dram_ofmap_writes]
            print(f"{key:24} {ref['seconds']:11.3f} {seconds * 1e6:9.1f} {ref['seconds'] / seconds:9.0f}  "
                  f"{'yes' if same else 'NO '}    {ref['dram']} vs {dram}")
            if not same:
                print(f"    SCALE-Sim {ref}\n    ours cycles={ours.cycles} util={100 * ours.utilization:.6f} "
                      f"map={100 * ours.mapping_efficiency:.6f} cu={100 * ours.compute_utilization:.6f} "
                      f"sram={[ours.sram_ifmap_reads, ours.sram_filter_reads, ours.sram_ofmap_writes]}")
    print(f"\ntotal: SCALE-Sim {total_theirs:.3f} s, ours {total_ours * 1e3:.3f} ms "
          f"-> ours is {total_theirs / total_ours:,.0f}× faster; figures differ in {mismatches} case(s)")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
