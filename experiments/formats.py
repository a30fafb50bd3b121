"""Format numbers and lists for the report's sentences (the only home of such helpers).

`pct`, `pts` and `num` turn measured values into text; `join_and` and `article` build the
small pieces of English that lists and class names need, so the prose in `report_src/`
only substitutes values.
"""

from __future__ import annotations

import math
from typing import Iterable


def finite(x) -> float:
    """`x` as a float; ValueError for None, booleans, strings, NaN and infinities."""
    if x is None or isinstance(x, (bool, str, bytes)):
        raise ValueError(f"cannot format {x!r} as a number")
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"cannot format {x!r} as a number") from None
    if not math.isfinite(value):
        raise ValueError(f"cannot format {x!r}: the value is not finite")
    return value


def fixed(value: float, digits: int, sign: bool) -> str:
    """`value` with `digits` decimals; a "+" in front of positives if `sign`.

    A value that rounds to zero is written without a sign ("0.0", never "-0.0").
    """
    text = f"{value:.{digits}f}"
    if float(text) == 0.0:
        return text.lstrip("-")
    return f"+{text}" if sign and value > 0 else text


def num(x, digits: int = 3, sign: bool = False) -> str:
    """A plain number: num(0.8123) -> "0.812"; num(0.05, sign=True) -> "+0.050"."""
    return fixed(finite(x), digits, sign)


def pct(x, digits: int = 1) -> str:
    """A fraction as a percentage: pct(0.7123) -> "71.2 %"."""
    return f"{fixed(100.0 * finite(x), digits, sign=False)} %"


def points(x, digits: int = 1, sign: bool = True) -> str:
    """A difference of two fractions in percentage points: points(0.014) -> "+1.4 points".

    With sign=False a positive value has no "+" ("1.4 points", for a quantity such as a
    gap or a spread); a negative one keeps its "-". After "by", pass the magnitude.
    """
    value = 100.0 * finite(x)
    text = fixed(value, digits, sign)
    unit = "point" if abs(float(text)) == 1.0 else "points"
    return f"{text} {unit}"


def pts(x, digits: int = 1) -> str:
    """A difference of two fractions in signed percentage points.

    pts(0.014) -> "+1.4 points", pts(-0.01) -> "-1.0 point", pts(0) -> "0.0 points".
    """
    return points(x, digits, sign=True)


def join_and(items: Iterable) -> str:
    """"a", "a and b", "a, b and c" ("" for no items)."""
    items = [str(i) for i in items]
    if not items:
        return ""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def article(word: str) -> str:
    """The word with "a" or "an" in front: article("airplane") -> "an airplane"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def thousands(n) -> str:
    """An integer with thousands separators: 479434 -> "479,434"."""
    return f"{int(n):,}"
