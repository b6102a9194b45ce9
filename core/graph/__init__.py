"""The network engine: the DAG (network), one class per layer type (layers/, catalog),
shapes, operation counts and memory (analysis), solver, depthwise-separable conversion
(dsconv), design files (io), presets, layout and report tables.

Imports only core.common; never torch at import time (layer types build their torch
modules lazily, from layers/torch_modules).
"""
