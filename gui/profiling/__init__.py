"""The Profiling workspace: the panel (settings, Start/Stop, tables, summary), its live
plots (latency and throughput against batch, the roofline) and exports; the profile runs
in gui.widgets.worker's QThread worker.

Imports core (profiling, torchbridge, graph, common) and gui.widgets; torch only in the
worker thread.
"""

from gui.profiling.panel import ProfilingPanel

__all__ = ["ProfilingPanel"]
