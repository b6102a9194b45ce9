"""Profiling: latency and throughput against batch size (config, timing, profiler), per-layer
time from forward hooks (layers), measured machine peaks (machine), the roofline from the
engine's counts (roofline), the summary in words (summary) and tables (report).

Imports core.torchbridge, core.graph and core.common; torch only when a profile runs.
"""
