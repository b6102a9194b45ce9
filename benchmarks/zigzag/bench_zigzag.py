"""Cross-check our mapper against ZigZag 3.9.1 (KU Leuven) on the same layers and hierarchy.

ZigZag runs in its own virtual environment, created on demand under a cache directory
(``$MLSYS_ZIGZAG_VENV``, else ``$XDG_CACHE_HOME``/~/.cache ``/mlsys-studio/zigzag-3.9.1``) with
``pip install zigzag-dse==3.9.1 six``, driven in a subprocess by runner.py; its time is measured
inside that process around its search (imports excluded), wall and CPU. Our hierarchy goes to
ZigZag as an accelerator (core.dataflow.zigzag): DRAM, one global buffer per operand with our
capacities, optional per-PE registers, the PE array; 8-bit elements everywhere so one element
is one word.

For each layer: our best mapping (unconstrained, objective energy) and ZigZag's best (its
objective energy), ZigZag's chosen mapping translated and priced by OUR evaluate() (the fair
comparison), per-level element counts of ours, of ZigZag's own model, and of ZigZag's mapping
under our model, and both search times. Then all of ResNet-18 (its 20 convolutions and the
classifier) on our hierarchy, and optionally ZigZag's own example (ResNet-18 on its eyeriss-like
hardware). Every difference is explained in core.dataflow.zigzag.ZIGZAG_DIFFERENCES.

    python benchmarks/zigzag/bench_zigzag.py              # three ResNet-18 layers, two hierarchies
    python benchmarks/zigzag/bench_zigzag.py --network    # + all of ResNet-18 on our hierarchy
    python benchmarks/zigzag/bench_zigzag.py --example    # + ZigZag's ResNet-18 on eyeriss_like
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.dataflow.hierarchy import Hierarchy  # noqa: E402
from core.dataflow.layer import OPERANDS, Buffers, ConvLayer, PEArray  # noqa: E402
from core.dataflow.mapper import search  # noqa: E402
from core.dataflow.mapping_eval import evaluate  # noqa: E402
from core.dataflow.zigzag import (ZIGZAG_DIFFERENCES, mapping_from_zigzag, zigzag_accelerator,  # noqa: E402
                                  zigzag_counts_as_ours, zigzag_layer, zigzag_mapping)

ZIGZAG_SPEC = ["zigzag-dse==3.9.1", "six"]
RUNNER = Path(__file__).with_name("runner.py")

LAYERS = [  # ResNet-18 layers: (name, ConvLayer)
    ("layer1_0_conv1", ConvLayer(56, 56, 64, 3, 64, 1, 1)),
    ("layer3_0_conv1", ConvLayer(28, 28, 128, 3, 256, 2, 1)),
    ("layer4_0_down_conv", ConvLayer(14, 14, 256, 1, 512, 2, 0)),
]
HIERARCHIES = {
    "buffers": Hierarchy(Buffers(1024, 1024, 256), PEArray(12, 14)),
    "buffers+registers": Hierarchy(Buffers(1024, 1024, 256), PEArray(12, 14), Buffers(12, 12, 4)),
}


def cache_venv() -> Path:
    override = os.environ.get("MLSYS_ZIGZAG_VENV")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mlsys-studio" / "zigzag-3.9.1"


def ensure_zigzag(env_dir: Path) -> Path:
    python = env_dir / "bin" / "python"
    probe = [str(python), "-c", "import zigzag.api, six"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating the ZigZag venv in {env_dir} (one time) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *ZIGZAG_SPEC], check=True)
    return python


def run_zigzag(python: Path, jobs: list[dict]) -> dict[str, dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(jobs, f)
    proc = subprocess.run([str(python), str(RUNNER), f.name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ZigZag failed:\n{proc.stderr[-3000:]}")
    return {line["job"]: line for line in (json.loads(t) for t in proc.stdout.splitlines() if t.strip())}


def write_inputs(work: Path, key: str, layers: list[tuple[str, ConvLayer]], hierarchy: Hierarchy) -> dict:
    """ZigZag's three input files for a list of layers on one hierarchy (JSON is valid YAML)."""
    work.mkdir(parents=True, exist_ok=True)
    workload = [zigzag_layer(layer, i, name) for i, (name, layer) in enumerate(layers)]
    accelerator = zigzag_accelerator(hierarchy.buffers, hierarchy.pe.rows, hierarchy.pe.cols, hierarchy.costs,
                                     hierarchy.registers)
    paths = {}
    for name, data in (("workload", workload), ("accelerator", accelerator), ("mapping", zigzag_mapping())):
        paths[name] = str(work / f"{key}_{name}.yaml")
        Path(paths[name]).write_text(json.dumps(data, indent=1))
    return {"key": key, **paths, "dump_folder": str(work / f"{key}_out"), "opt": "energy",
            "temporal_mapping_type": "even"}


def our_search(layer: ConvLayer, hierarchy: Hierarchy):
    start, cpu = time.perf_counter(), time.process_time()
    result = search(layer, hierarchy, None, "energy")
    return result, time.perf_counter() - start, time.process_time() - cpu


def compare_layer(name: str, layer: ConvLayer, hierarchy: Hierarchy, report: dict, ours) -> dict:
    result, seconds, cpu = ours
    zz_mapping, note = mapping_from_zigzag(report, layer, hierarchy)
    zz_ours = evaluate(zz_mapping, layer, hierarchy) if zz_mapping else None
    zz_counts = zigzag_counts_as_ours(report["element_accesses"], hierarchy.level_names)
    return {"layer": name, "ours": result, "our_seconds": seconds, "our_cpu": cpu, "zigzag": report,
            "zigzag_mapping": zz_mapping, "zigzag_under_ours": zz_ours, "note": note, "zigzag_counts": zz_counts}


def print_layer(row: dict, detail: bool) -> None:
    ours, zz, zz_ours = row["ours"], row["zigzag"], row["zigzag_under_ours"]
    print(f"\n{row['layer']}: ours {ours.cost.energy.total:,.0f} (DRAM {ours.cost.memory_accesses:,}) in "
          f"{row['our_seconds']:.2f} s wall / {row['our_cpu']:.2f} s CPU, {ours.evaluated:,} mappings; "
          f"ZigZag's own energy {zz['energy_total']:,.0f}")
    if zz_ours is not None:
        print(f"  ZigZag's mapping under our model: {zz_ours.energy.total:,.0f} (DRAM {zz_ours.memory_accesses:,}); "
              f"ours / ZigZag's = {ours.cost.energy.total / zz_ours.energy.total:.3f}  [{row['note']}]")
    else:
        print(f"  ZigZag's mapping has no valid translation ({row['note']})")
    if not detail:
        return
    print("  ZigZag's mapping, translated:")
    for line in (row["zigzag_mapping"].lines() if row["zigzag_mapping"] else []):
        print("    " + line)
    print("  our best:")
    for line in ours.best.lines():
        print("    " + line)
    print(f"  {'level':9} {'operand':7} {'count':10} {'ours (best)':>14} {'ZigZag own':>14} {'ZZ map, ours':>14}")
    for level in row["zigzag_counts"]:
        for op in OPERANDS:
            for key in ("reads", "fills", "writes", "psum_reads", "updates"):
                mine = getattr(ours.cost.counts[level][op], key)
                theirs = row["zigzag_counts"][level].get(op, {}).get(key, 0)
                translated = getattr(zz_ours.counts[level][op], key) if zz_ours else None
                if mine or theirs or translated:
                    print(f"  {level:9} {op:7} {key:10} {mine:>14,} {theirs:>14,} "
                          f"{translated if translated is None else format(translated, ','):>14}")


def layers_of_resnet18() -> list[tuple[str, ConvLayer]]:
    from core.dataflow.network_layers import network_layers
    from core.graph.presets import load_preset
    return network_layers(load_preset("resnet18"))


def network_comparison(python: Path, work: Path, hierarchy: Hierarchy) -> None:
    from core.dataflow.network import map_network
    from core.graph.presets import load_preset
    layers = layers_of_resnet18()
    job = write_inputs(work, "resnet18", layers, hierarchy)
    print(f"\nResNet-18 ({len(layers)} conv/linear layers) on our hierarchy "
          f"(buffers {hierarchy.buffers.input}/{hierarchy.buffers.weight}/{hierarchy.buffers.output}, "
          f"{hierarchy.pe.rows}×{hierarchy.pe.cols} PEs) ...", flush=True)
    zz = run_zigzag(python, [job])["resnet18"]
    start, cpu = time.perf_counter(), time.process_time()
    table = map_network(load_preset("resnet18"), hierarchy, "energy", ("any",))
    ours_wall, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    by_name = {r["layer"]: r for r in zz["layers"]}
    zz_total, ours_total, missing = 0.0, 0.0, []
    for row in table.rows:
        report = by_name.get(row.name)
        mapping = mapping_from_zigzag(report, row.layer, hierarchy)[0] if report else None
        if mapping is None:
            missing.append(row.name)
            continue
        zz_total += evaluate(mapping, row.layer, hierarchy).energy.total
        ours_total += row.result.cost.energy.total
    print(f"  ZigZag: {zz['seconds']:.1f} s wall, {zz['cpu_seconds']:.1f} s CPU; its own total energy "
          f"{sum(r['energy_total'] for r in zz['layers']):,.0f}")
    print(f"  ours:   {ours_wall:.1f} s wall, {ours_cpu:.1f} s CPU ({table.searches} searches for "
          f"{len(table.rows)} layers: identical shapes searched once)")
    print(f"  speed-up: {zz['seconds'] / ours_wall:.1f}× wall, {zz['cpu_seconds'] / ours_cpu:.1f}× CPU")
    print(f"  energy under OUR model, summed over the layers both mapped: ours {ours_total:,.0f}, "
          f"ZigZag's mappings {zz_total:,.0f} (ours / ZigZag's = {ours_total / zz_total:.3f})"
          + (f"; not translated: {', '.join(missing)}" if missing else ""))


def zigzag_example(python: Path, work: Path) -> None:
    job = {"key": "example", "workload": "zigzag:inputs/workload/resnet18.onnx",
           "accelerator": "zigzag:inputs/hardware/eyeriss_like.yaml",
           "mapping": "zigzag:inputs/mapping/default.yaml", "dump_folder": str(work / "example_out"),
           "opt": "energy", "temporal_mapping_type": "uneven"}
    print("\nZigZag's own example: resnet18.onnx on eyeriss_like.yaml ...", flush=True)
    zz = run_zigzag(python, [job])["example"]
    print(f"  {len(zz['layers'])} layers in {zz['seconds']:.1f} s wall, {zz['cpu_seconds']:.1f} s CPU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", action="store_true", help="also all of ResNet-18 on our hierarchy")
    parser.add_argument("--example", action="store_true", help="also ZigZag's ResNet-18 on its eyeriss-like example")
    parser.add_argument("--layers-only", action="store_true", help="skip the single-layer comparison")
    args = parser.parse_args()
    python = ensure_zigzag(cache_venv())
    work = Path(tempfile.mkdtemp(prefix="mlsys-zigzag-"))
    if not args.layers_only or not (args.network or args.example):
        for hname, hierarchy in HIERARCHIES.items():
            print(f"\n=== hierarchy: {hname} ===")
            jobs = [write_inputs(work / hname, name, [(name, layer)], hierarchy) for name, layer in LAYERS]
            reports = run_zigzag(python, jobs)
            for i, (name, layer) in enumerate(LAYERS):
                zz = reports[name]
                row = compare_layer(name, layer, hierarchy, zz["layers"][0], our_search(layer, hierarchy))
                print_layer(row, detail=(i == 0))
                print(f"  search time: ZigZag {zz['seconds']:.2f} s wall / {zz['cpu_seconds']:.2f} s CPU; "
                      f"ours {row['our_seconds']:.2f} s / {row['our_cpu']:.2f} s "
                      f"({zz['cpu_seconds'] / row['our_cpu']:.1f}× less CPU)")
    if args.network:
        network_comparison(python, work, HIERARCHIES["buffers"])
    if args.example:
        zigzag_example(python, work)
    print("\nWhy the numbers differ (core.dataflow.zigzag.ZIGZAG_DIFFERENCES):")
    for text in ZIGZAG_DIFFERENCES:
        print(f"- {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
