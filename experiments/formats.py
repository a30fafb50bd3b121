"""Format numbers and lists for the report's sentences (the only home of such helpers).

`pct`, `pts` and `num` turn measured values into text; `join_and` and `article` build the
small pieces of English that lists and class names need, so the prose in `report_src/`
only substitutes values.

Units: an accuracy is a percentage ("71.2 %"); a difference of two percentages, a gap or
a spread is in points ("+1.4 points"), never in %. `value`, `difference`, `magnitude`,
`bare`, `spread`, `span` and `interval` apply that rule to a quantity of a given unit:
PERCENT (accuracies), POINTS (a quantity that is itself a difference of accuracies, such
as the train–test gap) or PLAIN (losses).
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


def bold(items: Iterable) -> list[str]:
    """Each item in Markdown bold: bold(["vgg"]) -> ["**vgg**"]."""
    return [f"**{i}**" for i in items]


def article(word: str) -> str:
    """The word with "a" or "an" in front: article("airplane") -> "an airplane"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def thousands(n) -> str:
    """An integer with thousands separators: 479434 -> "479,434"."""
    return f"{int(n):,}"


def delta(x, digits: int = 1) -> str:
    """A difference of two fractions as a bare signed number of points: delta(0.026) -> "+2.6".

    For table cells and interval ends whose unit is said once, in a header or after them.
    """
    return fixed(100.0 * finite(x), digits, sign=True)


# --- quantities of a given unit --------------------------------------------------------------

PERCENT = "percent"  # an accuracy: values in %, differences in points
POINTS = "points"    # a difference of accuracies (the train–test gap): values and differences in points
PLAIN = "plain"      # a loss: plain numbers
UNITS = (PERCENT, POINTS, PLAIN)


def value(x, unit: str) -> str:
    """One measured value: "71.2 %", "7.2 points" (a gap), "0.812" (a loss)."""
    if unit == PERCENT:
        return pct(x)
    return points(x, 1, sign=False) if unit == POINTS else num(x)


def difference(x, unit: str) -> str:
    """A signed difference of two values: "+1.4 points", "-0.047"."""
    return num(x, sign=True) if unit == PLAIN else pts(x)


def magnitude(x, unit: str) -> str:
    """The size of a difference, without a sign, for after "by": "1.4 points", "0.047"."""
    return num(abs(finite(x))) if unit == PLAIN else points(abs(finite(x)), 1, sign=False)


def bare(x, unit: str) -> str:
    """A signed difference without its unit (an interval end): "+1.4", "-0.047"."""
    return num(x, sign=True) if unit == PLAIN else delta(x)


def spread(x, unit: str) -> str:
    """A standard deviation across seeds: "0.3 points" for accuracies, "0.012" for losses."""
    return num(x) if unit == PLAIN else points(x, 1, sign=False)


def span(lo, hi, unit: str) -> str:
    """A range of values with the unit once: "80.0–85.0 %", "2.0–5.0 points", "0.500–0.900"."""
    if unit == PERCENT:
        return f"{fixed(100.0 * finite(lo), 1, sign=False)}–{pct(hi)}"
    if unit == POINTS:
        return f"{fixed(100.0 * finite(lo), 1, sign=False)}–{points(hi, 1, sign=False)}"
    return f"{num(lo)}–{num(hi)}"


def interval(lo, hi, unit: str, confidence: float = 0.95) -> str:
    """A confidence interval of a difference: "95 % CI +1.3 to +3.7" (the unit is the difference's)."""
    return f"{fixed(100.0 * finite(confidence), 0, sign=False)} % CI {bare(lo, unit)} to {bare(hi, unit)}"
