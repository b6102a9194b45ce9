"""Leaf modules every engine package may use: typed errors (errors), numbers that carry
their formula (explain) and tables with their text formats (tables).

Imports nothing of the engine.
"""
