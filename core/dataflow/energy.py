"""Energy estimate from per-access costs, broken down by level of the memory hierarchy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.common.errors import InputError

LEVELS = ("rf", "inter_pe", "buffer", "dram", "mac")
LEVEL_NAMES = {
    "rf": "register file",
    "inter_pe": "inter-PE",
    "buffer": "buffer (global buffer)",
    "dram": "DRAM",
    "mac": "MAC",
}


@dataclass(frozen=True)
class EnergyCosts:
    """Energy per access at each level, normalised to one MAC (Eyeriss's figures by default)."""

    rf: float = 1.0
    inter_pe: float = 2.0
    buffer: float = 6.0
    dram: float = 200.0
    mac: float = 1.0

    def __post_init__(self):
        for name in LEVELS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InputError(f"{LEVEL_NAMES[name]} access cost: {value!r} is not allowed (a number >= 0)")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class EnergyBreakdown:
    """Accesses and energy per level; ``total`` is their sum (units of one MAC's energy)."""

    accesses: dict[str, int]
    costs: dict[str, float]
    energy: dict[str, float]

    @property
    def total(self) -> float:
        return float(sum(self.energy.values()))

    def shares(self) -> dict[str, float]:
        total = self.total
        return {level: (e / total if total else 0.0) for level, e in self.energy.items()}


def energy_breakdown(accesses: dict[str, int], costs: EnergyCosts | None = None) -> EnergyBreakdown:
    """Multiply each level's access count by its cost."""
    costs = costs or EnergyCosts()
    counts = {level: int(accesses.get(level, 0)) for level in LEVELS}
    per_access = costs.as_dict()
    return EnergyBreakdown(counts, per_access, {level: counts[level] * per_access[level] for level in LEVELS})
