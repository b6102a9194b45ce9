"""The memory hierarchy a mapping runs on: memory, partitioned input/weight/output buffers, a PE array
and optional per-PE registers, with per-access energy costs; JSON round trip."""

from __future__ import annotations

from dataclasses import dataclass

from core.common.errors import InputError, brief
from core.dataflow.energy import LEVELS, EnergyCosts
from core.dataflow.layer import OPERANDS, Buffers, PEArray, require_int

MEMORY, BUFFER, REGISTERS = "memory", "buffer", "registers"
# Which EnergyCosts field prices an access of each storage level.
ENERGY_LEVEL = {MEMORY: "dram", BUFFER: "buffer", REGISTERS: "rf"}


@dataclass(frozen=True)
class Hierarchy:
    """Buffers (elements per operand), the PE array's rows × cols, optional per-PE registers, costs,
    and optionally the memory bandwidth in elements per cycle (None: not a limit on cycles)."""

    buffers: Buffers
    pe: PEArray = PEArray()
    registers: Buffers | None = None
    costs: EnergyCosts = EnergyCosts()
    memory_bandwidth: int | None = None

    def __post_init__(self):
        for name, kind in (("buffers", Buffers), ("pe", PEArray), ("costs", EnergyCosts)):
            if not isinstance(getattr(self, name), kind):
                raise InputError(f"hierarchy {name}: {brief(getattr(self, name))} is not a {kind.__name__}")
        if self.registers is not None and not isinstance(self.registers, Buffers):
            raise InputError(f"hierarchy registers: {brief(self.registers)} is not a Buffers or None")
        if self.memory_bandwidth is not None:
            object.__setattr__(self, "memory_bandwidth", require_int("memory bandwidth (elements per cycle)",
                                                                     self.memory_bandwidth, 1))

    @property
    def level_names(self) -> tuple[str, ...]:
        return (MEMORY, BUFFER) if self.registers is None else (MEMORY, BUFFER, REGISTERS)

    @property
    def pes(self) -> int:
        return self.pe.rows * self.pe.cols

    def capacity(self, level: str, operand: str) -> int | None:
        """Elements of ``operand`` one instance of ``level`` holds (None: unbounded memory)."""
        if level == MEMORY:
            return None
        if level == BUFFER:
            return self.buffers.capacity(operand)
        if level == REGISTERS and self.registers is not None:
            return self.registers.capacity(operand)
        raise InputError(f"level: {brief(level)} is not in this hierarchy (allowed: {', '.join(self.level_names)})")

    def to_dict(self) -> dict:
        out = {
            "buffers": {op: self.buffers.capacity(op) for op in OPERANDS},
            "pe": {"rows": self.pe.rows, "cols": self.pe.cols},
            "registers": None if self.registers is None else {op: self.registers.capacity(op) for op in OPERANDS},
            "costs": self.costs.as_dict(),
            "memory_bandwidth": self.memory_bandwidth,
        }
        return out

    @classmethod
    def from_dict(cls, data) -> "Hierarchy":
        """Build from JSON data; InputError naming the field on bad content."""
        if not isinstance(data, dict):
            raise InputError(f"hierarchy: {brief(data)} is not an object with buffers, pe, registers, costs")
        buffers = _buffers("buffers", data.get("buffers"))
        pe_data = data.get("pe", {"rows": PEArray().rows, "cols": PEArray().cols})
        if not isinstance(pe_data, dict):
            raise InputError(f"pe: {brief(pe_data)} is not an object with rows and cols")
        pe = PEArray(pe_data.get("rows", PEArray().rows), pe_data.get("cols", PEArray().cols))
        registers = None if data.get("registers") is None else _buffers("registers", data["registers"])
        cost_data = data.get("costs", {})
        if not isinstance(cost_data, dict) or set(cost_data) - set(LEVELS):
            raise InputError(f"costs: {brief(cost_data)} is not allowed (an object with keys among "
                             f"{', '.join(LEVELS)})")
        return cls(buffers, pe, registers, EnergyCosts(**cost_data), data.get("memory_bandwidth"))


def _buffers(where: str, data) -> Buffers:
    if not isinstance(data, dict) or set(data) != set(OPERANDS):
        raise InputError(f"{where}: {brief(data)} is not allowed (an object with input, weight and output "
                         f"capacities in elements)")
    try:
        return Buffers(**data)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
