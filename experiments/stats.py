"""The little statistics the report needs to compare experiments run over seeds.

Every experiment is trained once per seed, and two experiments run with the same
seed are compared seed by seed: the interval of a difference is built from the
per-seed differences a - b (a paired t interval), which removes the seed-to-seed
variation the two experiments share.

Plain functions on plain sequences; no TensorFlow, so the report step can use them.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

# What a paired difference shows (the return values of `direction`).
HIGHER = "higher"    # the whole interval is above zero
LOWER = "lower"      # the whole interval is below zero
UNCLEAR = "unclear"  # the interval includes zero
SINGLE = "single"    # one pair only: no interval, one run cannot settle it


def _finite(values: Sequence[float], name: str) -> np.ndarray:
    """`values` as a 1-d float array; ValueError if empty, not numeric or not finite."""
    try:
        arr = np.array([float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds a value that is not finite: {values!r}")
    return arr


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of `values`; the std is 0.0 for one value."""
    arr = _finite(values, "values")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """Mean of the per-seed differences a - b with its t-based confidence interval.

    `a[i]` and `b[i]` must come from the same seed. If the lengths differ, only the
    common prefix is paired. Returns a dict with
      mean, std  mean and sample std of the differences,
      n, df      number of pairs used and the degrees of freedom n - 1,
      lo, hi     the interval mean -/+ t_{(1+confidence)/2, df} * std / sqrt(n);
                 None for n = 1 (one difference has no spread to estimate);
                 lo == hi == mean when every difference is the same,
      confidence the level the interval was built for,
      paired_n   the number of pairs used (equal to n), and
      n_a, n_b   the lengths given: paired_n < max(n_a, n_b) means values were dropped.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    xa = _finite(a, "a")
    xb = _finite(b, "b")
    n = min(xa.size, xb.size)
    mean, std = mean_std(xa[:n] - xb[:n])
    if n == 1:
        lo = hi = None
    else:
        half = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * std / math.sqrt(n)
        lo, hi = mean - half, mean + half
    return {
        "mean": mean, "std": std, "n": n, "df": n - 1, "lo": lo, "hi": hi,
        "confidence": confidence, "paired_n": n, "n_a": int(xa.size), "n_b": int(xb.size),
    }


def direction(diff: dict) -> str:
    """What a `paired_difference` shows: HIGHER, LOWER, UNCLEAR or SINGLE (see above).

    An interval that collapses to a point (all differences equal) counts as HIGHER or
    LOWER by the sign of the mean, and as UNCLEAR when that mean is exactly zero.
    """
    if diff["n"] == 1:
        return SINGLE
    if diff["lo"] > 0:
        return HIGHER
    if diff["hi"] < 0:
        return LOWER
    return UNCLEAR
