"""Numbers that carry their formula: an integer with its symbolic and substituted text.

Every count the engine reports is an :class:`Expr`. Arithmetic on Exprs computes the
value and writes both texts at once, so a formula can never drift from its number:

>>> cout, h = V("Cout", 6), V("Hout", 28)
>>> (cout * h * h).explain()
'Cout × Hout × Hout = 6 × 28 × 28 = 4,704'
"""

from __future__ import annotations

from functools import lru_cache

# Binding strength, for adding only the parentheses that are needed.
_ATOM, _PRODUCT, _SUM = 3, 2, 1


class Expr:
    """An integer count with the formula that produced it (immutable by convention; a
    plain slotted class because the analysis makes tens of thousands per run)."""

    __slots__ = ("value", "symbolic", "substituted", "prec")

    def __init__(self, value: int, symbolic: str, substituted: str, prec: int = _ATOM):
        self.value = value
        self.symbolic = symbolic
        self.substituted = substituted
        self.prec = prec

    def __eq__(self, other) -> bool:
        return isinstance(other, Expr) and (self.value, self.symbolic, self.substituted) == (
            other.value, other.symbolic, other.substituted)

    def __hash__(self) -> int:
        return hash((self.value, self.symbolic, self.substituted))

    # -- arithmetic -------------------------------------------------------------------
    def __mul__(self, other: Expr | int) -> Expr:
        other = _lift(other)
        if self.value == 1 and self.symbolic == "1":
            return other
        if other.value == 1 and other.symbolic == "1":
            return self
        return _binary(self, other, " × ", _PRODUCT, self.value * other.value)

    __rmul__ = __mul__

    def __add__(self, other: Expr | int) -> Expr:
        other = _lift(other)
        if other.is_zero():
            return self
        if self.is_zero():
            return other
        return _binary(self, other, " + ", _SUM, self.value + other.value)

    __radd__ = __add__

    def __sub__(self, other: Expr | int) -> Expr:
        other = _lift(other)
        if other.is_zero():
            return self
        # The right operand of a minus needs brackets when it is itself a sum.
        right = other if other.prec > _SUM else other.bracketed()
        return _binary(self, right, " − ", _SUM, self.value - other.value)

    def __floordiv__(self, other: Expr | int) -> Expr:
        """Exact integer division, written ``a/b`` (used for Cin/groups and the like)."""
        other = _lift(other)
        if other.value == 0 or self.value % other.value:
            raise ValueError(f"{self.symbolic}/{other.symbolic} is not a whole number")
        left = self if self.prec >= _ATOM else self.bracketed()
        right = other if other.prec >= _ATOM else other.bracketed()
        return Expr(self.value // other.value, f"{left.symbolic}/{right.symbolic}",
                    f"{left.substituted}/{right.substituted}", _ATOM)

    # -- helpers ----------------------------------------------------------------------
    def is_zero(self) -> bool:
        return self.value == 0 and self.symbolic == "0"

    def bracketed(self) -> Expr:
        """The same expression wrapped in parentheses (binds as an atom)."""
        if self.prec >= _ATOM:
            return self
        return Expr(self.value, f"({self.symbolic})", f"({self.substituted})", _ATOM)

    def named(self, symbol: str) -> Expr:
        """Collapse the expression into a named quantity (keeps its value)."""
        return Expr(self.value, symbol, f"{self.value:,}", _ATOM)

    def explain(self) -> str:
        """``symbolic = substituted = value``, dropping steps that repeat."""
        steps = [self.symbolic]
        if self.substituted != self.symbolic:
            steps.append(self.substituted)
        result = f"{self.value:,}"
        if steps[-1].replace(",", "") != str(self.value):
            steps.append(result)
        return " = ".join(steps)

    def text(self) -> str:
        """Only the substituted formula with its value, e.g. ``6 × 28 × 28 = 4,704``."""
        if self.substituted.replace(",", "") == str(self.value):
            return f"{self.value:,}"
        return f"{self.substituted} = {self.value:,}"

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Expr({self.explain()!r})"


@lru_cache(maxsize=8192)
def V(symbol: str, value: int) -> Expr:
    """A named quantity, e.g. ``V("Cout", 6)`` (cached: Exprs are never mutated)."""
    return Expr(int(value), symbol, f"{int(value):,}", _ATOM)


@lru_cache(maxsize=1024)
def C(value: int) -> Expr:
    """A literal constant (its symbol is its value)."""
    text = f"{int(value)}"
    return Expr(int(value), text, text, _ATOM)


ZERO = C(0)
ONE = C(1)


def _lift(x: Expr | int) -> Expr:
    return x if isinstance(x, Expr) else C(x)


def _binary(a: Expr, b: Expr, op: str, prec: int, value: int) -> Expr:
    a = a if a.prec >= prec else a.bracketed()
    b = b if b.prec >= prec else b.bracketed()
    return Expr(value, f"{a.symbolic}{op}{b.symbolic}", f"{a.substituted}{op}{b.substituted}",
                prec)


def total(items, empty: Expr = ZERO) -> Expr:
    """Sum of Exprs (``empty`` when there are none)."""
    result = empty
    for item in items:
        result = result + item
    return result


def shape_text(shape) -> str:
    """A shape written the way the product shows it: ``6×28×28`` (``scalar`` for ())."""
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "×".join(str(d) for d in shape)
