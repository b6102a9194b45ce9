"""Leaf modules every engine package may use: typed errors (errors), numbers that carry
their formula (explain), tables with their text formats (tables), and executors that run
independent tasks inline, on a local process pool or on Ray (executors: ray imported lazily).

Imports nothing of the engine.
"""
