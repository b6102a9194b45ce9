"""Training on MNIST: data (loading, the bundled sample, download), trainer (the training
generator and its events), experiments (sweeps) and run_history (kept runs as tables).

Imports core.torchbridge, core.graph and core.common; torch only when a run starts.
"""
