"""Checked claims: every comparative sentence of the report, worded by the data.

The report prose never hard-codes "augmentation helps". It calls, for example,

    {{ claims.compare("test_accuracy", "aug_flip", "baseline", expect="higher") }}

which evaluates the comparison on the measured results and returns the sentence the
data supports. `expect` records what the surrounding prose asserts; when the data
disagrees the claim is "contradicted": it still renders (with the data's wording), is
listed by `failures()` for a warning, and fails the build under --strict.

Verdicts: "supported" (the data shows what the prose asserts, or nothing was
asserted), "contradicted" (the data shows the opposite, including a single run that
points the other way), "undecided" (the data cannot settle it: the interval includes
zero, or one run points the asserted way) and "missing" (an experiment has no results).

The number formatters (`pct`, `pts`, `num`) live in `formats` and are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from . import stats
from .config import EXPERIMENTS
from .errors import ReportError
from .formats import finite as _finite, join_and as _and, num, pct, points, pts  # noqa: F401 (re-exported)

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
UNDECIDED = "undecided"
MISSING = "missing"

CONFIDENCE = 0.95  # level of every interval in the report


# --- metrics -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Metric:
    label: str   # noun phrase used in sentences
    kind: str    # "accuracy": fractions shown in % and points; "loss": plain numbers
    better: str  # stats.HIGHER or stats.LOWER: which way is better (used by `best`)

    def value(self, x: float) -> str:
        if self.kind == "accuracy" and self.label.endswith("gap"):
            # A gap is itself a difference of two accuracies: points, not per cent.
            return f"{num(100.0 * x, 1)} points"
        return pct(x) if self.kind == "accuracy" else num(x)

    def diff(self, x: float) -> str:
        return pts(x) if self.kind == "accuracy" else num(x, sign=True)

    def spread(self, x: float) -> str:
        """A standard deviation across seeds (in points for accuracies)."""
        return points(x, 1, sign=False) if self.kind == "accuracy" else num(x)

    def bound(self, x: float) -> str:
        """One end of the interval of a difference, signed, without a unit."""
        return num(100.0 * x, 1, sign=True) if self.kind == "accuracy" else num(x, sign=True)

    def range(self, lo: float, hi: float) -> str:
        if self.kind == "accuracy":
            return f"{num(100.0 * lo, 1)}–{pct(hi)}"
        return f"{num(lo)}–{num(hi)}"


# `gap` is derived per seed as train_accuracy - test_accuracy; a smaller gap is better.
METRICS: dict[str, _Metric] = {
    "test_accuracy": _Metric("test accuracy", "accuracy", stats.HIGHER),
    "train_accuracy": _Metric("training accuracy", "accuracy", stats.HIGHER),
    "gap": _Metric("train–test accuracy gap", "accuracy", stats.LOWER),
    "test_loss": _Metric("test loss", "loss", stats.LOWER),
    "train_loss": _Metric("training loss", "loss", stats.LOWER),
}
_OPPOSITE = {stats.HIGHER: stats.LOWER, stats.LOWER: stats.HIGHER}


# --- claims ----------------------------------------------------------------------------

@dataclass
class Claim:
    id: str               # deterministic, built from the call's arguments
    text: str             # the sentence rendered into the report
    verdict: str          # SUPPORTED | CONTRADICTED | UNDECIDED | MISSING
    expected: str | None  # what the prose asserted; None when it asserted nothing
    found: str            # what the data shows
    numbers: dict         # the numbers the claim rests on, for the appendix

    def summary(self) -> str:
        """One line for a warning or an error: id, expectation, finding, text, numbers."""
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in self.numbers.items()) or "none"
        return (f"{self.id}: the prose expects {self.expected}, the data shows {self.found}. "
                f"{self.text} [numbers: {numbers}]")


class ClaimText(str):
    """The sentence of a claim (a plain `str` for the prose) that also carries the
    `Claim` behind it, so a template can branch on `.claim.found` or build a table cell
    from `.claim.numbers` without evaluating the claim a second time."""

    claim: Claim

    def __new__(cls, claim: Claim) -> "ClaimText":
        text = super().__new__(cls, claim.text)
        text.claim = claim
        return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _check_expect(expect, allowed: tuple) -> None:
    if expect not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ReportError(f"a claim was given expect={expect!r}; use one of {choices}.")


class ClaimBook:
    """Evaluates and records the claims of one report.

    `results` maps experiment name -> aggregate metrics (see the report builder);
    absent experiments make "missing" claims. `facts` holds other measured numbers
    (e.g. activation sparsity per layer) that `increasing` can look up by key. With
    `strict`, `check_strict()` (called once after rendering) raises on contradictions.
    `names` maps an experiment to the name its sentences use (default: its title); the
    report passes the short experiment ids that its tables and figures use.

    Every template-facing method returns a `ClaimText`: the sentence, with `.claim`.
    """

    def __init__(self, results: Mapping[str, dict], facts: Mapping | None = None,
                 strict: bool = False, names: Mapping[str, str] | None = None):
        self.results = dict(results)
        self.facts = dict(facts or {})
        self.strict = strict
        self.names = dict(names or {})
        self.records: list[Claim] = []
        self._seen: dict[str, tuple[tuple, Claim]] = {}  # id -> (call arguments, claim)

    # --- template-facing claims ---------------------------------------------------------

    def compare(self, metric: str, a: str, b: str, expect: str | None = None,
                label: str | None = None) -> ClaimText:
        """How `a` compares with `b` on `metric` (paired per-seed difference a - b).

        `expect` ("higher" / "lower") is what the prose asserts about a relative to b;
        `label` replaces the metric's noun phrase in the sentence.
        """
        m = self._metric(metric)
        self._check_names(a, b)
        if a == b:
            raise ReportError(f"a claim compares {a!r} with itself; name two experiments.")
        _check_expect(expect, (None, stats.HIGHER, stats.LOWER))
        claim_id = f"{self._prefix(a, b)}.{a}_vs_{b}.{metric}"
        call = ("compare", metric, a, b, expect, label)
        return self._record(claim_id, call, lambda: self._compare(
            claim_id, metric, m, a, b, expect, label or m.label))

    def best(self, metric: str, candidates: Sequence[str], expect: str | None = None) -> ClaimText:
        """Which candidate is best on `metric` (highest mean; lowest for losses and the gap).

        The lead is the paired difference best - runner-up. `expect` names the
        experiment the prose asserts is best.
        """
        m = self._metric(metric)
        names = list(candidates)
        self._check_names(*names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ReportError(f"best() needs at least two different experiments, got {names}.")
        if expect is not None and expect not in names:
            raise ReportError(f"best() expects {expect!r} to win but it is not among {names}.")
        claim_id = f"{self._prefix(*names)}.best_of_{'+'.join(names)}.{metric}"
        call = ("best", metric, tuple(names), expect)
        return self._record(claim_id, call, lambda: self._best(
            claim_id, metric, m, names, expect))

    def in_range(self, metric: str, exp: str, lo: float, hi: float, label: str,
                 expect: bool | None = None) -> ClaimText:
        """Whether the mean `metric` of `exp` is below, within or above [lo, hi].

        `label` names the range ("the assignment's expected range"); `expect` True
        asserts the value lies within it, False that it lies outside.
        """
        m = self._metric(metric)
        self._check_names(exp)
        try:
            lo, hi = _finite(lo), _finite(hi)
        except ValueError as exc:
            raise ReportError(f"in_range() for {exp}: {exc}.") from None
        if lo > hi:
            raise ReportError(f"in_range() for {exp}: the range {lo}–{hi} is reversed.")
        _check_expect(expect, (None, True, False))
        claim_id = f"{self._prefix(exp)}.{exp}.{metric}.in_{lo:g}_{hi:g}"
        call = ("in_range", metric, exp, lo, hi, label, expect)
        return self._record(claim_id, call, lambda: self._in_range(
            claim_id, metric, m, exp, lo, hi, label, expect))

    def increasing(self, values: Sequence[tuple[str, float]] | Mapping[str, float] | str,
                   what: str, expect: bool | None = None, percent: bool = True) -> ClaimText:
        """Whether a series of (name, value) pairs rises at every step.

        `values` is the series itself or the key of one in `facts` (a missing key
        makes a "missing" claim). Values are fractions shown in % unless `percent` is
        False. `expect` True asserts the series rises at every step, False that it does not.
        """
        _check_expect(expect, (None, True, False))
        if isinstance(values, str):
            claim_id = f"increasing.{values}"
            series = self.facts.get(values)
            pairs = None if series is None else self._series(series, what)
        else:
            pairs = self._series(values, what)
            claim_id = f"increasing.{_slug(what)}.{'+'.join(name for name, _ in pairs)}"
        call = ("increasing", pairs, what, expect, percent)
        return self._record(claim_id, call, lambda: self._increasing(
            claim_id, pairs, what, expect, percent))

    def relation(self, what: str, a: str, value_a: float, b: str, value_b: float,
                 expect: str | None = None, percent: bool = True, digits: int = 3) -> ClaimText:
        """How one measured value compares with another (no seeds: a plain comparison).

        For facts measured once, such as the share of zero activations of two layers.
        `a` and `b` name the values, `what` says what they are; values are fractions
        shown in % unless `percent` is False (then as plain numbers with `digits`
        decimals). `expect` ("higher" / "lower") is what the prose asserts about `a`
        relative to `b`.
        """
        _check_expect(expect, (None, stats.HIGHER, stats.LOWER))
        try:
            va, vb = _finite(value_a), _finite(value_b)
        except ValueError as exc:
            raise ReportError(f"relation() for {what!r}: {exc}.") from None
        claim_id = f"relation.{_slug(what)}.{a}_vs_{b}"
        call = ("relation", what, a, va, b, vb, expect, percent, digits)
        return self._record(claim_id, call, lambda: self._relation(
            claim_id, what, a, va, b, vb, expect, percent, digits))

    # --- after rendering -------------------------------------------------------------------

    def failures(self) -> list[Claim]:
        """The claims the data contradicts, in order of first use."""
        return [c for c in self.records if c.verdict == CONTRADICTED]

    def check_strict(self) -> None:
        """Under --strict, raise a ReportError listing every contradicted claim."""
        bad = self.failures()
        if not self.strict or not bad:
            return
        lines = [f"{len(bad)} checked claim(s) in the report are contradicted by the data:"]
        lines += [f"- {c.summary()}" for c in bad]
        lines.append("Reword the prose (or its `expect=`) to match the data, or build "
                     "without --strict to render the data's wording with a warning.")
        raise ReportError("\n".join(lines))

    # --- evaluation ------------------------------------------------------------------------

    def _compare(self, claim_id, metric, m, a, b, expect, label) -> Claim:
        A, B = self._title(a), self._title(b)
        absent = self._absent(a, b)
        if absent:
            if len(absent) == 2:
                rest = f"their {label} cannot be compared yet"
            else:
                other = B if absent == [a] else A
                rest = f"its {label} cannot be compared with that of {other} yet"
            text = f"{self._no_results(absent)}, so {rest}."
            return Claim(claim_id, text, MISSING, expect, MISSING, {})

        va, vb, seeds = self._paired(a, b, metric)
        diff = stats.paired_difference(va, vb, CONFIDENCE)
        found = stats.direction(diff)
        d = m.diff(diff["mean"])
        if found == stats.SINGLE:
            text = (f"Comparing the {label} of {A} and {B}, {seeds} there is no interval to tell "
                    f"the difference from seed noise: {m.value(va[0])} vs {m.value(vb[0])} ({d}).")
        elif found == stats.UNCLEAR:
            text = (f"There is no clear difference in {label} between {A} and {B}: "
                    f"{d} ({self._ci(m, diff)}, {seeds}; the interval includes zero).")
        else:
            text = f"{A} has a {found} {label} than {B}: {d} ({self._ci(m, diff)}, {seeds})."

        numbers = {f"{a}.{metric}": stats.mean_std(va)[0], f"{b}.{metric}": stats.mean_std(vb)[0],
                   **self._diff_numbers("difference", diff)}
        if expect is None or found == expect:
            verdict = SUPPORTED
        elif found == _OPPOSITE[expect]:
            verdict = CONTRADICTED
        elif found == stats.SINGLE and self._on_side(diff, _OPPOSITE[expect]):
            verdict = CONTRADICTED  # a single run pointing the other way still contradicts
        else:
            verdict = UNDECIDED
        return Claim(claim_id, text, verdict, expect, found, numbers)

    def _best(self, claim_id, metric, m, names, expect) -> Claim:
        absent = self._absent(*names)
        if absent:
            text = (f"{self._no_results(absent)}, so the best of the {len(names)} compared "
                    f"experiments by {m.label} cannot be named yet.")
            return Claim(claim_id, text, MISSING, expect, MISSING, {})

        means = {n: stats.mean_std(self._per_seed(n, metric)[1])[0] for n in names}
        # Stable sort: on an exact tie the candidate named first leads.
        order = sorted(names, key=means.get, reverse=m.better == stats.HIGHER)
        top, runner = order[0], order[1]
        va, vb, seeds = self._paired(top, runner, metric)
        diff = stats.paired_difference(va, vb, CONFIDENCE)
        lead = stats.direction(diff)

        T, R = self._title(top), self._title(runner)
        most = "highest" if m.better == stats.HIGHER else "lowest"
        d = m.diff(diff["mean"])
        pair = f"{m.value(means[top])} against {m.value(means[runner])} for {R} (runner-up"
        k = len(names)
        if lead == m.better:
            found = top
            text = (f"{T} has the {most} {m.label} of the {k} compared experiments: "
                    f"{pair}); difference {d} ({self._ci(m, diff)}, {seeds}).")
        elif lead == stats.SINGLE:
            found = f"single: {top} leads"
            text = (f"{T} has the {most} {m.label} of the {k} compared experiments, {pair}; "
                    f"difference {d}), but {seeds} there is no interval to tell the lead from seed noise.")
        else:
            found = f"unclear: {top} leads"
            text = (f"{T} has the {most} mean {m.label} of the {k} compared experiments, "
                    f"{pair}), but the lead is not clear: difference {d} "
                    f"({self._ci(m, diff)} includes zero, {seeds}).")

        numbers = {f"{n}.{metric}": means[n] for n in names}
        numbers.update(self._diff_numbers("lead", diff))
        if expect is None:
            verdict = SUPPORTED
        elif expect == top:
            verdict = SUPPORTED if lead == m.better else UNDECIDED
        else:
            # The asserted winner is not ahead: contradicted if the best candidate beats it
            # clearly, or in a single run at all; otherwise the data cannot tell them apart.
            vt, ve, _ = self._paired(top, expect, metric)
            vs = stats.paired_difference(vt, ve, CONFIDENCE)
            numbers.update(self._diff_numbers("best_minus_expected", vs))
            beaten = stats.direction(vs) == m.better or (
                vs["n"] == 1 and self._on_side(vs, m.better))
            verdict = CONTRADICTED if beaten else UNDECIDED
        return Claim(claim_id, text, verdict, expect, found, numbers)

    def _in_range(self, claim_id, metric, m, exp, lo, hi, label, expect) -> Claim:
        expected = None if expect is None else ("within" if expect else "outside")
        T = self._title(exp)
        span = m.range(lo, hi)
        if self._absent(exp):
            text = (f"{self._no_results([exp])}, so its {m.label} cannot be set against "
                    f"{label} of {span} yet.")
            return Claim(claim_id, text, MISSING, expected, MISSING, {})

        values = self._per_seed(exp, metric)[1]
        mean, sd = stats.mean_std(values)
        found = "below" if mean < lo else "above" if mean > hi else "within"
        over = "one seed" if len(values) == 1 else f"mean of {len(values)} seeds, sd {m.spread(sd)}"
        text = f"{T} has a {m.label} of {m.value(mean)} ({over}), {found} {label} of {span}."
        numbers = {f"{exp}.{metric}": mean, "sd": sd, "n": len(values), "lo": lo, "hi": hi}
        if expect is None or (found == "within") == expect:
            verdict = SUPPORTED
        else:
            verdict = CONTRADICTED
        return Claim(claim_id, text, verdict, expected, found, numbers)

    def _increasing(self, claim_id, pairs, what, expect, percent) -> Claim:
        expected = None if expect is None else ("increasing" if expect else "not increasing")
        if pairs is None:
            text = f"The {what} has no results yet."
            return Claim(claim_id, text, MISSING, expected, MISSING, {})

        show = pct if percent else num
        listing = ", ".join(f"{show(v)} ({name})" for name, v in pairs)
        # The first step that does not rise, if any.
        stall = next((i for i in range(len(pairs) - 1) if pairs[i + 1][1] <= pairs[i][1]), None)
        if stall is None:
            found = "increasing"
            text = f"The {what} rises at every step: {listing}."
        else:
            found = "not increasing"
            how = "falls" if pairs[stall + 1][1] < pairs[stall][1] else "stays level"
            text = (f"The {what} does not rise at every step: {listing}; it {how} from "
                    f"{pairs[stall][0]} to {pairs[stall + 1][0]}.")
        numbers = {name: v for name, v in pairs}
        verdict = SUPPORTED if expected in (None, found) else CONTRADICTED
        return Claim(claim_id, text, verdict, expected, found, numbers)

    def _relation(self, claim_id, what, a, va, b, vb, expect, percent, digits) -> Claim:
        show = pct if percent else (lambda x: num(x, digits))
        if show(va) == show(vb):
            found = "equal"
            text = f"The {what} is the same for {a} and {b}: {show(va)}."
        else:
            found = stats.HIGHER if va > vb else stats.LOWER
            text = f"The {what} is {found} for {a} ({show(va)}) than for {b} ({show(vb)})."
        numbers = {a: va, b: vb}
        verdict = SUPPORTED if expect in (None, found) else CONTRADICTED
        return Claim(claim_id, text, verdict, expect, found, numbers)

    # --- helpers -----------------------------------------------------------------------------

    def _record(self, claim_id: str, call: tuple, evaluate: Callable[[], Claim]) -> ClaimText:
        """Evaluate a claim on its first use; later uses of the id return the same text."""
        if claim_id in self._seen:
            first_call, claim = self._seen[claim_id]
            if call != first_call:
                raise ReportError(
                    f"claim {claim_id} is used twice with different arguments "
                    f"({first_call} and {call}); make the two uses identical.")
            return ClaimText(claim)
        claim = evaluate()
        self._seen[claim_id] = (call, claim)
        self.records.append(claim)
        return ClaimText(claim)

    @staticmethod
    def _metric(metric: str) -> _Metric:
        if metric not in METRICS:
            raise ReportError(f"a claim names the unknown metric {metric!r}; "
                              f"use one of: {', '.join(METRICS)}.")
        return METRICS[metric]

    @staticmethod
    def _check_names(*names: str) -> None:
        for name in names:
            if name not in EXPERIMENTS:
                raise ReportError(f"a claim names the unknown experiment {name!r}; "
                                  f"use one of: {', '.join(EXPERIMENTS)}.")

    @staticmethod
    def _prefix(*names: str) -> str:
        """"ex1" for experiments of Exercise 1, "ex1+3" for a mix."""
        return "ex" + "+".join(str(e) for e in sorted({EXPERIMENTS[n]["exercise"] for n in names}))

    def _absent(self, *names: str) -> list[str]:
        return [n for n in names if not isinstance(self.results.get(n), Mapping)]

    def _title(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        result = self.results.get(name)
        title = result.get("title") if isinstance(result, Mapping) else None
        return title or EXPERIMENTS[name]["title"]

    def _no_results(self, names: Sequence[str]) -> str:
        verb = "has" if len(names) == 1 else "have"
        return f"{_and([self._title(n) for n in names])} {verb} no results yet"

    def _per_seed(self, name: str, metric: str) -> tuple[list, list[float]]:
        """(seeds, values) of `metric` for one experiment; ReportError if malformed."""
        result = self.results[name]
        per_seed = result.get("per_seed") or {}
        columns = []
        for key in ("train_accuracy", "test_accuracy") if metric == "gap" else (metric,):
            column = per_seed.get(key)
            if not column:
                raise ReportError(f"the results of {name} have no per-seed {key}; "
                                  "rerun the experiment to rebuild them.")
            try:
                columns.append([_finite(v) for v in column])
            except ValueError as exc:
                raise ReportError(f"the results of {name} hold a bad per-seed {key} ({exc}); "
                                  "the run diverged or the file is damaged: rerun it.") from None
        values = [tr - te for tr, te in zip(*columns)] if metric == "gap" else columns[0]
        seeds = list(result.get("seeds") or range(len(values)))
        if any(len(c) != len(seeds) for c in columns):
            raise ReportError(f"the results of {name} list {len(seeds)} seeds but "
                              f"{[len(c) for c in columns]} per-seed values; rerun it.")
        return seeds, values

    def _paired(self, a: str, b: str, metric: str) -> tuple[list[float], list[float], str]:
        """The values of `a` and `b` on the seeds both ran, and how to say how many.

        The third item is "n = 3 seeds" for intervals, or for a single pair the phrase
        that opens "... there is no interval to tell the difference from seed noise".
        """
        seeds_a, va = self._per_seed(a, metric)
        seeds_b, vb = self._per_seed(b, metric)
        by_seed_b = dict(zip(seeds_b, vb))
        common = [(x, by_seed_b[s]) for s, x in zip(seeds_a, va) if s in by_seed_b]
        if not common:
            raise ReportError(f"{a} and {b} share no seed, so they cannot be compared seed by "
                              "seed; rerun them with the same seeds.")
        n, everything = len(common), len(common) == len(va) == len(vb)
        if n == 1:
            seeds = ("with one seed per experiment" if everything
                     else "with only one seed run by both,")
        else:
            seeds = f"n = {n} seeds" + ("" if everything else " run by both")
        return [x for x, _ in common], [y for _, y in common], seeds

    @staticmethod
    def _series(series, what: str) -> list[tuple[str, float]]:
        """(name, value) pairs of a series given as pairs or as a mapping."""
        items = series.items() if isinstance(series, Mapping) else series
        try:
            pairs = [(str(name), _finite(value)) for name, value in items]
        except (TypeError, ValueError) as exc:
            raise ReportError(f"the series for {what!r} is not a list of (name, number) "
                              f"pairs ({exc}).") from None
        if len(pairs) < 2:
            raise ReportError(f"the series for {what!r} needs at least two values, got {pairs}.")
        return pairs

    @staticmethod
    def _ci(m: _Metric, diff: dict) -> str:
        level = f"{100 * diff['confidence']:g}"
        return f"{level} % CI {m.bound(diff['lo'])} to {m.bound(diff['hi'])}"

    @staticmethod
    def _diff_numbers(name: str, diff: dict) -> dict:
        numbers = {name: diff["mean"], f"{name}_sd": diff["std"], f"{name}_n": diff["n"]}
        if diff["lo"] is not None:
            numbers.update({f"{name}_ci_lo": diff["lo"], f"{name}_ci_hi": diff["hi"]})
        return numbers

    @staticmethod
    def _on_side(diff: dict, way: str) -> bool:
        """Whether the mean difference is strictly on the `way` side of zero."""
        return diff["mean"] > 0 if way == stats.HIGHER else diff["mean"] < 0
