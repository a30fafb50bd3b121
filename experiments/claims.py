"""Checked claims: word each comparison of the report from the data, and judge what the prose asserts.

Each kind of claim is a pure `evaluate_*` function: it takes the per-seed numbers (a
`Series` per experiment) or the measured values, and the expectation the prose states,
and returns a `Claim` record with the numbers, the verdict and the sentence the data
supports. `ClaimBook` is the registry a report renders with: it checks the arguments
the prose passes, reads the series from the results, gives each claim its id, keeps the
first evaluation of each id, and lists the claims for Appendix B and `--strict`.

`expect` records what the surrounding prose asserts; None asserts nothing (the sentence
is then "worded by the data" and cannot be contradicted). Verdicts: "supported" (the
data shows what the prose asserts, or nothing was asserted), "contradicted" (the data
shows the opposite, including a single run that points the other way), "undecided" (the
interval includes zero, or one run points the asserted way) and "missing" (an
experiment has no results). A contradicted claim still renders with the data's wording;
under --strict it fails the build.

Values of accuracies are in %, differences of them in points (see `formats`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from . import formats, stats
from .analysis import ranking
from .config import EXPERIMENTS
from .errors import ReportError
from .formats import PERCENT, PLAIN, POINTS, join_and, num, pct

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
UNDECIDED = "undecided"
MISSING = "missing"

CONFIDENCE = 0.95  # level of every interval in the report


# --- what is measured ----------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    label: str   # noun phrase used in sentences
    unit: str    # formats.PERCENT, POINTS or PLAIN: how its values are written
    better: str  # stats.HIGHER or stats.LOWER: which way is better (used by `best`)


# Two metrics are derived per seed as a difference of two measured ones (`DERIVED`): `gap`,
# train_accuracy - test_accuracy (smaller is better), and `mirror_gain`, what averaging each
# test image's prediction with its mirror image's adds to the test accuracy.
METRICS: dict[str, Metric] = {
    "test_accuracy": Metric("test accuracy", PERCENT, stats.HIGHER),
    "test_accuracy_mirror": Metric("test accuracy with mirror averaging", PERCENT, stats.HIGHER),
    "mirror_gain": Metric("gain from mirror averaging", POINTS, stats.HIGHER),
    "train_accuracy": Metric("training accuracy", PERCENT, stats.HIGHER),
    "gap": Metric("train–test accuracy gap", POINTS, stats.LOWER),
    "test_loss": Metric("test loss", PLAIN, stats.LOWER),
    "train_loss": Metric("training loss", PLAIN, stats.LOWER),
}
DERIVED = {"gap": ("train_accuracy", "test_accuracy"), "mirror_gain": ("test_accuracy_mirror", "test_accuracy")}
_OPPOSITE = {stats.HIGHER: stats.LOWER, stats.LOWER: stats.HIGHER}


@dataclass(frozen=True)
class Series:
    """The per-seed values of one experiment on one metric."""
    exp: str                               # the experiment id ("aug_flip")
    name: str                              # how sentences name it
    seeds: tuple = ()
    values: tuple[float, ...] | None = None  # None: the experiment has no results

    @property
    def missing(self) -> bool:
        return self.values is None


# --- the record ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    id: str               # deterministic, built from the call's arguments (set by the registry)
    text: str             # the sentence rendered into the report
    verdict: str          # SUPPORTED | CONTRADICTED | UNDECIDED | MISSING
    expected: str | None  # what the prose asserted; None when it asserted nothing
    found: str            # what the data shows
    numbers: dict         # the numbers the claim rests on, for the appendix
    where: str = ""       # the prose's words for what it asserts (set by the registry)

    @property
    def asserted(self) -> bool:
        return self.expected is not None

    def summary(self) -> str:
        """One line for a warning or an error: id, expectation, finding, text, numbers."""
        numbers = ", ".join(f"{k}={v:.4g}" for k, v in self.numbers.items()) or "none"
        said = f" (the prose says: \"{self.where}\")" if self.where else ""
        return (f"{self.id}{said}: the prose expects {self.expected}, the data shows {self.found}. "
                f"The data's sentence: {self.text} [numbers: {numbers}]")


class ClaimText(str):
    """The sentence of a claim (a plain `str` for the prose) that also carries the
    `Claim` behind it, so a template can branch on `.claim.found` or build a table cell
    from `.claim.numbers` without evaluating the claim a second time."""

    claim: Claim

    def __new__(cls, claim: Claim) -> "ClaimText":
        text = super().__new__(cls, claim.text)
        text.claim = claim
        return text


# --- reading results (pure) ----------------------------------------------------------------

def series(results: Mapping, exp: str, metric: str, name: str | None = None) -> Series:
    """The per-seed values of `metric` (a derived one: the difference of two, see `DERIVED`)
    of `exp` in `results`.

    `name` is how sentences name the experiment (default: its title). An experiment
    without results gives a Series with `values` None; malformed results a ReportError.
    """
    result = results.get(exp)
    if name is None:
        title = result.get("title") if isinstance(result, Mapping) else None
        name = title or EXPERIMENTS[exp]["title"]
    if not isinstance(result, Mapping):
        return Series(exp, name)
    per_seed = result.get("per_seed") or {}
    columns = []
    for key in DERIVED.get(metric, (metric,)):
        column = per_seed.get(key)
        if not column:
            raise ReportError(f"the results of {exp} have no per-seed {key}; "
                              "rerun the experiment to rebuild them.")
        try:
            columns.append([formats.finite(v) for v in column])
        except ValueError as exc:
            raise ReportError(f"the results of {exp} hold a bad per-seed {key} ({exc}); "
                              "the run diverged or the file is damaged: rerun it.") from None
    values = [a - b for a, b in zip(*columns)] if metric in DERIVED else columns[0]
    seeds = list(result.get("seeds") or range(len(values)))
    if any(len(c) != len(seeds) for c in columns):
        raise ReportError(f"the results of {exp} list {len(seeds)} seeds but "
                          f"{[len(c) for c in columns]} per-seed values; rerun it.")
    return Series(exp, name, tuple(seeds), tuple(values))


def _paired(a: Series, b: Series) -> tuple[list[float], list[float], str]:
    """The values of `a` and `b` on the seeds both ran, and how to say how many.

    The third item is "n = 3 seeds" for intervals, or for a single pair the phrase
    that opens "... there is no interval to tell the difference from seed noise".
    """
    by_seed_b = dict(zip(b.seeds, b.values))
    common = [(x, by_seed_b[s]) for s, x in zip(a.seeds, a.values) if s in by_seed_b]
    if not common:
        raise ReportError(f"{a.exp} and {b.exp} share no seed, so they cannot be compared seed by "
                          "seed; rerun them with the same seeds.")
    n, everything = len(common), len(common) == len(a.values) == len(b.values)
    if n == 1:
        seeds = "with one seed per experiment" if everything else "with only one seed run by both,"
    else:
        seeds = f"n = {n} seeds" + ("" if everything else " run by both")
    return [x for x, _ in common], [y for _, y in common], seeds


def _no_results(absent: Sequence[Series]) -> str:
    verb = "has" if len(absent) == 1 else "have"
    return f"{join_and(s.name for s in absent)} {verb} no results yet"


def _ci(unit: str, diff: dict) -> str:
    return formats.interval(diff["lo"], diff["hi"], unit, diff["confidence"])


def _diff_numbers(name: str, diff: dict) -> dict:
    numbers = {name: diff["mean"], f"{name}_sd": diff["std"], f"{name}_n": diff["n"]}
    if diff["lo"] is not None:
        numbers.update({f"{name}_ci_lo": diff["lo"], f"{name}_ci_hi": diff["hi"]})
    return numbers


def _verdict(found: str, expect: str | None, diff: dict) -> str:
    """How a paired difference that shows `found` judges the assertion that it is `expect`."""
    if expect is None or found == expect:
        return SUPPORTED
    if found == _OPPOSITE[expect]:
        return CONTRADICTED
    against = diff["mean"] > 0 if expect == stats.LOWER else diff["mean"] < 0
    if found == stats.SINGLE and against:
        return CONTRADICTED  # a single run pointing the other way still contradicts
    return UNDECIDED


# --- evaluation (pure: numbers and expectation in, Claim out; the registry sets the id) -----

def evaluate_compare(a: Series, b: Series, metric: str, *, expect: str | None = None,
                     label: str | None = None) -> Claim:
    """How `a` compares with `b` on `metric`: the paired per-seed difference a - b.

    `expect` ("higher" / "lower") is what the prose asserts about a relative to b;
    `label` replaces the metric's noun phrase in the sentence.
    """
    m = METRICS[metric]
    label = label or m.label
    absent = [s for s in (a, b) if s.missing]
    if absent:
        if len(absent) == 2:
            rest = f"their {label} cannot be compared yet"
        else:
            other = b.name if absent == [a] else a.name
            rest = f"its {label} cannot be compared with that of {other} yet"
        return Claim("", f"{_no_results(absent)}, so {rest}.", MISSING, expect, MISSING, {})

    va, vb, seeds = _paired(a, b)
    diff = stats.paired_difference(va, vb, CONFIDENCE)
    found = stats.direction(diff)
    d = formats.difference(diff["mean"], m.unit)
    if found == stats.SINGLE:
        text = (f"Comparing the {label} of {a.name} and {b.name}, {seeds} there is no interval to tell the "
                f"difference from seed noise: {formats.value(va[0], m.unit)} vs "
                f"{formats.value(vb[0], m.unit)} ({d}).")
    elif found == stats.UNCLEAR:
        text = (f"There is no clear difference in {label} between {a.name} and {b.name}: "
                f"{d} ({_ci(m.unit, diff)}, {seeds}; the interval includes zero).")
    else:
        text = f"{a.name} has a {found} {label} than {b.name}: {d} ({_ci(m.unit, diff)}, {seeds})."
    numbers = {f"{a.exp}.{metric}": stats.mean_std(va)[0], f"{b.exp}.{metric}": stats.mean_std(vb)[0],
               **_diff_numbers("difference", diff)}
    return Claim("", text, _verdict(found, expect, diff), expect, found, numbers)


def evaluate_best(candidates: Sequence[Series], metric: str, *, expect: str | None = None) -> Claim:
    """Which candidate is best on `metric` (highest mean; lowest for losses and the gap).

    The order is `analysis.ranking`'s, the one rule by which the report calls an
    experiment the best. The lead is the paired difference best - runner-up. `expect`
    is the id of the experiment the prose asserts is best.
    """
    m = METRICS[metric]
    k = len(candidates)
    absent = [s for s in candidates if s.missing]
    if absent:
        text = (f"{_no_results(absent)}, so the best of the {k} compared experiments by "
                f"{m.label} cannot be named yet.")
        return Claim("", text, MISSING, expect, MISSING, {})

    by_exp = {s.exp: s for s in candidates}
    means = {s.exp: stats.mean_std(s.values)[0] for s in candidates}
    top, runner = (by_exp[e] for e in ranking(means, higher=m.better == stats.HIGHER)[:2])
    va, vb, seeds = _paired(top, runner)
    diff = stats.paired_difference(va, vb, CONFIDENCE)
    lead = stats.direction(diff)

    most = "highest" if m.better == stats.HIGHER else "lowest"
    d = formats.difference(diff["mean"], m.unit)
    pair = (f"{formats.value(means[top.exp], m.unit)} against {formats.value(means[runner.exp], m.unit)} "
            f"for {runner.name} (runner-up")
    if lead == m.better:
        found = top.exp
        text = (f"{top.name} has the {most} {m.label} of the {k} compared experiments: "
                f"{pair}); difference {d} ({_ci(m.unit, diff)}, {seeds}).")
    elif lead == stats.SINGLE:
        found = f"single: {top.exp} leads"
        text = (f"{top.name} has the {most} {m.label} of the {k} compared experiments, {pair}; "
                f"difference {d}), but {seeds} there is no interval to tell the lead from seed noise.")
    else:
        found = f"unclear: {top.exp} leads"
        text = (f"{top.name} has the {most} mean {m.label} of the {k} compared experiments, "
                f"{pair}), but the lead is not clear: difference {d} "
                f"({_ci(m.unit, diff)} includes zero, {seeds}).")

    numbers = {f"{e}.{metric}": means[e] for e in by_exp}
    numbers.update(_diff_numbers("lead", diff))
    if expect is None:
        verdict = SUPPORTED
    elif expect == top.exp:
        verdict = SUPPORTED if lead == m.better else UNDECIDED
    else:
        # The asserted winner is not ahead: contradicted if the best candidate beats it
        # clearly, or in a single run at all; otherwise the data cannot tell them apart.
        vt, ve, _ = _paired(top, by_exp[expect])
        vs = stats.paired_difference(vt, ve, CONFIDENCE)
        numbers.update(_diff_numbers("best_minus_expected", vs))
        # As if the prose asserted "the expected one is ahead of the best": judged like a compare.
        ahead = _verdict(stats.direction(vs), _OPPOSITE[m.better], vs)
        verdict = CONTRADICTED if ahead == CONTRADICTED else UNDECIDED
    return Claim("", text, verdict, expect, found, numbers)


def evaluate_in_range(s: Series, metric: str, lo: float, hi: float, *, label: str,
                      expect: bool | None = None) -> Claim:
    """Whether the mean `metric` of one experiment is below, within or above [lo, hi].

    `label` names the range ("the assignment's range"); `expect` True asserts the value
    lies within it, False that it lies outside.
    """
    m = METRICS[metric]
    expected = None if expect is None else ("within" if expect else "outside")
    span = formats.span(lo, hi, m.unit)
    if s.missing:
        text = f"{_no_results([s])}, so its {m.label} cannot be set against {label} of {span} yet."
        return Claim("", text, MISSING, expected, MISSING, {})

    mean, sd = stats.mean_std(s.values)
    found = "below" if mean < lo else "above" if mean > hi else "within"
    n = len(s.values)
    over = "one seed" if n == 1 else f"mean of {n} seeds, sd {formats.spread(sd, m.unit)}"
    text = f"{s.name} has a {m.label} of {formats.value(mean, m.unit)} ({over}), {found} {label} of {span}."
    numbers = {f"{s.exp}.{metric}": mean, "sd": sd, "n": n, "lo": lo, "hi": hi}
    verdict = SUPPORTED if expect is None or (found == "within") == expect else CONTRADICTED
    return Claim("", text, verdict, expected, found, numbers)


def _against_zero(s: Series, expect: bool | None, missing: str, key: str, texts: Mapping[str, str]) -> Claim:
    """A per-seed difference against zero, the claim behind `overfits` and `mirror_gain`.

    `missing` ends the sentence for an experiment without results; `texts` words what the
    data shows, one `str.format` template per finding (stats.HIGHER, LOWER, UNCLEAR, SINGLE,
    and "zero" for a single run that rounds to 0.0 points) with the fields name, size (unsigned),
    d (signed), ci, n, side ("above" / "below") and moves ("raises" / "lowers"). `key` names the
    difference in the claim's numbers. `expect` True asserts a positive difference.
    """
    expected = None if expect is None else "positive"
    if s.missing:
        return Claim("", f"{_no_results([s])}, so {missing}.", MISSING, expected, MISSING, {})
    values = list(s.values)
    diff = stats.paired_difference(values, [0.0] * len(values), CONFIDENCE)
    found = stats.direction(diff)
    size = formats.magnitude(diff["mean"], POINTS)
    up = diff["mean"] > 0
    case = "zero" if found == stats.SINGLE and size.startswith("0.0 ") else found
    text = texts[case].format(name=s.name, size=size, d=formats.difference(diff["mean"], POINTS),
                              ci=_ci(POINTS, diff) if diff["n"] > 1 else "", n=diff["n"],
                              side="above" if up else "below", moves="raises" if up else "lowers")
    verdict = _verdict(found, None if expect is None else stats.HIGHER, diff)
    shown = {stats.HIGHER: "positive", stats.LOWER: "negative"}.get(found, found)
    return Claim("", text, verdict, expected, shown, _diff_numbers(key, diff))


OVERFITS_TEXTS = {
    stats.HIGHER: "{name} fits its training images better than new ones: its training accuracy is above its test "
                  "accuracy by {size} ({ci}, n = {n} seeds).",
    stats.LOWER: "{name} does not fit its training images better than new ones: its training accuracy is below its "
                 "test accuracy by {size} ({ci}, n = {n} seeds).",
    stats.UNCLEAR: "There is no clear gap between the training and the test accuracy of {name}: {d} ({ci}, n = {n} "
                   "seeds; the interval includes zero).",
    "zero": "In its one run the training accuracy of {name} equals its test accuracy to 0.1 points; one run gives "
            "no interval to tell them apart from seed noise.",
    stats.SINGLE: "In its one run the training accuracy of {name} is {side} its test accuracy by {size}; one run "
                  "gives no interval to tell that gap from seed noise.",
}

_MIRROR = "averaging each test image's prediction with its mirror image's"
MIRROR_TEXTS = {
    stats.HIGHER: f"For {{name}}, {_MIRROR} {{moves}} the test accuracy by {{size}} ({{ci}}, n = {{n}} seeds).",
    stats.UNCLEAR: f"For {{name}}, {_MIRROR} changes the test accuracy by no clear amount: {{d}} ({{ci}}, "
                   "n = {n} seeds; the interval includes zero).",
    "zero": f"In the one run of {{name}}, {_MIRROR} leaves the test accuracy unchanged to 0.1 points; one run "
            "gives no interval to tell a change from seed noise.",
    stats.SINGLE: f"In the one run of {{name}}, {_MIRROR} {{moves}} the test accuracy by {{size}}; one run gives "
                  "no interval to tell that from seed noise.",
}
MIRROR_TEXTS[stats.LOWER] = MIRROR_TEXTS[stats.HIGHER]


def evaluate_overfits(gap: Series, *, expect: bool | None = None) -> Claim:
    """Whether an experiment fits its training images better than the test images: its
    per-seed train - test accuracy gap against zero. `expect` True asserts a positive gap."""
    return _against_zero(gap, expect, "its training and test accuracy cannot be compared yet", "gap",
                         OVERFITS_TEXTS)


def evaluate_mirror_gain(gain: Series, *, expect: bool | None = None) -> Claim:
    """Whether averaging each test image's class probabilities with its mirror image's raises
    an experiment's test accuracy: the per-seed gain (`mirror_gain`) against zero. `expect`
    True asserts that it does."""
    return _against_zero(gain, expect, f"what {_MIRROR} does cannot be measured yet", "gain", MIRROR_TEXTS)


def evaluate_increasing(pairs: Sequence[tuple[str, float]] | None, what: str, *,
                        expect: bool | None = None, percent: bool = True) -> Claim:
    """Whether a series of (name, value) pairs rises at every step (None: no results).

    Values are fractions shown in % unless `percent` is False. `expect` True asserts
    the series rises at every step, False that it does not.
    """
    expected = None if expect is None else ("increasing" if expect else "not increasing")
    if pairs is None:
        return Claim("", f"The {what} has no results yet.", MISSING, expected, MISSING, {})

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
    verdict = SUPPORTED if expected in (None, found) else CONTRADICTED
    return Claim("", text, verdict, expected, found, dict(pairs))


def evaluate_relation(what: str, a: str, value_a: float, b: str, value_b: float, *,
                      expect: str | None = None, percent: bool = True, digits: int = 3) -> Claim:
    """How one measured value compares with another (no seeds: a plain comparison).

    For facts measured once, such as the share of zero activations of two layers.
    Values are fractions shown in % unless `percent` is False (then plain numbers with
    `digits` decimals); values that print the same are "equal". `expect` ("higher" /
    "lower") is what the prose asserts about `a` relative to `b`.
    """
    show = pct if percent else (lambda x: num(x, digits))
    if show(value_a) == show(value_b):
        found = "equal"
        text = f"The {what} is the same for {a} and {b}: {show(value_a)}."
    else:
        found = stats.HIGHER if value_a > value_b else stats.LOWER
        text = f"The {what} is {found} for {a} ({show(value_a)}) than for {b} ({show(value_b)})."
    verdict = SUPPORTED if expect in (None, found) else CONTRADICTED
    return Claim("", text, verdict, expect, found, {a: value_a, b: value_b})


# --- checks of what the prose passes ----------------------------------------------------------

def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ReportError(f"a claim names the unknown metric {metric!r}; use one of: {', '.join(METRICS)}.")


def _check_experiments(*names: str) -> None:
    for name in names:
        if name not in EXPERIMENTS:
            raise ReportError(f"a claim names the unknown experiment {name!r}; "
                              f"use one of: {', '.join(EXPERIMENTS)}.")


def _check_expect(expect, allowed: tuple) -> None:
    if expect not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ReportError(f"a claim was given expect={expect!r}; use one of {choices}.")


def _pairs(values, what: str) -> list[tuple[str, float]]:
    """(name, value) pairs of a series given as pairs or as a mapping."""
    items = values.items() if isinstance(values, Mapping) else values
    try:
        pairs = [(str(name), formats.finite(value)) for name, value in items]
    except (TypeError, ValueError) as exc:
        raise ReportError(f"the series for {what!r} is not a list of (name, number) pairs ({exc}).") from None
    if len(pairs) < 2:
        raise ReportError(f"the series for {what!r} needs at least two values, got {pairs}.")
    return pairs


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _prefix(*names: str) -> str:
    """"ex1" for experiments of Exercise 1, "ex1+3" for a mix."""
    return "ex" + "+".join(str(e) for e in sorted({EXPERIMENTS[n]["exercise"] for n in names}))


# --- the registry -------------------------------------------------------------------------------

class ClaimBook:
    """The claims of one report, in order of first use, for the prose and Appendix B.

    `results` maps experiment name -> aggregate metrics (absent experiments make
    "missing" claims); `facts` holds other measured series that `increasing` can look
    up by key; `names` maps an experiment to the name its sentences use (default: its
    title). With `strict`, `check_strict()` (called once after rendering) raises on
    contradictions. Every method the prose calls returns a `ClaimText`; `where`, given
    with an expectation, is the prose's own sentence for it, named when the data
    contradicts it.
    """

    def __init__(self, results: Mapping[str, dict], facts: Mapping | None = None,
                 strict: bool = False, names: Mapping[str, str] | None = None):
        self.results = dict(results)
        self.facts = dict(facts or {})
        self.strict = strict
        self.names = dict(names or {})
        self.records: list[Claim] = []
        self._seen: dict[str, tuple[tuple, Claim]] = {}  # id -> (call arguments, claim)

    def _series(self, exp: str, metric: str) -> Series:
        return series(self.results, exp, metric, self.names.get(exp))

    # --- what the prose calls -------------------------------------------------------------

    def compare(self, metric: str, a: str, b: str, expect: str | None = None,
                label: str | None = None, where: str = "") -> ClaimText:
        """How `a` compares with `b` on `metric` (see `evaluate_compare`)."""
        _check_metric(metric)
        _check_experiments(a, b)
        if a == b:
            raise ReportError(f"a claim compares {a!r} with itself; name two experiments.")
        _check_expect(expect, (None, stats.HIGHER, stats.LOWER))
        return self.record(f"{_prefix(a, b)}.{a}_vs_{b}.{metric}", ("compare", metric, a, b, expect, label),
                           lambda: evaluate_compare(self._series(a, metric), self._series(b, metric), metric,
                                                    expect=expect, label=label), where)

    def best(self, metric: str, candidates: Sequence[str], expect: str | None = None,
             where: str = "") -> ClaimText:
        """Which candidate is best on `metric` (see `evaluate_best`)."""
        _check_metric(metric)
        names = list(candidates)
        _check_experiments(*names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ReportError(f"best() needs at least two different experiments, got {names}.")
        if expect is not None and expect not in names:
            raise ReportError(f"best() expects {expect!r} to win but it is not among {names}.")
        return self.record(f"{_prefix(*names)}.best_of_{'+'.join(names)}.{metric}",
                           ("best", metric, tuple(names), expect),
                           lambda: evaluate_best([self._series(n, metric) for n in names], metric, expect=expect),
                           where)

    def in_range(self, metric: str, exp: str, lo: float, hi: float, label: str,
                 expect: bool | None = None, where: str = "") -> ClaimText:
        """Whether the mean `metric` of `exp` lies in [lo, hi] (see `evaluate_in_range`)."""
        _check_metric(metric)
        _check_experiments(exp)
        try:
            lo, hi = formats.finite(lo), formats.finite(hi)
        except ValueError as exc:
            raise ReportError(f"in_range() for {exp}: {exc}.") from None
        if lo > hi:
            raise ReportError(f"in_range() for {exp}: the range {lo}–{hi} is reversed.")
        _check_expect(expect, (None, True, False))
        return self.record(f"{_prefix(exp)}.{exp}.{metric}.in_{lo:g}_{hi:g}",
                           ("in_range", metric, exp, lo, hi, label, expect),
                           lambda: evaluate_in_range(self._series(exp, metric), metric, lo, hi,
                                                     label=label, expect=expect), where)

    def overfits(self, exp: str, expect: bool | None = None, where: str = "") -> ClaimText:
        """Whether `exp`'s training accuracy is above its test accuracy (see `evaluate_overfits`)."""
        _check_experiments(exp)
        _check_expect(expect, (None, True))
        return self.record(f"{_prefix(exp)}.{exp}.overfits", ("overfits", exp, expect),
                           lambda: evaluate_overfits(self._series(exp, "gap"), expect=expect), where)

    def mirror_gain(self, exp: str, expect: bool | None = None, where: str = "") -> ClaimText:
        """Whether mirror averaging raises `exp`'s test accuracy (see `evaluate_mirror_gain`)."""
        _check_experiments(exp)
        _check_expect(expect, (None, True))
        return self.record(f"{_prefix(exp)}.{exp}.mirror_gain", ("mirror_gain", exp, expect),
                           lambda: evaluate_mirror_gain(self._series(exp, "mirror_gain"), expect=expect), where)

    def increasing(self, values: Sequence[tuple[str, float]] | Mapping[str, float] | str,
                   what: str, expect: bool | None = None, percent: bool = True, where: str = "") -> ClaimText:
        """Whether a series rises at every step (see `evaluate_increasing`). `values` is the
        series itself or the key of one in `facts` (a missing key makes a "missing" claim)."""
        _check_expect(expect, (None, True, False))
        if isinstance(values, str):
            claim_id = f"increasing.{values}"
            pairs = None if self.facts.get(values) is None else _pairs(self.facts[values], what)
        else:
            pairs = _pairs(values, what)
            claim_id = f"increasing.{_slug(what)}.{'+'.join(name for name, _ in pairs)}"
        return self.record(claim_id, ("increasing", pairs, what, expect, percent),
                           lambda: evaluate_increasing(pairs, what, expect=expect, percent=percent), where)

    def relation(self, what: str, a: str, value_a: float, b: str, value_b: float,
                 expect: str | None = None, percent: bool = True, digits: int = 3, where: str = "") -> ClaimText:
        """How one measured value compares with another (see `evaluate_relation`)."""
        _check_expect(expect, (None, stats.HIGHER, stats.LOWER))
        try:
            va, vb = formats.finite(value_a), formats.finite(value_b)
        except ValueError as exc:
            raise ReportError(f"relation() for {what!r}: {exc}.") from None
        return self.record(f"relation.{_slug(what)}.{a}_vs_{b}",
                           ("relation", what, a, va, b, vb, expect, percent, digits),
                           lambda: evaluate_relation(what, a, va, b, vb, expect=expect,
                                                     percent=percent, digits=digits), where)

    # --- the registry itself --------------------------------------------------------------------

    def record(self, claim_id: str, call: tuple, evaluate: Callable[[], Claim], where: str = "") -> ClaimText:
        """Evaluate a claim on its first use and keep it under `claim_id`; later uses of
        the id return the same text (and must pass the same arguments). `where` is kept
        only for a claim that asserts something."""
        if claim_id in self._seen:
            first_call, claim = self._seen[claim_id]
            if call != first_call:
                raise ReportError(f"claim {claim_id} is used twice with different arguments "
                                  f"({first_call} and {call}); make the two uses identical.")
            return ClaimText(claim)
        claim = evaluate()
        claim = dataclasses.replace(claim, id=claim_id, where=where if claim.asserted else "")
        self._seen[claim_id] = (call, claim)
        self.records.append(claim)
        return ClaimText(claim)

    @property
    def asserted(self) -> list[Claim]:
        """The claims whose expectation the prose states (checked against the data)."""
        return [c for c in self.records if c.asserted]

    @property
    def worded(self) -> list[Claim]:
        """The claims that assert nothing: their wording follows the data."""
        return [c for c in self.records if not c.asserted]

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
