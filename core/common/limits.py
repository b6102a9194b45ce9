"""The engine's size limits, stated in one place.

Each limit bounds what one input can make the app read, compute or allocate; work that
would pass a limit is refused before it starts, with a message that names the limit, the
value asked for and how to raise it (an environment variable, ``MLSYS_LIMIT_<NAME>``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core.common.errors import InputError


class LimitError(InputError):
    """A request is larger than one of the stated limits (names it and how to raise it)."""


@dataclass(frozen=True)
class Limit:
    name: str
    default: int
    unit: str
    what: str

    @property
    def variable(self) -> str:
        return f"MLSYS_LIMIT_{self.name.upper()}"

    @property
    def value(self) -> int:
        """The limit in force: the environment's override when it is a whole number ≥ 1."""
        text = os.environ.get(self.variable, "")
        try:
            value = int(text)
        except ValueError:
            return self.default
        return value if value >= 1 else self.default

    def check(self, amount: int, subject: str) -> None:
        """Raise LimitError when ``amount`` (of this limit's unit) exceeds the limit."""
        if amount > self.value:
            raise LimitError(f"{subject} needs {_figure(amount)} {self.unit}, above the limit "
                             f"of {self.value:,} ({self.what}); set {self.variable} to raise "
                             f"it")


def _figure(amount: int) -> str:
    text = f"{amount:,}" if amount < 10 ** 30 else f"about 10^{len(str(amount)) - 1}"
    return text


GiB = 1 << 30

FILE_BYTES = Limit("file_bytes", 64 << 20, "bytes", "largest design or model file read")
CHECKPOINT_BYTES = Limit("checkpoint_bytes", 4 * (1 << 30), "bytes", "largest checkpoint "
                                                                    "read")
JSON_DEPTH = Limit("json_depth", 32, "levels", "deepest nesting of a design file")
NODES = Limit("nodes", 20_000, "nodes", "largest design")
DIMENSION = Limit("dimension", (1 << 31) - 1, "", "largest size, kernel, stride, padding, "
                                                   "dilation or other count of a layer")
COUNT_WORK = Limit("count_work", 200_000, "steps", "work of one closed-form count")
SOLVER_WORK = Limit("solver_work", 2_000_000, "candidates", "configurations the conv solver "
                                                           "may try")
SIMULATION_BYTES = Limit("simulation_bytes", 2 * GiB, "bytes", "memory a dataflow simulation "
                                                               "or trace may allocate")
MAPPING_SIMULATION_STEPS = Limit("mapping_simulation_steps", 2_000_000, "MAC steps",
                                 "MACs the step-by-step mapping simulation (the oracle) walks")
SCHEDULE_OPERATIONS = Limit("schedule_operations", 20_000_000, "operations", "operations "
                             "an event-level pipeline schedule may hold (~30 bytes each)")
TRAINING_BYTES = Limit("training_bytes", 8 * GiB, "bytes", "memory a model built for "
                                                           "training or profiling may take")

LAYOUT_NODES = Limit("layout_nodes", 800, "nodes", "largest design the Sugiyama layout "
                                                   "arranges; larger ones get the simple "
                                                   "layered layout")

ALL = (FILE_BYTES, CHECKPOINT_BYTES, JSON_DEPTH, NODES, DIMENSION, COUNT_WORK, SOLVER_WORK,
       SIMULATION_BYTES, MAPPING_SIMULATION_STEPS, SCHEDULE_OPERATIONS, TRAINING_BYTES, LAYOUT_NODES)
