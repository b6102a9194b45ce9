"""Cycle-level models of MLP hardware: per-neuron units and NFU variants (config), their
closed-form cycle counts with formulas (cycles) and the event-level schedule of every
operation (schedule), which the tests check against each other.

Imports core.common only (numpy for the schedule).
"""

from core.pipeline.config import (ARCH_NAMES, ARCHS, KINDS, PipelineConfig, parse_widths)
from core.pipeline.cycles import LayerCycles, PipelineResult, analyse, assumptions
from core.pipeline.schedule import Schedule, build_schedule, operation_count

__all__ = ["ARCHS", "ARCH_NAMES", "KINDS", "PipelineConfig", "parse_widths", "LayerCycles",
           "PipelineResult", "analyse", "assumptions", "Schedule", "build_schedule",
           "operation_count"]
