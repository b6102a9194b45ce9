"""Runs inside ZigZag's own virtual environment (never imported by the app or the tests).

Reads a job file (JSON) naming the accelerator, mapping and workload files and ZigZag's
options, runs ``get_hardware_performance_zigzag`` once per job and prints one JSON line per
layer: the chosen temporal and spatial mapping, per-level word accesses, energies, latency
and the seconds ZigZag spent (interpreter start-up and imports excluded).

    <zigzag venv>/bin/python runner.py JOBS.json
"""

from __future__ import annotations

import glob
import json
import logging
import os
import sys
import time


def _loops(text_list) -> list[list]:
    """['(K, 5)', '(FX, 3)'] → [['K', 5], ['FX', 3]] (ZigZag writes loops as text in its JSON)."""
    loops = []
    for item in text_list:
        dim, factor = item.strip("()").split(",")
        value = float(factor)
        loops.append([dim.strip(), int(value) if value.is_integer() else value])
    return loops


def _layer_report(path: str) -> dict:
    with open(path) as f:
        data = json.load(f)
    out, inp = data["outputs"], data["inputs"]
    return {
        "layer": inp["layer"]["name"],
        "loop_dimensions": inp["layer"]["loop_dimensions"],
        "temporal": {op: [_loops(level) for level in levels] for op, levels in inp["temporal_mapping"].items()},
        "spatial": {op: [_loops(level) for level in levels] for op, levels in inp["spatial_mapping"].items()},
        "memories": {op: [str(m).split("instance=")[1].split(",")[0] for m in levels]
                     for op, levels in inp["accelerator"]["mem_hierarchy_dict"].items()},
        "word_accesses": out["memory"]["word_accesses"],
        "energy_total": out["energy"]["energy_total"],
        "operational_energy": out["energy"]["operational_energy"],
        "memory_energy_per_level": out["energy"]["memory_energy_breakdown_per_level"],
        "latency": out["latency"],
        "mac_utilization": out["spatial"]["mac_utilization"],
    }


def element_counts(cme) -> dict:
    """Exact elements moved per operand, level and direction (ZigZag's own word counts are
    rounded to port widths): amount per period × periods × units, as its cost model does."""
    from zigzag.mapping.data_movement import DataDirection, DataMoveAttr
    counts = {}
    for layer_op in cme.layer.layer_operands:
        levels = []
        for level in range(cme.mapping.mem_level[layer_op]):
            move = cme.mapping.unit_mem_data_movement[layer_op][level]
            amount = move.get_attribute(DataMoveAttr.DATA_TRANS_AMOUNT_PER_PERIOD)
            periods = move.get_attribute(DataMoveAttr.DATA_TRANS_PERIOD_COUNT)
            units = cme.mapping.spatial_mapping.unit_count[layer_op][level + 1]
            levels.append({d.value: int(amount.get(d) * periods.get(d) * units) for d in DataDirection})
        counts[str(layer_op)] = levels
    return counts


def _path(text: str) -> str:
    """'zigzag:inputs/…' names a file shipped inside the zigzag package (its examples)."""
    if text.startswith("zigzag:"):
        import zigzag
        return os.path.join(os.path.dirname(zigzag.__file__), text[len("zigzag:"):])
    return text


def run_job(job: dict) -> list[dict]:
    from zigzag.api import get_hardware_performance_zigzag
    dump = job["dump_folder"]
    job = {**job, **{k: _path(job[k]) for k in ("workload", "accelerator", "mapping")}}
    start, cpu = time.perf_counter(), time.process_time()
    _energy, _latency, cmes = get_hardware_performance_zigzag(
        job["workload"], job["accelerator"], job["mapping"], opt=job.get("opt", "energy"),
        dump_folder=dump, lpf_limit=job.get("lpf_limit", 6),
        nb_spatial_mappings_generated=job.get("nb_spatial_mappings", 3),
        loma_show_progress_bar=False, temporal_mapping_type=job.get("temporal_mapping_type", "even"),
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    elements = {cme.layer.name: element_counts(cme) for cme, _extra in cmes[0][1]}
    reports = [_layer_report(p) for p in sorted(glob.glob(os.path.join(dump, "*_complete.json")))]
    for report in reports:
        report["element_accesses"] = elements.get(report["layer"])
    return [{"job": job["key"], "seconds": seconds, "cpu_seconds": cpu, "layers": reports}]


def main() -> int:
    logging.disable(logging.WARNING)  # ZigZag logs every stage at INFO/WARNING
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    import zigzag.api  # noqa: F401  (imported before the clock starts)
    for job in jobs:
        for line in run_job(job):
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
