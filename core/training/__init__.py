"""Training on MNIST: data (loading, the bundled sample, download), trainer (the training
generator and its events), experiments (one-dimension sweeps, variants), sweeps (grids ×
repeats), sweep_points and executors (the training job on core.common.executors' inline, process
pool and Ray), run_history, run_store
and tensorboard_log.

Imports core.torchbridge, core.graph and core.common; torch only when a run starts, ray
only when the Ray executor runs.
"""
